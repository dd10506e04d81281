/**
 * The C agent (remote-agent/agent) on this machine's real kernel, spoken to in raw JSON lines
 * exactly as the client does. Runs the AddressSanitizer build and fails on any sanitizer report
 * in its stderr, so every path here is also checked for leaks and memory errors.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBtf } from '../../remote-agent/client/btf';
import { AGENT_PROTOCOL_VERSION, ErrorCode, agentMethods } from '../../remote-agent/protocol';
import {
  agentPrerequisiteMissing,
  agentTestsGate,
  assertNoSanitizerReport,
  buildSanitizedAgent,
  programFixtures as fixtures,
  RawAgent,
} from '../support/rawAgent';

function fixture(name: string) {
  return { files: [{ path: name, content: readFileSync(join(fixtures, name), 'utf8') }], main: name };
}

const skipReason = agentPrerequisiteMissing();
const t = agentTestsGate('agent integration tests', skipReason);

let agent: RawAgent;

before(() => {
  if (skipReason) return;
  buildSanitizedAgent();
  agent = new RawAgent();
});

after(async () => {
  if (!agent) return;
  if (agent.child.exitCode === null) await agent.close();
  agent.cleanup();
});

t('hello describes this host: kernel, BTF, clang, libbpf and the methods answered', async () => {
  const reply = await agent.request('hello', { clientVersion: 'agent.test' });
  const kernelRelease = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const clangFirstLine = execFileSync('clang', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  assert.equal(reply.error, undefined);
  assert.equal(reply.result.agentVersion, '0.1.0');
  assert.equal(reply.result.protocolVersion, AGENT_PROTOCOL_VERSION);
  assert.equal(reply.result.kernelRelease, kernelRelease);
  assert.equal(reply.result.arch, execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
  assert.equal(reply.result.btf, true);
  assert.match(reply.result.btfId, /^[0-9a-f]{16}$/);
  assert.equal(reply.result.clang, clangFirstLine);
  assert.match(reply.result.libbpfVersion, /^1\.\d+$/);
  assert.equal(reply.result.euid, 0);
  // Every method protocol.ts defines, in its order: the agent's table is generated from it.
  assert.deepEqual(reply.result.capabilities, Object.keys(agentMethods));
});

t('compile of a program including vmlinux.h generates vmlinux.h once, then takes it from the cache', async () => {
  const first = await agent.request('compile', fixture('passes.bpf.c'));
  assert.equal(first.result.ok, true, first.result.stderr);
  assert.equal(first.result.vmlinuxH, 'generated');
  assert.equal(first.result.exitCode, 0);
  assert.equal(first.result.stderr, '');
  assert.match(first.result.objectId, /^obj-\d+$/);
  const elf = Buffer.from(first.result.object, 'base64');
  assert.deepEqual([...elf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(elf[18], 247, 'e_machine is EM_BPF');
  const sections = elfSections(elf);
  const dwarf = sections.filter((s) => s.name.startsWith('.debug_'));
  assert.ok(dwarf.length > 0, 'clang -g wrote DWARF, and its sections keep their indexes');
  assert.deepEqual(dwarf.filter((s) => s.type !== 8 /* SHT_NOBITS */ || s.size !== 0), [], 'DWARF comes back emptied');
  assert.ok(sections.find((s) => s.name === '.BTF')!.size > 0 && sections.find((s) => s.name === '.BTF.ext')!.size > 0);

  const second = await agent.request('compile', fixture('passes.bpf.c'));
  assert.equal(second.result.ok, true);
  assert.equal(second.result.vmlinuxH, 'cached');
  assert.notEqual(second.result.objectId, first.result.objectId);
  assert.ok(second.result.durationMs < 2000, `compile with the PCH took ${second.result.durationMs} ms`);
  assert.equal(second.result.warmCompiler, true, 'the agent keeps a clang started after its first compile');
});

