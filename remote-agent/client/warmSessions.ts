/**
 * Agent sessions kept open between calls, one per target: opening one costs a connection, the
 * agent's start and its hello probes (~1 s locally, more over SSH), so a caller that makes many
 * short calls (the MCP server: check, fix, check again) reuses the session of its last call. A
 * session is closed after an idle period without calls, when the pool is closed, and dropped as
 * soon as it dies (its `closed` resolves): the next call opens a fresh one. A call handed a kept
 * session that turns out to have died is tried once more on a fresh one, so a dead agent never
 * costs the caller more than that call's retry, and never a hang.
 */
import type { AgentSession } from './agentSession';

export interface WarmSessionsOptions {
  /** Opens a session to @target; @signal is the pool's, aborted when the pool closes. */
  open(target: string, signal: AbortSignal): Promise<AgentSession>;
  /** How long a session is kept without calls; 0 closes it after each call. */
  idleMs: number;
  log?(line: string): void;
}

interface Kept {
  session: Promise<AgentSession>;
  /** Calls using (or waiting for) the session now. */
  users: number;
  /** Set once the session is open: a later call reuses a session that existed before it. */
  opened: boolean;
  dead: boolean;
  idle?: NodeJS.Timeout;
}

/** How long a failed call waits to learn whether its session died under it (the connection's end arrives just after the failure). */
const DEATH_NOTICE_MS = 250;

export class WarmSessions {
  private readonly kept = new Map<string, Kept>();
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;

  constructor(private readonly o: WarmSessionsOptions) {}

  /**
   * Runs @use with the target's session, opening one when none is kept. @signal abandons the wait
   * for a session being opened (the opening goes on for the next call); @use gets it too.
   */
  async use<T>(target: string, signal: AbortSignal, use: (session: AgentSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const kept = this.keptFor(target);
      const reused = kept.opened;
      kept.users++;
      if (kept.idle) clearTimeout(kept.idle);
      kept.idle = undefined;
      try {
        const session = await abandonable(kept.session, signal);
        try {
          return await use(session);
        } catch (error) {
          if (signal.aborted || !reused || attempt > 1 || !(await diedUnder(session))) throw error;
          this.o.log?.(`the kept session to ${target} had died (${(await session.closed).message}); trying again on a new one`);
        }
      } finally {
        this.release(target, kept);
      }
    }
  }

  /** Closes every kept session; later calls fail. Resolves when they are closed. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort(new Error('the sessions were closed'));
      const sessions = [...this.kept.values()];
      this.kept.clear();
      for (const kept of sessions) if (kept.idle) clearTimeout(kept.idle);
      await Promise.all(sessions.map((kept) => kept.session.then((s) => s.dispose(), () => undefined)));
    })();
    return this.closed;
  }

  private keptFor(target: string): Kept {
    if (this.closed) throw new Error('The agent sessions are closed: the server is shutting down.');
    const found = this.kept.get(target);
    if (found && !found.dead) return found;
    const kept: Kept = { session: this.o.open(target, this.closing.signal), users: 0, opened: false, dead: false };
    this.kept.set(target, kept);
    kept.session.then(
      (session) => {
        kept.opened = true;
        this.o.log?.(`opened an agent session to ${target} (kernel ${session.hello.kernelRelease})`);
        void session.closed.then((reason) => {
          kept.dead = true;
          void session.dispose();
          if (this.kept.get(target) === kept) {
            this.kept.delete(target);
            this.o.log?.(`the agent session to ${target} ended: ${reason.message}`);
          }
        });
      },
      () => {
        // A failed open is not kept: the next call tries again (its callers got the error).
        if (this.kept.get(target) === kept) this.kept.delete(target);
      },
    );
    return kept;
  }

  private release(target: string, kept: Kept): void {
    kept.users--;
    if (kept.users > 0 || this.kept.get(target) !== kept) return;
    kept.idle = setTimeout(() => {
      if (this.kept.get(target) !== kept || kept.users > 0) return;
      this.kept.delete(target);
      this.o.log?.(`closing the agent session to ${target}: idle for ${this.o.idleMs / 1000} s`);
      void kept.session.then((s) => s.dispose(), () => undefined);
    }, this.o.idleMs);
    // A kept session never holds the process up by itself.
    kept.idle.unref();
  }
}

/** @promise, or @signal's reason as soon as it is aborted (the promise goes on). */
function abandonable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Whether @session's end is why a call on it failed. */
async function diedUnder(session: AgentSession): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const notice = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), DEATH_NOTICE_MS)));
  try {
    return await Promise.race([session.closed.then(() => true), notice]);
  } finally {
    clearTimeout(timer);
  }
}
