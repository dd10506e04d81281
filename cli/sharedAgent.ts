/**
 * One agent on a target, shared by every editor window and CLI run of the user through the session
 * process (cli/sessionProcess.ts: a window's `share`, a run's `open`). Each of them — "window" below,
 * a run being a window without a grace period — speaks the agent's JSON-RPC on its own socket as
 * if the agent were its own, and gets what its own agent would give it:
 * - its requests go to the agent through the session's one AgentClient (vscode-jsonrpc numbers
 *   them, so windows' ids never meet), and its answers come back to it alone;
 * - what a window creates is its own: objects (compile, object.put), links (attach) and streams
 *   (stream.start); a request naming another window's handle is refused as unknown; `events` and
 *   `stream.ended` go to the stream's owner only, and `reset` releases the caller's things only;
 * - trace_pipe has one reader per agent: every window that asked follows it, and the agent stops
 *   following when the last one stops;
 * - a window whose socket closed without `session.end` keeps its place (its things stay attached)
 *   for the grace period, resumable with the ticket it was given (constant-time compared); records
 *   for it meanwhile are kept up to a bound, the rest dropped and counted, as the agent does;
 * - when the link to the agent drops, every window's socket is closed (its window reconnects as
 *   from its own agent) while the session process resumes the agent; a window coming back in time
 *   gets its place again, with the agent's counts.
 * A window's counters are the agent's, with what was dropped here for it moved from `sent` to
 * `dropped`, so received + dropped still equals what the kernel produced.
 */
import * as crypto from 'node:crypto';
import type { Duplex } from 'node:stream';
import { createMessageConnection, ResponseError, type MessageConnection } from 'vscode-jsonrpc/node';
import { AgentError } from '../remote-agent/client/agentClient';
import { LineMessageReader, LineMessageWriter } from '../remote-agent/client/lineJsonRpc';
import { AgentSessionError } from '../remote-agent/client/sessionError';
import { SHARED_CLOSING_NOTIFICATION, type SharedClosingNotice, type SharedResumed } from '../remote-agent/client/sessionProcessWire';
import {
  agentMethods,
  ErrorCode,
  type AgentListener,
  type AgentMethod,
  type AgentRequester,
  type CompileResult,
  type EventsNotification,
  type HelloResult,
  type ResumeTicket,
  type StreamCounters,
  type StreamEndedNotification,
  type TraceNotification,
  type TraceStopResult,
} from '../remote-agent/protocol';

/** The shared agent's connection: its session's AgentClient, a new one after each resume. */
export type SharedAgentLink = AgentRequester<AgentMethod> & AgentListener<'events' | 'trace' | 'stream.ended'>;

