/**
 * The agent that runs as root is the one we shipped, from a place only its user controls. A user
 * with passwordless sudo logs in to the private sshd; their agent cache is created private; an
 * installed agent overwritten between sessions (with a script that would leave a marker file) is
 * never run — the next session refuses it and moves it aside, the one after installs a fresh copy —
 * for a shipped binary and for one built from source; a build this client recorded is run on the
 * same machine reached under another name (found there, hash checked), and one recorded elsewhere
 * but missing there is built afresh; a cache directory others can write, or an
 * agent directory that is a symbolic link, is refused with the path and the fix; the sudoers rule
 * suggested to a user whose sudo wants a password pins the agent by sha256 and works; the agent started
 * by hand from a world-writable directory, or from a file another user owns, exits 2 with one line
 * saying why; and a second user can neither list nor read the first user's cache, nor the agent's
 * work directories and vmlinux cache.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { deployAgent, readAgentBinaries, readAgentSources } from '../../remote-agent/client/deployAgent';
import { knownAgentBuildsFile, type KnownAgentBuilds } from '../../remote-agent/client/knownAgentBuilds';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { agentBinary as sanitizedAgent, assertNoSanitizerReport, buildSanitizedAgent, programFixtures, RawAgent } from '../support/rawAgent';
import { ensureLoginUser, startSshd, type PrivateSshd } from '../support/sshd';

const root = join(import.meta.dirname, '..', '..');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = join(root, 'out/agent-bin');
/** Owns an agent cache; may run the agent as root through passwordless sudo. */
const OWNER = 'ebpfstudio-owner';
/** Another account on the same machine, with no sudo. */
const PEER = 'ebpfstudio-peer';
const SUDOERS = '/etc/sudoers.d/ebpfstudio-integrity-test';
/** The sudoers rule the 'sudo-password' error tells PEER to add. */
const PEER_SUDOERS = '/etc/sudoers.d/ebpfstudio-integrity-test-peer';
const scratch = mkdtempSync(join(tmpdir(), 'agent-integrity-test-'));
/** This test's client-side records of agents built from source. */
const knownAgentBuilds = knownAgentBuildsFile(join(scratch, 'known-agent-builds.json'));
let sshd: PrivateSshd;
let ownerCache: string;

