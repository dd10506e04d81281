/**
 * The static agents shipped in the .vsix (out/agent-bin/<arch>/ebpf-agent, built by
 * scripts/build-agent-binaries.sh): they link nothing dynamically, the x86_64 one answers hello on
 * this kernel, a session deploys it where no make or compiler is on PATH, and over SSH it is
 * uploaded and run instead of built. The aarch64 one runs under qemu-user (hello only: qemu-user
 * does not carry the bpf() syscall, so its kernel feature probes come back empty, and nothing more is asserted).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { deployAgent, readAgentBinaries, readAgentSources } from '../../remote-agent/client/deployAgent';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { AGENT_PROTOCOL_VERSION, type HelloResult } from '../../remote-agent/protocol';
import { startSshd, type PrivateSshd } from '../support/sshd';

const root = join(import.meta.dirname, '../..');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = join(root, 'out/agent-bin');
const x86Agent = join(agentBinaryDir, 'x86_64/ebpf-agent');
const armAgent = join(agentBinaryDir, 'aarch64/ebpf-agent');
const QEMU = '/usr/bin/qemu-aarch64-static';
/** A fresh account for the SSH deployments, so each starts with an empty ~/.cache. */
const DEPLOY_USER = 'ebpfstudio-deploy';
const scratch = mkdtempSync(join(tmpdir(), 'agent-binaries-test-'));
let sshd: PrivateSshd;

