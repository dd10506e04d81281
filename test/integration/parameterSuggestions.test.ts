/**
 * What a target suggests for a template's parameters, asked of the real agent on every test kernel
 * (this machine, Debian's 6.1 and 7.3 in QEMU) over the session the editor opens: its tracepoints
 * are exactly the lines of that kernel's tracefs available_events made of plain names; its executables are executable
 * files of the standard directories, each once; kernel functions, syscalls and (where the kernel
 * has BPF LSM, per hello.features) LSM hooks come from its BTF; interfaces include lo. The agent
 * caps its lists at `limit` and refuses a bad one, under AddressSanitizer and UBSan too.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PARAMETER_KINDS } from '../../bpf-templates/templateCatalog';
import { AgentError, openAgentSession } from '../../remote-agent/client/agentSession';
import { parameterSuggestions } from '../../remote-agent/client/parameterSuggestions';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import { TargetKnowledgeCache } from '../../remote-agent/client/targetKnowledge';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import type { Transport } from '../../remote-agent/client/transport';
import { vmSshOptions } from '../../remote-agent/client/vm/vmTarget';
import { AgentLimits, ErrorCode } from '../../remote-agent/protocol';
import { assertNoSanitizerReport, buildSanitizedAgent, RawAgent } from '../support/rawAgent';
import { readyTarget, testKernels } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));
const knowledgeDir = mkdtempSync(join(tmpdir(), 'ebpf-studio-suggestions-'));
const knowledge = new TargetKnowledgeCache(knowledgeDir);

after(() => rmSync(knowledgeDir, { recursive: true, force: true }));

const missing = process.getuid?.() !== 0 ? 'the agent reads tracefs as root' : undefined;
if (missing !== undefined && process.env.CI === 'true') test('prerequisites', () => assert.fail(missing));

for (const kernel of testKernels()) {
  test(`the target's tracepoints, executables, BTF names and interfaces on ${kernel.label}, each valid for its parameter kind`, { timeout: 600_000, skip: missing ?? false }, async (t) => {
    const spec = parseTarget(await readyTarget(kernel));
    const session = await openAgentSession({ target: spec, agentSourceDir, ...(agentBinaryDir ? { agentBinaryDir } : {}), clientVersion: 'parameterSuggestions.test' });
    const shell: Transport = spec.kind === 'vm' ? await connectSsh(vmSshOptions(spec.name)) : new LocalTransport();
    try {
      const { hello } = session;
      assert.ok(hello.capabilities.includes('host.tracepoints') && hello.capabilities.includes('host.executables'), 'hello names both methods');

      // Tracepoints: exactly what this kernel's tracefs lists, as category/name.
      assert.notEqual(hello.features.tracefs, null, `${kernel.label} has tracefs (the agent mounts it when it can)`);
      const events = (await run(shell, `cat ${hello.features.tracefs}/available_events`)).split('\n').filter((l) => l !== '');
      // A category with other characters (7.3's spi-mem) is not one a template parameter can hold.
      const expected = [...new Set(events.map((l) => l.replace(':', '/')))].filter((name) => PARAMETER_KINDS.tracepoint.test(name)).sort();
      const tracepoints = await parameterSuggestions('tracepoint', session, knowledge);
      assert.equal(tracepoints.note, undefined, 'the whole list, not a capped one');
      assert.deepEqual(tracepoints.values, expected);
      assert.ok(tracepoints.values.includes('syscalls/sys_enter_execve') && tracepoints.values.includes('sched/sched_process_exec'));

      const capped = await session.client.request('host.tracepoints', { limit: 5 });
      assert.deepEqual(capped, { tracepoints: events.slice(0, 5).map((l) => l.replace(':', '/')), truncated: true }, 'the first five lines of available_events');
      for (const limit of [0, AgentLimits.hostListMaxLimit + 1, 'many']) {
        await assert.rejects(session.client.request('host.tracepoints', { limit } as never), (e: AgentError) => e.code === ErrorCode.InvalidParams && /params\.limit must be an integer from 1 to 20000/.test(e.message));
        await assert.rejects(session.client.request('host.executables', { limit } as never), (e: AgentError) => e.code === ErrorCode.InvalidParams);
      }

      // Executables: absolute paths of executable regular files, no directory listed twice.
      const executables = await parameterSuggestions('binary', session, knowledge);
      assert.ok(executables.values.length > 50, `a Debian system has many executables: ${executables.values.length}`);
      assert.equal(new Set(executables.values).size, executables.values.length, 'each path once');
      const bash = executables.values.filter((p) => /^(\/usr)?\/bin\/bash$/.test(p));
      assert.equal(bash.length, 1, `bash once, in /usr/bin or /bin (merged /usr lists it once): ${bash.join(', ')}`);
      for (const path of executables.values) assert.match(path, PARAMETER_KINDS.binary);
      const sample = executables.values.filter((_, i) => i % Math.ceil(executables.values.length / 20) === 0);
      const notExecutable = await run(shell, `for f in ${sample.join(' ')}; do [ -f "$f" ] && [ -x "$f" ] || echo "$f"; done`);
      assert.equal(notExecutable.trim(), '', 'every sampled path is an executable file on the target');
      const few = await session.client.request('host.executables', { limit: 3 });
      assert.equal(few.executables.length, 3);
      assert.equal(few.truncated, true);

      // BTF: kernel functions, syscalls, LSM hooks.
      const functions = await parameterSuggestions('kernelFunction', session, knowledge);
      assert.ok(functions.values.includes('vfs_read') && functions.values.includes('tcp_sendmsg'), 'kernel functions from BTF');
      const syscalls = await parameterSuggestions('syscall', session, knowledge);
      assert.ok(syscalls.values.includes('openat') && syscalls.values.includes('execve'), 'syscalls from the __<arch>_sys_ wrappers');
      assert.ok(!syscalls.values.some((s) => s.startsWith('__')), 'syscall names without prefix');
      const hooks = await parameterSuggestions('lsmHook', session, knowledge);
      if (hello.features.lsm) assert.ok(hooks.values.includes('file_open') && hooks.values.includes('bprm_check_security'), 'LSM hooks from bpf_lsm_* in BTF');
      t.diagnostic(`${kernel.label} (${hello.kernelRelease}): ${tracepoints.values.length} tracepoints, ${executables.values.length} executables, ${functions.values.length} functions, ${syscalls.values.length} syscalls, ${hooks.values.length} LSM hooks (BPF LSM ${hello.features.lsm ? 'on' : 'off'})`);

      const interfaces = await parameterSuggestions('interface', session, knowledge);
      assert.ok(interfaces.values.includes('lo'), `lo among ${interfaces.values.join(', ')}`);
      assert.deepEqual(await parameterSuggestions('port', session, knowledge), { values: [], note: 'the target cannot suggest these: type a value' });
    } finally {
      await session.dispose();
      await shell.dispose();
    }
  });
}

async function run(shell: Transport, command: string): Promise<string> {
  const result = await shell.run(command);
  if (result.exitCode !== 0) throw new Error(`${command} failed (${result.exitCode}): ${result.stderr}`);
  return result.stdout;
}

test('host.tracepoints and host.executables under ASan/UBSan: whole lists, capped lists and malformed params, no sanitizer report', { timeout: 300_000, skip: missing ?? false }, async () => {
  buildSanitizedAgent();
  const agent = new RawAgent();
  try {
    for (const method of ['host.tracepoints', 'host.executables']) {
      const key = method === 'host.tracepoints' ? 'tracepoints' : 'executables';
      const whole = await agent.ok(method, {});
      assert.ok(whole[key].length > 100, `${method}: ${whole[key].length} names`);
      assert.deepEqual(await agent.ok(method, { limit: 1 }), { [key]: [whole[key][0]], truncated: true });
      for (const params of [[], 'x', { limit: -1 }, { limit: 1.5 }, { limit: null, other: 1 }]) {
        const reply = await agent.request(method, params);
        if (params !== null && typeof params === 'object' && !Array.isArray(params) && (params as { limit: unknown }).limit === null) assert.ok(reply.result, 'a null limit is an absent one');
        else assert.equal(reply.error?.code, ErrorCode.InvalidParams, `${method} ${JSON.stringify(params)}: ${JSON.stringify(reply)}`);
      }
    }
    await agent.close();
    assertNoSanitizerReport(agent.stderr);
  } finally {
    agent.cleanup();
  }
});
