/**
 * A place on the agent the per-user session process (cli/sessionProcess.ts) shares between all the
 * user's windows and runs (cli/sharedAgent.ts), as an AgentSession: a CLI run's `open` (released
 * when the run leaves) or an editor window's `share` (kept for its grace period, with a ticket). The
 * reply carries the agent's hello and the socket becomes a JSON-RPC stream to it. Whenever the session process cannot
 * serve — it is dead (its stale socket is removed), of another build, its directory is not private,
 * or the target wants a passphrase or password (it never holds secrets) — the caller is told why and
 * connects directly; it never waits on a session process that is not there.
 */
import type * as net from 'node:net';
import { abortReason } from './abortReason';
import { AgentClient } from './agentClient';
import type { AgentSession } from './agentSession';
import { AgentSessionError } from './sessionError';
import { reachSessionProcess, type ConnectDirectly, type SessionProcessLauncher } from './sessionProcessLink';
import { exchangeFirstLines, SHARED_CLOSING_NOTIFICATION, type AgentRequest, type SessionReply, type SharedClosingNotice, type ShareRequest } from './sessionProcessWire';

const MAX_REPLY_LINE = 4 * 1024 * 1024;

export type AgentAsk = { open: AgentRequest } | { share: ShareRequest };

export interface SessionProcessAgentOptions {
  signal: AbortSignal;
  /** Given the client before it reads anything: a resumed window subscribes here, as records held for it follow the reply at once. */
  listen?: (client: AgentClient) => void;
  /** Said when the stream closes under the client for no reason given (the CLI names its own way out). */
  closedHint?: string;
}

/** The agent `ask` names, through the session process, or why the caller must connect directly. */
export async function agentThroughSessionProcess(launcher: SessionProcessLauncher, ask: AgentAsk, options: SessionProcessAgentOptions): Promise<AgentSession | ConnectDirectly> {
  const reached = await reachSessionProcess(launcher);
  if ('direct' in reached) return reached;
  const { socket, build } = reached;
  const { signal } = options;
  const onAbort = (): void => {
    socket.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  let reply: SessionReply;
  let rest: Buffer;
  try {
    ({ reply, rest } = await exchangeFirstLines(socket, { build, ...ask }, MAX_REPLY_LINE));
  } catch (error) {
    socket.destroy();
    if (signal.aborted) throw abortReason(signal);
    return { direct: true, notice: `the session process failed to answer (${(error as Error).message}); connecting directly` };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if ('ok' in reply) {
    if (process.env['EBPF_STUDIO_DEBUG']) {
      process.stderr.write(`session process: agent ${reply.ok.agent} on ${reply.ok.description}, ${reply.ok.reused ? 'kept from earlier' : 'started now'}\n`);
    }
    if (rest.length > 0) socket.unshift(rest);
    const target = 'open' in ask ? ask.open.target : ask.share.target;
    return sessionOverSocket(socket, target, reply.ok, 'share' in ask, options);
  }
  socket.destroy();
  if ('error' in reply) throw new AgentSessionError(reply.error.kind, reply.error.message);
  if ('needsPrompt' in reply) {
    return { direct: true, notice: `${reply.needsPrompt} is needed, and the session process never asks for secrets; connecting directly` };
  }
  if ('refused' in reply) return { direct: true, notice: `${reply.refused}; connecting directly` };
  return { direct: true, notice: 'the session process answered something unexpected; connecting directly' };
}

function sessionOverSocket(
  socket: net.Socket,
  target: AgentSession['target'],
  ok: Extract<SessionReply, { ok: unknown }>['ok'],
  shared: boolean,
  options: SessionProcessAgentOptions,
): AgentSession {
  const { description } = ok;
  let closing: SharedClosingNotice | undefined;
  const client = new AgentClient(socket, socket, {
    explainClose: (cause) => {
      if (closing !== undefined) return new AgentSessionError('closed', closing.reason);
      const detail = cause ? ` (${cause.message})` : '';
      return new AgentSessionError('closed', `The session process's link to the agent on ${description} closed${detail}${options.closedHint ? `; ${options.closedHint}` : ''}.`);
    },
    notifications: {
      [SHARED_CLOSING_NOTIFICATION]: (params) => {
        const notice = params as Partial<SharedClosingNotice>;
        closing = { reason: typeof notice.reason === 'string' ? notice.reason : 'the session process closed the link', resumable: notice.resumable === true };
      },
    },
  });
  options.listen?.(client);
  // exchangeFirstLines left the socket paused; a paused stream stays paused when the client starts listening.
  socket.resume();
  let disposing: Promise<void> | undefined;
  return {
    target,
    description,
    hello: ok.hello,
    client,
    // A window's place has its ticket, until the session process says the place is gone; a run's has none.
    get resumeTicket() {
      return closing?.resumable === false ? null : (ok.resume ?? null);
    },
    ...(ok.resumed !== undefined && { resumed: ok.resumed }),
    closed: client.closed,
    dispose: () => {
      disposing ??= (async () => {
        // A window that leaves on purpose says so: its place is released at once, not kept for a resume.
        if (shared) {
          await client.request('session.end', {}).catch(() => {
            // Its socket already closed: the place is kept or released by the session process's rules, nothing to say.
          });
        }
        client.close(new AgentSessionError('closed', `The session to ${description} was closed.`));
        if (socket.destroyed) return;
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        socket.end();
        await closed;
      })();
      return disposing;
    },
  };
}