/** Runs a command as `user` on this machine (the target), as a second user logged in there would. */
function runAs(user: string, command: string[]): { status: number | null; stderr: string } {
  const run = spawnSync('runuser', ['-u', user, '--', ...command], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

before(async () => {
  if (!existsSync('/usr/bin/sudo')) throw new Error('sudo is not installed (scripts/bootstrap.sh installs it)');
  if (!existsSync(join(agentBinaryDir, 'x86_64/ebpf-agent'))) throw new Error(`${agentBinaryDir} holds no x86_64 agent: run npm run build first`);
  ownerCache = join(ensureLoginUser(OWNER), '.cache/ebpf-studio');
  const peerCache = join(ensureLoginUser(PEER), '.cache/ebpf-studio');
  // Every run starts from no cache, as a first connection would.
  rmSync(ownerCache, { recursive: true, force: true });
  rmSync(peerCache, { recursive: true, force: true });
  writeFileSync(SUDOERS, `${OWNER} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  buildSanitizedAgent();
  sshd = await startSshd();
});

after(async () => {
  rmSync(SUDOERS, { force: true });
  rmSync(PEER_SUDOERS, { force: true });
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface OpenOptions {
  /** false: build the agent from source on the target. */
  shipped?: boolean;
  /** Another client's records of the agents it built. */
  records?: KnownAgentBuilds;
  log?: (line: string) => void;
}

function open(user: string, options: OpenOptions = {}) {
  return openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    sshConfigFile: join(scratch, 'no-ssh-config'),
    agentSourceDir,
    ...(options.shipped !== false && { agentBinaryDir }),
    knownAgentBuilds: options.records ?? knownAgentBuilds,
    clientVersion: 'agentIntegrity.test',
    ...(options.log !== undefined && { log: options.log }),
  });
}

async function openAndClose(user: string, options: OpenOptions = {}): Promise<void> {
  const session = await open(user, options);
  assert.equal(session.hello.euid, 0);
  await session.dispose();
}

const shippedDir = (): string => join(ownerCache, `agent-${readAgentBinaries(agentBinaryDir).get('x86_64')!.hash.slice(0, 12)}`);

/** A script that leaves `marker` if it is ever run, in place of the agent at `path` (same inode, owner and mode). */
function tamper(path: string): string {
  const marker = join(tmpdir(), `ebpf-studio-tampered-agent-ran-${randomBytes(4).toString('hex')}`);
  writeFileSync(path, `#!/bin/sh\ntouch ${marker}\nexit 0\n`);
  return marker;
}

function assertRefused(error: unknown, pattern: RegExp): true {
  assert.ok(error instanceof AgentSessionError, String(error));
  assert.equal(error.kind, 'agent-integrity', error.message);
  assert.match(error.message, pattern);
  return true;
}

test('the first session creates the agent cache private to its user: 0700 directories they own', async () => {
  await openAndClose(OWNER);
  const uid = Number(execFileSync('id', ['-u', OWNER], { encoding: 'utf8' }));
  for (const dir of [ownerCache, shippedDir()]) {
    const stat = statSync(dir);
    assert.equal(stat.mode & 0o777, 0o700, `${dir} has mode ${(stat.mode & 0o777).toString(8)}`);
    assert.equal(stat.uid, uid, `${dir} is owned by uid ${stat.uid}`);
  }
});

test('a second user can neither list nor read the first user\'s agent cache', async () => {
  const agentPath = join(shippedDir(), 'ebpf-agent');
  // Logged in over SSH, as a second user of the target would be.
  const transport = await connectSsh({ host: sshd.host, port: sshd.port, user: PEER, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile, sshConfigFile: join(scratch, 'no-ssh-config') });
  try {
    for (const command of [`ls ${ownerCache}`, `ls ${shippedDir()}`, `cat ${agentPath} > /dev/null`, `test -x ${agentPath}`]) {
      const run = await transport.run(command);
      assert.notEqual(run.exitCode, 0, `${PEER} could run: ${command}`);
    }
    assert.match((await transport.run(`ls ${ownerCache}`)).stderr, /Permission denied/);
  } finally {
    await transport.dispose();
  }
});

test('a shipped agent overwritten after a session is never run: the next session refuses it and moves it aside, the one after reinstalls', async () => {
  await openAndClose(OWNER);
  const agentPath = join(shippedDir(), 'ebpf-agent');
  const marker = tamper(agentPath);

  await assert.rejects(open(OWNER), (error: unknown) =>
    assertRefused(error, new RegExp(`The eBPF Studio agent at ${agentPath} on ${OWNER}@127\\.0\\.0\\.1:\\d+ was changed since it was installed .*so it was not run\\. It was moved to ${shippedDir()}\\.tampered-\\S+ for you to inspect, and the next connection installs a fresh copy\\. .*check that machine`)),
  );
  assert.equal(existsSync(marker), false, 'the tampered agent ran');
  const quarantined = readdirSync(ownerCache).filter((name) => name.startsWith(`agent-`) && name.includes('.tampered-'));
  assert.equal(quarantined.length, 1, readdirSync(ownerCache).join(' '));
  assert.match(readFileSync(join(ownerCache, quarantined[0]!, 'ebpf-agent'), 'utf8'), /touch/, 'the tampered file is kept to inspect');

  await openAndClose(OWNER);
  assert.equal(existsSync(marker), false, 'the tampered agent ran');
  rmSync(join(ownerCache, quarantined[0]!), { recursive: true });
});

test('an agent built from source and overwritten after a session is never run', async () => {
  await openAndClose(OWNER, { shipped: false });
  const built = readdirSync(ownerCache).find((name) => existsSync(join(ownerCache, name, 'build/ebpf-agent')) && !name.includes('.'));
  assert.ok(built !== undefined, readdirSync(ownerCache).join(' '));
  const agentPath = join(ownerCache, built, 'build/ebpf-agent');
  const marker = tamper(agentPath);

  await assert.rejects(open(OWNER, { shipped: false }), (error: unknown) => assertRefused(error, new RegExp(`agent at ${agentPath} .* was changed since it was installed .*so it was not run`)));
  assert.equal(existsSync(marker), false, 'the tampered agent ran');
  for (const name of readdirSync(ownerCache)) if (name.startsWith(`${built}.tampered-`)) rmSync(join(ownerCache, name), { recursive: true });
});

test('an agent another client built is not trusted: this client builds its own beside it, and both keep working', async () => {
  const otherClient = knownAgentBuildsFile(join(scratch, 'other-client-builds.json'));
  const builds = (): string[] => readdirSync(ownerCache).filter((name) => /^agent-[0-9a-f]{12}-[0-9a-f]{8}$/.test(name));
  await openAndClose(OWNER, { shipped: false });
  const ours = builds();
  assert.equal(ours.length, 1, ours.join(' '));

  const lines: string[] = [];
  await openAndClose(OWNER, { shipped: false, records: otherClient, log: (line) => lines.push(line) });
  assert.ok(lines.some((line) => line.startsWith('Built the agent on')), lines.join('\n'));
  assert.equal(builds().length, 2, 'the other client built in a directory of its own');

  // Neither build replaced the other, so neither client's record looks like tampering.
  const again: string[] = [];
  await openAndClose(OWNER, { shipped: false, log: (line) => again.push(line) });
  assert.ok(again.includes(`Agent ${ours[0]} is already built on ${OWNER}@127.0.0.1:${sshd.port}.`), again.join('\n'));
  await openAndClose(OWNER, { shipped: false, records: otherClient });
});

test('the same target reached under another name runs the build this client recorded for the first, after checking it is there', async () => {
  const sources = readAgentSources(agentSourceDir);
  await openAndClose(OWNER, { shipped: false });
  const first = knownAgentBuilds.lookup(`${OWNER}@127.0.0.1:${sshd.port}`, sources.hash);
  assert.ok(first !== undefined);
  const transport = await connectSsh({ host: sshd.host, port: sshd.port, user: OWNER, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile, sshConfigFile: join(scratch, 'no-ssh-config') });
  try {
    const lines: string[] = [];
    const deployed = await deployAgent(transport, sources, { knownBuilds: knownAgentBuilds, targetKey: 'owner-vm (an alias)', log: (line) => lines.push(line) });
    assert.deepEqual(
      { built: deployed.built, agentPath: deployed.agentPath, sha256: deployed.sha256 },
      { built: false, agentPath: join(ownerCache, first.dirName, 'build/ebpf-agent'), sha256: first.sha256 },
    );
    assert.ok(lines.includes(`Agent ${first.dirName}, which this client built from these sources, is already on ${OWNER}@127.0.0.1:${sshd.port} (recorded under another name for it).`), lines.join('\n'));
    assert.deepEqual(knownAgentBuilds.lookup('owner-vm (an alias)', sources.hash), first);

    // A build recorded elsewhere that this target does not hold is no reason to skip building.
    const elsewhere = knownAgentBuildsFile(join(scratch, 'elsewhere-builds.json'));
    elsewhere.record('another machine', sources.hash, { dirName: 'agent-000000000000-00000000', sha256: '0'.repeat(64) });
    const built = await deployAgent(transport, sources, { knownBuilds: elsewhere, targetKey: 'owner-vm (an alias)' });
    assert.equal(built.built, true);
    assert.notEqual(built.agentPath, deployed.agentPath);
  } finally {
    await transport.dispose();
  }
});

test('a cache directory others can write is refused, naming the path and the fix, and nothing is run', async () => {
  await openAndClose(OWNER);
  const marker = tamper(join(shippedDir(), 'ebpf-agent'));
  chmodSync(ownerCache, 0o777);
  try {
    await assert.rejects(open(OWNER), (error: unknown) =>
      assertRefused(error, new RegExp(`refuses to use ${ownerCache} on .*: it is writable by other users \\(drwxrwxrwx\\).*chmod 700 ${ownerCache}`)),
    );
    assert.equal(existsSync(marker), false, 'the agent ran from a cache others can write');
  } finally {
    chmodSync(ownerCache, 0o700);
    rmSync(shippedDir(), { recursive: true });
  }
});

test('an agent directory that is a symbolic link is refused, naming the path', async () => {
  await openAndClose(OWNER);
  const elsewhere = join(ownerCache, 'elsewhere');
  renameSync(shippedDir(), elsewhere);
  symlinkSync(elsewhere, shippedDir());
  try {
    await assert.rejects(open(OWNER), (error: unknown) => assertRefused(error, new RegExp(`refuses to use ${shippedDir()} on .*: it is a symbolic link`)));
  } finally {
    rmSync(shippedDir());
    renameSync(elsewhere, shippedDir());
  }
});

test('the sudoers rule a sudo-password error suggests pins the agent by its sha256, and works as written', async () => {
  let rule = '';
  await assert.rejects(open(PEER), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError && error.kind === 'sudo-password', String(error));
    rule = /add '([^']+)' with visudo/.exec(error.message)?.[1] ?? '';
    return true;
  });
  assert.match(rule, new RegExp(`^${PEER} ALL=\\(root\\) NOPASSWD: sha256:[0-9a-f]{64} /\\S+/ebpf-agent$`));
  writeFileSync(PEER_SUDOERS, `${rule}\n`, { mode: 0o440 });
  execFileSync('visudo', ['-c', '-f', PEER_SUDOERS]);
  try {
    await openAndClose(PEER).catch((error: unknown) => {
      // (Seen once on CI, not reproduced: say what sudo had to go on.)
      const agentPath = rule.split(' ').at(-1)!;
      const digest = spawnSync('sha256sum', [agentPath], { encoding: 'utf8' });
      const allowed = spawnSync('sudo', ['-l', '-U', PEER], { encoding: 'utf8' });
      throw new Error(`${String(error)}\nthe rule: ${rule}\nsha256sum now: ${digest.stdout || digest.stderr}sudo -l -U ${PEER}: ${allowed.stdout}${allowed.stderr}`, { cause: error });
    });
    // sudo itself now refuses other bytes at that path, whatever else checks them.
    const agentPath = rule.split(' ').at(-1)!;
    const marker = tamper(agentPath);
    const run = spawnSync('runuser', ['-u', PEER, '--', 'sudo', '-n', agentPath], { encoding: 'utf8' });
    assert.notEqual(run.status, 0);
    assert.equal(existsSync(marker), false, 'sudo ran the changed agent');
  } finally {
    rmSync(PEER_SUDOERS, { force: true });
  }
});

