/**
 * Asking a person for a secret while connecting: a key file's passphrase, a password or a
 * keyboard-interactive answer for sshd, the sudo password for starting the agent as root. The SSH
 * transport and the session only describe what they need (a CredentialRequest); the editor, the CLI
 * and tests answer it their own way (an input box, the TTY or SSH_ASKPASS, a fixed answer).
 * Secrets live only in memory: nothing here logs, stores or writes them.
 */
import { abortReason } from './abortReason';
import { AgentSessionError } from './sessionError';

export type CredentialKind = 'key-passphrase' | 'password' | 'keyboard-interactive' | 'sudo-password';

export interface CredentialRequest {
  kind: CredentialKind;
  /** Where the secret is for: 'user@host:port' (or 'jump host ALIAS (user@host:port)'). */
  target: string;
  /** The private key file a 'key-passphrase' unlocks. */
  keyFile?: string;
  /** The words to show: the server's own prompt for keyboard-interactive, OpenSSH's or sudo's wording otherwise. */
  prompt: string;
  /** The server's name and instructions for a keyboard-interactive round, when it sent any. */
  instructions?: string;
  /** Whether what the person types may be shown (a keyboard-interactive "Username:"); false for secrets. */
  echo: boolean;
  /** 1 the first time; 2 and up after the previous answer to the same question was refused. */
  attempt: number;
}

/**
 * Whoever can answer. `ask` resolves with the answer, or undefined when the person declined (or no
 * one can be asked); it must settle when `signal` aborts. `accepted`/`refused` say how an answer
 * fared, so a prompter that keeps secrets (the editor's "remember") stores only one that worked and
 * forgets one that failed.
 */
export interface CredentialPrompter {
  ask(request: CredentialRequest, signal: AbortSignal): Promise<string | undefined>;
  accepted?(request: CredentialRequest): void;
  refused?(request: CredentialRequest): void;
}

/** How many times a wrong passphrase or password is asked for again, as OpenSSH's NumberOfPasswordPrompts. */
export const MAX_CREDENTIAL_ATTEMPTS = 3;

/** What a request asks for, in words for messages ("the passphrase of key ~/.ssh/id_ed25519"). */
export function describeCredential(request: Pick<CredentialRequest, 'kind' | 'target' | 'keyFile'>): string {
  switch (request.kind) {
    case 'key-passphrase':
      return `the passphrase of key ${request.keyFile ?? '(unnamed)'}`;
    case 'password':
      return `the password for ${request.target}`;
    case 'keyboard-interactive':
      return `the answer ${request.target} asked for`;
    case 'sudo-password':
      return `the sudo password on ${request.target}`;
  }
}

/** The error for a person who declined to answer: a cancellation the UI can tell from a failure. */
export function credentialDeclined(request: Pick<CredentialRequest, 'kind' | 'target' | 'keyFile'>): AgentSessionError {
  return new AgentSessionError('credentials-declined', `Connecting to ${request.target} stopped: ${describeCredential(request)} was not given.`);
}

/**
 * Asks `prompter` and hands back the answer, or rejects with the abort reason (the caller gave up)
 * or with credentialDeclined (the person did). Nothing is asked when the signal already aborted.
 */
export async function askForCredential(prompter: CredentialPrompter, request: CredentialRequest, signal: AbortSignal): Promise<string> {
  if (signal.aborted) throw abortReason(signal);
  const answer = await prompter.ask(request, signal);
  if (signal.aborted) throw abortReason(signal);
  if (answer === undefined) throw credentialDeclined(request);
  return answer;
}

/**
 * One question at a time: a person has one terminal and one input box, and sessions to several
 * targets (a kernel matrix) may need answers at once. Later asks wait their turn; one whose signal
 * aborts while it waits is dropped (undefined) without being shown.
 */
export function oneAtATime(ask: CredentialPrompter['ask']): CredentialPrompter['ask'] {
  let queue: Promise<unknown> = Promise.resolve();
  return (request, signal) => {
    const turn = queue.then(() => (signal.aborted ? undefined : ask(request, signal)));
    queue = turn.catch(() => undefined);
    return turn;
  };
}
