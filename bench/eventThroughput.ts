/**
 * Event throughput, measured in one run side by side on the same flood program:
 *   native: a plain libbpf consumer (bench/native/ringbufDrain.c) writing each record to /dev/null;
 *   eBPF Studio: the agent over SSH on loopback (private sshd) → JSON-RPC batches → the client
 *       decoding every record with the program's BTF into named fields; in the live flood also
 *       through the session process's shared agent, as an editor window with the default settings
 *       gets its records (relayed batch by batch by out/cli.js: run `npm run build` first).
 * Three situations:
 *   live flood: the flooder runs while the consumer reads (both share this machine's CPUs, as on a
 *       real host); events/s = records consumed / time to the last one, plus what got lost;
 *   drain: the ring buffer is filled first with no reader, then drained: the consumer's own ceiling;
 *   slow reader: eBPF Studio with a client that spends --slow-reader-us per record: records are
 *       dropped (and counted) by the agent, and the client's peak RSS stays bounded.
 *
 * The flood: bench/native/flood.bpf.c, a tracepoint on sys_enter_getpgid that emits one 32-byte
 * record per getpgid(0x5eed5eed) (other processes' getpgid calls are filtered out), driven by
 * bench/native/syscallFlood.c in a tight loop. A real tracepoint and a real syscall rather than
 * BPF_PROG_TEST_RUN because that is the path users run: attach by section, records produced in
 * the kernel while another process runs, consumer woken by the ring buffer's epoll.
 *
 *   node --import tsx bench/eventThroughput.ts [--seconds 5] [--slow-reader-us 50]
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openAgentSession, type AgentSession } from '../remote-agent/client/agentSession';
import { startProgramRun } from '../remote-agent/client/openProgramRun';
import type { EventBatch } from '../remote-agent/client/programRun';
import { agentThroughSessionProcess } from '../remote-agent/client/sessionProcessAgent';
import { startSshd } from '../test/support/sshd';
import { stopSessionProcessesIn } from '../test/support/sessionProcesses';

const root = path.join(__dirname, '..');
const nativeDir = path.join(root, 'bench/native');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, 'slow-reader-us': { type: 'string', default: '50' } } });
const seconds = Number(values.seconds);
const slowReaderUs = Number(values['slow-reader-us']);
/** Unread, the flooder makes ~7 M records/s here; the 256 MiB ring holds 6.7 M of 40 bytes (record + header). */
const DRAIN_FLOOD_S = 0.5;

interface Measured {
  produced: number;
  /** Records that reached the consumer (decoded, for eBPF Studio). */
  consumed: number;
  /** From flood start to the last record consumed. */
  elapsedS: number;
  /** Records the agent dropped because the client was behind. */
  droppedByAgent?: number;
  peakRssMiB?: number;
  rssBeforeMiB?: number;
}

function build(out: string): void {
  execFileSync('make', ['-s', '-C', nativeDir, `O=${out}`, `VMLINUX_DIR=${out}`], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Runs syscallFlood for `seconds`; resolves with the number of getpgid calls it made. */
function flood(out: string, floodSeconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(out, 'syscallFlood'), [String(floodSeconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(stdout.trim())) : reject(new Error(`syscallFlood exited with ${code}`))));
  });
}

async function measureNative(out: string, mode: 'live' | 'drain'): Promise<Measured> {
  const args = [path.join(out, 'flood.bpf.o'), 'flood', String(seconds + 2), ...(mode === 'drain' ? ['--drain'] : [])];
  const drain = spawn(path.join(out, 'ringbufDrain'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  drain.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  await new Promise<void>((resolve, reject) => {
    drain.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('attached')) resolve();
    });
    drain.on('exit', (code) => reject(new Error(`ringbufDrain exited with ${code}: ${stderr}`)));
  });
  const started = performance.now();
  const produced = await flood(out, mode === 'drain' ? DRAIN_FLOOD_S : seconds);
  const floodS = (performance.now() - started) / 1000;
  const exited = new Promise<void>((resolve) => drain.on('exit', () => resolve()));
  if (mode === 'drain') drain.kill('SIGUSR1');
  await exited;
  const { received, seconds: drainS } = JSON.parse(stdout) as { received: number; seconds: number };
  // Live, the native consumer keeps up within a poll interval: its rate is received over the flood's time.
  return { produced, consumed: received, elapsedS: mode === 'drain' ? drainS : floodS };
}

