/**
 * Connecting as a user who is not root: the agent is started with `sudo -n`. Passwordless sudo
 * works end to end. A sudo that wants a password is asked for it through the session's prompter and
 * given it on the channel's stdin (the agent then runs as root); a wrong one is a clear error, never
 * a hang; without a prompter it is a clear 'sudo-password' error saying what to do. The password
 * never shows up in anything logged. The test creates two local users (idempotently), gives one a
 * real password that sudo asks for, and lets them log in to the private sshd.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentSessionError, openAgentSession, type CredentialPrompter } from '../../remote-agent/client/agentSession';
import { answersByAttempt, scriptedPrompter } from '../support/credentials';
import { TEST_SECRETS } from '../support/testSecrets';
import { ensureLoginUser, startSshd, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const NEEDS_PASSWORD = 'ebpfstudio-pw';
const PASSWORDLESS = 'ebpfstudio-nopw';
/** A user whose sudo needs no password but a terminal ("Defaults requiretty", RHEL 7's default). */
const NEEDS_TTY = 'ebpfstudio-tty';
const SUDOERS = '/etc/sudoers.d/ebpfstudio-test';
/** NEEDS_PASSWORD's password, which sudo asks for. */
const SUDO_PASSWORD = TEST_SECRETS.sudoPassword;
/** The static agents, when `npm run build` made them: no build from source in each user's home. */
const agentBinaryDir = path.join(root, 'out', 'agent-bin');
/** Every line the sessions logged and every error message, searched for the password at the end. */
const logged: string[] = [];
let sshd: PrivateSshd;

before(async () => {
  if (!fs.existsSync('/usr/bin/sudo')) throw new Error('sudo is not installed (scripts/bootstrap.sh installs it)');
  ensureLoginUser(NEEDS_PASSWORD);
  ensureLoginUser(PASSWORDLESS);
  ensureLoginUser(NEEDS_TTY);
  // The key still logs NEEDS_PASSWORD in; the password is only for sudo.
  execFileSync('chpasswd', { input: `${NEEDS_PASSWORD}:${SUDO_PASSWORD}\n` });
  fs.writeFileSync(
    SUDOERS,
    `${PASSWORDLESS} ALL=(root) NOPASSWD: ALL\n${NEEDS_PASSWORD} ALL=(root) ALL\nDefaults:${NEEDS_TTY} requiretty\n${NEEDS_TTY} ALL=(root) NOPASSWD: ALL\n`,
    { mode: 0o440 },
  );
  sshd = await startSshd();
});

after(async () => {
  fs.rmSync(SUDOERS, { force: true });
  await sshd?.stop();
});

async function open(user: string, credentials?: CredentialPrompter) {
  try {
    return await openAgentSession({
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, user },
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      agentSourceDir: path.join(root, 'remote-agent/agent'),
      ...(fs.existsSync(agentBinaryDir) && { agentBinaryDir }),
      clientVersion: 'test',
      ...(credentials !== undefined && { credentials }),
      log: (line) => logged.push(line),
    });
  } catch (error) {
    logged.push((error as Error).message);
    throw error;
  }
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

test('a sudo that wants a terminal is refused naming requiretty and the sudoers line that lifts it, and no one is asked for anything', async () => {
  const prompter = scriptedPrompter(() => SUDO_PASSWORD);
  await assert.rejects(open(NEEDS_TTY, prompter), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'agent-start');
    assert.equal(
      error.message,
      `The agent must run as root on ${NEEDS_TTY}@127.0.0.1:${sshd.port}, but sudo there runs only from a terminal ("Defaults requiretty") and eBPF Studio's commands have none. ` +
        `Connect as root, or exempt ${NEEDS_TTY} with visudo on the target: 'Defaults:${NEEDS_TTY} !requiretty'.`,
    );
    return true;
  });
  assert.deepEqual(prompter.asked, []);
});

test('asked for the sudo password, the right one starts the agent as root; it is asked once and told it worked', async () => {
  const prompter = answersByAttempt('sudo-password', [SUDO_PASSWORD]);
  const session = await open(NEEDS_PASSWORD, prompter);
  try {
    assert.equal(session.hello.euid, 0);
    assert.deepEqual(
      prompter.asked.map(({ kind, target, prompt, echo, attempt }) => ({ kind, target, prompt, echo, attempt })),
      [
        {
          kind: 'sudo-password',
          target: `${NEEDS_PASSWORD}@127.0.0.1:${sshd.port}`,
          prompt: `[sudo] password for ${NEEDS_PASSWORD} on ${NEEDS_PASSWORD}@127.0.0.1:${sshd.port}:`,
          echo: false,
          attempt: 1,
        },
      ],
    );
    assert.deepEqual(prompter.outcomes, ['accepted sudo-password #1']);
  } finally {
    await session.dispose();
  }
});

test('a wrong sudo password is asked for again as sudo asks again, then the right one works', async () => {
  const prompter = answersByAttempt('sudo-password', ['not the password', SUDO_PASSWORD]);
  const session = await open(NEEDS_PASSWORD, prompter);
  try {
    assert.equal(session.hello.euid, 0);
    assert.deepEqual(prompter.outcomes, ['refused sudo-password #1', 'accepted sudo-password #2']);
  } finally {
    await session.dispose();
  }
});

test('a sudo password that stays wrong ends in a clear error naming the user and host, not a hang', async () => {
  const prompter = answersByAttempt('sudo-password', ['not the password']);
  await assert.rejects(open(NEEDS_PASSWORD, prompter), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'sudo-password');
    assert.match(error.message, new RegExp(`^sudo did not accept the password for ${NEEDS_PASSWORD} on ${NEEDS_PASSWORD}@127.0.0.1:${sshd.port}\\.`));
    return true;
  });
  assert.deepEqual(prompter.outcomes, ['refused sudo-password #1', 'refused sudo-password #2', 'refused sudo-password #3']);
});

test('declining to give the sudo password ends at once with credentials-declined', async () => {
  await assert.rejects(open(NEEDS_PASSWORD, scriptedPrompter(() => undefined)), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'credentials-declined');
    return true;
  });
});

test('passwordless sudo asks no one, even with a prompter', async () => {
  const prompter = scriptedPrompter(() => SUDO_PASSWORD);
  const session = await open(PASSWORDLESS, prompter);
  await session.dispose();
  assert.deepEqual(prompter.asked, []);
});

test('the sudo password appears in nothing logged and no error message', () => {
  assert.ok(logged.some((line) => line.includes('with sudo and the password given')), 'the sessions were logged');
  assert.deepEqual(logged.filter((line) => line.includes(SUDO_PASSWORD)), []);
});
