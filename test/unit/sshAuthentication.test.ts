/**
 * Logging in to sshd the way OpenSSH does, against an in-process ssh2 server whose rules each test
 * sets: keys that need no passphrase and ssh-agent first, then what a person is asked for — a key's
 * passphrase (asked once, again when wrong, at most three times), keyboard-interactive with the
 * server's own words, a password. No one is asked for anything the server would not take, a declined
 * prompt or an abort ends the attempt at once, and the answers never reach the log.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Server, utils, type AuthContext, type ParsedKey } from 'ssh2';
import type { CredentialPrompter } from '../../remote-agent/client/credentialPrompt';
import { AgentSessionError } from '../../remote-agent/client/sessionError';
import { underPosixShell } from '../../remote-agent/client/transport';
import { answersByAttempt, scriptedPrompter, whoAmIOver } from '../support/credentials';
import { TEST_SECRETS } from '../support/testSecrets';

const PASSPHRASE = TEST_SECRETS.keyPassphrase;
const PASSWORD = TEST_SECRETS.loginPassword;
const CODE = TEST_SECRETS.oneTimeCode;
const SECRETS = [PASSPHRASE, PASSWORD, CODE];

const dir = mkdtempSync(join(tmpdir(), 'ssh-auth-test-'));
/**
 * A key pair from ssh-keygen, as users have them: ssh2's generator writes, now and then, a key that
 * nothing can read — about once in 300 an encrypted key nothing can decrypt (ssh-keygen -y refuses
 * it too), and a plain one ssh2's own Server calls "Malformed OpenSSH private key" (CI, 2026-11-30).
 */
function keygen(name: string, passphrase = ''): { file: string; private: string; public: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-a', '4', '-N', passphrase, '-C', 'ssh-auth-test', '-f', file]);
  return { file, private: readFileSync(file, 'utf8'), public: readFileSync(`${file}.pub`, 'utf8') };
}
const hostKey = keygen('host_key');
const plainKeyFile = keygen('id_plain').file;
const encrypted = keygen('id_encrypted', PASSPHRASE);
const encryptedKeyFile = encrypted.file;
// A config naming no usable key and no ssh-agent: each test names the key it means.
const sshConfigFile = join(dir, 'ssh_config');
writeFileSync(sshConfigFile, `Host *\n  IdentityFile ${join(dir, 'absent')}\n  IdentitiesOnly yes\n`);
delete process.env['SSH_AUTH_SOCK'];

/** Everything logged and every error message, searched for the secrets at the end. */
const logged: string[] = [];

interface ServerRules {
  /** The methods the server takes, as it lists them after a refusal. */
  methods: Array<'publickey' | 'password' | 'keyboard-interactive'>;
  /** The one public key it lets in (the encrypted key's, unless said otherwise). */
  authorizedKey?: string;
}

let rules: ServerRules = { methods: ['publickey'] };
/** The methods clients tried, in order ('none', 'publickey', …). */
let tried: string[] = [];
let port = 0;
/** What the server answers once logged in: the command it got, which the client hands to /bin/sh through the login shell. */
const RAN_ID = `ran ${underPosixShell('id -un')}`;
const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
  client.on('authentication', (ctx: AuthContext) => authenticate(ctx));
  client.on('ready', () => {
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const channel = acceptExec();
        channel.write(`ran ${info.command}\n`);
        channel.exit(0);
        channel.end();
      });
    });
  });
  client.on('error', () => {}); // a client that gave up
});

