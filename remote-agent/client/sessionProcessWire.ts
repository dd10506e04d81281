/**
 * What a client and the per-user session process (cli/sessionProcess.ts) say on a socket: one JSON
 * line each way, then what the request opened.
 * - `share` (an editor window) and `open` (a CLI run, with the run's own connection options): a
 *   place on the agent of a target that all the user's windows and runs share (cli/sharedAgent.ts);
 *   the reply carries its hello (and a window's resume ticket), and the socket becomes the client's
 *   JSON-RPC stream to it, as if the agent were its own. A run's place is released when it leaves.
 * A reply can also say why the client must connect by itself.
 */
import type { HelloResult, ResumeTicket, StreamCounters } from '../protocol';
import type { AgentSessionErrorKind } from './sessionError';
import type { SudoMode } from './namedTargets';
import type { SshClientSetting } from './sshClientChoice';
import type { TargetSpec } from './targetSpec';

export interface SessionRequest {
  /** buildId() of the CLI: a session process of another build refuses. */
  build: string;
  open?: AgentRequest;
  share?: ShareRequest;
  /** Asks how many connections and agents the process keeps (tests, debugging). */
  status?: true;
}

/** What a direct SSH connection would use: the session process connects with exactly these. */
export interface ConnectionRequest {
  target: TargetSpec;
  knownHostsFile?: string;
  identityFile?: string;
  sshClient?: SshClientSetting;
  /** The client can ask a person (TTY, SSH_ASKPASS, the editor): a target that wants a secret is then handed back. */
  canPrompt: boolean;
}

/** An agent as a direct session would start it (the shared one started so), over a connection of these options. */
export interface AgentRequest extends ConnectionRequest {
  sudo?: SudoMode;
  workDirectory?: string;
  chosenBy?: string;
  clientVersion: string;
}

/** The shared agent of a target, for one editor window, or that window's place on it again. */
export interface ShareRequest extends AgentRequest {
  /** The window's wish for its things after its socket drops (hello's graceSeconds); part of the shared agent's key. */
  graceSeconds: number;
  /**
   * Instead of a new place: the one `ok.resume` gave, whose socket closed (the link dropped), with
   * the records of each of its streams this window received.
   */
  resume?: { ticket: ResumeTicket; streams: { streamId: string; decoded: number }[] };
}

export interface SessionStatus {
  connections: number;
  /** Each shared agent: its serial and how many clients it serves (windows, attached or waiting to be resumed, and runs). */
  shared: { serial: number; windows: number }[];
}

export type SessionReply =
  | { ok: { hello: HelloResult; description: string; agent: number; reused: boolean; resume?: ResumeTicket | null; resumed?: SharedResumed } }
  /** The target wants a passphrase or password: the session never asks, the CLI connects itself. */
  | { needsPrompt: string }
  | { error: { kind: AgentSessionErrorKind; message: string } }
  /** Not served (another build); the CLI connects itself. */
  | { refused: string }
  | { status: SessionStatus };

/** `share` with `resume`: what the window still holds on the shared agent (as session.resume answers). */
export interface SharedResumed {
  streams: { streamId: string; counters: StreamCounters }[];
  objects: string[];
}

/**
 * Notification session process → window, on a `share` socket, right before the session process
 * closes it: why. `resumable`: the window's things are kept for its ticket's grace period.
 */
export const SHARED_CLOSING_NOTIFICATION = 'sharedAgent/closing';
export interface SharedClosingNotice {
  reason: string;
  resumable: boolean;
}

/**
 * Sends `request` as one line and reads the session process's one-line reply; what follows it on
 * the socket is handed back unread (the socket is left paused).
 */
export async function exchangeFirstLines(
  socket: NodeJS.ReadWriteStream & { destroyed: boolean },
  request: SessionRequest,
  maxBytes: number,
): Promise<{ reply: SessionReply; rest: Buffer }> {
  socket.write(`${JSON.stringify(request)}\n`);
  const { line, rest } = await readFirstLine(socket, maxBytes);
  return { reply: JSON.parse(line) as SessionReply, rest };
}

/** Reads one '\n'-terminated line from `socket`; what follows it is handed back unread. */
export function readFirstLine(socket: NodeJS.ReadableStream & { destroyed: boolean }, maxBytes: number): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline >= 0) {
        cleanup();
        socket.pause();
        resolve({ line: buffered.subarray(0, newline).toString('utf8'), rest: buffered.subarray(newline + 1) });
      } else if (buffered.length > maxBytes) {
        cleanup();
        reject(new Error(`the first line was longer than ${maxBytes} bytes`));
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('the other side closed the socket before its first line'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}