before(async () => {
  if (process.arch !== 'x64') throw new Error(`these tests expect an x86_64 build machine, not ${process.arch}`);
  // Builds (or refreshes) both binaries; needs the cross tools that scripts/bootstrap.sh installs.
  execFileSync(join(root, 'scripts/build-agent-binaries.sh'), ['--require-all'], { stdio: 'inherit' });
  try {
    execFileSync('id', ['-u', DEPLOY_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', DEPLOY_USER]);
  }
  // Locked accounts ('!') cannot log in to an sshd without PAM, even with a key.
  execFileSync('usermod', ['-p', '*', DEPLOY_USER]);
  sshd = await startSshd();
});

after(async () => {
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Sends one hello to an agent started by `command` and returns its result. */
function helloFrom(command: string[]): HelloResult {
  const request = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: { clientVersion: 'agent-binaries-test' } });
  const run = spawnSync(command[0]!, command.slice(1), { input: `${request}\n`, encoding: 'utf8', timeout: 60_000, cwd: scratch });
  assert.equal(run.status, 0, `agent exited with ${run.status}: ${run.stderr}`);
  const response = JSON.parse(run.stdout.split('\n')[0]!) as { id: number; result: HelloResult };
  assert.equal(response.id, 1);
  return response.result;
}

test('the x86_64 agent is a static executable: no dynamic section, no interpreter', () => {
  assert.match(execFileSync('readelf', ['-d', x86Agent], { encoding: 'utf8' }), /There is no dynamic section in this file/);
  assert.doesNotMatch(execFileSync('readelf', ['-l', x86Agent], { encoding: 'utf8' }), /INTERP/);
  assert.match(execFileSync('file', ['-b', x86Agent], { encoding: 'utf8' }), /^ELF 64-bit LSB executable, x86-64, .*statically linked/);
});

test('the x86_64 agent runs and answers hello on this kernel', () => {
  assert.equal(execFileSync(x86Agent, ['--version'], { encoding: 'utf8' }), `ebpf-agent 0.1.0 (protocol ${AGENT_PROTOCOL_VERSION})\n`);
  const hello = helloFrom([x86Agent]);
  assert.equal(hello.protocolVersion, AGENT_PROTOCOL_VERSION);
  assert.equal(hello.arch, 'x86_64');
  assert.equal(hello.kernelRelease, release());
  assert.equal(hello.btf, true);
  assert.equal(hello.libbpfVersion, '1.1');
  assert.ok(hello.features.programTypes.includes('tracepoint'), 'its libbpf probes the real kernel');
});

test('the aarch64 agent is a static AArch64 executable', () => {
  assert.match(execFileSync('readelf', ['-d', armAgent], { encoding: 'utf8' }), /There is no dynamic section in this file/);
  assert.match(execFileSync('file', ['-b', armAgent], { encoding: 'utf8' }), /^ELF 64-bit LSB executable, ARM aarch64, .*statically linked/);
});

test('the aarch64 agent runs under qemu-user and answers hello', () => {
  assert.equal(execFileSync(QEMU, [armAgent, '--version'], { encoding: 'utf8' }), `ebpf-agent 0.1.0 (protocol ${AGENT_PROTOCOL_VERSION})\n`);
  const hello = helloFrom([QEMU, armAgent]);
  assert.equal(hello.protocolVersion, AGENT_PROTOCOL_VERSION);
  assert.equal(hello.arch, 'aarch64');
});

test('a session deploys the shipped agent where PATH has no make or compiler', async () => {
  // Only what deployment and the checked start run: id, uname, mkdir, mv, rm, and stat, chmod and
  // sha256sum for the private cache and the agent's hash (sh is started by its absolute path).
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  for (const tool of ['id', 'uname', 'mkdir', 'mv', 'rm', 'stat', 'chmod', 'sha256sum']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
  const home = join(scratch, 'home');
  mkdirSync(home);
  const saved = { PATH: process.env['PATH'], HOME: process.env['HOME'] };
  process.env['PATH'] = bin;
  process.env['HOME'] = home;
  try {
    assert.notEqual(spawnSync('/bin/sh', ['-c', 'command -v make || command -v cc || command -v gcc || command -v clang']).status, 0);

    // Without the shipped agent, this target cannot get one at all: make is missing.
    await assert.rejects(openAgentSession({ target: { kind: 'local' }, agentSourceDir, clientVersion: 'test' }), (error: unknown) => {
      assert.ok(error instanceof AgentSessionError);
      assert.equal(error.kind, 'agent-build');
      assert.match(error.message, /the target lacks make, gcc, clang, pkg-config/);
      return true;
    });

    const lines: string[] = [];
    const session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir, agentBinaryDir, clientVersion: 'test', log: (line) => lines.push(line) });
    try {
      assert.equal(session.hello.arch, 'x86_64');
      assert.equal(session.hello.clang, null, 'no clang on this PATH: the agent runs, compiling would not');
    } finally {
      await session.dispose();
    }
    const [hash] = readdirSync(join(home, '.cache/ebpf-studio')).filter((name) => !name.includes('.tmp-'));
    assert.deepEqual(readdirSync(join(home, '.cache/ebpf-studio', hash!)), ['ebpf-agent']);
    assert.equal(hash, `agent-${readAgentBinaries(agentBinaryDir).get('x86_64')!.hash.slice(0, 12)}`);
    assert.ok(lines.some((line) => /^Installed the shipped x86_64 agent \(ebpf-agent 0\.1\.0 \(protocol \d+\)\) on local in [\d.]+ s, without building it\.$/.test(line)), lines.join('\n'));
    assert.ok(lines.includes("Warning: local lacks clang: the agent runs, but compiling eBPF programs there needs clang and libbpf's headers (Debian/Ubuntu: apt-get install clang libbpf-dev)."), lines.join('\n'));
    assert.ok(!lines.some((line) => /Building/.test(line)), lines.join('\n'));
  } finally {
    process.env['PATH'] = saved.PATH;
    process.env['HOME'] = saved.HOME;
  }
});

test('over SSH the shipped agent is uploaded and run, not built; a second session reuses it', async (t) => {
  const sources = readAgentSources(agentSourceDir);
  const binaries = readAgentBinaries(agentBinaryDir);
  const transport = await connectSsh({ host: sshd.host, port: sshd.port, user: DEPLOY_USER, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile, sshConfigFile: join(scratch, 'no-ssh-config') });
  try {
    const home = execFileSync('sh', ['-c', `getent passwd ${DEPLOY_USER} | cut -d: -f6`], { encoding: 'utf8' }).trim();
    const cache = join(home, '.cache/ebpf-studio');
    rmSync(cache, { recursive: true, force: true });

    let started = performance.now();
    const shipped = await deployAgent(transport, sources, { binaries });
    const shippedMs = performance.now() - started;
    assert.equal(shipped.origin, 'shipped');
    assert.equal(shipped.built, true);
    assert.equal(shipped.agentPath, `${cache}/agent-${binaries.get('x86_64')!.hash.slice(0, 12)}/ebpf-agent`);
    const version = await transport.run(`${shipped.agentPath} --version`);
    assert.equal(version.stdout, `ebpf-agent 0.1.0 (protocol ${AGENT_PROTOCOL_VERSION})\n`);

    started = performance.now();
    const again = await deployAgent(transport, sources, { binaries });
    const cachedMs = performance.now() - started;
    assert.deepEqual({ origin: again.origin, built: again.built, agentPath: again.agentPath }, { origin: 'shipped', built: false, agentPath: shipped.agentPath });

    // The fallback for architectures with no shipped agent, on the same target, for comparison.
    started = performance.now();
    const fromSource = await deployAgent(transport, sources, { binaries: new Map() });
    const sourceMs = performance.now() - started;
    assert.equal(fromSource.origin, 'source');
    assert.equal(fromSource.built, true);
    t.diagnostic(`deploy over SSH: shipped binary ${shippedMs.toFixed(0)} ms (already there: ${cachedMs.toFixed(0)} ms), built from source ${sourceMs.toFixed(0)} ms`);
    assert.ok(shippedMs < sourceMs, `uploading the binary (${shippedMs} ms) should beat building it (${sourceMs} ms)`);
  } finally {
    await transport.dispose();
  }
});

test('an SSH session as root starts the shipped agent and says so', async () => {
  const lines: string[] = [];
  const session = await openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    sshConfigFile: join(scratch, 'no-ssh-config'),
    agentSourceDir,
    agentBinaryDir,
    clientVersion: 'test',
    log: (line) => lines.push(line),
  });
  try {
    assert.equal(session.hello.arch, 'x86_64');
    assert.equal(session.hello.euid, 0);
    assert.ok(lines.some((line) => /^(Installed|Using) the shipped x86_64 agent /.test(line)), lines.join('\n'));
  } finally {
    await session.dispose();
  }
});