function authenticate(ctx: AuthContext): void {
  tried.push(ctx.method);
  if (!rules.methods.includes(ctx.method as ServerRules['methods'][number])) return ctx.reject(rules.methods);
  if (ctx.method === 'publickey') {
    const allowed = utils.parseKey(rules.authorizedKey ?? encrypted.public) as ParsedKey;
    const sameKey = ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH());
    if (!sameKey) return ctx.reject(rules.methods);
    if (ctx.signature === undefined) return ctx.accept(); // "would you take this key?" — yes
    return allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject(rules.methods);
  }
  if (ctx.method === 'password') return ctx.password === PASSWORD ? ctx.accept() : ctx.reject(rules.methods);
  if (ctx.method === 'keyboard-interactive') {
    return ctx.prompt([{ prompt: 'Verification code: ', echo: false }], 'Corp login', 'Type the code from your token.', (answers) =>
      answers[0] === CODE ? ctx.accept() : ctx.reject(rules.methods),
    );
  }
  ctx.reject(rules.methods);
}

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey.public.split(' ').slice(0, 2).join(' ')}\n`);
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function login(options: { rules: ServerRules; identityFile?: string; credentials?: CredentialPrompter; signal?: AbortSignal }): Promise<string> {
  rules = options.rules;
  tried = [];
  return whoAmIOver(
    {
      host: '127.0.0.1',
      port,
      user: 'tester',
      knownHostsFile: join(dir, 'known_hosts'),
      sshConfigFile,
      ...(options.identityFile !== undefined && { identityFile: options.identityFile }),
      ...(options.credentials !== undefined && { credentials: options.credentials }),
      ...(options.signal !== undefined && { signal: options.signal }),
    },
    logged,
  );
}

test('a key protected by a passphrase is unlocked with the passphrase, asked once, and logs in', async () => {
  const prompter = answersByAttempt('key-passphrase', [PASSPHRASE]);
  assert.equal(await login({ rules: { methods: ['publickey'] }, identityFile: encryptedKeyFile, credentials: prompter }), RAN_ID);
  assert.deepEqual(
    prompter.asked.map(({ kind, keyFile, echo, attempt, target }) => ({ kind, keyFile, echo, attempt, target })),
    [{ kind: 'key-passphrase', keyFile: encryptedKeyFile, echo: false, attempt: 1, target: `tester@127.0.0.1:${port}` }],
  );
  assert.equal(prompter.asked[0]!.prompt, `Enter passphrase for key '${encryptedKeyFile}':`);
  assert.deepEqual(prompter.outcomes, ['accepted key-passphrase #1']);
});

test('a wrong passphrase is asked for again, and the right one then logs in', async () => {
  const prompter = answersByAttempt('key-passphrase', ['not it', PASSPHRASE]);
  assert.equal(await login({ rules: { methods: ['publickey'] }, identityFile: encryptedKeyFile, credentials: prompter }), RAN_ID);
  assert.deepEqual(prompter.outcomes, ['refused key-passphrase #1', 'accepted key-passphrase #2']);
});

test('a passphrase wrong three times stops with an error naming the key file', async () => {
  const prompter = answersByAttempt('key-passphrase', ['not it']);
  await assert.rejects(login({ rules: { methods: ['publickey'] }, identityFile: encryptedKeyFile, credentials: prompter }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'auth');
    assert.match(error.message, new RegExp(`passphrase for key ${encryptedKeyFile} was wrong 3 times`));
    return true;
  });
  assert.equal(prompter.asked.length, 3);
});

test('declining the passphrase ends the attempt at once with credentials-declined', async () => {
  const prompter = scriptedPrompter(() => undefined);
  await assert.rejects(login({ rules: { methods: ['publickey'] }, identityFile: encryptedKeyFile, credentials: prompter }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'credentials-declined');
    assert.equal(error.message, `Connecting to tester@127.0.0.1:${port} stopped: the passphrase of key ${encryptedKeyFile} was not given.`);
    return true;
  });
});

test('without anyone to ask, a key with a passphrase is refused with what to do instead', async () => {
  await assert.rejects(login({ rules: { methods: ['publickey'] }, identityFile: encryptedKeyFile }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /protected by a passphrase and there is no one to ask for it here; load it into ssh-agent \(ssh-add\)/);
    return true;
  });
});

test("keyboard-interactive shows the server's own prompt and instructions, and logs in with the answer", async () => {
  const prompter = answersByAttempt('keyboard-interactive', [CODE]);
  assert.equal(await login({ rules: { methods: ['keyboard-interactive'] }, credentials: prompter }), RAN_ID);
  assert.equal(prompter.asked.length, 1);
  const [request] = prompter.asked;
  assert.equal(request!.prompt, 'Verification code: ');
  assert.equal(request!.instructions, 'Corp login\nType the code from your token.');
  assert.equal(request!.echo, false);
});

test('a password is asked only after the keys failed, in OpenSSH words, and again when wrong', async () => {
  const prompter = answersByAttempt('password', ['wrong', PASSWORD]);
  const rulesWithPassword: ServerRules = { methods: ['publickey', 'password'] };
  assert.equal(await login({ rules: rulesWithPassword, identityFile: plainKeyFile, credentials: prompter }), RAN_ID);
  assert.deepEqual(tried, ['publickey', 'password', 'password']);
  assert.deepEqual(
    prompter.asked.map(({ prompt, attempt }) => `${prompt} #${attempt}`),
    ["tester@127.0.0.1's password: #1", "tester@127.0.0.1's password: #2"],
  );
  assert.deepEqual(prompter.outcomes, ['refused password #1', 'accepted password #2']);
});

test('no one is asked for what the server does not take: a key-only server gets no password prompt', async () => {
  const prompter = scriptedPrompter(() => PASSWORD);
  await assert.rejects(login({ rules: { methods: ['publickey'] }, identityFile: plainKeyFile, credentials: prompter }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'auth');
    assert.match(error.message, new RegExp(`refused every way of logging in as tester that was tried \\(key ${plainKeyFile}\\)`));
    return true;
  });
  assert.deepEqual(prompter.asked, []);
});

test('a passphrase is not asked when the server takes passwords only: it is asked which methods it takes first', async () => {
  const prompter = scriptedPrompter((request) => (request.kind === 'password' ? PASSWORD : PASSPHRASE));
  assert.equal(await login({ rules: { methods: ['password'] }, identityFile: encryptedKeyFile, credentials: prompter }), RAN_ID);
  assert.deepEqual(prompter.asked.map((request) => request.kind), ['password']);
  assert.deepEqual(tried, ['none', 'password']);
});

test('aborting while a person is asked ends the attempt with the abort reason, and the prompt sees the abort', async () => {
  const abort = new AbortController();
  let promptSignal: AbortSignal | undefined;
  const prompter: CredentialPrompter = {
    ask: (_request, signal) => {
      promptSignal = signal;
      setTimeout(() => abort.abort(new Error('the user closed the window')), 10);
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(undefined)));
    },
  };
  await assert.rejects(login({ rules: { methods: ['publickey'] }, identityFile: encryptedKeyFile, credentials: prompter, signal: abort.signal }), /the user closed the window/);
  assert.equal(promptSignal?.aborted, true);
});

test('no secret was logged or put in an error message', () => {
  assert.ok(logged.length > 0);
  for (const secret of SECRETS) assert.deepEqual(logged.filter((line) => line.includes(secret)), [], `'${secret}' was logged`);
});
