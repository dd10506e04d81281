/**
 * Sessions that outlive their link, on this machine's real kernel with the agent's ASan build:
 * an agent asked for a grace period in hello keeps what it attached when its client's link drops,
 * keeps reading the stream, and a freshly started agent handed the session's token carries the
 * client over to it (session.resume). Counts are exact: a flood driver the test controls makes
 * every record, so received + dropped equals what it generated. Without a resume the agent exits
 * after the grace period and leaves nothing loaded; a wrong token or another user gets nothing.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../remote-agent/protocol';
import { getpidHalvesDriver } from '../support/getpidDriver';
import {
  agentPrerequisiteMissing,
  agentTestsGate,
  assertNoSanitizerReport,
  buildSanitizedAgent,
  programFixtures as fixtures,
  RawAgent,
  type RpcMessage,
} from '../support/rawAgent';

const skipReason = agentPrerequisiteMissing();
const t = agentTestsGate('agent resume tests', skipReason);
const scratch = mkdtempSync(join(tmpdir(), 'agent-resume-'));
if (!skipReason) buildSanitizedAgent();

after(() => rmSync(scratch, { recursive: true, force: true }));

const PER_CALL = 64;

function source(name: string) {
  return {
    files: [
      { path: name, content: readFileSync(join(fixtures, name), 'utf8') },
      { path: 'attach_events.h', content: readFileSync(join(fixtures, 'attach_events.h'), 'utf8') },
    ],
    main: name,
  };
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
}

/** The getpid driver (test/support/getpidDriver.ts), built in this file's scratch directory. */
function floodDriver(calls: number) {
  return getpidHalvesDriver(scratch, calls);
}

/** Hello with a grace period, then the flood program attached and its ring buffer streamed. */
async function floodSession(agent: RawAgent, graceSeconds: number, calls: number) {
  const hello = await agent.ok('hello', { clientVersion: 'agentResume.test', graceSeconds });
  const compiled = await agent.ok('compile', source('flood.bpf.c'));
  assert.equal(compiled.ok, true, compiled.stderr);
  const objectId: string = compiled.objectId;
  const link = await agent.ok('attach', { objectId, program: 'on_getpid' });
  const driver = floodDriver(calls);
  await agent.ok('map.update', { objectId, map: 'flood_config', key: u32(0), values: [u32(driver.pid)] });
  await agent.ok('map.update', { objectId, map: 'flood_config', key: u32(1), values: [u32(PER_CALL)] });
  const stream = await agent.ok('stream.start', { objectId, map: 'flood', maxLatencyMs: 10, maxBatchRecords: 256 });
  return { ticket: hello.resume, objectId, programId: link.programId as number, streamId: stream.streamId as string, driver };
}

/** The flood records' sequence numbers in an agent's `events` notifications of one stream. */
function sequences(agent: RawAgent, streamId: string): bigint[] {
  const out: bigint[] = [];
  for (const n of agent.notifications) {
    if (n.method !== 'events' || n.params.streamId !== streamId) continue;
    const data = Buffer.from(n.params.data, 'base64');
    let offset = 0;
    for (const size of n.params.sizes as number[]) {
      out.push(data.readBigUInt64LE(offset));
      offset += size;
    }
  }
  return out;
}

/** Links the kernel holds for one program (bpftool link show), whoever created them. */
function kernelLinksOf(programId: number): any[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })).filter((l: any) => l.prog_id === programId);
}

function programLoaded(programId: number): boolean {
  return spawnSync('bpftool', ['prog', 'show', 'id', String(programId)]).status === 0;
}

async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t('hello without a grace period gives no resume ticket, and hello bounds the grace period', async () => {
  const agent = new RawAgent({ scratchDir: scratch });
  assert.equal((await agent.ok('hello', { clientVersion: 'agentResume.test' })).resume, null);
  const tooLong = await agent.request('hello', { clientVersion: 'agentResume.test', graceSeconds: 3601 });
  assert.equal(tooLong.error?.message, 'params.graceSeconds must be an integer from 0 to 3600.');
  const ticket = (await agent.ok('hello', { clientVersion: 'agentResume.test', graceSeconds: 5 })).resume;
  assert.equal(ticket.agentId, agent.child.pid);
  assert.match(ticket.token, /^[0-9a-f]{64}$/);
  assert.equal(ticket.graceSeconds, 5);
  assert.doesNotMatch(agent.stderr, new RegExp(ticket.token), 'the token is never logged');
  const socket = join(agent.cacheDir, 'sessions', `agent-${agent.child.pid}.sock`);
  assert.equal(existsSync(socket), true);
  assert.deepEqual(await agent.ok('session.end'), {});
  assert.equal(existsSync(socket), false, 'session.end removes the socket');
  assert.equal(await agent.close(), 0);
  assertNoSanitizerReport(agent.stderr);
  agent.cleanup();
});