async function measureStudio(session: AgentSession, out: string, mode: 'live' | 'drain', slowUsPerRecord = 0): Promise<Measured> {
  const file = path.join(nativeDir, 'flood.bpf.c');
  const { report, run } = await startProgramRun(session.client, file, {
    target: session.description,
    kernelRelease: session.hello.kernelRelease,
    deferStreams: mode === 'drain',
  });
  if (!run) throw new Error(`flood.bpf.c did not pass: ${JSON.stringify(report.diagnostics)}`);
  let consumed = 0;
  let lastAt = 0;
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  let lastSeq = -1;
  run.onEvents((batch: EventBatch) => {
    consumed += batch.records.length;
    lastAt = performance.now();
    // Touch a decoded field so the work cannot be skipped, and check records arrive in order.
    const seq = (batch.records[batch.records.length - 1] as { seq: number }).seq;
    if (seq <= lastSeq) throw new Error(`records out of order: ${seq} after ${lastSeq}`);
    lastSeq = seq;
    if (slowUsPerRecord > 0) {
      const until = performance.now() + (batch.records.length * slowUsPerRecord) / 1000;
      while (performance.now() < until);
    }
  });
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  let started = performance.now();
  let produced: number;
  if (mode === 'drain') {
    produced = await flood(out, DRAIN_FLOOD_S);
    started = performance.now();
    await run.startStreams();
  } else {
    produced = await flood(out, seconds);
  }
  // Let what is queued in the agent and in flight arrive: until nothing came for 1 s.
  while (performance.now() - Math.max(lastAt, started) < 1000) await new Promise((r) => setTimeout(r, 100));
  clearInterval(sampler);
  const summary = await run.stop();
  const stream = summary.streams[0];
  return {
    produced,
    consumed,
    elapsedS: (lastAt - started) / 1000,
    droppedByAgent: stream.dropped,
    peakRssMiB: peakRss / 1048576,
    rssBeforeMiB: rssBefore / 1048576,
  };
}

function rate(m: Measured): number {
  return m.consumed / m.elapsedS;
}

async function main(): Promise<void> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-event-bench-'));
  const sshd = await startSshd();
  let session: AgentSession | undefined;
  try {
    build(out);
    session = await openAgentSession({
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
      agentSourceDir: path.join(root, 'remote-agent/agent'),
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      clientVersion: 'event-throughput-bench',
    });
    // The slow reader first, so its peak RSS is not the high-water mark of a faster phase.
    const rows: [string, Measured][] = [];
    const nativeLive = await measureNative(out, 'live');
    const slow = await measureStudio(session, out, 'live', slowReaderUs);
    const studioLive = await measureStudio(session, out, 'live');
    const sessionDir = path.join(out, 'session');
    fs.mkdirSync(sessionDir, { mode: 0o700 });
    process.env['EBPF_STUDIO_SESSION_DIR'] = sessionDir;
    let sharedLive: Measured;
    const place = await agentThroughSessionProcess(
      { cliEntry: path.join(root, 'out/cli.js'), execPath: process.execPath, execArgv: [] },
      { share: { target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user }, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile, sshClient: 'builtin', canPrompt: false, clientVersion: 'event-throughput-bench', graceSeconds: 120 } },
      { signal: new AbortController().signal },
    );
    if ('direct' in place) throw new Error(`the session process did not share its agent: ${place.notice}`);
    try {
      sharedLive = await measureStudio(place, out, 'live');
    } finally {
      await place.dispose();
      stopSessionProcessesIn(sessionDir);
    }
    const nativeDrain = await measureNative(out, 'drain');
    const studioDrain = await measureStudio(session, out, 'drain');
    rows.push(['live flood: native libbpf → /dev/null', nativeLive], ['live flood: eBPF Studio over SSH, decoded', studioLive], ['live flood: … through the shared agent, decoded', sharedLive]);
    rows.push(['drain full ring: native libbpf → /dev/null', nativeDrain], ['drain full ring: eBPF Studio over SSH, decoded', studioDrain]);
    rows.push([`slow reader (${slowReaderUs} µs/record): eBPF Studio`, slow]);

    const n = (v: number) => Math.round(v).toLocaleString('en-US');
    const cell = (v: string, w: number) => v.padStart(w);
    console.log(`Event throughput: 32-byte ring buffer records from a getpgid tracepoint, ${seconds} s live flood, kernel ${os.release()}, ${os.cpus().length} CPUs`);
    console.log(`${'consumer'.padEnd(48)}${cell('events/s', 12)}${cell('produced', 12)}${cell('consumed', 12)}${cell('agent drop', 12)}${cell('kernel lost', 12)}${cell('RSS→peak', 14)}${cell('vs native', 11)}`);
    for (const [name, m] of rows) {
      const native = name.startsWith('drain') ? nativeDrain : nativeLive;
      const kernelLost = m.produced - m.consumed - (m.droppedByAgent ?? 0);
      console.log(
        `${name.padEnd(48)}${cell(n(rate(m)), 12)}${cell(n(m.produced), 12)}${cell(n(m.consumed), 12)}${cell(m.droppedByAgent === undefined ? '-' : n(m.droppedByAgent), 12)}${cell(n(kernelLost), 12)}${cell(m.peakRssMiB === undefined ? '-' : `${m.rssBeforeMiB!.toFixed(0)}→${m.peakRssMiB.toFixed(0)} MiB`, 14)}${cell(`${(rate(m) / rate(native)).toFixed(2)}x`, 11)}`,
      );
    }
    console.log('events/s = records consumed (decoded, for eBPF Studio) / time from the start to the last record. kernel lost = ring buffer full when the program reserved.');
    console.log('RSS→peak: the client process (this one) before the phase and its peak during it.');
  } finally {
    await session?.dispose();
    await sshd.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
