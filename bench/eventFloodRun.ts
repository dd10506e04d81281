/**
 * One flood soak, measured: bench/native/soak_flood.bpf.c attached through the same client path
 * the editor takes (openProgramRun, then attachProgram: verify, compile, load, attach, stream),
 * its records decoded and kept the way the Events view keeps them (every record flattened into a
 * row, the newest 5,000 held), while bench/native/pacedFlood asks the kernel for records at a
 * given rate. Every few seconds a sample: the agent's memory (from its /proc status on the
 * target), this client's memory and event-loop delay, records asked for, received and dropped.
 * At the end the accounting, which must be exact: every record asked for was refused by a full
 * ring (the program counts those), dropped by the agent (its queue at its limit) or decoded here.
 *
 * Shared by bench/eventFlood.ts (minutes, printed) and test/integration/eventFlood.test.ts (a
 * short run whose accounting and memory bounds are asserted). The target is this machine: the
 * agent's /proc is read here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AgentSession } from '../remote-agent/client/agentSession';
import { openProgramRun } from '../remote-agent/client/openProgramRun';
import type { EventBatch, RunSummary } from '../remote-agent/client/programRun';
import { EVENTS_MAX_ROWS, RowTable, type RecordValue } from '../extension/eventRows';
import { processHoldingProgram } from '../test/support/processTree';

export const soakNativeDir = join(__dirname, 'native');
export const soakProgram = join(soakNativeDir, 'soak_flood.bpf.c');
const MiB = 1024 * 1024;
/** The event-loop delay histogram's timer, ms. */
const LOOP_RESOLUTION_MS = 10;

export interface FloodOptions {
  seconds: number;
  /** Records per second asked of the kernel, all threads together; 0: as fast as the flooder can. */
  rate: number;
  threads: number;
  /** Records per getpgid call (bpf_loop in the program). */
  perCall: number;
  sampleSeconds: number;
  /** Leave the ring buffer unread for the flood's first this many seconds (it fills, and refuses records); default: read from the start. */
  readAfterSeconds?: number;
  onSample?: (sample: FloodSample) => void;
}

export interface AgentMemory {
  /** VmRSS, VmHWM (peak), RssAnon (its own heap and queues), RssFile + RssShmem (mapped files, ring buffer pages), MiB. */
  rss: number;
  hwm: number;
  anon: number;
  mapped: number;
}

export interface FloodSample {
  /** Seconds since the flood started. */
  at: number;
  /** Records the flooder asked for so far (its last progress line). */
  asked: number;
  /** Records decoded by this client so far. */
  decoded: number;
  /** The agent's counters in its latest batch: records read from the ring, dropped at its queue limit. */
  agentReceived: number;
  agentDropped: number;
  agent: AgentMemory;
  /** This process: RSS, V8 heap used, ArrayBuffers (Buffers), MiB. */
  clientRss: number;
  clientHeap: number;
  clientBuffers: number;
  /** Event-loop delay since the previous sample beyond the monitor's 10 ms timer, ms: median, 99th percentile, longest. */
  loopP50: number;
  loopP99: number;
  loopMax: number;
}

export interface FloodResult {
  samples: FloodSample[];
  /** The flooder's own total: records asked for. */
  asked: number;
  floodSeconds: number;
  /** The program's per-CPU counters, summed: records asked for, records a full ring refused. */
  kernelAsked: number;
  ringFull: number;
  summary: RunSummary['streams'][number];
  /** Records this client decoded (counted in its handler). */
  decoded: number;
  /** Rows the Events view model holds at the end. */
  rowsHeld: number;
  agentPid: number;
  /** Agent memory once the program is attached, before the flood. */
  agentBefore: AgentMemory;
  /** Client heap before the flood, MiB. */
  clientHeapBefore: number;
}

/** Builds the flooder into @outDir; returns its path. */
export function buildFlooder(outDir: string): string {
  execFileSync('make', ['-s', '-C', soakNativeDir, `O=${outDir}`, 'soak'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return join(outDir, 'pacedFlood');
}

/** The agent's memory from /proc/PID/status. */
export function agentMemory(pid: number): AgentMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(m[1]) / 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), anon: kib('RssAnon'), mapped: kib('RssFile') + kib('RssShmem') };
}

/** The program's per-CPU counters summed: [asked, ring full]. */
async function kernelCounts(session: AgentSession, objectId: string): Promise<[number, number]> {
  const sum = async (index: number): Promise<number> => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const { values } = await session.client.request('map.lookup', { objectId, map: 'soak_counts', key: key.toString('base64') });
    if (!values) throw new Error(`soak_counts has no entry ${index}`);
    return values.reduce((n, v) => n + Number(Buffer.from(v, 'base64').readBigUInt64LE(0)), 0);
  };
  return [await sum(0), await sum(1)];
}

