/**
 * The CLI's prompts: on a terminal what is typed is not shown and the terminal's mode comes back;
 * Ctrl-C declines. Without a terminal the SSH_ASKPASS program answers, run as OpenSSH runs it (the
 * prompt as its argument, its stdout the answer, a failure declines). With neither, no prompter.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { ReadStream } from 'node:tty';
import { cliPrompter, promptText, readFromTerminal } from '../../cli/terminalPrompter';
import type { CredentialRequest } from '../../remote-agent/client/credentialPrompt';
import { TEST_SECRETS } from '../support/testSecrets';

const SECRET = TEST_SECRETS.keyPassphrase;
const request: CredentialRequest = { kind: 'key-passphrase', target: 'alice@db1:22', keyFile: '/home/alice/.ssh/id_ed25519', prompt: "Enter passphrase for key '/home/alice/.ssh/id_ed25519':", echo: false, attempt: 1 };

/** A terminal stand-in: what the person types goes in, raw mode is recorded. */
function fakeTerminal() {
  const stream = new PassThrough() as unknown as ReadStream & PassThrough;
  const modes: boolean[] = [];
  let raw = false;
  Object.defineProperty(stream, 'isRaw', { get: () => raw });
  stream.setRawMode = (mode: boolean) => {
    raw = mode;
    modes.push(mode);
    return stream;
  };
  return { stream, modes };
}

function collect() {
  const output = new PassThrough();
  const chunks: string[] = [];
  output.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return { output, text: () => chunks.join('') };
}

test('on a terminal the answer is read without being shown, Backspace edits it, and the mode is restored', async () => {
  const { stream, modes } = fakeTerminal();
  const { output, text } = collect();
  const answer = readFromTerminal(stream, output, request, new AbortController().signal);
  stream.write(`${SECRET}x\u007f`);
  stream.write('\r');
  assert.equal(await answer, SECRET);
  assert.deepEqual(modes, [true, false]);
  assert.equal(text(), `${request.prompt} \n`);
  assert.ok(!text().includes(SECRET));
});

test('echo is off before the prompt shows, so an answer typed the moment it appears is not echoed', async () => {
  const { stream } = fakeTerminal();
  const output = new PassThrough();
  const rawWhenPromptShown: boolean[] = [];
  output.on('data', () => rawWhenPromptShown.push(stream.isRaw));
  const answer = readFromTerminal(stream, output, request, new AbortController().signal);
  stream.write(`${SECRET}\r`);
  assert.equal(await answer, SECRET);
  assert.deepEqual(rawWhenPromptShown, [true, false], 'the prompt was written in raw mode, the final newline after it was restored');
});

test('Ctrl-C at the prompt declines, and an abort declines too', async () => {
  const { stream } = fakeTerminal();
  const { output } = collect();
  const declined = readFromTerminal(stream, output, request, new AbortController().signal);
  stream.write('abc\u0003');
  assert.equal(await declined, undefined);

  const abort = new AbortController();
  const aborted = readFromTerminal(fakeTerminal().stream, output, request, abort.signal);
  abort.abort();
  assert.equal(await aborted, undefined);
});

test("a retry says the last answer was wrong, and a server's keyboard-interactive words come with the target", () => {
  assert.equal(promptText({ ...request, attempt: 2 }), `Wrong passphrase, try again.\n${request.prompt}`);
  assert.equal(
    promptText({ kind: 'keyboard-interactive', target: 'alice@db1:22', prompt: 'Verification code: ', instructions: 'Corp login', echo: false, attempt: 1 }),
    'Corp login\n(alice@db1:22) Verification code:',
  );
});

test('without a terminal, SSH_ASKPASS is run with the prompt as its argument and its stdout is the answer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'askpass-test-'));
  // The askpass script holds the secret: it must not outlive the test (scripts/check-test-secrets.ts).
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'askpass');
  writeFileSync(program, `#!/bin/sh\necho "$1" > ${join(dir, 'asked')}\nprintf '%s\\n' '${SECRET}'\n`);
  chmodSync(program, 0o755);
  const prompter = cliPrompter({ env: { SSH_ASKPASS: program }, input: undefined, output: collect().output });
  assert.ok(prompter);
  assert.equal(await prompter.ask(request, new AbortController().signal), SECRET);

  const failing = join(dir, 'cancel');
  writeFileSync(failing, '#!/bin/sh\nexit 1\n');
  chmodSync(failing, 0o755);
  assert.equal(await cliPrompter({ env: { SSH_ASKPASS: failing }, input: undefined, output: collect().output })!.ask(request, new AbortController().signal), undefined);
});

test('with no terminal and no SSH_ASKPASS (or SSH_ASKPASS_REQUIRE=never) there is no prompter', () => {
  assert.equal(cliPrompter({ env: {}, input: undefined, output: collect().output }), undefined);
  assert.equal(cliPrompter({ env: { SSH_ASKPASS: '/bin/false', SSH_ASKPASS_REQUIRE: 'never' }, input: undefined, output: collect().output }), undefined);
});
