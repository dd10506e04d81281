/**
 * "Remember this passphrase" in the editor, without VS Code: a kept key passphrase or sudo password
 * is used on the first ask and deleted when refused (the person is asked again); a typed one is
 * offered for keeping only after it worked, so a wrong one is never kept; SSH passwords are never
 * kept; nothing logged holds a secret.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CredentialRequest } from '../../remote-agent/client/credentialPrompt';
import { rememberingPrompter, storageKey, type SecretStore } from '../../extension/rememberedSecrets';
import { TEST_SECRETS } from '../support/testSecrets';

const KEPT = TEST_SECRETS.keyPassphrase;
const TYPED = TEST_SECRETS.otherPassphrase;
const passphrase = (attempt: number): CredentialRequest => ({
  kind: 'key-passphrase',
  target: 'alice@db1:22',
  keyFile: '/home/alice/.ssh/id_ed25519',
  prompt: "Enter passphrase for key '/home/alice/.ssh/id_ed25519':",
  echo: false,
  attempt,
});

function setUp(options: { kept?: Record<string, string>; typed?: string | undefined; keep?: boolean } = {}) {
  const stored = new Map(Object.entries(options.kept ?? {}));
  const store: SecretStore = {
    get: async (key) => stored.get(key),
    store: async (key, value) => void stored.set(key, value),
    delete: async (key) => void stored.delete(key),
  };
  const personAsked: CredentialRequest[] = [];
  const offered: CredentialRequest[] = [];
  const logged: string[] = [];
  const prompter = rememberingPrompter({
    store,
    askPerson: async (request) => {
      personAsked.push(request);
      return 'typed' in options ? options.typed : TYPED;
    },
    offerToKeep: async (request) => {
      offered.push(request);
      return options.keep ?? true;
    },
    log: (line) => logged.push(line),
    showError: (message) => logged.push(message),
  });
  return { prompter, stored, personAsked, offered, logged };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const signal = new AbortController().signal;

test('a kept passphrase is used on the first ask without asking the person', async () => {
  const { prompter, personAsked } = setUp({ kept: { [storageKey(passphrase(1))]: KEPT } });
  assert.equal(await prompter.ask(passphrase(1), signal), KEPT);
  prompter.accepted!(passphrase(1));
  assert.deepEqual(personAsked, []);
});

test('a kept passphrase that is refused is deleted, and the person is asked on the next attempt', async () => {
  const { prompter, stored, personAsked, logged } = setUp({ kept: { [storageKey(passphrase(1))]: KEPT } });
  assert.equal(await prompter.ask(passphrase(1), signal), KEPT);
  prompter.refused!(passphrase(1));
  await settle();
  assert.equal(stored.size, 0);
  assert.equal(await prompter.ask(passphrase(2), signal), TYPED);
  assert.equal(personAsked.length, 1);
  assert.ok(logged.some((line) => line.includes('was refused; it is deleted and you are asked again')));
  assert.deepEqual(logged.filter((line) => line.includes(KEPT) || line.includes(TYPED)), []);
});

test('a typed passphrase is offered for keeping once it worked, and kept when the user says so', async () => {
  const { prompter, stored, offered } = setUp();
  assert.equal(await prompter.ask(passphrase(1), signal), TYPED);
  assert.equal(stored.size, 0, 'nothing is kept before it worked');
  prompter.accepted!(passphrase(1));
  await settle();
  assert.equal(offered.length, 1);
  assert.equal(stored.get(storageKey(passphrase(1))), TYPED);
});

test('a typed passphrase that was refused is never offered or kept; declining the offer keeps nothing', async () => {
  const refusedCase = setUp();
  await refusedCase.prompter.ask(passphrase(1), signal);
  refusedCase.prompter.refused!(passphrase(1));
  await settle();
  assert.deepEqual(refusedCase.offered, []);
  assert.equal(refusedCase.stored.size, 0);

  const declinedOffer = setUp({ keep: false });
  await declinedOffer.prompter.ask(passphrase(1), signal);
  declinedOffer.prompter.accepted!(passphrase(1));
  await settle();
  assert.equal(declinedOffer.offered.length, 1);
  assert.equal(declinedOffer.stored.size, 0);
});

test('an SSH password is never kept or offered; a dismissed prompt is undefined', async () => {
  const { prompter, stored, offered } = setUp();
  const password: CredentialRequest = { kind: 'password', target: 'alice@db1:22', prompt: "alice@db1's password:", echo: false, attempt: 1 };
  await prompter.ask(password, signal);
  prompter.accepted!(password);
  await settle();
  assert.deepEqual(offered, []);
  assert.equal(stored.size, 0);
  assert.equal(await setUp({ typed: undefined }).prompter.ask(passphrase(1), signal), undefined);
});

test('kept secrets are keyed by target, kind and key file', () => {
  assert.notEqual(storageKey(passphrase(1)), storageKey({ ...passphrase(1), target: 'alice@db2:22' }));
  assert.notEqual(storageKey(passphrase(1)), storageKey({ ...passphrase(1), keyFile: '/home/alice/.ssh/id_rsa' }));
  assert.notEqual(storageKey({ kind: 'sudo-password', target: 'alice@db1:22' }), storageKey(passphrase(1)));
});
