/**
 * Connecting as a user who is not root: the agent is started with `sudo -n`. Passwordless sudo
 * works end to end; a sudo that wants a password is a clear 'sudo-password' error saying what to do.
 * The test creates two local users (idempotently) and lets them log in to the private sshd.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { startSshd, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const NEEDS_PASSWORD = 'ebpfstudio-pw';
const PASSWORDLESS = 'ebpfstudio-nopw';
const SUDOERS = '/etc/sudoers.d/ebpfstudio-test';
let sshd: PrivateSshd;

function ensureUser(name: string): void {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', name]);
  }
  // useradd leaves the account locked ('!'), and sshd without PAM refuses locked accounts even for
  // key logins; '*' means "no password", which is what these users need.
  execFileSync('usermod', ['-p', '*', name]);
}

before(async () => {
  if (!fs.existsSync('/usr/bin/sudo')) throw new Error('sudo is not installed (scripts/bootstrap.sh installs it)');
  ensureUser(NEEDS_PASSWORD);
  ensureUser(PASSWORDLESS);
  fs.writeFileSync(SUDOERS, `${PASSWORDLESS} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  sshd = await startSshd();
});

after(async () => {
  fs.rmSync(SUDOERS, { force: true });
  await sshd?.stop();
});

function open(user: string) {
  return openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agentSourceDir: path.join(root, 'remote-agent/agent'),
    clientVersion: 'test',
  });
}

test('a user with passwordless sudo gets an agent running as root', async () => {
  const session = await open(PASSWORDLESS);
  try {
    assert.equal(session.hello.euid, 0);
    assert.equal(session.description, `${PASSWORDLESS}@127.0.0.1:${sshd.port}`);
  } finally {
    await session.dispose();
  }
});

test('a sudo that asks for a password is refused with what to do, not a hang', async () => {
  await assert.rejects(open(NEEDS_PASSWORD), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'sudo-password');
    assert.match(error.message, new RegExp(`sudo asks ${NEEDS_PASSWORD} for a password`));
    assert.match(error.message, /Connect as root/);
    assert.match(error.message, /NOPASSWD/);
    return true;
  });
});