/** Runs @flooder for the flood; `total` resolves with its total, `stop()` ends it early. Progress lines go to @onProgress. */
function runFlooder(flooder: string, o: FloodOptions, onProgress: (asked: number) => void): { total: Promise<number>; stop: () => void } {
  let stop = (): void => {};
  const total = new Promise<number>((resolve, reject) => {
    const child = spawn(flooder, [String(o.seconds), String(o.rate), String(o.threads), String(o.perCall)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    let stderr = '';
    let total: number | undefined;
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const done = /^total (\d+)$/.exec(line);
        if (done) total = Number(done[1]);
        else onProgress(Number(line.split(' ')[1]));
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && total !== undefined) resolve(total);
      else reject(new Error(`pacedFlood exited with ${code}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    stop = () => child.kill('SIGTERM');
  });
  return { total, stop };
}

/**
 * The soak: attach, flood for o.seconds while sampling, let what is queued arrive (until nothing
 * came for 2 s), read the kernel's counters, stop the run (final agent counters). Throws when the
 * program does not pass or cannot attach; the accounting is for the caller to judge.
 */
export async function floodSoak(session: AgentSession, flooder: string, o: FloodOptions): Promise<FloodResult> {
  const { report, run } = await openProgramRun(session.client, soakProgram, {
    target: session.description,
    kernelRelease: session.hello.kernelRelease,
    deferStreams: o.readAfterSeconds !== undefined,
  });
  if (!run) throw new Error(`soak_flood.bpf.c did not pass on ${session.description}: ${JSON.stringify(report.diagnostics)}`);
  // What the Events view keeps of the stream (eventsView.ts): its row table.
  const view = new RowTable();
  let decoded = 0;
  let lastArrival = performance.now();
  let latest: EventBatch['counters'] = { received: 0, sent: 0, dropped: 0 };
  run.onEvents((batch) => {
    decoded += batch.records.length;
    latest = batch.counters;
    lastArrival = performance.now();
    view.add(batch.records as RecordValue[], batch.receivedAt);
  });
  let stopped = false;
  try {
    const attached = await run.attachProgram('soak_getpgid');
    const agentPid = processHoldingProgram(attached.programId);
    const agentBefore = agentMemory(agentPid);
    const clientHeapBefore = process.memoryUsage().heapUsed / MiB;

    const samples: FloodSample[] = [];
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    let asked = 0;
    const started = performance.now();
    let agentGone: { at: number; error: unknown } | undefined;
    let flooding: ReturnType<typeof runFlooder> | undefined;
    const sample = (): void => {
      let agent: AgentMemory;
      try {
        agent = agentMemory(agentPid);
      } catch (error) {
        // The agent ended mid-flood: stop flooding and say why (its session's reason) below.
        agentGone ??= { at: (performance.now() - started) / 1000, error };
        flooding?.stop();
        return;
      }
      const mem = process.memoryUsage();
      // The histogram holds the timer's whole interval: an idle loop reads as the resolution itself.
      const ms = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
      const s: FloodSample = {
        at: (performance.now() - started) / 1000,
        asked,
        decoded,
        agentReceived: latest.received,
        agentDropped: latest.dropped,
        agent,
        clientRss: mem.rss / MiB,
        clientHeap: mem.heapUsed / MiB,
        clientBuffers: mem.arrayBuffers / MiB,
        loopP50: ms(loop.percentile(50)),
        loopP99: ms(loop.percentile(99)),
        loopMax: ms(loop.max),
      };
      loop.reset();
      samples.push(s);
      o.onSample?.(s);
    };
    const sampler = setInterval(sample, o.sampleSeconds * 1000);
    let total: number;
    try {
      flooding = runFlooder(flooder, o, (n) => (asked = n));
      const reading = o.readAfterSeconds === undefined ? Promise.resolve() : new Promise((r) => setTimeout(r, o.readAfterSeconds! * 1000)).then(() => run.startStreams());
      total = await flooding.total.catch((error: unknown) => {
        if (agentGone) return 0; // stopped because the agent is gone: that is the error to report
        throw error;
      });
      await reading;
    } finally {
      clearInterval(sampler);
    }
    if (agentGone) {
      const reason = await Promise.race([session.closed, new Promise<Error>((r) => setTimeout(() => r(new Error('its session has not closed')), 5000))]);
      stopped = true; // nothing left to stop on a dead agent
      throw new Error(`the agent (pid ${agentPid}) ended ${agentGone.at.toFixed(1)} s into the flood (${agentGone.error instanceof Error ? agentGone.error.message : String(agentGone.error)}): ${reason.message}`);
    }
    const floodSeconds = (performance.now() - started) / 1000;
    asked = total;
    while (performance.now() - lastArrival < 2000) await new Promise((r) => setTimeout(r, 100));
    sample();
    loop.disable();
    const [kernelAsked, ringFull] = await kernelCounts(session, run.objectId);
    stopped = true;
    const summary = await run.stop();
    return { samples, asked: total, floodSeconds, kernelAsked, ringFull, summary: summary.streams[0]!, decoded, rowsHeld: view.ring.length, agentPid, agentBefore, clientHeapBefore };
  } finally {
    if (!stopped) await run.stop();
  }
}

/** What must hold after a soak, each line a broken promise; empty when the accounting is exact. */
export function accountingErrors(r: FloodResult): string[] {
  const errors: string[] = [];
  const s = r.summary;
  if (r.kernelAsked !== r.asked) errors.push(`the program saw ${r.kernelAsked} records asked for, the flooder asked for ${r.asked}`);
  if (r.ringFull + s.received !== r.kernelAsked) errors.push(`ring full ${r.ringFull} + read by the agent ${s.received} != asked ${r.kernelAsked}`);
  if (s.sent + s.dropped !== s.received) errors.push(`the agent sent ${s.sent} + dropped ${s.dropped} != read ${s.received}`);
  if (s.decoded !== s.sent || r.decoded !== s.sent) errors.push(`the agent sent ${s.sent}, the run decoded ${s.decoded}, the handler counted ${r.decoded}`);
  if (r.rowsHeld !== Math.min(EVENTS_MAX_ROWS, r.decoded)) errors.push(`the view holds ${r.rowsHeld} rows of ${r.decoded} decoded`);
  return errors;
}
