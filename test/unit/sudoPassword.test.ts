/**
 * Answering sudo's password prompt on the agent's channel, against a stand-in for `sudo -S -p
 * MARKER`: the password goes on stdin only when sudo asks, as exactly one line, and nothing else is
 * written before sudo has started the agent; a wrong password is asked again as sudo asks again,
 * and ends in a clear error; a declined prompt, an abort or a silent sudo kill it, never a hang.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { AgentSessionError } from '../../remote-agent/client/sessionError';
import { answerSudoPrompts, newSudoMarkers, sudoWithPasswordCommand, withoutSudoMarkers, type SudoDialogueOptions } from '../../remote-agent/client/sudoPassword';
import type { ExitStatus, RunningProcess } from '../../remote-agent/client/transport';
import { answersByAttempt, scriptedPrompter } from '../support/credentials';
import { TEST_SECRETS } from '../support/testSecrets';

const PASSWORD = TEST_SECRETS.sudoPassword;

/** A stand-in for sudo: the test writes its stderr and reads what was written to its stdin. */
function fakeSudo() {
  const stdin = new PassThrough();
  const stderr = new PassThrough();
  const written: string[] = [];
  stdin.on('data', (chunk: Buffer) => written.push(chunk.toString()));
  let exit!: (status: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((resolve) => (exit = resolve));
  let killed = false;
  const process: RunningProcess = {
    stdin,
    stdout: new PassThrough(),
    stderr,
    exited,
    kill: () => {
      killed = true;
      exit({ exitCode: null, signal: 'KILL' });
    },
  };
  /** Resolves with the next line written to stdin. */
  const nextLine = (): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => {
        const text = written.join('');
        if (text.includes('\n')) {
          const line = text.slice(0, text.indexOf('\n'));
          written.splice(0, written.length, text.slice(line.length + 1));
          stdin.off('data', check);
          resolve(line);
        }
      };
      stdin.on('data', check);
      setImmediate(check);
    });
  return { process, stderr, written, nextLine, exit, killed: () => killed };
}

function dialogue(overrides: Partial<SudoDialogueOptions> & Pick<SudoDialogueOptions, 'markers' | 'prompter'>): SudoDialogueOptions {
  return { target: 'alice@db1:22', userName: 'alice', signal: undefined, timeoutMs: 5000, ...overrides };
}

test('the command runs sudo -S with our prompt, and a shell that says when sudo let it run before becoming the agent', () => {
  const markers = { prompt: '[m] password:', ready: '[m] started' };
  assert.equal(
    sudoWithPasswordCommand('/home/alice/.cache/ebpf-studio/agent-1/ebpf-agent', markers),
    `exec sudo -S -p '[m] password:' -- /bin/sh -c 'echo '\\''[m] started'\\'' >&2; exec "$0"' '/home/alice/.cache/ebpf-studio/agent-1/ebpf-agent'`,
  );
  const fresh = newSudoMarkers();
  assert.notEqual(fresh.prompt, newSudoMarkers().prompt, 'each start has its own markers');
  assert.doesNotMatch(fresh.prompt, /%/, 'sudo expands % escapes in a prompt');
  assert.equal(withoutSudoMarkers(`${fresh.prompt}Sorry, try again.`, fresh), 'Sorry, try again.');
});

test('the password is the first and only line on stdin, written when sudo asks, and nothing follows until sudo started the agent', async () => {
  const markers = newSudoMarkers();
  const sudo = fakeSudo();
  const prompter = answersByAttempt('sudo-password', [PASSWORD]);
  const outcome = answerSudoPrompts(sudo.process, dialogue({ markers, prompter }));
  assert.deepEqual(sudo.written, [], 'nothing is written before sudo asks');
  // The prompt arrives split over two chunks.
  sudo.stderr.write(markers.prompt.slice(0, 9));
  sudo.stderr.write(markers.prompt.slice(9));
  assert.equal(await sudo.nextLine(), PASSWORD);
  sudo.stderr.write(`${markers.ready}\n`);
  assert.deepEqual(await outcome, { outcome: 'started' });
  assert.equal(sudo.written.join(''), '', 'after the password line, nothing more was written');
  assert.equal(prompter.asked[0]!.prompt, '[sudo] password for alice on alice@db1:22:');
  assert.deepEqual(prompter.outcomes, ['accepted sudo-password #1']);
  assert.equal(sudo.killed(), false);
});

