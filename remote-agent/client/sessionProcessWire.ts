/**
 * What a client and the per-user session process (cli/sessionProcess.ts) say on a socket: one JSON
 * line each way, then what the request opened.
 * - `open` (a CLI run): an agent on a target, checked out with the run's own connection options;
 *   the reply carries its hello and the socket becomes a byte pipe of that agent's JSON-RPC lines.
 * - `connect` (an editor window, sessionProcessTransport.ts): the SSH connection alone, kept open
 *   on the session process's side and shared; the socket stays open as the connection's watch and
 *   carries one `lost` line when the link is gone.
 * - `exec` (the same window): one command run over that shared connection; after the reply the
 *   socket carries the command's stdin raw (half-closing it is EOF) one way and `frames` the other.
 * A reply can also say why the client must connect by itself.
 */
import type { HelloResult } from '../protocol';
import type { AgentSessionErrorKind } from './sessionError';
import type { SudoMode } from './namedTargets';
import type { SshClientSetting } from './sshClientChoice';
import type { TargetSpec } from './targetSpec';
import type { ExitStatus } from './transport';

export interface SessionRequest {
  /** buildId() of the CLI: a session process of another build refuses. */
  build: string;
  open?: AgentRequest;
  connect?: ConnectionRequest;
  /** `connection`: the number `connected` gave. */
  exec?: { connection: number; command: string };
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

/** An agent as a direct session would start it, over a connection of these options. */
export interface AgentRequest extends ConnectionRequest {
  sudo?: SudoMode;
  workDirectory?: string;
  chosenBy?: string;
  clientVersion: string;
}

export interface SessionStatus {
  connections: number;
  agents: { serial: number; busy: boolean }[];
}

export type SessionReply =
  | { ok: { hello: HelloResult; description: string; agent: number; reused: boolean } }
  /** The target wants a passphrase or password: the session never asks, the CLI connects itself. */
  | { needsPrompt: string }
  | { error: { kind: AgentSessionErrorKind; message: string } }
  /** Not served (another build); the CLI connects itself. */
  | { refused: string }
  | { status: SessionStatus }
  /** `connect`: the connection is up ('user@host:port'); a `lost` line follows when it goes. */
  | { connected: { description: string; connection: number } }
  /** `exec`: the command runs; frames follow. */
  | { started: true };

/** The line on a `connect` socket when the shared connection is gone. */
export interface LostLine {
  lost: string;
}

/** What an `exec` socket carries from the session process, each as kind byte, u32 BE length, payload. */
export const FrameKind = {
  Stdout: 1,
  Stderr: 2,
  /** JSON ExitStatus; the last frame. */
  Exit: 3,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export type Frame = { kind: typeof FrameKind.Stdout | typeof FrameKind.Stderr; data: Buffer } | { kind: typeof FrameKind.Exit; status: ExitStatus };

/** Output larger than this goes in several frames. */
export const MAX_FRAME_PAYLOAD = 64 * 1024;

export function encodeFrame(kind: FrameKind, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(kind, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/**
 * Splits a byte stream into frames, whatever the chunks' boundaries. Throws on a kind it does not
 * know or a length over MAX_FRAME_PAYLOAD: the other side is not the session process of this build.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= 5) {
      const kind = this.pending.readUInt8(0);
      const length = this.pending.readUInt32BE(1);
      if (kind !== FrameKind.Stdout && kind !== FrameKind.Stderr && kind !== FrameKind.Exit) throw new Error(`unknown frame kind ${kind}`);
      if (length > MAX_FRAME_PAYLOAD) throw new Error(`a frame of ${length} bytes is over the ${MAX_FRAME_PAYLOAD}-byte bound`);
      if (this.pending.length < 5 + length) break;
      const payload = this.pending.subarray(5, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      if (kind === FrameKind.Exit) frames.push({ kind, status: parseExitStatus(payload) });
      else frames.push({ kind, data: Buffer.from(payload) });
    }
    return frames;
  }

  /** Bytes of a frame not yet complete (a stream that ends with some was cut). */
  get buffered(): number {
    return this.pending.length;
  }
}

function parseExitStatus(payload: Buffer): ExitStatus {
  const value = JSON.parse(payload.toString('utf8')) as Partial<ExitStatus>;
  const exitCode = typeof value.exitCode === 'number' ? value.exitCode : null;
  const signal = typeof value.signal === 'string' ? value.signal : null;
  return { exitCode, signal, ...(typeof value.failure === 'string' && { failure: value.failure }) };
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
