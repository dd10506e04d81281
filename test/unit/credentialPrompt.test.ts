/**
 * The prompt contract shared by the editor, the CLI and tests: a declined prompt is a
 * 'credentials-declined' error naming what was not given, an abort wins over an answer, and
 * prompts for several targets at once take turns, one shown at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { askForCredential, oneAtATime, type CredentialRequest } from '../../remote-agent/client/credentialPrompt';
import { AgentSessionError } from '../../remote-agent/client/sessionError';

const request = (target: string): CredentialRequest => ({ kind: 'sudo-password', target, prompt: '[sudo] password:', echo: false, attempt: 1 });

test('a declined prompt is a credentials-declined error naming what was not given; an abort wins over an answer', async () => {
  await assert.rejects(askForCredential({ ask: async () => undefined }, request('bob@db2:22'), new AbortController().signal), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'credentials-declined');
    assert.equal(error.message, 'Connecting to bob@db2:22 stopped: the sudo password on bob@db2:22 was not given.');
    return true;
  });
  const abort = new AbortController();
  const answered = askForCredential({ ask: async () => (abort.abort(new Error('gave up')), 'pw') }, request('bob@db2:22'), abort.signal);
  await assert.rejects(answered, /gave up/);
});

test('prompts asked at once are shown one at a time, in order; one aborted while waiting is never shown', async () => {
  const shown: string[] = [];
  let open = 0;
  const ask = oneAtATime(async (r) => {
    open++;
    assert.equal(open, 1, 'only one prompt is open');
    shown.push(r.target);
    await new Promise((resolve) => setTimeout(resolve, 5));
    open--;
    return `answer for ${r.target}`;
  });
  const waiting = new AbortController();
  const answers = [ask(request('a'), new AbortController().signal), ask(request('b'), waiting.signal), ask(request('c'), new AbortController().signal)];
  waiting.abort();
  assert.deepEqual(await Promise.all(answers), ['answer for a', undefined, 'answer for c']);
  assert.deepEqual(shown, ['a', 'c']);
});
