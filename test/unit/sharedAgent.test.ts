/**
 * The agent all of a user's editor windows share (cli/sharedAgent.ts), in-process: windows are
 * AgentClients on real Unix sockets, the agent a scripted stand-in that records what reached it.
 * Each window gets its own answers, owns what it created (another window cannot name it, `reset`
 * releases only the caller's), gets only its own streams' records, shares one trace_pipe follower;
 * a window that leaves without `session.end` keeps its place for the grace period; after a dropped
 * link a window comes back with its ticket to the records held for it, counted.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { SharedAgent, type SharedAgentLink } from '../../cli/sharedAgent';
import { AgentClient, AgentError } from '../../remote-agent/client/agentClient';
import { SHARED_CLOSING_NOTIFICATION, type SharedClosingNotice } from '../../remote-agent/client/sessionProcessWire';
import { ErrorCode, type EventsNotification, type HelloResult, type ResumeTicket, type TraceNotification } from '../../remote-agent/protocol';

const hello = { agentVersion: 'test', protocolVersion: 2, kernelRelease: '6.1.0', arch: 'x86_64', resume: null } as unknown as HelloResult;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'shared-agent-test-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The agent's stand-in: answers as the agent would, records every request, emits what a test says. */
class StandInAgent implements SharedAgentLink {
  readonly calls: { method: string; params: Record<string, unknown> }[] = [];
  private readonly handlers = new Map<string, Set<(params: never) => void>>();
  private next = 1;
  /** Answers held back until released (by method), to make answers arrive in another order. */
  readonly gates = new Map<string, Promise<void>>();

  async request(method: string, params: unknown): Promise<never> {
    const p = params as Record<string, unknown>;
    this.calls.push({ method, params: p });
    const serial = this.next++;
    await this.gates.get(`${method}:${JSON.stringify(p)}`);
    switch (method) {
      case 'compile':
        return { ok: true, objectId: `o${serial}-${String((p['source'] as { path: string } | undefined)?.path ?? '')}` } as never;
      case 'stream.start':
        return { streamId: `s${serial}`, kind: 'ringbuf', recordsLimit: 0 } as never;
      case 'stream.stop':
        return { received: 10, sent: 10, dropped: 0 } as never;
      case 'trace.stop':
        return { received: 0, sent: 0, dropped: 0 } as never;
      default:
        return {} as never;
    }
  }

  onNotification(method: string, handler: (params: never) => void): { dispose(): void } {
    const set = this.handlers.get(method) ?? new Set();
    this.handlers.set(method, set);
    set.add(handler);
    return { dispose: () => set.delete(handler) };
  }

  emit(method: 'events' | 'trace' | 'stream.ended', params: object): void {
    for (const handler of this.handlers.get(method) ?? []) handler(params as never);
  }

  called(method: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.params);
  }
}

interface Window {
  client: AgentClient;
  ticket: ResumeTicket;
  place: number;
  events: EventsNotification[];
  trace: TraceNotification[];
  closing: SharedClosingNotice | undefined;
  /** Resolves when the shared agent stopped serving this socket. */
  served: Promise<void>;
  socket: net.Socket;
}

let nextSocket = 1;

