/**
 * sshd runs every command with the user's login shell, and not every login shell is POSIX or quiet:
 * a user whose shell is fish, and one whose ~/.bashrc greets on stdout and stderr (as conda, nvm or
 * a motd script do), reach the agent like anyone else — the first `check` deploys it, the next
 * takes the one-exec quick start — through the built-in SSH client and through OpenSSH's. Every
 * command the client sends is POSIX sh; the login shell only execs /bin/sh with it, and what the
 * rc files printed before the command's own output is dropped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureLoginUser, startSshd, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const programs = path.join(root, 'test/fixtures/programs');
const FISH = '/usr/bin/fish';
const FISH_USER = 'ebpfstudio-fish';
/** A bash user whose ~/.bashrc prints (Debian's bash reads it for commands sshd runs). */
const CHATTY_USER = 'ebpfstudio-chatty';
const SUDOERS = '/etc/sudoers.d/ebpfstudio-fish-test';
let sshd: PrivateSshd;

before(async () => {
  if (!fs.existsSync(FISH)) throw new Error(`${FISH} is not installed (scripts/bootstrap.sh installs fish)`);
  const home = ensureLoginUser(FISH_USER);
  execFileSync('usermod', ['--shell', FISH, FISH_USER]);
  const chattyHome = ensureLoginUser(CHATTY_USER);
  execFileSync('usermod', ['--shell', '/bin/bash', CHATTY_USER]);
  fs.writeFileSync(path.join(chattyHome, '.bashrc'), 'echo "Welcome to the build box"\necho "conda: base environment" >&2\n');
  // Passwordless sudo: the agent runs as root through `sudo -n`, as for any non-root login.
  fs.writeFileSync(SUDOERS, `${FISH_USER} ALL=(root) NOPASSWD: ALL\n${CHATTY_USER} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  // No agent there yet: the first check deploys it.
  for (const dir of [home, chattyHome]) fs.rmSync(path.join(dir, '.cache', 'ebpf-studio'), { recursive: true, force: true });
  sshd = await startSshd();
});

after(async () => {
  fs.rmSync(SUDOERS, { force: true });
  await sshd?.stop();
});

function check(user: string, sshClient: 'builtin' | 'openssh') {
  const destination = `${user}@${sshd.host}:${sshd.port}`;
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'check', 'passes.bpf.c', '--target', `ssh://${destination}`,
      '--identity', sshd.identityFile, '--known-hosts', sshd.knownHostsFile, '--ssh-client', sshClient, '--no-session'],
    { cwd: programs, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0);
  assert.match(run.stdout, new RegExp(`^passes\\.bpf\\.c: program \\w+ \\(tracepoint/syscalls/sys_enter_execve\\): ok, [1-9]\\d* insns processed \\(on ${destination.replace(/\./g, '\\.')}, kernel .+\\)$`, 'm'));
}

test('the test user’s login shell is fish, which refuses a POSIX script sent as it is', () => {
  assert.equal(execFileSync('getent', ['passwd', FISH_USER], { encoding: 'utf8' }).trim().split(':').pop(), FISH);
  const ssh = spawnSync('ssh', [
    '-i', sshd.identityFile, '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`, '-o', 'BatchMode=yes', '-p', String(sshd.port),
    `${FISH_USER}@${sshd.host}`, 'x=posix; echo "$x"',
  ], { encoding: 'utf8', timeout: 30_000 });
  // fish 3.6 exits 0 after a syntax error: what it wrote tells.
  assert.equal(ssh.stdout, '');
  assert.match(ssh.stderr, /^fish: Unsupported use of '='/m);
});

test('a fish user’s first check deploys the agent and runs as root, the next takes the quick start (built-in SSH client)', () => {
  check(FISH_USER, 'builtin');
  check(FISH_USER, 'builtin');
});

test('a fish user checks through the OpenSSH client too', () => {
  check(FISH_USER, 'openssh');
});

test('the test user’s ~/.bashrc greets on stdout before any command’s output', () => {
  const ssh = spawnSync('ssh', [
    '-i', sshd.identityFile, '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`, '-o', 'BatchMode=yes', '-p', String(sshd.port),
    `${CHATTY_USER}@${sshd.host}`, 'echo own output',
  ], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(ssh.stdout, 'Welcome to the build box\nown output\n');
});

test('a user whose rc files print checks like anyone: deployed, then quick-started, through both SSH clients', () => {
  check(CHATTY_USER, 'builtin');
  check(CHATTY_USER, 'builtin');
  check(CHATTY_USER, 'openssh');
});