t('a clang error comes back as ok:false with clang stderr naming file:line:col', async () => {
  const reply = await agent.request('compile', fixture('clang-error.bpf.c'));
  assert.equal(reply.result.ok, false);
  assert.equal(reply.result.objectId, null);
  assert.equal(reply.result.object, null);
  assert.equal(reply.result.exitCode, 1);
  assert.match(reply.result.stderr, /^clang-error\.bpf\.c:11:9: error: use of undeclared identifier 'undeclared_counter'$/m);
  assert.equal(reply.result.warmCompiler, true, 'a warm clang reports errors and its exit status as clang does');
});

/** Names, types and sizes of an ELF64 little-endian file's sections. */
function elfSections(elf: Buffer): Array<{ name: string; type: number; size: number }> {
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const count = elf.readUInt16LE(0x3c);
  const header = (i: number) => shoff + i * 64;
  const names = Number(elf.readBigUInt64LE(header(elf.readUInt16LE(0x3e)) + 0x18));
  return Array.from({ length: count }, (_, i) => {
    const nameStart = names + elf.readUInt32LE(header(i));
    return {
      name: elf.toString('latin1', nameStart, elf.indexOf(0, nameStart)),
      type: elf.readUInt32LE(header(i) + 4),
      size: Number(elf.readBigUInt64LE(header(i) + 0x20)),
    };
  });
}

async function compileAndLoad(name: string) {
  const compiled = await agent.request('compile', fixture(name));
  assert.equal(compiled.result.ok, true, compiled.result.stderr);
  const loaded = await agent.request('load', { objectId: compiled.result.objectId });
  assert.equal(loaded.error, undefined, JSON.stringify(loaded.error));
  return loaded.result.programs as any[];
}

/** The verifier's own message: the last log line before its statistics lines. */
function verifierMessage(log: string): string {
  const lines = log.trimEnd().split('\n');
  const stats = /^(processed \d+ insns|verification time|stack depth)/;
  while (lines.length && stats.test(lines[lines.length - 1])) lines.pop();
  return lines[lines.length - 1];
}

