/**
 * What the CLI and its session process (cli/sessionProcess.ts) say on the socket before it becomes
 * a byte pipe: one JSON line each way. The CLI asks for an agent on a target with its own connection
 * options; the session process answers with the agent's hello (and from then on the socket carries
 * that agent's JSON-RPC lines), or says why the CLI must connect by itself.
 */
import type { HelloResult } from '../remote-agent/protocol';
import type { AgentSessionErrorKind } from '../remote-agent/client/sessionError';
import type { SudoMode } from '../remote-agent/client/namedTargets';
import type { SshClientSetting } from '../remote-agent/client/sshClientChoice';
import type { TargetSpec } from '../remote-agent/client/targetSpec';

export interface SessionRequest {
  /** buildId() of the CLI: a session process of another build refuses. */
  build: string;
  open?: AgentRequest;
  /** Asks how many connections and agents the process keeps (tests, debugging). */
  status?: true;
}

/** Everything a direct connection would use: the session connects with exactly these. */
export interface AgentRequest {
  target: TargetSpec;
  knownHostsFile?: string;
  identityFile?: string;
  sshClient?: SshClientSetting;
  sudo?: SudoMode;
  workDirectory?: string;
  chosenBy?: string;
  /** The CLI can ask a person (TTY or SSH_ASKPASS): a target that wants a secret is then handed back. */
  canPrompt: boolean;
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
  | { status: SessionStatus };

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
