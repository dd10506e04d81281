/**
 * Who follows trace_pipe on each agent. The agent follows trace_pipe once (the kernel hands each
 * line to one reader), while several runs on one target may print: they share the follower,
 * started by the first and stopped by the last. Keyed by the agent connection, so a new
 * connection starts afresh.
 */
import type { AgentRequester, TraceStopResult } from '../protocol';

/** What following trace_pipe needs of an agent connection. */
export type TraceFollowingAgent = AgentRequester<'trace.start' | 'trace.stop'>;

const traceFollowers = new WeakMap<TraceFollowingAgent, { users: number; started: Promise<unknown> }>();

/** Starts the agent's follower, or joins the one already started; resolves once it runs. */
export async function followTrace(agent: TraceFollowingAgent, signal: AbortSignal | undefined): Promise<void> {
  const shared = traceFollowers.get(agent);
  if (shared) {
    shared.users++;
    try {
      await shared.started;
    } catch (error) {
      shared.users--;
      throw error;
    }
    return;
  }
  const started = agent.request('trace.start', {}, signal);
  traceFollowers.set(agent, { users: 1, started });
  try {
    await started;
  } catch (error) {
    traceFollowers.delete(agent);
    throw error;
  }
}

/** The follower's final counters when this was its last user, else null (it keeps running). */
export async function unfollowTrace(agent: TraceFollowingAgent): Promise<TraceStopResult | null> {
  const shared = traceFollowers.get(agent);
  if (!shared) return null;
  if (--shared.users > 0) return null;
  traceFollowers.delete(agent);
  return agent.request('trace.stop', {});
}

/**
 * A session resumed on a new connection to the same agent (session.resume): the follower that agent
 * still runs is now reached through `to`. The first run that resumes moves it; later ones find it moved.
 */
export function moveTraceFollower(from: TraceFollowingAgent, to: TraceFollowingAgent): void {
  const shared = traceFollowers.get(from);
  if (!shared || traceFollowers.has(to)) return;
  traceFollowers.delete(from);
  traceFollowers.set(to, shared);
}