t('load of a correct program passes the verifier with statistics', async () => {
  const [prog] = await compileAndLoad('passes.bpf.c');
  assert.equal(prog.name, 'trace_execve');
  assert.equal(prog.section, 'tracepoint/syscalls/sys_enter_execve');
  assert.equal(prog.type, 'tracepoint');
  assert.equal(prog.ok, true);
  assert.equal(prog.errno, 0);
  assert.ok(prog.insnCount > 0);
  assert.ok(prog.insnsProcessed > 0);
  assert.ok(prog.totalStates >= 0 && prog.peakStates >= 0);
  assert.ok(prog.verificationTimeUs >= 0);
  assert.match(prog.log, /^processed \d+ insns/m);
  assert.doesNotMatch(prog.log, /^\d+: \(/m, 'a passing program gets the stats log only');
});

t('load of a program dereferencing a map value without a NULL check is rejected with EACCES', async () => {
  const [prog] = await compileAndLoad('rejected.bpf.c');
  assert.equal(prog.name, 'count_execve');
  assert.equal(prog.ok, false);
  assert.equal(prog.errno, -13);
  assert.equal(verifierMessage(prog.log), "R0 invalid mem access 'map_value_or_null'");
  assert.match(prog.log, /^; \*count \+= 1; @ rejected\.bpf\.c:22$/m);
  assert.match(prog.libbpfLog, /prog 'count_execve': failed to load: -13/);
  assert.equal(prog.insnsProcessed, 7);
});

t('each program of an object gets its own verdict', async () => {
  const programs = await compileAndLoad('two-programs.bpf.c');
  assert.deepEqual(
    programs.map((p) => [p.name, p.ok, p.errno]),
    [
      ['count_ok', true, 0],
      ['count_unchecked', false, -13],
    ],
  );
  assert.equal(verifierMessage(programs[1].log), "R0 invalid mem access 'map_value_or_null'");
  assert.match(programs[1].log, /@ two-programs\.bpf\.c:36$/m);
});

t('load of selected programs only, and of a name the object lacks', async () => {
  const compiled = await agent.request('compile', fixture('two-programs.bpf.c'));
  const only = await agent.request('load', { objectId: compiled.result.objectId, programs: ['count_unchecked'] });
  assert.deepEqual(only.result.programs.map((p: any) => p.name), ['count_unchecked']);
  const missing = await agent.request('load', { objectId: compiled.result.objectId, programs: ['nope'] });
  assert.equal(missing.error?.code, ErrorCode.InvalidParams);
  assert.match(missing.error!.message, /params\.programs\[0\].*"nope"/);
});

t('release forgets the object; a second release and a load of it are UnknownObject', async () => {
  const compiled = await agent.request('compile', fixture('rejected.bpf.c'));
  const objectId = compiled.result.objectId;
  assert.equal(readdirSync(agent.tmpDir).length > 0, true);
  assert.deepEqual((await agent.request('release', { objectId })).result, {});
  assert.equal((await agent.request('release', { objectId })).error?.code, ErrorCode.UnknownObject);
  assert.equal((await agent.request('load', { objectId })).error?.code, ErrorCode.UnknownObject);
});

t('reset releases every object (their links and work dirs) and stops following trace_pipe; a second reset finds nothing', async () => {
  // An agent of its own: the shared one holds what earlier tests left, which reset would count too.
  const fresh = new RawAgent();
  try {
    const first = (await fresh.request('compile', fixture('passes.bpf.c'))).result.objectId;
    const second = (await fresh.request('compile', fixture('rejected.bpf.c'))).result.objectId;
    assert.equal(readdirSync(fresh.tmpDir).length, 2, 'a work dir per object');
    const attached = await fresh.request('attach', { objectId: first, program: 'trace_execve' });
    assert.equal(attached.error, undefined, JSON.stringify(attached.error));
    const programIds = () => (JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as { id: number }[]).map((p) => p.id);
    assert.ok(programIds().includes(attached.result.programId));
    assert.deepEqual((await fresh.request('trace.start', {})).result, {});
    assert.deepEqual((await fresh.request('reset', {})).result, { releasedObjects: 2, traceStopped: true });
    assert.equal(programIds().includes(attached.result.programId), false);
    assert.deepEqual(readdirSync(fresh.tmpDir), []);
    for (const objectId of [first, second]) assert.equal((await fresh.request('load', { objectId })).error?.code, ErrorCode.UnknownObject);
    assert.equal((await fresh.request('detach', { linkId: attached.result.linkId })).error?.code, ErrorCode.UnknownHandle);
    assert.deepEqual((await fresh.request('reset', {})).result, { releasedObjects: 0, traceStopped: false });
    assert.equal((await fresh.request('reset', [])).error?.code, ErrorCode.InvalidParams);
    await fresh.close();
    assertNoSanitizerReport(fresh.stderr);
  } finally {
    if (fresh.child.exitCode === null) await fresh.close();
    fresh.cleanup();
  }
});

t('bad input gets the right JSON-RPC error and the agent keeps answering', async () => {
  agent.sendLine('{"jsonrpc":"2.0","id":1,"method":');
  assert.deepEqual(await agent.nextReply(), {
    jsonrpc: '2.0',
    id: null,
    error: { code: ErrorCode.ParseError, message: 'The line is not valid JSON (UTF-8, one JSON-RPC message per line).' },
  });
  agent.sendLine('[1,2]');
  assert.equal((await agent.nextReply()).error?.code, ErrorCode.InvalidRequest);
  agent.sendLine('{"jsonrpc":"2.0","id":7}');
  const noMethod = await agent.nextReply();
  assert.equal(noMethod.id, 7);
  assert.equal(noMethod.error?.code, ErrorCode.InvalidRequest);

  const unknown = await agent.request('frobnicate', {});
  assert.equal(unknown.error?.code, ErrorCode.MethodNotFound);
  assert.match(unknown.error!.message, /no method "frobnicate"/);

  const dotdot = await agent.request('compile', { files: [{ path: '../evil.c', content: 'int x;' }], main: '../evil.c' });
  assert.equal(dotdot.error?.code, ErrorCode.InvalidParams);
  assert.equal(dotdot.error?.message, 'params.files[0].path "../evil.c" contains a \'..\' segment.');
  const absolute = await agent.request('compile', { files: [{ path: '/etc/x.c', content: '' }], main: '/etc/x.c' });
  assert.match(absolute.error!.message, /params\.files\[0\]\.path .* is absolute/);
  // After -c, clang would read this name as an option and load the uploaded file (fuzz/regressions/).
  const asOption = await agent.request('compile', {
    files: [{ path: '-fplugin=evil.so', content: 'int x;' }, { path: 'evil.so', content: 'x' }],
    main: '-fplugin=evil.so',
  });
  assert.equal(asOption.error?.code, ErrorCode.InvalidParams);
  assert.equal(asOption.error?.message, 'params.files[0].path "-fplugin=evil.so" starts with \'-\', which clang would read as an option.');
  const badDefine = await agent.request('compile', { ...fixture('passes.bpf.c'), defines: ['X; rm -rf /'] });
  assert.match(badDefine.error!.message, /params\.defines\[0\]/);
  const mainMissing = await agent.request('compile', { files: [{ path: 'a.c', content: '' }], main: 'b.c' });
  assert.match(mainMissing.error!.message, /params\.main "b\.c" is not one of the paths/);

  const unknownObject = await agent.request('load', { objectId: 'obj-999999' });
  assert.equal(unknownObject.error?.code, ErrorCode.UnknownObject);

  agent.sendLine(JSON.stringify({ jsonrpc: '2.0', method: 'hello', params: { clientVersion: 'notification' } }));
  const stillAlive = await agent.request('hello', { clientVersion: 'after bad input' });
  assert.equal(stillAlive.result.protocolVersion, 2, 'a notification gets no reply; the next reply is this one');
});

/** A file clang needs seconds for: two million _Static_asserts from nested macros. */
const slowSource = [
  '#define X1(x) x x x x x x x x x x',
  '#define X2(x) X1(X1(x))',
  '#define X4(x) X2(X2(x))',
  '#define X6(x) X2(X4(x))',
  'X6(_Static_assert(1, "");)',
  'X6(_Static_assert(1, "");)',
  '',
].join('\n');

t('$/cancelRequest stops a running clang, or drops a queued request, with RequestCancelled; the rest still run', async () => {
  const before = readdirSync(agent.tmpDir).length;
  const started = Date.now();
  const id = agent.send('compile', { files: [{ path: 'slow.bpf.c', content: slowSource }], main: 'slow.bpf.c' });
  await new Promise((resolve) => setTimeout(resolve, 400));
  const helloId = agent.send('hello', { clientVersion: 'queued behind compile' });
  const dropId = agent.send('hello', { clientVersion: 'cancelled while queued' });
  agent.sendLine(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: dropId } }));
  const dropped = await agent.nextReply();
  assert.deepEqual(dropped, {
    jsonrpc: '2.0',
    id: dropId,
    error: { code: ErrorCode.RequestCancelled, message: 'The request was cancelled before it ran.' },
  });
  agent.sendLine(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } }));
  const cancelled = await agent.nextReply();
  assert.equal(cancelled.id, id);
  assert.equal(cancelled.error?.code, ErrorCode.RequestCancelled);
  assert.ok(Date.now() - started < 2500, `cancellation took ${Date.now() - started} ms`);
  const queued = await agent.nextReply();
  assert.equal(queued.id, helloId);
  assert.equal(queued.result.protocolVersion, 2);
  assert.equal(readdirSync(agent.tmpDir).length, before, 'the cancelled compile left no work dir');
  const next = await agent.request('compile', fixture('passes.bpf.c'));
  assert.deepEqual([next.result.ok, next.result.warmCompiler], [true, true], 'the warm clang outlives a cancelled compile');
});