/** A window's socket holding more than this unread: its records are dropped and counted instead. */
const WINDOW_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Records kept for a window whose socket closed, until it comes back (AgentLimits' default stream queue). */
const DETACHED_BUFFER_BYTES = 16 * 1024 * 1024;

interface StreamShare {
  /** Records dropped here for this window (backlog, buffer bound, lost in transit before a resume). */
  droppedHere: number;
  /** Records written to the window's socket since its last (re)attach, counted from its `decoded`. */
  forwarded: number;
}

interface TraceShare {
  sent: number;
  dropped: number;
}

/** One window's place on the shared agent: what it owns, and its socket while it has one. */
class WindowPlace {
  readonly objects = new Set<string>();
  readonly links = new Set<string>();
  readonly streams = new Map<string, StreamShare>();
  trace: TraceShare | undefined;
  /** Its requests not answered yet: `reset` and leaving wait for them (and leaving cancels them). */
  readonly inFlight = new Map<Promise<unknown>, AbortController>();
  connection: MessageConnection | undefined;
  socket: Duplex | undefined;
  /** Notifications held while it has no socket (closed link), sent when it comes back. */
  held: { method: string; params: object; streamId?: string; records: number }[] = [];
  heldBytes = 0;
  /** It said session.end: released when its socket closes, never kept. */
  ended = false;
  keepTimer: NodeJS.Timeout | undefined;
  released = false;

  constructor(
    readonly id: number,
    readonly token: string,
    /** How long it is kept after its socket closes without session.end (0: released at once). */
    readonly graceSeconds: number,
  ) {}
}

export class SharedAgent {
  private link: SharedAgentLink | undefined;
  private subscriptions: { dispose(): void }[] = [];
  private readonly linkWaiters = new Set<{ resolve: (link: SharedAgentLink) => void; reject: (reason: Error) => void }>();
  private gone: Error | undefined;
  private readonly places = new Map<number, WindowPlace>();
  private nextPlace = 1;
  private readonly streamOwners = new Map<string, WindowPlace>();
  /** Records the agent sent per stream: session.resume's `decoded` (this process is its client). */
  private readonly received = new Map<string, number>();
  private readonly lastCounters = new Map<string, StreamCounters>();
  private readonly traceFollowers = new Set<WindowPlace>();
  private traceDroppedByAgent = 0;

  constructor(
    readonly hello: HelloResult,
    readonly description: string,
    /** How long a window's place is kept after its socket closes (0: released at once). */
    readonly graceSeconds: number,
    link: SharedAgentLink,
    private readonly log: (line: string) => void,
  ) {
    this.listenTo(link);
    this.link = link;
  }

  /** Windows served, with a socket or waiting to come back. */
  get windows(): number {
    return this.places.size;
  }

  /**
   * A new place for a client, kept `graceSeconds` after its socket closes (at most the agent's own
   * grace period; 0: released at once, as for a CLI run), and its ticket (none without a grace
   * period); serve() it on the client's socket.
   */
  newPlace(graceSeconds: number = this.graceSeconds): { place: number; ticket: ResumeTicket | null } {
    if (this.gone !== undefined) throw new AgentSessionError('closed', `The shared agent on ${this.description} is gone: ${this.gone.message}`);
    const kept = Math.max(0, Math.min(graceSeconds, this.graceSeconds));
    const place = new WindowPlace(this.nextPlace++, crypto.randomBytes(32).toString('hex'), kept);
    this.places.set(place.id, place);
    return { place: place.id, ticket: kept > 0 ? { agentId: place.id, token: place.token, graceSeconds: kept } : null };
  }

  /**
   * The place of `ticket`, whose socket closed, for a window coming back: waits while the link to
   * the agent is being resumed. `streams`: the records of each stream the window received; those
   * written to it that it never got are counted as dropped. Throws an AgentSessionError
   * ('session-refused', 'session-expired') when there is no such place to give.
   */
  async reclaim(ticket: ResumeTicket, streams: { streamId: string; decoded: number }[], signal: AbortSignal): Promise<{ place: number; resumed: SharedResumed }> {
    const place = this.places.get(ticket.agentId);
    if (place === undefined || place.released) {
      throw new AgentSessionError('session-expired', `Nothing of this window is held on ${this.description} any more: its grace period ended, or the session process restarted.`);
    }
    const given = Buffer.from(String(ticket.token), 'utf8');
    const expected = Buffer.from(place.token, 'utf8');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      throw new AgentSessionError('session-refused', `The ticket does not match this window's place on ${this.description}; nothing was resumed.`);
    }
    if (place.socket !== undefined) this.detach(place);
    try {
      await this.currentLink(signal);
    } catch (error) {
      if (this.gone === undefined) throw error;
      throw new AgentSessionError('session-expired', `What this window held on ${this.description} is gone: ${this.gone.message}`);
    }
    if (place.released) throw new AgentSessionError('session-expired', `What this window held on ${this.description} was released while it was away.`);
    clearTimeout(place.keepTimer);
    place.keepTimer = undefined;
    for (const { streamId, decoded } of streams) {
      const share = place.streams.get(streamId);
      if (share === undefined || !Number.isSafeInteger(decoded)) continue;
      share.droppedHere += Math.max(0, share.forwarded - decoded);
    }
    for (const share of place.streams.values()) share.forwarded = 0;
    return {
      place: place.id,
      resumed: {
        objects: [...place.objects],
        streams: [...place.streams].flatMap(([streamId, share]) => {
          const counters = this.lastCounters.get(streamId);
          return counters === undefined ? [] : [{ streamId, counters: adjusted(counters, share.droppedHere) }];
        }),
      },
    };
  }

  /** Serves the window of `placeId` on `socket` until it closes; its place is then kept or released. */
  serve(placeId: number, socket: Duplex): Promise<void> {
    const place = this.places.get(placeId);
    if (place === undefined) {
      socket.destroy();
      return Promise.resolve();
    }
    const connection = createMessageConnection(new LineMessageReader(socket), new LineMessageWriter(socket));
    place.connection = connection;
    place.socket = socket;
    connection.onRequest((method, params, token) => {
      const earlier = [...place.inFlight.keys()];
      const controller = new AbortController();
      const cancelled = token.onCancellationRequested(() => controller.abort(new Error('cancelled by the window')));
      const run = this.handle(place, method, params, controller.signal, earlier);
      place.inFlight.set(run, controller);
      const forget = (): void => {
        cancelled.dispose();
        place.inFlight.delete(run);
      };
      run.then(forget, forget);
      return run;
    });
    const closed = new Promise<void>((resolve) => {
      connection.onClose(() => {
        if (place.connection === connection) this.detach(place);
        resolve();
      });
    });
    connection.listen();
    // The session process read the request line off a paused socket; a paused stream stays paused when listened to.
    socket.resume();
    const held = place.held;
    place.held = [];
    place.heldBytes = 0;
    for (const { method, params, streamId, records } of held) {
      void connection.sendNotification(method, params);
      const share = streamId === undefined ? undefined : place.streams.get(streamId);
      if (share !== undefined) share.forwarded += records;
    }
    return closed;
  }

  /** Notifications of `link` reach the windows from now on (a resumed agent's, before its answer). */
  listenTo(link: SharedAgentLink): void {
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions = [
      link.onNotification('events', (batch) => this.onEvents(batch)),
      link.onNotification('stream.ended', (ended) => this.onStreamEnded(ended)),
      link.onNotification('trace', (trace) => this.onTrace(trace)),
    ];
  }

  /**
   * The link to the agent dropped and the session process is resuming it: every window's socket
   * closes (their places are kept) and their requests wait for the resume.
   */
  linkLost(reason: Error): void {
    this.link = undefined;
    for (const place of this.places.values()) {
      // The link's own words, as a window's own agent session would have said them.
      if (place.socket !== undefined) this.close(place, { reason: reason.message, resumable: place.graceSeconds > 0 });
    }
  }

  /** The agent was resumed on `link`; `held`: what it still holds (session.resume's answer). */
  linkResumed(link: SharedAgentLink, held: { streams: { streamId: string; counters: StreamCounters }[]; objects: string[] }): void {
    const objects = new Set(held.objects);
    const streams = new Map(held.streams.map((s) => [s.streamId, s.counters]));
    for (const [streamId, counters] of streams) this.lastCounters.set(streamId, counters);
    for (const place of this.places.values()) {
      for (const id of place.objects) if (!objects.has(id)) place.objects.delete(id);
      for (const id of place.streams.keys()) if (!streams.has(id)) this.forgetStream(id);
    }
    this.link = link;
    for (const waiter of this.linkWaiters) waiter.resolve(link);
    this.linkWaiters.clear();
    this.log(`shared agent on ${this.description}: resumed, ${held.objects.length} object(s) and ${held.streams.length} stream(s) still held`);
  }

  /** The agent is gone for good (not resumed in time, stopped): every window is told and closed. */
  end(reason: Error): void {
    if (this.gone !== undefined) return;
    this.gone = reason;
    this.link = undefined;
    for (const s of this.subscriptions) s.dispose();
    for (const waiter of this.linkWaiters) waiter.reject(reason);
    this.linkWaiters.clear();
    for (const place of this.places.values()) {
      clearTimeout(place.keepTimer);
      place.released = true;
      if (place.socket !== undefined) this.close(place, { reason: reason.message, resumable: false });
    }
    this.places.clear();
    this.streamOwners.clear();
    this.traceFollowers.clear();
  }

  /** For session.resume: the records of each stream this process received from the agent. */
  streamsReceived(): { streamId: string; decoded: number }[] {
    return [...this.received].map(([streamId, decoded]) => ({ streamId, decoded }));
  }

  private async handle(place: WindowPlace, method: string, params: unknown, signal: AbortSignal, earlier: Promise<unknown>[]): Promise<unknown> {
    try {
      if (!Object.hasOwn(agentMethods, method)) throw new ResponseError(ErrorCode.MethodNotFound, `The agent has no method "${method}".`);
      const p = (typeof params === 'object' && params !== null && !Array.isArray(params) ? params : {}) as Record<string, unknown>;
      this.checkOwner(place, p);
      switch (method as AgentMethod) {
        case 'hello':
          return { ...this.hello, resume: null };
        case 'session.resume':
          throw new ResponseError(ErrorCode.InvalidRequest, 'A window comes back to a shared agent through the session process (`share` with its ticket), not with session.resume.');
        case 'session.end':
          place.ended = true;
          return {};
        case 'reset':
          await Promise.allSettled(earlier);
          return await this.releaseAll(place, signal);
        case 'trace.start':
          return await this.follow(place, signal);
        case 'trace.stop':
          return await this.unfollow(place, signal);
        default:
          break;
      }
      const result = await this.forward(method as AgentMethod, p, signal);
      return this.record(place, method as AgentMethod, p, result);
    } catch (error) {
      throw this.asResponseError(method, error, signal);
    }
  }

  /** A handle of another window (or none) is unknown to this one, as the agent says of one it never gave. */
  private checkOwner(place: WindowPlace, params: Record<string, unknown>): void {
    const { objectId, linkId, streamId } = params;
    if (typeof objectId === 'string' && !place.objects.has(objectId)) {
      throw new ResponseError(ErrorCode.UnknownObject, `Object ${objectId} is not held for this client; compile the file again.`);
    }
    if (typeof linkId === 'string' && !place.links.has(linkId)) throw new ResponseError(ErrorCode.UnknownHandle, `Link ${linkId} is not one of this client's.`);
    if (typeof streamId === 'string' && !place.streams.has(streamId)) throw new ResponseError(ErrorCode.UnknownHandle, `Stream ${streamId} is not one of this client's.`);
  }

  private async forward(method: AgentMethod, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const link = await this.currentLink(signal);
    return link.request(method, params as never, signal);
  }

  /** Notes what the answer gave the window, and gives the window its own counters. */
  private record(place: WindowPlace, method: AgentMethod, params: Record<string, unknown>, result: unknown): unknown {
    const r = result as Record<string, unknown>;
    switch (method) {
      case 'compile':
      case 'object.put': {
        const objectId = (r as Partial<CompileResult>).objectId;
        if (typeof objectId === 'string') place.objects.add(objectId);
        break;
      }
      case 'release':
        place.objects.delete(params['objectId'] as string);
        break;
      case 'attach':
        if (typeof r['linkId'] === 'string') place.links.add(r['linkId']);
        break;
      case 'detach':
        place.links.delete(params['linkId'] as string);
        break;
      case 'stream.start':
        if (typeof r['streamId'] === 'string') {
          place.streams.set(r['streamId'], { droppedHere: 0, forwarded: 0 });
          this.streamOwners.set(r['streamId'], place);
        }
        break;
      case 'stream.stop': {
        const streamId = params['streamId'] as string;
        const share = place.streams.get(streamId);
        this.forgetStream(streamId);
        return adjusted(result as StreamCounters, share?.droppedHere ?? 0);
      }
      default:
        break;
    }
    return result;
  }

  private async follow(place: WindowPlace, signal: AbortSignal): Promise<object> {
    if (place.trace !== undefined) throw new ResponseError(ErrorCode.InvalidParams, 'trace_pipe is already followed by this client; call trace.stop first.');
    if (this.traceFollowers.size === 0) {
      await this.forward('trace.start', {}, signal);
      this.traceDroppedByAgent = 0;
    }
    place.trace = { sent: 0, dropped: 0 };
    this.traceFollowers.add(place);
    return {};
  }

  private async unfollow(place: WindowPlace, signal: AbortSignal): Promise<TraceStopResult> {
    const share = place.trace;
    if (share === undefined) throw new ResponseError(ErrorCode.UnknownHandle, 'trace_pipe is not being followed by this client; call trace.start first.');
    place.trace = undefined;
    this.traceFollowers.delete(place);
    if (this.traceFollowers.size === 0) await this.forward('trace.stop', {}, signal);
    return { received: share.sent + share.dropped, sent: share.sent, dropped: share.dropped };
  }

  /** `reset`, and a window that left: what it holds is released, its trace follower stopped. */
  private async releaseAll(place: WindowPlace, signal: AbortSignal): Promise<{ releasedObjects: number; traceStopped: boolean }> {
    let releasedObjects = 0;
    for (const objectId of [...place.objects]) {
      try {
        await this.forward('release', { objectId }, signal);
        releasedObjects++;
      } catch (error) {
        // Already gone on the agent (a UnknownObject answer) is what release wanted; the rest is said.
        if (!(error instanceof AgentError && error.code === ErrorCode.UnknownObject)) throw error;
      }
      place.objects.delete(objectId);
    }
    for (const streamId of [...place.streams.keys()]) this.forgetStream(streamId);
    place.links.clear();
    const traceStopped = place.trace !== undefined;
    if (traceStopped) await this.unfollow(place, signal);
    return { releasedObjects, traceStopped };
  }

  private currentLink(signal: AbortSignal): Promise<SharedAgentLink> {
    if (this.gone !== undefined) return Promise.reject(this.gone);
    if (this.link !== undefined) return Promise.resolve(this.link);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (link: SharedAgentLink) => {
          signal.removeEventListener('abort', onAbort);
          resolve(link);
        },
        reject: (reason: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      const onAbort = (): void => {
        this.linkWaiters.delete(waiter);
        reject(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.linkWaiters.add(waiter);
    });
  }

  private asResponseError(method: string, error: unknown, signal: AbortSignal): ResponseError<unknown> {
    if (error instanceof ResponseError) return error;
    if (error instanceof AgentError) return new ResponseError(error.code, error.message, error.data);
    if (signal.aborted) return new ResponseError(ErrorCode.RequestCancelled, 'The request was cancelled.');
    const message = error instanceof Error ? error.message : String(error);
    return new ResponseError(ErrorCode.InternalError, `${method} did not reach the agent on ${this.description}: ${message}`);
  }

  /** The window's socket closed: with a grace period and no session.end its place is kept, else released. */
  private detach(place: WindowPlace): void {
    const connection = place.connection;
    place.connection = undefined;
    place.socket = undefined;
    connection?.dispose();
    this.keepOrRelease(place);
  }

  private keepOrRelease(place: WindowPlace): void {
    if (place.released) return;
    if (place.ended || place.graceSeconds === 0) {
      void this.release(place, place.ended ? 'the window ended its session' : 'its client left');
      return;
    }
    clearTimeout(place.keepTimer);
    place.keepTimer = setTimeout(() => void this.release(place, `its window did not come back within ${place.graceSeconds} s`), place.graceSeconds * 1000);
  }

  private async release(place: WindowPlace, why: string): Promise<void> {
    if (place.released) return;
    place.released = true;
    clearTimeout(place.keepTimer);
    for (const controller of place.inFlight.values()) controller.abort(new Error(why));
    await Promise.allSettled([...place.inFlight.keys()]);
    const releasing = new AbortController();
    const held = place.objects.size;
    try {
      await this.releaseAll(place, releasing.signal);
      this.log(`shared agent on ${this.description}: released client ${place.id}'s ${held} object(s): ${why}`);
    } catch (error) {
      // A link that is down for good took everything with it (the agent releases it all); anything else is logged.
      if (this.gone === undefined) this.log(`shared agent on ${this.description}: releasing client ${place.id}'s objects failed: ${(error as Error).message}`);
    } finally {
      this.places.delete(place.id);
    }
  }

  /** Says why, then closes the window's socket; from now on the place is away (nothing more is written to that socket). */
  private close(place: WindowPlace, notice: SharedClosingNotice): void {
    const { connection, socket } = place;
    if (connection === undefined || socket === undefined) return;
    place.connection = undefined;
    place.socket = undefined;
    this.keepOrRelease(place);
    void connection.sendNotification(SHARED_CLOSING_NOTIFICATION, notice).finally(() => {
      socket.end();
      connection.dispose();
    });
  }

  private onEvents(batch: EventsNotification): void {
    const count = batch.sizes.length;
    this.received.set(batch.streamId, (this.received.get(batch.streamId) ?? 0) + count);
    this.lastCounters.set(batch.streamId, batch.counters);
    const owner = this.streamOwners.get(batch.streamId);
    const share = owner?.streams.get(batch.streamId);
    if (owner === undefined || share === undefined) return;
    const sent = this.deliver(owner, 'events', () => ({ ...batch, counters: adjusted(batch.counters, share.droppedHere) }), batch.data.length, batch.streamId, count);
    if (sent === 'written') share.forwarded += count;
    else if (sent === 'dropped') share.droppedHere += count;
  }

  private onStreamEnded(ended: StreamEndedNotification): void {
    const owner = this.streamOwners.get(ended.streamId);
    const share = owner?.streams.get(ended.streamId);
    this.forgetStream(ended.streamId);
    if (owner === undefined || share === undefined) return;
    // The last word on a stream is always kept: it is small, and the window waits for it.
    this.deliver(owner, 'stream.ended', () => ({ ...ended, counters: adjusted(ended.counters, share.droppedHere) }), 0, undefined, 0);
  }

  private onTrace(trace: TraceNotification): void {
    const newlyDropped = Math.max(0, trace.dropped - this.traceDroppedByAgent);
    this.traceDroppedByAgent = Math.max(this.traceDroppedByAgent, trace.dropped);
    for (const place of this.traceFollowers) {
      const share = place.trace!;
      share.dropped += newlyDropped;
      const backedUp = place.socket === undefined || place.socket.writableLength > WINDOW_BACKLOG_BYTES;
      // trace_pipe lines are not kept for a window that is away: they are counted.
      if (backedUp) {
        share.dropped += trace.lines.length;
        continue;
      }
      share.sent += trace.lines.length;
      void place.connection!.sendNotification('trace', { lines: trace.lines, dropped: share.dropped });
    }
  }

  /**
   * Sends a notification to the window now, holds it while the window is away (up to the bound),
   * or drops it; says which.
   */
  private deliver(place: WindowPlace, method: string, params: () => object, bytes: number, streamId: string | undefined, records: number): 'written' | 'held' | 'dropped' {
    if (place.connection !== undefined && place.socket !== undefined) {
      if (bytes > 0 && place.socket.writableLength > WINDOW_BACKLOG_BYTES) return 'dropped';
      void place.connection.sendNotification(method, params());
      return 'written';
    }
    if (bytes > 0 && place.heldBytes + bytes > DETACHED_BUFFER_BYTES) return 'dropped';
    place.held.push({ method, params: params(), records, ...(streamId !== undefined && { streamId }) });
    place.heldBytes += bytes;
    return 'held';
  }

  private forgetStream(streamId: string): void {
    this.streamOwners.get(streamId)?.streams.delete(streamId);
    this.streamOwners.delete(streamId);
    this.received.delete(streamId);
    this.lastCounters.delete(streamId);
  }
}

/** The agent's counters of a stream as one window sees them: what was dropped here moves from sent to dropped. */
function adjusted(counters: StreamCounters, droppedHere: number): StreamCounters {
  if (droppedHere === 0) return counters;
  return { received: counters.received, sent: Math.max(0, counters.sent - droppedHere), dropped: counters.dropped + droppedHere };
}
