/**
 * What a person types to log in, against real OpenSSH servers on 127.0.0.1: a key protected by a
 * passphrase (made by ssh-keygen -N) unlocks with the passphrase asked once and runs the agent;
 * a wrong passphrase is asked for again; a user with a real password logs in by password (sshd
 * checks /etc/shadow) and by keyboard-interactive (sshd through PAM, whose own prompt is shown).
 * The CLI on a terminal reads the passphrase with echo off; without a terminal it gets it from
 * SSH_ASKPASS, and without either says what to do. Nothing logged, printed or put in an error message holds a secret.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import type { CredentialPrompter } from '../../remote-agent/client/credentialPrompt';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { answersByAttempt, scriptedPrompter, whoAmIOver } from '../support/credentials';
import { TEST_SECRETS } from '../support/testSecrets';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

const root = join(import.meta.dirname, '..', '..');
const PASSPHRASE = TEST_SECRETS.keyPassphrase;
const LOGIN_USER = 'ebpfstudio-login';
const LOGIN_PASSWORD = TEST_SECRETS.loginPassword;
const NEW_PASSWORD = TEST_SECRETS.newLoginPassword;
/** A user whose password has expired, made so again by each test that uses it. */
const EXPIRED_USER = 'ebpfstudio-expired';
const SECRETS = [PASSPHRASE, LOGIN_PASSWORD, NEW_PASSWORD];
const unavailable = sshdUnavailableReason();
const agentBinaryDir = join(root, 'out', 'agent-bin');
/** Every line logged and every error message, searched for the secrets at the end. */
const logged: string[] = [];
let passwordSshd: PrivateSshd;
let keyboardSshd: PrivateSshd;
let passwordChangeSshd: PrivateSshd;
let encryptedKey: string;

