/**
 * The checked start command (agentIntegrity.ts), run by this machine's /bin/sh on scratch
 * directories: an agent with the expected sha256 in private directories is exec'ed; a changed one
 * is moved aside and never run; a directory others can write, another's, or a symbolic link is
 * refused; each refusal becomes an 'agent-integrity' error that says what was found and what to do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { integrityFailure, INTEGRITY_EXIT, PRIVATE_DIR_FUNCTIONS, verifiedStartCommand, type VerifiableAgent } from '../../remote-agent/client/agentIntegrity';
import { AgentSessionError } from '../../remote-agent/client/sessionError';
import { shellQuote } from '../../remote-agent/client/transport';

const scratch = mkdtempSync(join(tmpdir(), 'agent-integrity-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const AGENT_SCRIPT = '#!/bin/sh\necho "the agent ran"\n';

/** A cache with one installed "agent" (a script saying it ran), private as deployment leaves it. */
function installedAgent(name: string): VerifiableAgent {
  const cacheDir = join(scratch, name, 'ebpf-studio');
  const agentDir = join(cacheDir, 'agent-0123456789ab');
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  chmodSync(cacheDir, 0o700);
  const agentPath = join(agentDir, 'ebpf-agent');
  writeFileSync(agentPath, AGENT_SCRIPT, { mode: 0o755 });
  return { cacheDir, agentDir, agentPath, sha256: createHash('sha256').update(AGENT_SCRIPT).digest('hex') };
}

function start(agent: VerifiableAgent): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('/bin/sh', ['-c', verifiedStartCommand(agent, `exec ${shellQuote(agent.agentPath)}`)], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const context = (agent: VerifiableAgent) => ({ where: 'alice@host:22', userName: 'alice', agent });

test('an agent with the expected sha256 in private directories is run', () => {
  const agent = installedAgent('good');
  const run = start(agent);
  assert.equal(run.stdout, 'the agent ran\n', run.stderr);
  assert.equal(run.status, 0);
  assert.equal(integrityFailure(run.stderr, context(agent)), undefined);
});

test('directories left readable by others are made private (0700) before the agent runs', () => {
  const agent = installedAgent('readable');
  chmodSync(agent.cacheDir, 0o755);
  chmodSync(agent.agentDir, 0o750);
  assert.equal(start(agent).stdout, 'the agent ran\n');
  for (const dir of [agent.cacheDir, agent.agentDir]) assert.equal(spawnSync('stat', ['-c', '%a', dir], { encoding: 'utf8' }).stdout.trim(), '700');
});

test('a changed agent is not run: it is moved aside and the error says so, with both hashes and what to do', () => {
  const agent = installedAgent('changed');
  writeFileSync(agent.agentPath, '#!/bin/sh\necho "the tampered agent ran"\n');
  const run = start(agent);
  assert.equal(run.stdout, '');
  assert.equal(run.status, INTEGRITY_EXIT);
  assert.equal(existsSync(agent.agentDir), false, 'the changed agent stays where it would run');
  const [aside] = readdirSync(agent.cacheDir);
  assert.match(aside!, /^agent-0123456789ab\.tampered-\d{8}-\d{6}$/);
  const error = integrityFailure(run.stderr, context(agent));
  assert.ok(error instanceof AgentSessionError);
  assert.equal(error.kind, 'agent-integrity');
  const actual = createHash('sha256').update('#!/bin/sh\necho "the tampered agent ran"\n').digest('hex');
  assert.equal(
    error.message,
    `The eBPF Studio agent at ${agent.agentPath} on alice@host:22 was changed since it was installed (sha256 ${actual}, expected ${agent.sha256}), so it was not run. ` +
      `It was moved to ${join(agent.cacheDir, aside!)} for you to inspect, and the next connection installs a fresh copy. ` +
      `Something with write access to alice's files on alice@host:22 changed it: check that machine before connecting again.`,
  );
});

test('a cache directory others can write is refused, and the error names it and the fix', () => {
  const agent = installedAgent('world-writable');
  chmodSync(agent.cacheDir, 0o777);
  const run = start(agent);
  assert.equal(run.stdout, '');
  assert.equal(run.status, INTEGRITY_EXIT);
  const error = integrityFailure(run.stderr, context(agent));
  assert.ok(error instanceof AgentSessionError);
  assert.equal(error.kind, 'agent-integrity');
  assert.equal(
    error.message,
    `eBPF Studio refuses to use ${agent.cacheDir} on alice@host:22: it is writable by other users (drwxrwxrwx). The agent kept there runs as root, so anyone who can change that directory could run their own program as root. ` +
      `Check that nobody changed what is in it, then make it private (chmod 700 ${agent.cacheDir}) or remove it (rm -rf ${agent.cacheDir}), and connect again; eBPF Studio then creates it private to alice (mode 700).`,
  );
});

test('a work directory that cannot be created is no safety refusal: the error says so and names the workDirectory setting', () => {
  // /proc takes no new directories, even from root.
  const path = '/proc/ebpf-studio-cache';
  const run = spawnSync('/bin/sh', ['-c', `${PRIVATE_DIR_FUNCTIONS}\nebpf_private_dir_create ${shellQuote(path)}`], { encoding: 'utf8' });
  assert.equal(run.status, INTEGRITY_EXIT);
  const error = integrityFailure(run.stderr, { where: 'alice@host:22', userName: 'alice' });
  assert.ok(error instanceof AgentSessionError);
  assert.equal(
    error.message,
    `eBPF Studio cannot create ${path} on alice@host:22, where it keeps the agent: alice cannot make that directory there (its parent is missing, read-only, or not alice's). ` +
      'Give this target a "workDirectory" alice can create (a named target in ebpfStudio.targets or .ebpf-studio/targets.json), and connect again.',
  );
});

test('a group-writable agent directory is refused too', () => {
  const agent = installedAgent('group-writable');
  chmodSync(agent.agentDir, 0o770);
  const run = start(agent);
  assert.equal(run.stdout, '');
  assert.match(integrityFailure(run.stderr, context(agent))!.message, new RegExp(`refuses to use ${agent.agentDir} on alice@host:22: it is writable by other users \\(drwxrwx---\\)`));
});

test('an agent directory that is a symbolic link is refused, even to a private directory', () => {
  const agent = installedAgent('symlink');
  const elsewhere = join(scratch, 'symlink', 'elsewhere');
  renameSync(agent.agentDir, elsewhere);
  symlinkSync(elsewhere, agent.agentDir);
  const run = start(agent);
  assert.equal(run.stdout, '');
  assert.match(integrityFailure(run.stderr, context(agent))!.message, new RegExp(`refuses to use ${agent.agentDir} on alice@host:22: it is a symbolic link, which could lead anywhere\\. .*Remove it \\(rm -rf`));
});

test('a directory owned by another user is refused, naming its owner', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, () => {
  const agent = installedAgent('foreign');
  spawnSync('chown', ['65534', agent.agentDir]);
  const run = start(agent);
  assert.equal(run.stdout, '');
  assert.match(integrityFailure(run.stderr, context(agent))!.message, /is owned by uid 65534, not by alice\. .*chown -R alice/);
});

test('stderr without a refusal is no integrity failure', () => {
  assert.equal(integrityFailure('sudo: a password is required\n', { where: 'h', userName: 'u' }), undefined);
});
