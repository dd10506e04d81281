/**
 * The event flood soak: records asked of the kernel at a million a second (by default) for
 * minutes, streamed through the agent over SSH on loopback (a private sshd) into a client that
 * decodes them and keeps them as the Events view does (bench/eventFloodRun.ts). Prints a sample
 * every few seconds, then per measure its min and max after the warm-up and its trend (a
 * least-squares slope in MiB per minute, and the mean of the first third against the last), the
 * rate reached, the drops by where they happened, and the accounting, which must be exact (exit 1
 * when it is not). Figures are reported, never asserted: a bench, not a test.
 *
 *   npm run bench:flood -- [--minutes 10] [--rate 1000000] [--threads 1] [--per-call 64]
 *                          [--sample-seconds 5] [--warmup-seconds 60] [--json FILE]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openAgentSession, type AgentSession } from '../remote-agent/client/agentSession';
import { startSshd } from '../test/support/sshd';
import { accountingErrors, buildFlooder, floodSoak, type FloodResult, type FloodSample } from './eventFloodRun';

const root = join(__dirname, '..');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000000' },
    threads: { type: 'string', default: '1' },
    'per-call': { type: 'string', default: '64' },
    'sample-seconds': { type: 'string', default: '5' },
    'warmup-seconds': { type: 'string' },
    json: { type: 'string' },
  },
});
const seconds = Number(values.minutes) * 60;
const rate = Number(values.rate);
const threads = Number(values.threads);
const perCall = Number(values['per-call']);
const sampleSeconds = Number(values['sample-seconds']);
const warmupSeconds = values['warmup-seconds'] === undefined ? Math.min(60, seconds / 10) : Number(values['warmup-seconds']);
for (const [name, v] of Object.entries({ minutes: seconds, rate, threads, 'per-call': perCall, 'sample-seconds': sampleSeconds, 'warmup-seconds': warmupSeconds })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number ≥ 0`);
}

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const f1 = (v: number): string => v.toFixed(1);

function printSample(s: FloodSample, previous: FloodSample | undefined): void {
  const dt = s.at - (previous?.at ?? 0);
  const perS = (now: number, then: number): string => n((now - then) / dt);
  console.log(
    [
      f1(s.at).padStart(7),
      perS(s.asked, previous?.asked ?? 0).padStart(11),
      perS(s.decoded, previous?.decoded ?? 0).padStart(11),
      n(s.agentDropped).padStart(13),
      `${f1(s.agent.rss)}/${f1(s.agent.anon)}`.padStart(13),
      `${f1(s.clientRss)}/${f1(s.clientHeap)}/${f1(s.clientBuffers)}`.padStart(17),
      `${f1(s.loopP50)}/${f1(s.loopP99)}/${f1(s.loopMax)}`.padStart(18),
    ].join(' '),
  );
}

/** Least-squares slope of (t seconds, v) in v per minute. */
function slopePerMinute(points: [number, number][]): number {
  if (points.length < 2) return 0;
  const mt = points.reduce((a, [t]) => a + t, 0) / points.length;
  const mv = points.reduce((a, [, v]) => a + v, 0) / points.length;
  const num = points.reduce((a, [t, v]) => a + (t - mt) * (v - mv), 0);
  const den = points.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function report(r: FloodResult): void {
  const steady = r.samples.filter((s) => s.at >= warmupSeconds && s.at <= r.floodSeconds);
  const measures: [string, (s: FloodSample) => number][] = [
    ['agent RSS (MiB)', (s) => s.agent.rss],
    ['agent RssAnon (MiB)', (s) => s.agent.anon],
    ['agent mapped (MiB)', (s) => s.agent.mapped],
    ['client RSS (MiB)', (s) => s.clientRss],
    ['client heap used (MiB)', (s) => s.clientHeap],
    ['client ArrayBuffers (MiB)', (s) => s.clientBuffers],
    ['event-loop delay p99 (ms)', (s) => s.loopP99],
    ['event-loop delay max (ms)', (s) => s.loopMax],
  ];
  console.log(`\nAfter the ${f1(warmupSeconds)} s warm-up (${steady.length} samples):`);
  console.log(`${'measure'.padEnd(28)}${'min'.padStart(9)}${'max'.padStart(9)}${'slope/min'.padStart(11)}${'first ⅓'.padStart(10)}${'last ⅓'.padStart(10)}`);
  for (const [name, of] of measures) {
    const vs = steady.map(of);
    if (vs.length === 0) continue;
    const third = Math.max(1, Math.floor(vs.length / 3));
    console.log(
      `${name.padEnd(28)}${f1(Math.min(...vs)).padStart(9)}${f1(Math.max(...vs)).padStart(9)}${f1(slopePerMinute(steady.map((s) => [s.at, of(s)]))).padStart(11)}` +
        `${f1(mean(vs.slice(0, third))).padStart(10)}${f1(mean(vs.slice(-third))).padStart(10)}`,
    );
  }
  const s = r.summary;
  const pct = (x: number): string => `${((100 * x) / Math.max(1, r.asked)).toFixed(2)} %`;
  console.log(`\nAgent pid ${r.agentPid}: before the flood RSS ${f1(r.agentBefore.rss)} MiB (anon ${f1(r.agentBefore.anon)}), peak (VmHWM) ${f1(r.samples.at(-1)!.agent.hwm)} MiB.`);
  console.log(`Client heap before the flood ${f1(r.clientHeapBefore)} MiB.`);
  console.log(`Flood: ${f1(r.floodSeconds)} s, ${n(r.asked)} records asked for (${n(r.asked / r.floodSeconds)}/s; asked ${rate === 0 ? 'unpaced' : `${n(rate)}/s`}, ${threads} thread(s), ${perCall} per call).`);
  console.log(`  decoded by the client: ${n(r.decoded)} (${pct(r.decoded)}, ${n(r.decoded / r.floodSeconds)}/s over the flood)`);
  console.log(`  dropped, ring buffer full (counted by the program): ${n(r.ringFull)} (${pct(r.ringFull)})`);
  console.log(`  dropped by the agent, its queue at its limit: ${n(s.dropped)} (${pct(s.dropped)})`);
  console.log(`  dropped by the client: none can be (it stops reading the agent while batches wait; the agent's queue then fills)`);
  console.log(`  the Events view model holds ${n(r.rowsHeld)} rows`);
  const errors = accountingErrors(r);
  if (errors.length === 0) console.log(`Accounting exact: asked ${n(r.asked)} = ring full ${n(r.ringFull)} + agent dropped ${n(s.dropped)} + decoded ${n(r.decoded)}.`);
  else {
    console.log(`Accounting NOT exact:\n  ${errors.join('\n  ')}`);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const out = mkdtempSync(join(os.tmpdir(), 'ebpf-flood-soak-'));
  const sshd = await startSshd();
  let session: AgentSession | undefined;
  try {
    const flooder = buildFlooder(out);
    session = await openAgentSession({
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
      agentSourceDir: join(root, 'remote-agent/agent'),
      agentBinaryDir: join(root, 'out/agent-bin'),
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      clientVersion: 'event-flood-bench',
    });
    console.log(`Event flood soak: ${f1(seconds / 60)} min, kernel ${os.release()}, ${os.cpus().length} CPUs, load average ${os.loadavg().map(f1).join(' ')}, agent over SSH on loopback`);
    console.log(`${'t (s)'.padStart(7)} ${'asked/s'.padStart(11)} ${'decoded/s'.padStart(11)} ${'agent drops'.padStart(13)} ${'agent rss/anon'.padStart(13)} ${'client rss/heap/buf'.padStart(17)} ${'loop p50/p99/max'.padStart(18)}`);
    let previous: FloodSample | undefined;
    const result = await floodSoak(session, flooder, {
      seconds,
      rate,
      threads,
      perCall,
      sampleSeconds,
      onSample: (s) => {
        printSample(s, previous);
        previous = s;
      },
    });
    report(result);
    console.log(`Load average at the end: ${os.loadavg().map(f1).join(' ')}`);
    if (values.json) writeFileSync(values.json, JSON.stringify({ options: { seconds, rate, threads, perCall, sampleSeconds, warmupSeconds }, kernel: os.release(), ...result }, null, 2));
  } finally {
    await session?.dispose();
    await sshd.stop();
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
