/**
 * The CLI's way to ask for a passphrase or password: on the terminal, with echo off, when stdin is
 * one; else through the program SSH_ASKPASS names, run with the prompt as its only argument and its
 * stdout taken as the answer, as OpenSSH runs it (SSH_ASKPASS_REQUIRE=prefer|force puts it first,
 * =never turns it off). With neither there is no prompter, and the session's error says what is
 * missing (a key to load into ssh-agent, passwordless sudo). Answers are never echoed or logged.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { oneAtATime, type CredentialPrompter, type CredentialRequest } from '../remote-agent/client/credentialPrompt';

export interface TerminalPrompterEnvironment {
  env: NodeJS.ProcessEnv;
  /** The terminal to read from, when stdin is one. */
  input: ReadStream | undefined;
  /** Where prompts are written (stderr: stdout may be a report or a pipe). */
  output: Writable;
}

/** The prompter for this process, or undefined when no one can be asked. */
export function cliPrompter(
  environment: TerminalPrompterEnvironment = { env: process.env, input: process.stdin.isTTY ? process.stdin : undefined, output: process.stderr },
): CredentialPrompter | undefined {
  const { env, input, output } = environment;
  const askpass = env['SSH_ASKPASS'] && env['SSH_ASKPASS_REQUIRE'] !== 'never' ? env['SSH_ASKPASS'] : undefined;
  const askpassFirst = askpass !== undefined && (env['SSH_ASKPASS_REQUIRE'] === 'prefer' || env['SSH_ASKPASS_REQUIRE'] === 'force');
  // `check` on several targets opens their sessions at once: their prompts take turns.
  if (input !== undefined && !askpassFirst) return { ask: oneAtATime((request, signal) => readFromTerminal(input, output, request, signal)) };
  if (askpass !== undefined) return { ask: oneAtATime((request, signal) => runAskpass(askpass, request, signal, output)) };
  return undefined;
}

/** The words shown: the request's prompt, with the server's instructions and a retry note before it. */
export function promptText(request: CredentialRequest): string {
  const lines: string[] = [];
  if (request.attempt > 1) lines.push(request.kind === 'key-passphrase' ? 'Wrong passphrase, try again.' : 'Sorry, try again.');
  if (request.instructions !== undefined) lines.push(request.instructions);
  const prompt = request.prompt.trimEnd();
  // A server's own prompt is shown as it wrote it; ours name the target.
  lines.push(request.kind === 'keyboard-interactive' ? `(${request.target}) ${prompt}` : prompt);
  return lines.join('\n');
}

/**
 * Reads one line from the terminal in raw mode, so what is typed is not shown (unless the request
 * says it may be): Enter ends it, Backspace and Ctrl-U edit it, Ctrl-C or Ctrl-D on an empty line
 * declines. The terminal's mode is restored however it ends, abort included.
 */
export function readFromTerminal(input: ReadStream, output: Writable, request: CredentialRequest, signal: AbortSignal): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve) => {
    if (signal.aborted) return resolve(undefined);
    const wasRaw = input.isRaw;
    let answer: string[] = [];
    const done = (value: string | undefined): void => {
      input.off('data', onData);
      signal.removeEventListener('abort', onAbort);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      resolve(value);
    };
    const onAbort = (): void => done(undefined);
    const onData = (chunk: Buffer | string): void => {
      for (const character of chunk.toString()) {
        if (character === '\r' || character === '\n') return done(answer.join(''));
        if (character === '\u0003' || (character === '\u0004' && answer.length === 0)) return done(undefined);
        if (character === '\u007f' || character === '\b') {
          if (answer.length > 0 && request.echo) output.write('\b \b');
          answer = answer.slice(0, -1);
        } else if (character === '\u0015') {
          if (request.echo) output.write('\b \b'.repeat(answer.length));
          answer = [];
        } else if (character >= ' ') {
          answer.push(character);
          if (request.echo) output.write(character);
        }
      }
    };
    // Echo off before the prompt shows: what is typed as soon as it appears must not be echoed.
    input.setRawMode(true);
    input.on('data', onData);
    output.write(`${promptText(request)} `);
    signal.addEventListener('abort', onAbort, { once: true });
    input.resume();
  });
}

/** Runs the askpass program with the prompt as its argument; its stdout (without the line end) is the answer, a failure declines. */
export function runAskpass(program: string, request: CredentialRequest, signal: AbortSignal, output: Writable): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve) => {
    if (signal.aborted) return resolve(undefined);
    const child = spawn(program, [promptText(request)], { stdio: ['ignore', 'pipe', 'inherit'], signal });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A program that cannot start (or an abort, which kills it) declines: the session says what was not given.
    child.on('error', (error) => {
      if (!signal.aborted) output.write(`SSH_ASKPASS program ${program} could not run: ${error.message}\n`);
      resolve(undefined);
    });
    child.on('close', (code) => resolve(code === 0 && !signal.aborted ? Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '') : undefined));
  });
}
