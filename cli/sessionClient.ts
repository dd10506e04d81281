/**
 * The CLI's side of the session process (cli/sessionProcess.ts): this run's place on the target's
 * shared agent, with the run's own connection options (remote-agent/client/sessionProcessAgent.ts),
 * or why the run connects directly, said once on stderr. Also: whether the session process is off,
 * and its status.
 */
import type { AgentSession } from '../remote-agent/client/agentSession';
import { buildId, sessionDirectory, sessionSocketPath } from '../remote-agent/client/sessionProcessDirectory';
import { agentThroughSessionProcess } from '../remote-agent/client/sessionProcessAgent';
import { connectTo, SESSION_PROCESS_ENV, type ConnectDirectly, type SessionProcessLauncher } from '../remote-agent/client/sessionProcessLink';
import { exchangeFirstLines, type AgentRequest, type SessionStatus } from '../remote-agent/client/sessionProcessWire';

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

/** This run's place on the target's shared agent, or why this run must connect directly. */
export function openThroughSessionProcess(request: AgentRequest, signal: AbortSignal): Promise<AgentSession | ConnectDirectly> {
  return agentThroughSessionProcess(cliLauncher(), { open: request }, { signal, closedHint: 'run again, or use --no-session' });
}

/** This CLI, started again as `ebpf-studio session`. */
function cliLauncher(): SessionProcessLauncher {
  const idle = process.env[SESSION_IDLE_ENV];
  return { cliEntry: process.argv[1]!, execPath: process.execPath, execArgv: process.execArgv, ...(idle !== undefined && { idleSeconds: idle }) };
}

/** How many connections and agents the session process of this build keeps; undefined when none runs. */
export async function sessionProcessStatus(build = buildId()): Promise<SessionStatus | undefined> {
  const socket = await connectTo(sessionSocketPath(sessionDirectory(), build));
  if (typeof socket === 'string') return undefined;
  const { reply } = await exchangeFirstLines(socket, { build, status: true }, MAX_REPLY_LINE);
  socket.destroy();
  return 'status' in reply ? reply.status : undefined;
}