test('a sudo that needs no password after all starts the agent without anyone being asked', async () => {
  const markers = newSudoMarkers();
  const sudo = fakeSudo();
  const prompter = scriptedPrompter(() => PASSWORD);
  const outcome = answerSudoPrompts(sudo.process, dialogue({ markers, prompter }));
  sudo.stderr.write(`${markers.ready}\n`);
  assert.deepEqual(await outcome, { outcome: 'started' });
  assert.deepEqual(prompter.asked, []);
  assert.deepEqual(sudo.written, []);
});

test('a wrong password is asked for again when sudo asks again; three refused end with sudo exiting and every answer refused', async () => {
  const markers = newSudoMarkers();
  const sudo = fakeSudo();
  const prompter = answersByAttempt('sudo-password', ['wrong']);
  const outcome = answerSudoPrompts(sudo.process, dialogue({ markers, prompter }));
  for (let attempt = 1; attempt <= 3; attempt++) {
    sudo.stderr.write(attempt === 1 ? markers.prompt : `Sorry, try again.\n${markers.prompt}`);
    assert.equal(await sudo.nextLine(), 'wrong');
  }
  sudo.stderr.write('sudo: 3 incorrect password attempts\n');
  await new Promise((resolve) => setImmediate(resolve));
  sudo.exit({ exitCode: 1, signal: null });
  assert.deepEqual(await outcome, { outcome: 'exited', status: { exitCode: 1, signal: null }, passwordRefused: true });
  // Over SSH the exit is reported only once stdout has ended: it must have been read all along.
  assert.equal(sudo.process.stdout.readableFlowing, true);
  assert.deepEqual(
    prompter.asked.map((request) => request.attempt),
    [1, 2, 3],
  );
  assert.deepEqual(prompter.outcomes, ['refused sudo-password #1', 'refused sudo-password #2', 'refused sudo-password #3']);
});

test('a sudo that ends for another reason after the password (not in sudoers) does not call the password wrong', async () => {
  const markers = newSudoMarkers();
  const sudo = fakeSudo();
  const prompter = answersByAttempt('sudo-password', [PASSWORD]);
  const outcome = answerSudoPrompts(sudo.process, dialogue({ markers, prompter }));
  sudo.stderr.write(markers.prompt);
  await sudo.nextLine();
  sudo.stderr.write('alice is not in the sudoers file.\n');
  await new Promise((resolve) => setImmediate(resolve));
  sudo.exit({ exitCode: 1, signal: null });
  assert.deepEqual(await outcome, { outcome: 'exited', status: { exitCode: 1, signal: null }, passwordRefused: false });
  assert.deepEqual(prompter.outcomes, [], 'a kept password is not deleted for it');
});

test('declining the sudo password kills sudo and ends with credentials-declined', async () => {
  const markers = newSudoMarkers();
  const sudo = fakeSudo();
  const outcome = answerSudoPrompts(sudo.process, dialogue({ markers, prompter: scriptedPrompter(() => undefined) }));
  sudo.stderr.write(markers.prompt);
  await assert.rejects(outcome, (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'credentials-declined');
    assert.equal(error.message, 'Connecting to alice@db1:22 stopped: the sudo password on alice@db1:22 was not given.');
    return true;
  });
  assert.equal(sudo.killed(), true);
  assert.deepEqual(sudo.written, []);
});

test('an abort while the person is asked kills sudo and rejects with the abort reason; the prompt sees the abort', async () => {
  const markers = newSudoMarkers();
  const sudo = fakeSudo();
  const abort = new AbortController();
  let promptSignal: AbortSignal | undefined;
  const outcome = answerSudoPrompts(
    sudo.process,
    dialogue({
      markers,
      signal: abort.signal,
      prompter: {
        ask: (_request, signal) => {
          promptSignal = signal;
          return new Promise((resolve) => signal.addEventListener('abort', () => resolve(undefined)));
        },
      },
    }),
  );
  sudo.stderr.write(markers.prompt);
  await new Promise((resolve) => setImmediate(resolve));
  abort.abort(new Error('shutting down'));
  await assert.rejects(outcome, /shutting down/);
  assert.equal(sudo.killed(), true);
  assert.equal(promptSignal?.aborted, true);
});

test('a sudo that neither asks nor starts the agent is killed after the timeout with a message saying so', async () => {
  const sudo = fakeSudo();
  const outcome = answerSudoPrompts(sudo.process, dialogue({ markers: newSudoMarkers(), prompter: scriptedPrompter(() => PASSWORD), timeoutMs: 50 }));
  await assert.rejects(outcome, /sudo on alice@db1:22 neither asked for a password nor started the agent within 0.05 s/);
  assert.equal(sudo.killed(), true);
});