t('a line over 32 MiB is answered with InvalidRequest and discarded, and the agent goes on', async () => {
  agent.sendLine(JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'hello', params: { clientVersion: 'x'.repeat(33 << 20) } }));
  const tooLong = await agent.nextReply();
  assert.equal(tooLong.id, null);
  assert.equal(tooLong.error?.code, ErrorCode.InvalidRequest);
  assert.match(tooLong.error!.message, /longer than the agent's limit of 32 MiB/);
  assert.equal((await agent.request('hello', { clientVersion: 'after' })).result.protocolVersion, AGENT_PROTOCOL_VERSION);
});

t("where libbpf's fentry probe fails, the start's task iterator probe keeps bpf_iter_task's BTF id per kernel in the cache dir, and looks it up again when the kept id is wrong", async () => {
  const first = new RawAgent();
  let second: RawAgent | undefined;
  try {
    const hello = (await first.request('hello', { clientVersion: 'agent.test' })).result;
    const features = hello.features;
    const iterTask = parseBtf(readFileSync('/sys/kernel/btf/vmlinux')).types.find((type) => type.kind === 'func' && type.name === 'bpf_iter_task');
    const kept = join(first.cacheDir, 'features', `${hello.btfId}-bpf_iter_task`);
    if (features.tracingPrograms) {
      // libbpf's own probe found the type: nothing was looked up, nothing kept.
      assert.equal(existsSync(kept), false);
      return;
    }
    assert.ok(iterTask, 'this kernel has bpf_iter_task in its BTF');
    assert.equal(features.programTypes.includes('tracing'), true, 'a task iterator loads: the tracing type counts');
    assert.equal(readFileSync(kept, 'utf8'), `${iterTask.id}\n`);
    await first.close();
    writeFileSync(kept, '1\n'); // type 1 is never bpf_iter_task: the load with it fails
    second = new RawAgent({ cacheDir: first.cacheDir });
    const again = (await second.request('hello', { clientVersion: 'agent.test' })).result;
    assert.equal(again.features.programTypes.includes('tracing'), true, 'a wrong kept id does not hide the type');
    assert.equal(readFileSync(kept, 'utf8'), `${iterTask.id}\n`, 'the id was looked up again and kept');
    await second.close();
    assertNoSanitizerReport(first.stderr);
    assertNoSanitizerReport(second.stderr);
  } finally {
    if (first.child.exitCode === null) await first.close();
    if (second && second.child.exitCode === null) await second.close();
    first.cleanup();
    second?.cleanup(); // (its cache dir is first's, already gone: rmSync is forced)
  }
});

