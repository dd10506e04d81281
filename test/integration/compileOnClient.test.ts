/**
 * A target without clang is verified by compiling here: the local (compiling) agent gets the
 * target's BTF once (fetched with btf.vmlinux, cached by btfId, handed over with btf.put when it
 * answers UnknownBtf), compiles against the target's vmlinux.h, and the object goes to the target
 * with object.put, where the target's own kernel verifies it. Both agents are real and run under
 * ASan; the "target" is an agent whose PATH has no clang, as on a production host.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { AgentClient, AgentError } from '../../remote-agent/client/agentClient';
import { checkFile } from '../../remote-agent/client/checkFile';
import { compileOnClient, type CompilingAgent } from '../../remote-agent/client/compileOnClient';
import { TargetKnowledgeCache } from '../../remote-agent/client/targetKnowledge';
import { ErrorCode, type AgentMethod, type HelloResult } from '../../remote-agent/protocol';
import { agentBinary, agentPrerequisiteMissing, agentTestsGate, assertNoSanitizerReport, buildSanitizedAgent, programFixtures } from '../support/rawAgent';

const t = agentTestsGate('compile-on-client', agentPrerequisiteMissing());
let scratch: string;
const agents: { child: ChildProcessWithoutNullStreams; stderr: () => string }[] = [];

before(() => {
  if (agentPrerequisiteMissing()) return;
  buildSanitizedAgent();
  scratch = mkdtempSync(join(tmpdir(), 'compile-on-client-'));
});

after(async () => {
  for (const { child } of agents) child.stdin.end();
  await Promise.all(agents.map(({ child }) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  for (const { stderr } of agents) assertNoSanitizerReport(stderr());
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A real agent over its stdio, with its own cache dir and the given PATH. */
function startAgent(name: string, path: string): AgentClient {
  const cacheDir = join(scratch, `${name}-cache`);
  mkdirSync(cacheDir);
  const child = spawn(agentBinary, ['--cache-dir', cacheDir], { env: { ...process.env, PATH: path, TMPDIR: scratch, ASAN_OPTIONS: 'detect_leaks=1' } });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  agents.push({ child, stderr: () => stderr });
  return new AgentClient(child.stdout, child.stdin);
}

/** Counts the requests a client sends, by method. */
function counting<M extends AgentMethod>(client: AgentClient, counts: Map<string, number>) {
  return {
    request: ((method: M, params: never, signal?: AbortSignal) => {
      counts.set(method, (counts.get(method) ?? 0) + 1);
      return client.request(method, params, signal);
    }) as AgentClient['request'],
  };
}

t('a target without clang verifies programs compiled here against its BTF, and its rejections land on the source line', async () => {
  // The target's PATH has everything a host has but clang.
  const bin = join(scratch, 'bin-without-clang');
  mkdirSync(bin);
  for (const tool of ['sh', 'id', 'uname', 'cat']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
  const targetClient = startAgent('target', bin);
  const hello: HelloResult = await targetClient.request('hello', { clientVersion: 'test' });
  assert.equal(hello.clang, null);
  await assert.rejects(targetClient.request('compile', { files: [{ path: 'a.bpf.c', content: 'int x;\n' }], main: 'a.bpf.c' }), (e: unknown) => e instanceof AgentError && e.code === ErrorCode.ClangMissing);

  const compilerCalls = new Map<string, number>();
  const targetCalls = new Map<string, number>();
  const compiler: CompilingAgent = counting(startAgent('compiler', process.env.PATH!), compilerCalls);
  const knowledgeDir = join(scratch, 'knowledge');
  // Reached as a remote host would be: its BTF is fetched, not read from this machine's /sys.
  const target = { target: { kind: 'ssh' as const, host: 'prod-host' }, description: 'root@prod-host:22', hello, client: counting(targetClient, targetCalls) };
  const agent = compileOnClient(target, compiler, new TargetKnowledgeCache(knowledgeDir));

  const passes = await checkFile(agent, join(programFixtures, 'passes.bpf.c'), { target: target.description, kernelRelease: hello.kernelRelease, compiledOn: 'client' });
  assert.equal(passes.compiled, true);
  assert.equal(passes.compiledOn, 'client');
  assert.deepEqual(passes.diagnostics, []);
  assert.ok(passes.programs.length > 0 && passes.programs.every((p) => p.ok && (p.insnsProcessed ?? 0) > 0), JSON.stringify(passes.programs));
  // First compile for this kernel: UnknownBtf, the BTF fetched from the target once and handed over.
  assert.deepEqual(Object.fromEntries(compilerCalls), { compile: 2, 'btf.put': 1, release: 1 });
  assert.equal(targetCalls.get('btf.vmlinux'), 1);
  assert.equal(targetCalls.get('compile'), undefined, 'the target never compiles');
  assert.deepEqual(readFileSync(join(knowledgeDir, `${hello.btfId}.btf`)), readFileSync('/sys/kernel/btf/vmlinux'));

  const rejected = await checkFile(agent, join(programFixtures, 'rejected.bpf.c'), { target: target.description, kernelRelease: hello.kernelRelease, compiledOn: 'client' });
  assert.deepEqual(
    rejected.diagnostics.map((d) => [d.line, d.message, d.program]),
    [[22, "R0 invalid mem access 'map_value_or_null'", 'count_execve']],
  );
  // The second file needs no BTF transfer: the compiler has the kernel's vmlinux.h now.
  assert.equal(compilerCalls.get('btf.put'), 1);
  assert.equal(targetCalls.get('btf.vmlinux'), 1);
  assert.equal(targetCalls.get('object.put'), 2);
  assert.deepEqual(readdirSync(join(scratch, 'compiler-cache', 'vmlinux')), [hello.btfId]);
});

t('btf.put refuses bytes that are not the named BTF, and object.put anything but a BPF object', async () => {
  const client = startAgent('validation', process.env.PATH!);
  const btf = readFileSync('/sys/kernel/btf/vmlinux');
  const code = (e: unknown): number => (e instanceof AgentError ? e.code : 0);
  await assert.rejects(client.request('btf.put', { btfId: '0000000000000000', data: btf.toString('base64') }), (e) => code(e) === ErrorCode.InvalidParams && /is not the hash of params\.data/.test((e as Error).message));
  await assert.rejects(client.request('btf.put', { btfId: '../../etc/passwd', data: 'AAAA' }), (e) => code(e) === ErrorCode.InvalidParams && /16 lowercase hex digits/.test((e as Error).message));
  await assert.rejects(client.request('compile', { files: [{ path: 'a.bpf.c', content: '' }], main: 'a.bpf.c', btfId: 'ffffffffffffffff' }), (e) => code(e) === ErrorCode.UnknownBtf);
  await assert.rejects(client.request('compile', { files: [{ path: 'a.bpf.c', content: '' }], main: 'a.bpf.c', arch: 'vax' }), (e) => code(e) === ErrorCode.InvalidParams && /params\.arch "vax"/.test((e as Error).message));
  await assert.rejects(client.request('object.put', { name: 'x', object: readFileSync('/bin/sh').toString('base64') }), (e) => code(e) === ErrorCode.InvalidParams && /must be a BPF ELF object/.test((e as Error).message));
  await assert.rejects(client.request('object.put', { name: '../x', object: 'AAAA' }), (e) => code(e) === ErrorCode.InvalidParams);
  assert.equal((await client.request('hello', { clientVersion: 'still alive' })).euid, 0);
});