before(async () => {
  if (unavailable !== null) return;
  passwordSshd = await startSshd({ passwordAuthentication: true });
  keyboardSshd = await startSshd({ keyboardInteractive: true });
  passwordChangeSshd = await startSshd({ keyboardInteractive: true, passwordChange: true });
  encryptedKey = join(passwordSshd.dir, 'encrypted_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'encrypted-client', '-f', encryptedKey]);
  passwordSshd.authorizeKey(readFileSync(`${encryptedKey}.pub`, 'utf8'));
  try {
    execFileSync('id', ['-u', LOGIN_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', LOGIN_USER]);
  }
  execFileSync('chpasswd', { input: `${LOGIN_USER}:${LOGIN_PASSWORD}\n` });
  try {
    execFileSync('id', ['-u', EXPIRED_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', EXPIRED_USER]);
  }
});
after(async () => {
  await passwordSshd?.stop();
  await keyboardSshd?.stop();
  await passwordChangeSshd?.stop();
});

/** EXPIRED_USER's password set to LOGIN_PASSWORD and marked expired (as `chage -d 0` or an admin's policy does). */
function expirePassword(): void {
  execFileSync('chpasswd', { input: `${EXPIRED_USER}:${LOGIN_PASSWORD}\n` });
  execFileSync('chage', ['-d', '0', EXPIRED_USER]);
}

/** Logs in and runs `id -un` there: who we became. */
async function whoAmI(sshd: PrivateSshd, options: { user: string; identityFile?: string; credentials: CredentialPrompter }): Promise<string> {
  return whoAmIOver(
    {
      host: sshd.host,
      port: sshd.port,
      user: options.user,
      knownHostsFile: sshd.knownHostsFile,
      sshConfigFile: join(sshd.dir, 'no-ssh-config'),
      ...(options.identityFile !== undefined && { identityFile: options.identityFile }),
      credentials: options.credentials,
    },
    logged,
  );
}

test('a key made with ssh-keygen -N is unlocked with its passphrase, asked once, and the agent runs as root', { skip: unavailable ?? false }, async () => {
  const prompter = answersByAttempt('key-passphrase', [PASSPHRASE]);
  const session = await openAgentSession({
    target: { kind: 'ssh', host: passwordSshd.host, port: passwordSshd.port, user: 'root' },
    identityFile: encryptedKey,
    knownHostsFile: passwordSshd.knownHostsFile,
    sshConfigFile: join(passwordSshd.dir, 'no-ssh-config'),
    agentSourceDir: join(root, 'remote-agent/agent'),
    ...(existsSync(agentBinaryDir) && { agentBinaryDir }),
    clientVersion: 'test',
    credentials: prompter,
    log: (line) => logged.push(line),
  });
  try {
    assert.equal(session.hello.euid, 0);
    assert.deepEqual(prompter.asked.map(({ kind, keyFile, attempt }) => ({ kind, keyFile, attempt })), [{ kind: 'key-passphrase', keyFile: encryptedKey, attempt: 1 }]);
    assert.deepEqual(prompter.outcomes, ['accepted key-passphrase #1']);
  } finally {
    await session.dispose();
  }
});

test('a wrong passphrase is asked for again, and the right one then logs in', { skip: unavailable ?? false }, async () => {
  const prompter = answersByAttempt('key-passphrase', ['wrong passphrase', PASSPHRASE]);
  assert.equal(await whoAmI(passwordSshd, { user: 'root', identityFile: encryptedKey, credentials: prompter }), 'root');
  assert.deepEqual(prompter.outcomes, ['refused key-passphrase #1', 'accepted key-passphrase #2']);
});

test('a passphrase wrong three times is an auth error naming the key file', { skip: unavailable ?? false }, async () => {
  const prompter = answersByAttempt('key-passphrase', ['wrong passphrase']);
  await assert.rejects(whoAmI(passwordSshd, { user: 'root', identityFile: encryptedKey, credentials: prompter }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'auth');
    assert.ok(error.message.includes(`The passphrase for key ${encryptedKey} was wrong 3 times`), error.message);
    return true;
  });
});

test("a user with a password logs in by password, asked in OpenSSH's words, again after a wrong one", { skip: unavailable ?? false }, async () => {
  const prompter = answersByAttempt('password', ['wrong password', LOGIN_PASSWORD]);
  assert.equal(await whoAmI(passwordSshd, { user: LOGIN_USER, credentials: prompter }), LOGIN_USER);
  assert.deepEqual(
    prompter.asked.map(({ kind, prompt, echo, attempt }) => `${kind} '${prompt}' echo=${echo} #${attempt}`),
    [`password '${LOGIN_USER}@127.0.0.1's password:' echo=false #1`, `password '${LOGIN_USER}@127.0.0.1's password:' echo=false #2`],
  );
});

test("keyboard-interactive through sshd's PAM shows PAM's own prompt and logs in with the password", { skip: unavailable ?? false }, async () => {
  const prompter = answersByAttempt('keyboard-interactive', [LOGIN_PASSWORD]);
  assert.equal(await whoAmI(keyboardSshd, { user: LOGIN_USER, credentials: prompter }), LOGIN_USER);
  assert.equal(prompter.asked.length, 1);
  assert.equal(prompter.asked[0]!.kind, 'keyboard-interactive');
  assert.match(prompter.asked[0]!.prompt, /^Password: ?$/);
  assert.equal(prompter.asked[0]!.echo, false);
});

test('an expired password is changed through the prompts in PAM\'s own words (current, new, again), and the login goes on', { skip: unavailable ?? false }, async () => {
  expirePassword();
  const prompter = scriptedPrompter((request) => (/^Password: ?$|Current password: ?$/.test(request.prompt) ? LOGIN_PASSWORD : NEW_PASSWORD));
  assert.equal(await whoAmI(passwordChangeSshd, { user: EXPIRED_USER, credentials: prompter }), EXPIRED_USER);
  assert.deepEqual(
    prompter.asked.map((r) => [r.kind, r.prompt, r.echo]),
    [
      ['keyboard-interactive', 'Password: ', false],
      ['keyboard-interactive', `You are required to change your password immediately (administrator enforced).\nChanging password for ${EXPIRED_USER}.\nCurrent password: `, false],
      ['keyboard-interactive', 'New password: ', false],
      ['keyboard-interactive', 'Retype new password: ', false],
    ],
  );
  // The new password is the one that logs in now, asked once.
  const again = answersByAttempt('keyboard-interactive', [NEW_PASSWORD]);
  assert.equal(await whoAmI(passwordChangeSshd, { user: EXPIRED_USER, credentials: again }), EXPIRED_USER);
  assert.equal(again.asked.length, 1);
});

test('an expired password sshd cannot change without a terminal is an auth error that says how to change it', { skip: unavailable ?? false }, async () => {
  expirePassword();
  const prompter = answersByAttempt('password', [LOGIN_PASSWORD]);
  const where = `${EXPIRED_USER}@127.0.0.1`;
  await assert.rejects(
    openAgentSession({
      target: { kind: 'ssh', host: passwordSshd.host, port: passwordSshd.port, user: EXPIRED_USER },
      knownHostsFile: passwordSshd.knownHostsFile,
      sshConfigFile: join(passwordSshd.dir, 'no-ssh-config'),
      credentials: prompter,
      agentSourceDir: join(root, 'remote-agent', 'agent'),
      agentBinaryDir,
      clientVersion: 'sshCredentials.test',
      log: (line) => logged.push(line),
    }),
    (error: unknown) => {
      assert.ok(error instanceof AgentSessionError, String(error));
      logged.push(error.message);
      assert.equal(error.kind, 'auth');
      assert.equal(
        error.message,
        `The password of ${where} has expired, and the host runs nothing until it is changed. Log in once in a terminal (ssh ${where} -p ${passwordSshd.port}), change it as asked, then connect again.`,
      );
      return true;
    },
  );
});

test('a key a jump host and the target both use is unlocked once: its passphrase is asked a single time for the whole route', { skip: unavailable ?? false }, async () => {
  const sshConfigFile = join(passwordSshd.dir, 'jump_config');
  const host = (alias: string, extra: string[] = []) => [
    `Host ${alias}`,
    '  HostName 127.0.0.1',
    `  Port ${passwordSshd.port}`,
    '  User root',
    `  IdentityFile ${encryptedKey}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${passwordSshd.knownHostsFile}`,
    '  StrictHostKeyChecking yes',
    ...extra.map((line) => `  ${line}`),
  ];
  writeFileSync(sshConfigFile, [...host('encrypted-jump'), ...host('behind-encrypted-jump', ['ProxyJump encrypted-jump']), ''].join('\n'));
  const prompter = answersByAttempt('key-passphrase', [PASSPHRASE]);
  const transport = await connectSsh({ host: 'behind-encrypted-jump', sshConfigFile, credentials: prompter, log: (line) => logged.push(line) });
  try {
    assert.equal((await transport.run('id -un')).stdout.trim(), 'root');
  } finally {
    await transport.dispose();
  }
  assert.deepEqual(
    prompter.asked.map(({ target, keyFile }) => ({ target, keyFile })),
    [{ target: `jump host encrypted-jump (root@127.0.0.1:${passwordSshd.port})`, keyFile: encryptedKey }],
  );
});

/** `ebpf-studio check` as a script runs it: stdin is not a terminal. */
function cliCheck(env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const args = [
    '--import', 'tsx', join(root, 'cli/main.ts'), 'check', 'passes.bpf.c',
    '--target', `ssh://root@${passwordSshd.host}:${passwordSshd.port}`,
    '--identity', encryptedKey,
    '--known-hosts', passwordSshd.knownHostsFile,
  ];
  const { SSH_ASKPASS: _askpass, SSH_ASKPASS_REQUIRE: _require, SSH_AUTH_SOCK: _agent, ...inherited } = process.env;
  const run = spawnSync(process.execPath, args, { cwd: join(root, 'test/fixtures/programs'), env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
  logged.push(...run.stdout.split('\n'), ...run.stderr.split('\n'));
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('the CLI without a terminal asks the SSH_ASKPASS program for the passphrase, with the prompt as its argument', { skip: unavailable ?? false }, () => {
  const askpass = join(passwordSshd.dir, 'askpass');
  const asked = join(passwordSshd.dir, 'askpass-prompt');
  writeFileSync(askpass, `#!/bin/sh
printf '%s' "$1" > '${asked}'
printf '%s\n' '${PASSPHRASE}'
`);
  chmodSync(askpass, 0o700);
  // EBPF_STUDIO_DEBUG: the session's log goes to stderr, which the last test searches for the passphrase.
  const run = cliCheck({ SSH_ASKPASS: askpass, EBPF_STUDIO_DEBUG: '1' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /Connected to root@127\.0\.0\.1:\d+\./);
  assert.match(run.stdout, /^passes\.bpf\.c: program \w+ .*: ok, /m);
  assert.equal(readFileSync(asked, 'utf8'), `Enter passphrase for key '${encryptedKey}':`);
});

test('the CLI on a terminal reads the passphrase with echo off: the terminal never shows it', { skip: unavailable ?? false }, async () => {
  // script(1) gives the CLI a pseudo-terminal; the passphrase is typed once the prompt is shown.
  const command = [
    process.execPath, '--import', 'tsx', join(root, 'cli/main.ts'), 'check', 'passes.bpf.c',
    '--target', `ssh://root@${passwordSshd.host}:${passwordSshd.port}`, '--identity', encryptedKey, '--known-hosts', passwordSshd.knownHostsFile,
  ].map((word) => `'${word}'`).join(' ');
  const { SSH_ASKPASS: _askpass, SSH_AUTH_SOCK: _agent, ...env } = process.env;
  const terminal = spawn('script', ['-qec', command, '/dev/null'], { cwd: join(root, 'test/fixtures/programs'), env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let typed = false;
  terminal.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    if (!typed && screen.includes(`Enter passphrase for key '${encryptedKey}':`)) {
      typed = true;
      terminal.stdin.write(`${PASSPHRASE}\r`);
    }
  });
  const status = await new Promise<number | null>((resolve) => terminal.on('close', resolve));
  logged.push(...screen.split('\n'));
  assert.equal(status, 0, screen);
  assert.match(screen, /passes\.bpf\.c: program \w+ .*: ok, /);
  assert.ok(!screen.includes(PASSPHRASE), 'the terminal showed the passphrase');
});

test('the CLI with neither a terminal nor SSH_ASKPASS says how to use a key with a passphrase', { skip: unavailable ?? false }, () => {
  const run = cliCheck({});
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, new RegExp(`Cannot use the identity file ${encryptedKey}: it is protected by a passphrase and there is no one to ask for it here; load it into ssh-agent \\(ssh-add\\) instead`));
});

test('no passphrase or password appears in anything logged or in an error message', { skip: unavailable ?? false }, () => {
  assert.ok(logged.some((line) => line.startsWith('Connected to')), 'the connections were logged');
  for (const secret of SECRETS) assert.deepEqual(logged.filter((line) => line.includes(secret)), [], `'${secret}' was logged`);
});
