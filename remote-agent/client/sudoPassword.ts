/**
 * Starting the agent through a sudo that wants a password. sudo runs with `-S` (the password is
 * read from stdin, one line) and `-p MARKER` (its prompt is a string we can find on stderr), and
 * starts the agent through a shell that writes a second marker once sudo has let it run. So the
 * password is written only when sudo asks, as the first bytes on the channel's stdin, and nothing
 * of the agent's JSON-RPC is sent before sudo is done reading: a wrong password can never make sudo
 * read a request as the next attempt, and the agent never reads a password.
 */
import { randomBytes } from 'node:crypto';
import { abortReason } from './abortReason';
import { askForCredential, MAX_CREDENTIAL_ATTEMPTS, type CredentialPrompter, type CredentialRequest } from './credentialPrompt';
import { AgentSessionError } from './sessionError';
import { shellQuote, type ExitStatus, type RunningProcess } from './transport';

export interface SudoMarkers {
  /** What sudo prints instead of "[sudo] password for …:" (`-p`). */
  prompt: string;
  /** What the shell under sudo prints once sudo has let it run, just before it becomes the agent. */
  ready: string;
}

/** Markers no program would print by chance (sudo expands '%' escapes in a prompt: there are none). */
export function newSudoMarkers(): SudoMarkers {
  const nonce = randomBytes(12).toString('hex');
  return { prompt: `[ebpf-studio sudo ${nonce}] password:`, ready: `[ebpf-studio sudo ${nonce}] started` };
}

/** The command that starts `agentPath` as root, asking for the password with `markers.prompt`. */
export function sudoWithPasswordCommand(agentPath: string, markers: SudoMarkers): string {
  const script = `echo ${shellQuote(markers.ready)} >&2; exec "$0"`;
  return `exec sudo -S -p ${shellQuote(markers.prompt)} -- /bin/sh -c ${shellQuote(script)} ${shellQuote(agentPath)}`;
}

/** Removes the markers from a line of sudo's stderr, for the log and error messages. */
export function withoutSudoMarkers(text: string, markers: SudoMarkers): string {
  return text.split(markers.prompt).join('').split(markers.ready).join('');
}

export type SudoOutcome =
  /** sudo let the agent run: its stdin is now the agent's. */
  | { outcome: 'started' }
  /**
   * sudo ended before the agent ran. `passwordRefused`: its last words refused the last password
   * ("3 incorrect password attempts"), rather than e.g. "alice is not in the sudoers file".
   */
  | { outcome: 'exited'; status: ExitStatus; passwordRefused: boolean };

export interface SudoDialogueOptions {
  markers: SudoMarkers;
  prompter: CredentialPrompter;
  /** 'user@host:port', as the prompt names the target. */
  target: string;
  userName: string;
  signal: AbortSignal | undefined;
  /** How long sudo may take to ask or to start the agent (not counting a person typing). */
  timeoutMs: number;
}

/**
 * Answers sudo's password prompts on `sudo`'s stdin until it starts the agent or ends. Each prompt
 * asks the prompter (attempt 2 and up after sudo said "Sorry, try again"); a declined prompt, an
 * abort or a silent sudo kills it and rejects. Never writes anything to stdin but answers.
 */
export function answerSudoPrompts(sudo: RunningProcess, options: SudoDialogueOptions): Promise<SudoOutcome> {
  const { markers, prompter, signal } = options;
  return new Promise<SudoOutcome>((resolve, reject) => {
    let pending = ''; // stderr not yet searched for markers (a marker may arrive split over chunks)
    let sinceLastPrompt = ''; // what sudo said after the last prompt, to tell why it ended
    let prompts = 0;
    let answered: CredentialRequest | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const asking = new AbortController();

    const finish = (result: { value: SudoOutcome } | { error: Error }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      asking.abort(new Error('sudo is no longer asking'));
      signal?.removeEventListener('abort', onAbort);
      sudo.stderr.off('data', onData);
      if ('error' in result) {
        sudo.kill();
        reject(result.error);
      } else resolve(result.value);
    };
    const armTimer = (): void => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish({
            error: new AgentSessionError(
              'agent-start',
              `sudo on ${options.target} neither asked for a password nor started the agent within ${options.timeoutMs / 1000} s.`,
            ),
          }),
        options.timeoutMs,
      );
    };
    const onAbort = (): void => finish({ error: abortReason(signal!) });

    const answerPrompt = async (): Promise<void> => {
      prompts++;
      if (answered !== undefined) {
        prompter.refused?.(answered);
        answered = undefined;
      }
      if (prompts > MAX_CREDENTIAL_ATTEMPTS) return finish({ error: wrongPassword(options) });
      const request: CredentialRequest = {
        kind: 'sudo-password',
        target: options.target,
        prompt: `[sudo] password for ${options.userName} on ${options.target}:`,
        echo: false,
        attempt: prompts,
      };
      clearTimeout(timer);
      let password: string;
      try {
        password = await askForCredential(prompter, request, asking.signal);
      } catch (error) {
        return finish({ error: error as Error });
      }
      if (settled) return;
      if (/[\r\n]/.test(password)) return finish({ error: new AgentSessionError('sudo-password', 'A sudo password cannot contain a line break: sudo reads one line.') });
      answered = request;
      armTimer();
      // The first bytes sudo reads: exactly one line.
      sudo.stdin.write(`${password}\n`);
    };

    const onData = (chunk: Buffer | string): void => {
      pending += chunk.toString();
      sinceLastPrompt = (sinceLastPrompt + chunk.toString()).slice(-2000);
      for (;;) {
        const promptAt = pending.indexOf(markers.prompt);
        const readyAt = pending.indexOf(markers.ready);
        if (readyAt !== -1 && (promptAt === -1 || readyAt < promptAt)) {
          if (answered !== undefined) prompter.accepted?.(answered);
          return finish({ value: { outcome: 'started' } });
        }
        if (promptAt === -1) break;
        pending = pending.slice(promptAt + markers.prompt.length);
        sinceLastPrompt = pending;
        void answerPrompt();
      }
      // Keep only what could be the start of a marker.
      const keep = Math.max(markers.prompt.length, markers.ready.length);
      if (pending.length > keep) pending = pending.slice(-keep);
    };

    if (signal?.aborted) return finish({ error: abortReason(signal) });
    signal?.addEventListener('abort', onAbort, { once: true });
    sudo.stderr.on('data', onData);
    // An SSH channel reports its exit only once its stdout has ended, so stdout must flow; sudo
    // writes nothing there, and the agent nothing before 'hello', which the caller sends after us.
    sudo.stdout.resume();
    void sudo.exited.then((status) => {
      // sudo's own words (English; another locale gets the generic failure with sudo's stderr).
      const passwordRefused = answered !== undefined && /incorrect password attempt|Sorry, try again/i.test(sinceLastPrompt);
      if (passwordRefused) prompter.refused?.(answered!);
      finish({ value: { outcome: 'exited', status, passwordRefused } });
    });
    armTimer();
  });
}

/** The error when sudo refused every password given. */
export function wrongPassword(options: Pick<SudoDialogueOptions, 'target' | 'userName'>): AgentSessionError {
  return new AgentSessionError(
    'sudo-password',
    `sudo did not accept the password for ${options.userName} on ${options.target}. Check the password (it is ${options.userName}'s own, not root's), ` +
      `or connect as root, or allow passwordless sudo for the agent.`,
  );
}