t('SIGTERM makes the agent remove its work dirs and exit', async () => {
  const doomed = new RawAgent();
  try {
    const compiled = await doomed.request('compile', fixture('rejected.bpf.c'));
    assert.equal(compiled.result.ok, true);
    assert.equal(readdirSync(doomed.tmpDir).length, 1);
    assert.equal(compiled.result.warmCompiler, true);
    assert.notDeepEqual(processesMapping(doomed.cacheDir), [], 'the warm clang runs from a preload under the cache dir');
    doomed.child.kill('SIGTERM');
    assert.equal(await doomed.exited, 0);
    assert.deepEqual(readdirSync(doomed.tmpDir), []);
    // (features/ holds what the start's probes looked up, where libbpf's fentry probe fails: see below.)
    assert.deepEqual(readdirSync(doomed.cacheDir).filter((e) => e !== 'features').sort(), ['attachments', 'vmlinux'], 'the preload is removed once clang has mapped it (the attach journal dir and the vmlinux cache stay)');
    assert.deepEqual(processesMapping(doomed.cacheDir), [], 'no warm clang outlives the agent');
    assertNoSanitizerReport(doomed.stderr);
  } finally {
    doomed.cleanup();
  }
});

/** Pids of processes that map a file under @dir (the warm clang maps its preload, deleted or not). */
function processesMapping(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let maps = '';
    try {
      maps = readFileSync(`/proc/${entry}/maps`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (maps.includes(`${dir}/`)) pids.push(Number(entry));
  }
  return pids;
}

t('a `clang` that is a script stays what runs: its interpreter is kept warm and runs the script for each compile', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'agent-test-wrapper-'));
  const calls = join(scratch, 'calls');
  writeFileSync(join(scratch, 'clang'), `#!/bin/sh\necho "$*" >> ${calls}\nexec ${execFileSync('sh', ['-c', 'command -v clang'], { encoding: 'utf8' }).trim()} "$@"\n`, { mode: 0o755 });
  const wrapped = new RawAgent({ env: { ...process.env, PATH: `${scratch}:${process.env.PATH}` } });
  try {
    const compiles = [await wrapped.request('compile', fixture('passes.bpf.c')), await wrapped.request('compile', fixture('clang-error.bpf.c'))];
    assert.deepEqual(compiles.map((c) => [c.result.ok, c.result.warmCompiler]), [[true, true], [false, true]]);
    assert.match(compiles[1].result.stderr, /^clang-error\.bpf\.c:11:9: error: use of undeclared identifier 'undeclared_counter'$/m);
    const compileCalls = readFileSync(calls, 'utf8').split('\n').filter((line) => / -c (passes|clang-error)\.bpf\.c /.test(line));
    assert.equal(compileCalls.length, 2, 'the script ran once per compile');
    await wrapped.close();
    assertNoSanitizerReport(wrapped.stderr);
  } finally {
    wrapped.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
});

