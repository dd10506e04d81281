/**
 * The CLI's side of the session process (cli/sessionProcess.ts): find it (or start it, detached),
 * ask it for an agent on a target with this run's own connection options, and speak JSON-RPC to that
 * agent over the socket. Whenever the session process cannot serve — it is dead (its stale socket is
 * removed), of another build, its directory is not private, or the target wants a passphrase or
 * password (the session process never holds secrets) — the run connects directly and says why once
 * on stderr; it never waits on a session process that is not there.
 */
import type * as net from 'node:net';
import { AgentClient } from '../remote-agent/client/agentClient';
import type { AgentSession } from '../remote-agent/client/agentSession';
import { abortReason } from '../remote-agent/client/abortReason';
import { AgentSessionError } from '../remote-agent/client/sessionError';
import type { TargetSpec } from '../remote-agent/client/targetSpec';
import { buildId, sessionDirectory, sessionSocketPath } from '../remote-agent/client/sessionProcessDirectory';
import { connectTo, reachSessionProcess, SESSION_PROCESS_ENV, type ConnectDirectly, type SessionProcessLauncher } from '../remote-agent/client/sessionProcessLink';
import { exchangeFirstLines, type AgentRequest, type SessionReply, type SessionRequest } from '../remote-agent/client/sessionProcessWire';

/** How long a session process started now stays without runs, in seconds (default 600). */
export const SESSION_IDLE_ENV = 'EBPF_STUDIO_SESSION_IDLE_SECONDS';
const MAX_REPLY_LINE = 4 * 1024 * 1024;

const said = new Set<string>();

/** Says `notice` on stderr once per CLI run. */
export function sayOnce(notice: string): void {
  if (said.has(notice)) return;
  said.add(notice);
  process.stderr.write(`ebpf-studio: ${notice}\n`);
}

export function sessionDisabled(noSession: boolean | undefined): boolean {
  return noSession === true || process.env[SESSION_PROCESS_ENV] === 'off';
}

/** An agent checked out of the session process, or why this run must connect directly. */
export async function openThroughSessionProcess(request: AgentRequest, signal: AbortSignal): Promise<AgentSession | ConnectDirectly> {
  const reached = await reachSessionProcess(cliLauncher());
  if ('direct' in reached) return reached;
  return askForAgent(reached.socket, { build: reached.build, open: request }, request.target, signal);
}

/** This CLI, started again as `ebpf-studio session`. */
function cliLauncher(): SessionProcessLauncher {
  const idle = process.env[SESSION_IDLE_ENV];
  return { cliEntry: process.argv[1]!, execPath: process.execPath, execArgv: process.execArgv, ...(idle !== undefined && { idleSeconds: idle }) };
}

async function askForAgent(socket: net.Socket, request: SessionRequest, target: TargetSpec, signal: AbortSignal): Promise<AgentSession | ConnectDirectly> {
  const onAbort = (): void => {
    socket.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  let reply: SessionReply;
  let rest: Buffer;
  try {
    ({ reply, rest } = await exchangeFirstLines(socket, request, MAX_REPLY_LINE));
  } catch (error) {
    socket.destroy();
    if (signal.aborted) throw abortReason(signal);
    return { direct: true, notice: `the session process failed to answer (${(error as Error).message}); connecting directly` };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if ('ok' in reply) {
    if (process.env['EBPF_STUDIO_DEBUG']) {
      process.stderr.write(`session process: agent ${reply.ok.agent} on ${reply.ok.description}, ${reply.ok.reused ? 'kept from an earlier run' : 'started for this run'}\n`);
    }
    if (rest.length > 0) socket.unshift(rest);
    return sessionOverSocket(socket, target, reply.ok.hello, reply.ok.description);
  }
  socket.destroy();
  if ('error' in reply) throw new AgentSessionError(reply.error.kind, reply.error.message);
  if ('needsPrompt' in reply) {
    return { direct: true, notice: `${reply.needsPrompt} is needed, and the session process never asks for secrets; connecting directly` };
  }
  if ('refused' in reply) return { direct: true, notice: `${reply.refused}; connecting directly` };
  return { direct: true, notice: 'the session process answered something unexpected; connecting directly' };
}

function sessionOverSocket(socket: net.Socket, target: TargetSpec, hello: AgentSession['hello'], description: string): AgentSession {
  const client = new AgentClient(socket, socket, {
    explainClose: (cause) =>
      new AgentSessionError('closed', `The session process's link to the agent on ${description} closed${cause ? ` (${cause.message})` : ''}; run again, or use --no-session.`),
  });
  // exchangeFirstLines left the socket paused; a paused stream stays paused when the client starts listening.
  socket.resume();
  let disposing: Promise<void> | undefined;
  return {
    target,
    description,
    hello,
    client,
    // The session process's agents live as long as it keeps them; a CLI run does not resume one.
    resumeTicket: null,
    closed: client.closed,
    dispose: () => {
      disposing ??= new Promise<void>((resolve) => {
        client.close(new AgentSessionError('closed', `The session to ${description} was closed.`));
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.end();
      });
      return disposing;
    },
  };
}

/** How many connections and agents the session process of this build keeps; undefined when none runs. */
export async function sessionProcessStatus(): Promise<{ connections: number; agents: { serial: number; busy: boolean }[] } | undefined> {
  const build = buildId();
  const socket = await connectTo(sessionSocketPath(sessionDirectory(), build));
  if (typeof socket === 'string') return undefined;
  const { reply } = await exchangeFirstLines(socket, { build, status: true }, MAX_REPLY_LINE);
  socket.destroy();
  return 'status' in reply ? reply.status : undefined;
}