/** Runs a copy of the sanitized agent placed in `dir`, and returns its exit status and output. */
function runAgentCopy(dir: string): { status: number | null; stdout: string; stderr: string } {
  const copy = join(dir, 'ebpf-agent');
  copyFileSync(sanitizedAgent, copy);
  chmodSync(copy, 0o755);
  const hello = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: { clientVersion: 'agentIntegrity.test' } });
  const run = spawnSync(copy, ['--cache-dir', join(scratch, 'raw-cache')], { input: `${hello}\n`, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('the agent started by hand from a world-writable directory exits 2 with one line saying why', () => {
  const dir = mkdtempSync(join(scratch, 'world-writable-'));
  chmodSync(dir, 0o777);
  const run = runAgentCopy(dir);
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stdout, '', 'it answered nothing');
  assertNoSanitizerReport(run.stderr);
  assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`^ebpf-agent: refusing to run as root: ${dir} is writable by everyone \\(mode 0777\\), so another user could replace what runs; make it writable only by you and root`));
});

test('the agent started from a file another user owns exits 2, and from a private directory it answers', () => {
  const dir = mkdtempSync(join(scratch, 'private-'));
  chmodSync(dir, 0o755);
  const ok = runAgentCopy(dir);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /"protocolVersion"/);

  execFileSync('chown', [PEER, join(dir, 'ebpf-agent')]);
  const uid = execFileSync('id', ['-u', PEER], { encoding: 'utf8' }).trim();
  const run = spawnSync(join(dir, 'ebpf-agent'), [], { input: '', encoding: 'utf8' });
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, new RegExp(`^ebpf-agent: refusing to run as root: ${dir}/ebpf-agent is owned by uid ${uid}, neither root nor the user running it`));
});