t('where clang cannot take the preload (a noexec cache dir), compiles start clang each time and the log says why once', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'agent-test-noexec-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'noexec,mode=0700', 'tmpfs', scratch]);
  const cold = new RawAgent({ scratchDir: scratch });
  try {
    const compiles = [await cold.request('compile', fixture('passes.bpf.c')), await cold.request('compile', fixture('passes.bpf.c'))];
    assert.deepEqual(compiles.map((c) => [c.result.ok, c.result.warmCompiler]), [[true, false], [true, false]]);
    assert.equal(cold.stderr.match(/keeps no warm clang from now on \(the preload did not load into it\); each compile starts it/g)?.length, 1, cold.stderr);
    await cold.close();
    assertNoSanitizerReport(cold.stderr);
  } finally {
    cold.cleanup();
    execFileSync('umount', [scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
});

t('load and attach presets: set before load, validated name by name, a size-0 map then loads', async () => {
  const compiled = await agent.request('compile', fixture('loader/stack_capable.bpf.c'));
  const objectId = compiled.result.objectId;
  const bare = (await agent.request('load', { objectId })).result.programs[0];
  assert.deepEqual([bare.ok, bare.log], [false, '']);
  assert.match(bare.libbpfLog, /^libbpf: map 'stackmap': failed to create: Invalid argument\(-22\)$/m);
  const sized = (await agent.request('load', { objectId, presets: { mapSizes: { stackmap: 1024 } } })).result.programs[0];
  const filtered = (await agent.request('load', { objectId, presets: { mapSizes: { stackmap: 1024 }, globals: { targ_pid: '4242' } } })).result.programs[0];
  assert.deepEqual([sized.ok, filtered.ok], [true, true]);
  assert.ok(filtered.insnsProcessed > sized.insnsProcessed, 'the pid comparison is walked only when targ_pid is set');

  const refused = async (presets: unknown) => {
    const reply = await agent.request('load', { objectId, presets });
    assert.equal(reply.error?.code, ErrorCode.InvalidParams, JSON.stringify(presets));
    return reply.error!.message;
  };
  assert.equal(await refused('x'), 'params.presets must be an object {globals?, mapSizes?, attachTargets?}.');
  assert.equal(await refused({ globals: { '1x': '1' } }), 'params.presets.globals: "1x" is not a C identifier of at most 128 bytes.');
  assert.equal(await refused({ globals: { targ_pid: 5 } }), 'params.presets.globals.targ_pid must be a string of 1 to 128 bytes (an integer, true/false, or an enumerator).');
  assert.equal(await refused({ globals: { targ_pid: '0x1ffffffff' } }), `params.presets.globals (object ${objectId}): "0x1ffffffff" for targ_pid: targ_pid must be an integer that fits a signed 4-byte variable.`);
  assert.equal(await refused({ globals: { nothere: '1' } }), `params.presets.globals (object ${objectId}): the object has no global variable named "nothere".`);
  assert.equal(await refused({ mapSizes: { stackmap: 0 } }), 'params.presets.mapSizes.stackmap must be an integer from 1 to 1073741824.');
  assert.equal(await refused({ mapSizes: { nosuch: 1 } }), `params.presets.mapSizes: object ${objectId} has no map named "nosuch".`);
  assert.equal(await refused({ attachTargets: { kprobe__cap_capable: 'vfs read' } }), 'params.presets.attachTargets.kprobe__cap_capable must be a kernel function\'s name (a C identifier of at most 128 bytes).');
  assert.equal(await refused({ attachTargets: { nosuch: 'vfs_read' } }), `params.presets.attachTargets: object ${objectId} has no program named "nosuch".`);
  assert.equal(await refused({ globals: { targ_pid: '1\nCONFIG_X=y' } }), 'params.presets.globals.targ_pid must be a string of 1 to 128 bytes (an integer, true/false, or an enumerator).');
  assert.match(await refused({ mapSizes: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, 1])) }), /mapSizes has more than 64 entries/);

  // attach loads the whole object: without the size it cannot; with it, it gets as far as the hook.
  const unsized = await agent.request('attach', { objectId, program: 'kprobe__cap_capable' });
  assert.equal(unsized.error?.code, ErrorCode.ObjectLoadFailed);
  const attached = await agent.request('attach', { objectId, program: 'kprobe__cap_capable', presets: { mapSizes: { stackmap: 1024 } } });
  assert.notEqual(attached.error?.code, ErrorCode.ObjectLoadFailed, JSON.stringify(attached.error));
  if (attached.result) assert.deepEqual((await agent.request('detach', { linkId: attached.result.linkId })).result, {});
  assert.deepEqual((await agent.request('release', { objectId })).result, {});
});

