/**
 * A short run of the flood soak (bench/eventFloodRun.ts; `npm run bench:flood` runs it for
 * minutes): a million records a second asked of this machine's kernel for 20 s, streamed by the
 * agent over SSH on loopback (a private sshd) into a client that decodes and keeps them as the
 * Events view does. What it asserts holds however busy the machine is: the accounting is exact —
 * every record asked for was refused by a full ring buffer (the program counts those), dropped
 * by the agent at its queue limit (it counts those) or decoded by the client, and none twice —
 * and memory stays below bounds the design sets, not timings: the agent's own memory grows by at
 * most its queue limit and its output buffer, and the client, which stops reading while batches
 * wait, holds nothing of the flood once it has ended but the Events view's 5,000 rows. A second
 * case leaves the ring unread until it is full, so the program's count of refused records is in
 * the accounting too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { accountingErrors, buildFlooder, floodSoak } from '../../bench/eventFloodRun';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { AgentLimits } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

const root = join(__dirname, '..', '..');
const MiB = 1024 * 1024;
const SECONDS = Number(process.env.FLOOD_SECONDS ?? 20);

function missingPrerequisite(): string | null {
  return agentPrerequisiteMissing() ?? sshdUnavailableReason();
}
const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('event flood: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

let sshd: PrivateSshd;
let scratch: string;
before(async () => {
  if (missing) return;
  sshd = await startSshd();
  scratch = mkdtempSync(join(tmpdir(), 'event-flood-'));
});
after(async () => {
  await sshd?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** V8's full collection, so what the heap holds afterwards is what is still referenced. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test(`a ${SECONDS} s flood of a million records a second through the editor's run path: every record decoded, dropped or refused, and counted; memory bounded`, { skip: missing ?? false, timeout: 300_000 }, async (t: TestContext) => {
  const flooder = buildFlooder(scratch);
  let session: AgentSession | undefined;
  t.after(() => session?.dispose());
  session = await openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agentSourceDir: join(root, 'remote-agent/agent'),
    agentBinaryDir: join(root, 'out/agent-bin'),
    clientVersion: 'eventFlood.test',
  });
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed / MiB;
  const r = await floodSoak(session, flooder, { seconds: SECONDS, rate: 1_000_000, threads: 1, perCall: 64, sampleSeconds: 1 });

  assert.deepEqual(accountingErrors(r), []);
  const s = r.summary;
  assert.equal(r.asked, r.ringFull + s.dropped + r.decoded);
  assert.ok(r.decoded > 0, 'records reached the client');
  assert.equal(r.rowsHeld, 5000);

  // The agent: its queue (the protocol's default limit) and its output buffer, nothing per record it saw.
  const agentGrowth = Math.max(...r.samples.map((x) => x.agent.anon)) - r.agentBefore.anon;
  // 12 MiB beside the queue: the output buffer (1 MiB high-water plus a batch), the queue's array of record sizes, the allocator's slack.
  const bound = AgentLimits.streamDefaultQueueLimitBytes + 12 * MiB;
  assert.ok(agentGrowth * MiB <= bound, `the agent's own memory grew by ${agentGrowth.toFixed(1)} MiB (bound: its ${AgentLimits.streamDefaultQueueLimitBytes / MiB} MiB queue + 12 MiB)`);
  // The client: while the flood runs, at most 8 batches wait (agentClient.ts) beside the view's rows; after it, only the rows.
  const clientPeakHeap = Math.max(...r.samples.map((x) => x.clientHeap));
  assert.ok(clientPeakHeap - heapBefore <= 256, `the client's heap grew by ${(clientPeakHeap - heapBefore).toFixed(1)} MiB during the flood (bound 256 MiB)`);
  collectGarbage();
  const heapAfter = process.memoryUsage().heapUsed / MiB;
  assert.ok(heapAfter - heapBefore <= 32, `the client's heap after the flood is ${(heapAfter - heapBefore).toFixed(1)} MiB above where it started (bound 32 MiB)`);

  t.diagnostic(
    `${r.asked.toLocaleString('en-US')} records asked for in ${r.floodSeconds.toFixed(1)} s (${Math.round(r.asked / r.floodSeconds).toLocaleString('en-US')}/s): ` +
      `${r.decoded.toLocaleString('en-US')} decoded, ${s.dropped.toLocaleString('en-US')} dropped by the agent, ${r.ringFull.toLocaleString('en-US')} refused by a full ring; ` +
      `agent RssAnon ${r.agentBefore.anon.toFixed(1)} → max ${(r.agentBefore.anon + agentGrowth).toFixed(1)} MiB; client heap ${heapBefore.toFixed(1)} → peak ${clientPeakHeap.toFixed(1)} → ${heapAfter.toFixed(1)} MiB after`,
  );
});

test('a ring buffer left unread while the flood fills it: the records it refused are counted, and the accounting stays exact', { skip: missing ?? false, timeout: 300_000 }, async (t: TestContext) => {
  const flooder = buildFlooder(scratch);
  let session: AgentSession | undefined;
  t.after(() => session?.dispose());
  session = await openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agentSourceDir: join(root, 'remote-agent/agent'),
    agentBinaryDir: join(root, 'out/agent-bin'),
    clientVersion: 'eventFlood.test',
  });
  // 64 MiB of 40-byte slots hold 1,677,721 records: 4 s of a million a second do not fit, and nothing reads them before.
  const r = await floodSoak(session, flooder, { seconds: 6, rate: 1_000_000, threads: 1, perCall: 64, sampleSeconds: 1, readAfterSeconds: 4 });
  assert.deepEqual(accountingErrors(r), []);
  assert.ok(r.ringFull > 0, `a full ring refused records (asked ${r.asked}, read ${r.summary.received})`);
  assert.equal(r.asked, r.ringFull + r.summary.dropped + r.decoded);
  t.diagnostic(`${r.asked.toLocaleString('en-US')} asked for: ${r.ringFull.toLocaleString('en-US')} refused by the full ring, ${r.summary.dropped.toLocaleString('en-US')} dropped by the agent, ${r.decoded.toLocaleString('en-US')} decoded`);
});