/** A connected pair of Unix sockets: the window's end and the session process's end. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const file = path.join(scratch, `w${nextSocket++}.sock`);
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(file, resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ path: file, allowHalfOpen: true });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const serverSide = await accepted;
  server.close();
  return [client, serverSide];
}

async function open(shared: SharedAgent, place?: { place: number; ticket: ResumeTicket | null }): Promise<Window> {
  const given = place ?? shared.newPlace();
  const [mine, theirs] = await socketPair();
  const window = { ticket: given.ticket, place: given.place, events: [], trace: [], closing: undefined, socket: mine } as unknown as Window;
  window.client = new AgentClient(mine, mine, {
    notifications: { [SHARED_CLOSING_NOTIFICATION]: (notice) => (window.closing = notice as SharedClosingNotice) },
  });
  window.client.onNotification('events', (batch) => window.events.push(batch));
  window.client.onNotification('trace', (trace) => window.trace.push(trace));
  theirs.once('end', () => theirs.end());
  window.served = shared.serve(given.place, theirs);
  return window;
}

function sharedAgent(agent: StandInAgent, graceSeconds = 60): { shared: SharedAgent; logged: string[] } {
  const logged: string[] = [];
  return { shared: new SharedAgent(hello, 'root@box:22', graceSeconds, agent, (line) => logged.push(line)), logged };
}

function compile(window: Window, file: string): Promise<{ objectId: string | null }> {
  return window.client.request('compile', { source: { path: file, content: '' } } as never);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function batch(streamId: string, records: number, counters: { received: number; sent: number; dropped: number }): EventsNotification {
  return { streamId, data: Buffer.alloc(records * 4).toString('base64'), sizes: Array(records).fill(4), counters };
}

test('each window gets the answers to its own requests, whatever order the agent answers in', async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  const b = await open(shared);
  let releaseA!: () => void;
  agent.gates.set(`compile:${JSON.stringify({ source: { path: 'a.bpf.c', content: '' } })}`, new Promise((resolve) => (releaseA = resolve)));
  const fromA = compile(a, 'a.bpf.c');
  const fromB = await compile(b, 'b.bpf.c');
  releaseA();
  assert.equal(fromB.objectId, 'o2-b.bpf.c');
  assert.equal((await fromA).objectId, 'o1-a.bpf.c');
  assert.deepEqual(await a.client.request('hello', { clientVersion: 'x' }), { ...hello, resume: null });
  a.client.dispose();
  b.client.dispose();
});

test("a window cannot name another window's object, link or stream: the agent never sees the request", async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  const b = await open(shared);
  const { objectId } = await compile(a, 'a.bpf.c');
  await assert.rejects(b.client.request('load', { objectId: objectId! } as never), (error: AgentError) => error.code === ErrorCode.UnknownObject && /not held for this client/.test(error.message));
  await assert.rejects(b.client.request('stream.stop', { streamId: 's9' }), (error: AgentError) => error.code === ErrorCode.UnknownHandle);
  await assert.rejects(b.client.request('detach', { linkId: 'l1' }), (error: AgentError) => error.code === ErrorCode.UnknownHandle);
  assert.deepEqual(agent.called('load'), []);
  await a.client.request('load', { objectId: objectId! } as never);
  assert.deepEqual(agent.called('load'), [{ objectId }]);
  a.client.dispose();
  b.client.dispose();
});

test("reset releases the caller's objects only, after the requests it sent before", async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  const b = await open(shared);
  const mine = await compile(a, 'a.bpf.c');
  const theirs = await compile(b, 'b.bpf.c');
  let releaseLate!: () => void;
  agent.gates.set(`compile:${JSON.stringify({ source: { path: 'late.bpf.c', content: '' } })}`, new Promise((resolve) => (releaseLate = resolve)));
  const late = compile(a, 'late.bpf.c');
  const reset = a.client.request('reset', {});
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(agent.called('release'), [], 'reset waits for the compile sent before it');
  releaseLate();
  assert.deepEqual(await reset, { releasedObjects: 2, traceStopped: false });
  assert.deepEqual(agent.called('release'), [{ objectId: mine.objectId }, { objectId: (await late).objectId }]);
  await b.client.request('object.maps', { objectId: theirs.objectId! });
  a.client.dispose();
  b.client.dispose();
});

test("a stream's records and its end go to the window that started it, and to no other", async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  const b = await open(shared);
  const { objectId } = await compile(a, 'a.bpf.c');
  const { streamId } = await a.client.request('stream.start', { objectId: objectId!, map: 'events' } as never);
  agent.emit('events', batch(streamId, 3, { received: 3, sent: 3, dropped: 0 }));
  const ended: unknown[] = [];
  a.client.onNotification('stream.ended', (e) => ended.push(e));
  b.client.onNotification('stream.ended', (e) => ended.push(e));
  agent.emit('stream.ended', { streamId, reason: 'object released', counters: { received: 3, sent: 3, dropped: 0 } });
  await until(() => ended.length === 1 && a.events.length === 1, 'the records and the end');
  assert.equal(a.events[0]!.sizes.length, 3);
  assert.deepEqual(b.events, []);
  assert.deepEqual(ended, [{ streamId, reason: 'object released', counters: { received: 3, sent: 3, dropped: 0 } }]);
  a.client.dispose();
  b.client.dispose();
});

test('trace_pipe is followed once for every window that asks, and stopped when the last one stops', async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  const b = await open(shared);
  await a.client.request('trace.start', {});
  await b.client.request('trace.start', {});
  await assert.rejects(b.client.request('trace.start', {}), /already followed by this client/);
  assert.equal(agent.called('trace.start').length, 1);
  agent.emit('trace', { lines: ['one', 'two'], dropped: 0 });
  await until(() => a.trace.length === 1 && b.trace.length === 1, 'both windows to get the lines');
  assert.deepEqual(b.trace[0], { lines: ['one', 'two'], dropped: 0 });
  assert.deepEqual(await a.client.request('trace.stop', {}), { received: 2, sent: 2, dropped: 0 });
  assert.equal(agent.called('trace.stop').length, 0, 'b still follows');
  agent.emit('trace', { lines: ['three'], dropped: 1 });
  await until(() => b.trace.length === 2, 'the line for b');
  assert.deepEqual(b.trace[1], { lines: ['three'], dropped: 1 });
  assert.equal(a.trace.length, 1);
  assert.deepEqual(await b.client.request('trace.stop', {}), { received: 4, sent: 3, dropped: 1 });
  assert.equal(agent.called('trace.stop').length, 1);
  a.client.dispose();
  b.client.dispose();
});

test('a window that leaves without session.end keeps its place for the grace period; one that ends it is released at once', async () => {
  const agent = new StandInAgent();
  const { shared, logged } = sharedAgent(agent, 0.4);
  const away = await open(shared);
  const ending = await open(shared);
  const kept = await compile(away, 'away.bpf.c');
  const gone = await compile(ending, 'ending.bpf.c');
  away.socket.destroy();
  await ending.client.request('session.end', {});
  ending.socket.end();
  await until(() => agent.called('release').length === 1, 'the ended window to be released');
  assert.deepEqual(agent.called('release'), [{ objectId: gone.objectId }]);
  assert.equal(shared.windows, 1);
  await until(() => agent.called('release').length === 2, 'the grace period to end');
  assert.deepEqual(agent.called('release')[1], { objectId: kept.objectId });
  assert.equal(shared.windows, 0);
  assert.match(logged.join('\n'), /did not come back within 0.4 s/);
});

test('after a dropped link, a window comes back with its ticket to its things and the records held for it, counted', async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  const other = await open(shared);
  const { objectId } = await compile(a, 'a.bpf.c');
  const { streamId } = await a.client.request('stream.start', { objectId: objectId!, map: 'events' } as never);
  agent.emit('events', batch(streamId, 5, { received: 5, sent: 5, dropped: 0 }));
  await until(() => a.events.length === 1, 'the first records');

  shared.linkLost(new Error('connection to root@box:22 lost: keepalive timeout'));
  await a.client.closed;
  assert.deepEqual(a.closing, { reason: 'connection to root@box:22 lost: keepalive timeout', resumable: true });
  await other.client.closed;

  // A request made while the link is down waits for the resume.
  const resumedAgent = new StandInAgent();
  shared.listenTo(resumedAgent);
  resumedAgent.emit('events', batch(streamId, 2, { received: 9, sent: 7, dropped: 2 }));
  await assert.rejects(
    shared.reclaim({ ...a.ticket, token: '0'.repeat(64) }, [], AbortSignal.timeout(1000)),
    (error: Error & { kind?: string }) => error.kind === 'session-refused',
  );
  const reclaimed = shared.reclaim(a.ticket, [{ streamId, decoded: 4 }], AbortSignal.timeout(5000));
  shared.linkResumed(resumedAgent, { objects: [objectId!], streams: [{ streamId, counters: { received: 9, sent: 7, dropped: 2 } }] });
  const { place, resumed } = await reclaimed;
  // One record written to the old socket never reached the window: it is counted as dropped.
  assert.deepEqual(resumed, { objects: [objectId], streams: [{ streamId, counters: { received: 9, sent: 6, dropped: 3 } }] });
  const back = await open(shared, { place, ticket: a.ticket });
  await until(() => back.events.length === 1, 'the records held while away');
  assert.equal(back.events[0]!.sizes.length, 2);
  await back.client.request('object.maps', { objectId: objectId! });
  assert.deepEqual(resumedAgent.called('object.maps'), [{ objectId }]);
  await assert.rejects(shared.reclaim({ agentId: 99, token: 'x', graceSeconds: 60 }, [], AbortSignal.timeout(1000)), (error: Error & { kind?: string }) => error.kind === 'session-expired');
  back.client.dispose();
});

test('an agent gone for good closes every window with the reason, and nothing is resumable', async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent);
  const a = await open(shared);
  shared.end(new Error('the link stayed down longer than the 60 s grace period'));
  await a.client.closed;
  assert.deepEqual(a.closing, { reason: 'the link stayed down longer than the 60 s grace period', resumable: false });
  await assert.rejects(shared.reclaim(a.ticket, [], AbortSignal.timeout(1000)), (error: Error & { kind?: string }) => error.kind === 'session-expired');
  assert.equal(shared.windows, 0);
});

test('without a grace period a window gets no ticket, and what it made is released as soon as it leaves', async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent, 0);
  const a = await open(shared);
  assert.equal(a.ticket, null);
  const { objectId } = await compile(a, 'a.bpf.c');
  a.socket.destroy();
  await until(() => agent.called('release').length === 1, 'the release');
  assert.deepEqual(agent.called('release'), [{ objectId }]);
  assert.equal(shared.windows, 0);
});

test("a run's place on an agent kept through dropped links has no ticket and is released as soon as the run leaves, even while the link is down", async () => {
  const agent = new StandInAgent();
  const { shared } = sharedAgent(agent, 60);
  const run = await open(shared, shared.newPlace(0));
  assert.equal(run.ticket, null);
  const { objectId } = await compile(run, 'a.bpf.c');
  shared.linkLost(new Error('connection to root@box:22 lost: reset'));
  await run.client.closed;
  assert.deepEqual(run.closing, { reason: 'connection to root@box:22 lost: reset', resumable: false });
  const resumed = new StandInAgent();
  shared.listenTo(resumed);
  shared.linkResumed(resumed, { objects: [objectId!], streams: [] });
  await until(() => resumed.called('release').length === 1, 'the release once the link is back');
  assert.deepEqual(resumed.called('release'), [{ objectId }]);
  assert.equal(shared.windows, 0);
});