t('clang missing on the host is ClangMissing telling to install clang', async () => {
  const noClang = new RawAgent({ env: { ...process.env, PATH: '/nonexistent' } });
  try {
    const reply = await noClang.request('compile', fixture('clang-error.bpf.c'));
    assert.equal(reply.error?.code, ErrorCode.ClangMissing);
    assert.match(reply.error!.message, /install clang/);
    const hello = await noClang.request('hello', { clientVersion: 'x' });
    assert.equal(hello.result.clang, null);
    assert.equal(await noClang.close(), 0);
    assertNoSanitizerReport(noClang.stderr);
  } finally {
    noClang.cleanup();
  }
});

t('object.put of an object that crashes libbpf 1.1\'s ELF parser is refused, and the agent lives on', async () => {
  // Two bytes of a fixture object changed by the fuzzer (fuzz/regressions/): libbpf dereferenced a bad pointer.
  const regression = readFileSync(join(import.meta.dirname, '../../remote-agent/agent/fuzz/regressions/object-put-malformed-elf-libbpf-segv.jsonl'), 'utf8');
  const put = JSON.parse(regression.split('\n')[0]).params;
  const reply = await agent.request('object.put', put);
  assert.equal(reply.error?.code, ErrorCode.InvalidParams);
  assert.match(reply.error!.message, /^params\.object is a malformed ELF object: libbpf's parser crashed on it/);
  const hello = await agent.request('hello', { clientVersion: 'agent.test' });
  assert.equal(hello.error, undefined);
});

t('at EOF on stdin the agent exits 0, removes its work dirs, and has leaked nothing', async () => {
  assert.ok(readdirSync(agent.tmpDir).length > 0, 'objects held so far have work dirs');
  assert.equal(await agent.close(), 0);
  assert.deepEqual(readdirSync(agent.tmpDir), []);
  assertNoSanitizerReport(agent.stderr);
});