test('the agent\'s work directories and vmlinux cache are closed to other users, even inside directories they can read', async () => {
  const shared = mkdtempSync(join(scratch, 'shared-'));
  chmodSync(scratch, 0o755);
  chmodSync(shared, 0o755);
  const agent = new RawAgent({ scratchDir: shared });
  try {
    chmodSync(agent.cacheDir, 0o755);
    await agent.ok('probe.helpers', {});
    const compiled = await agent.request('compile', { files: [{ path: 'kprobe.bpf.c', content: readFileSync(join(programFixtures, 'kprobe.bpf.c'), 'utf8') }], main: 'kprobe.bpf.c' });
    assert.equal(compiled.error, undefined, JSON.stringify(compiled.error));
    const workDirs = readdirSync(shared).filter((name) => name.startsWith('ebpf-agent.'));
    assert.equal(workDirs.length, 1, 'the compiled object keeps its work dir');
    const workDir = join(shared, workDirs[0]!);
    const vmlinuxDirs = readdirSync(join(agent.cacheDir, 'vmlinux')).map((id) => join(agent.cacheDir, 'vmlinux', id));
    assert.ok(vmlinuxDirs.length > 0);
    for (const dir of [workDir, ...vmlinuxDirs]) assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
    assert.equal(statSync(join(vmlinuxDirs[0]!, 'vmlinux.h')).mode & 0o777, 0o600);

    for (const command of [['ls', workDir], ['ls', vmlinuxDirs[0]!], ['cat', join(vmlinuxDirs[0]!, 'vmlinux.h')], ['ls', join(agent.cacheDir, 'helpers')]]) {
      const run = runAs(PEER, command);
      assert.notEqual(run.status, 0, `${PEER} could run: ${command.join(' ')}`);
      assert.match(run.stderr, /Permission denied/, command.join(' '));
    }
  } finally {
    await agent.close();
    assertNoSanitizerReport(agent.stderr);
    chmodSync(scratch, 0o700);
  }
});