t('link dropped mid-stream, resumed through a fresh agent: same program attached, no record twice, received + dropped = generated', async () => {
  const calls = 400;
  const generated = calls * PER_CALL;
  const first = new RawAgent({ scratchDir: scratch });
  const session = await floodSession(first, 30, calls);
  session.driver.go();
  await first.waitFor((n) => n.method === 'events');
  first.dropLink();
  // The second half is made while no client is there: the agent must keep reading it.
  session.driver.go();
  await session.driver.done;
  const beforeDrop = sequences(first, session.streamId);
  assert.ok(beforeDrop.length > 0 && beforeDrop.length < generated, `${beforeDrop.length} records before the drop`);
  assert.equal(first.child.exitCode, null, 'the agent waits for its client');
  assert.equal(kernelLinksOf(session.programId).length, 1);

  const wrong = new RawAgent({ scratchDir: scratch, cacheDir: first.cacheDir });
  const refused = await wrong.request('session.resume', { agentId: session.ticket.agentId, token: '0'.repeat(64) });
  assert.equal(refused.error?.code, ErrorCode.SessionRefused);
  assert.equal(refused.error?.message, "The session's token does not match: nothing was resumed. Only the client that started a session can resume it; start a new session.");
  assert.equal(await wrong.exited, 0);
  assertNoSanitizerReport(wrong.stderr);

  const second = new RawAgent({ scratchDir: scratch, cacheDir: first.cacheDir });
  const resumed = await second.ok('session.resume', { ...session.ticket, streams: [{ streamId: session.streamId, decoded: beforeDrop.length }] });
  assert.equal(resumed.hello.kernelRelease, execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
  assert.equal(resumed.hello.resume, null, 'the ticket is not sent again');
  assert.deepEqual(resumed.objects, [session.objectId]);
  assert.deepEqual(resumed.streams.map((s: any) => s.streamId), [session.streamId]);
  assert.equal(resumed.streams[0].counters.sent, beforeDrop.length, 'records sent but never received count as dropped');
  await until('every record received or counted dropped', () => {
    const last = [...second.notifications].reverse().find((n: RpcMessage) => n.method === 'events');
    return last !== undefined && beforeDrop.length + sequences(second, session.streamId).length + last.params.counters.dropped === generated;
  });
  assert.equal(kernelLinksOf(session.programId).length, 1, 'the same program is still attached, once');
  const counters = await second.ok('stream.stop', { streamId: session.streamId });
  const afterResume = sequences(second, session.streamId);
  assert.equal(counters.received, generated);
  assert.equal(counters.sent, beforeDrop.length + afterResume.length);
  assert.equal(beforeDrop.length + afterResume.length + counters.dropped, generated);
  const all = [...beforeDrop, ...afterResume];
  assert.equal(new Set(all).size, all.length, 'no record arrives twice');

  assert.deepEqual(await second.ok('session.end'), {});
  assert.equal(await second.close(), 0);
  assert.equal(await first.exited, 0, 'the resumed agent ends with its client');
  assert.equal(programLoaded(session.programId), false);
  assertNoSanitizerReport(first.stderr);
  assertNoSanitizerReport(second.stderr);
  first.cleanup();
});

t('not resumed: after the grace period the agent exits and nothing of it stays loaded; a late resume says so', async () => {
  const agent = new RawAgent({ scratchDir: scratch });
  const session = await floodSession(agent, 2, 2);
  const socket = join(agent.cacheDir, 'sessions', `agent-${agent.child.pid}.sock`);
  const dropped = Date.now();
  agent.dropLink();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(programLoaded(session.programId), true, 'still loaded within the grace period');
  assert.equal(await agent.exited, 0);
  const waited = Date.now() - dropped;
  assert.ok(waited >= 2000 && waited < 4000, `exited ${waited} ms after the drop`);
  assert.equal(programLoaded(session.programId), false);
  assert.deepEqual(kernelLinksOf(session.programId), []);
  assert.equal(existsSync(socket), false);
  assertNoSanitizerReport(agent.stderr);

  const late = new RawAgent({ scratchDir: scratch, cacheDir: agent.cacheDir });
  const expired = await late.request('session.resume', session.ticket);
  assert.equal(expired.error?.code, ErrorCode.SessionExpired);
  assert.equal(expired.error?.message, "The target's agent ended after the grace period (or was stopped); programs were detached. Start them again in a new session.");
  assert.equal(await late.close(), 0);
  assertNoSanitizerReport(late.stderr);
  session.driver.go();
  session.driver.go();
  agent.cleanup();
});

t("another user's agent cannot reach the session socket", async () => {
  const owner = new RawAgent({ scratchDir: scratch });
  const ticket = (await owner.ok('hello', { clientVersion: 'agentResume.test', graceSeconds: 30 })).resume;
  // The other user's agent needs a TMPDIR it can write; the cache dir it is pointed at is the owner's.
  const otherTmp = mkdtempSync(join(tmpdir(), 'agent-resume-nobody-'));
  chmodSync(otherTmp, 0o777);
  const other = new RawAgent({ scratchDir: otherTmp, cacheDir: owner.cacheDir, runAs: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] });
  const refused = await other.request('session.resume', ticket);
  assert.equal(refused.error?.code, ErrorCode.SessionRefused);
  assert.equal(refused.error?.message, `Cannot use the session directory ${owner.cacheDir}/sessions: Permission denied.`);
  assert.equal(await other.close(), 0);
  rmSync(otherTmp, { recursive: true, force: true });
  assert.equal(owner.child.exitCode, null, 'the owner keeps serving its client');
  assert.deepEqual(await owner.ok('session.end'), {});
  assert.equal(await owner.close(), 0);
  assertNoSanitizerReport(owner.stderr);
  owner.cleanup();
});
