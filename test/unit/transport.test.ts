/**
 * The helpers every transport's commands go through (transport.ts), on a stand-in process whose
 * exit the test controls: a cancelled command or file write gives up at once with the abort reason
 * and kills the process, even when the process never exits — as a root login's remote process
 * outlives its channel when OpenSSH refuses the kill signal. A command for a login shell reaches
 * /bin/sh byte for byte whether that shell is POSIX or fish, and its stdout is its own: what the
 * login shell's rc files printed before it is dropped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { commandOutput, exitAfterOutput, loginShellQuote, runToCompletion, shellQuote, underPosixShell, writeFileWithCat, type ExitStatus, type RunningProcess } from '../../remote-agent/client/transport';

/** A process that exits only when `exit` is called; `killed` counts kill() calls, which change nothing. */
function standIn(): { process: RunningProcess; exit: (status: ExitStatus) => void; killed: () => number; stdin: () => string } {
  let exit: (status: ExitStatus) => void = () => {};
  const exited = new Promise<ExitStatus>((resolve) => (exit = resolve));
  const stdin = new PassThrough();
  const received: Buffer[] = [];
  stdin.on('data', (chunk: Buffer) => received.push(chunk));
  let kills = 0;
  const process: RunningProcess = { stdin, stdout: new PassThrough(), stderr: new PassThrough(), exited, kill: () => void kills++ };
  return { process, exit, killed: () => kills, stdin: () => Buffer.concat(received).toString('utf8') };
}

test('a command that exits gives its status, output and the stdin it was fed', async () => {
  const p = standIn();
  const result = runToCompletion(p.process, { stdin: 'input' });
  (p.process.stdout as PassThrough).write('out');
  (p.process.stderr as PassThrough).write('err');
  await new Promise((r) => setImmediate(r));
  p.exit({ exitCode: 3, signal: null });
  assert.deepEqual(await result, { exitCode: 3, signal: null, stdout: 'out', stderr: 'err' });
  assert.equal(p.stdin(), 'input');
  assert.equal(p.killed(), 0);
});

test('a cancelled command rejects with the abort reason at once and kills the process, which never exits', async () => {
  const p = standIn();
  const controller = new AbortController();
  const result = runToCompletion(p.process, { signal: controller.signal });
  controller.abort(new Error('the user cancelled'));
  await assert.rejects(result, { message: 'the user cancelled' });
  assert.equal(p.killed(), 1);
});

test('a command started with an already aborted signal is killed and rejected', async () => {
  const p = standIn();
  await assert.rejects(runToCompletion(p.process, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(p.killed(), 1);
});

test('a cancelled file write rejects with the abort reason although cat never exits', async () => {
  const p = standIn();
  const controller = new AbortController();
  let command = '';
  const transport = { description: 'a stand-in', spawn: async (c: string) => ((command = c), p.process) };
  const writing = writeFileWithCat(transport, "/tmp/it's", Buffer.from('content'), 0o644, controller.signal);
  await new Promise((r) => setImmediate(r));
  controller.abort();
  await assert.rejects(writing, { name: 'AbortError' });
  assert.equal(p.killed(), 1);
  assert.equal(command, `cat > '/tmp/it'\\''s' && chmod 644 '/tmp/it'\\''s'`);
  assert.equal(p.stdin(), 'content');
});

test('a file write that fails names the path, the target and the command’s last words', async () => {
  const p = standIn();
  const transport = { description: 'a stand-in', spawn: async () => p.process };
  const writing = writeFileWithCat(transport, '/ro/file', Buffer.from('x'), 0o600);
  await new Promise((r) => setImmediate(r));
  (p.process.stderr as PassThrough).write('sh: 1: cannot create /ro/file: Read-only file system\n');
  await new Promise((r) => setImmediate(r));
  p.exit({ exitCode: 2, signal: null });
  await assert.rejects(writing, { message: 'cannot write /ro/file on a stand-in: sh: 1: cannot create /ro/file: Read-only file system' });
});

/** Words that each shell reads differently when quoted naively: quotes, backslashes, expansions, lines. */
const AWKWARD_WORDS = [
  'plain',
  "it's",
  'back\\slash \\\\ two, \\\' quote after',
  '$HOME $(id) `id` ${x} %s \\n',
  'two\nlines; echo injected',
  '"double" * ? [a] ~ # {a,b} (x) &&',
  '',
];

for (const shell of ['/bin/sh', '/usr/bin/fish']) {
  test(`a word quoted for a login shell reaches ${shell} unchanged`, () => {
    // scripts/bootstrap.sh installs fish, the non-POSIX login shell these commands must survive.
    assert.ok(existsSync(shell), `${shell} is missing: run scripts/bootstrap.sh`);
    for (const word of AWKWARD_WORDS) {
      assert.equal(execFileSync(shell, ['-c', `printf '%s' ${loginShellQuote(word)}`], { encoding: 'utf8' }), word);
    }
  });

  test(`a POSIX script given to ${shell} as a login shell runs under /bin/sh, its output byte for byte`, () => {
    const script = `f() { printf '%s|' "$@"; }; f ${AWKWARD_WORDS.map(shellQuote).join(' ')}`;
    // After the mark that starts the command's own output.
    assert.equal(execFileSync(shell, ['-c', underPosixShell(script)], { encoding: 'utf8' }), `${underPosixShellMarkOf()}${AWKWARD_WORDS.map((word) => `${word}|`).join('')}`);
  });
}

/** What a reader of `stream` gets, byte for byte, once it ends. */
function bytesOf(stream: import('node:stream').Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

test('a command’s stdout starts after what a chatty login shell printed, whatever the shell', async () => {
  for (const shell of ['/bin/sh', '/usr/bin/fish']) {
    // The rc files' greeting comes first, as sshd's login shell prints it before running the command.
    const run = execFileSync(shell, ['-c', `echo 'Welcome to the build box'; ${underPosixShell("printf 'own\\n'; printf '\\000\\001binary'")}`]);
    const stdout = new PassThrough();
    const own = bytesOf(commandOutput(stdout));
    // Split anywhere, the mark included.
    for (let i = 0; i < run.length; i += 3) stdout.write(run.subarray(i, i + 3));
    stdout.end();
    assert.deepEqual(await own, Buffer.concat([Buffer.from('own\n'), Buffer.from([0, 1]), Buffer.from('binary')]), shell);
  }
});

test('without the mark (the login shell could not run the command) all of stdout is kept, as it may say why', async () => {
  const stdout = new PassThrough();
  const own = bytesOf(commandOutput(stdout));
  stdout.end('fish: Unknown command\n');
  assert.equal((await own).toString(), 'fish: Unknown command\n');
});

test('the exit is reported only once the output has ended, so a reader has every byte', async () => {
  const stdout = new PassThrough();
  const output = commandOutput(stdout);
  const received: string[] = [];
  output.on('data', (chunk: Buffer) => received.push(chunk.toString()));
  const exited = exitAfterOutput(Promise.resolve({ exitCode: 0, signal: null }), output);
  let reported = false;
  void exited.then(() => (reported = true));
  stdout.write(underPosixShellMarkOf());
  stdout.write('last words');
  await new Promise((r) => setImmediate(r));
  assert.equal(reported, false, 'output still open');
  stdout.end();
  assert.deepEqual(await exited, { exitCode: 0, signal: null });
  assert.equal(received.join(''), 'last words');
});

/** The mark exactly as /bin/sh prints it for underPosixShell. */
function underPosixShellMarkOf(): Buffer {
  return execFileSync('/bin/sh', ['-c', underPosixShell('true')]);
}
