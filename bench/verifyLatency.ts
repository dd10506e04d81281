/**
 * Save → verdict latency: how long one check of a program takes through eBPF Studio's agent
 * (session already open, as in the editor), side by side with the manual way a developer would
 * do it by hand on the same machine (clang against a pre-generated vmlinux.h, then
 * `bpftool prog loadall`), in one run. Reports p50/p95 and the ratio manual / ours.
 *
 *   node --import tsx bench/verifyLatency.ts [--runs N] [--ssh]
 * --ssh also measures through a private sshd on 127.0.0.1 (the loopback cost of the SSH path).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openAgentSession, type AgentSession } from '../remote-agent/client/agentSession';
import { checkFile } from '../remote-agent/client/checkFile';
import { startSshd } from '../test/support/sshd';

const root = path.join(__dirname, '..');
const program = path.join(root, 'bpf-templates/tracepoint-ringbuf/execsnoop.bpf.c');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, ssh: { type: 'boolean', default: false } } });
const runs = Number(values.runs);

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeRuns(runOnce: () => Promise<void> | void): Promise<number[]> {
  await runOnce(); // warm caches (vmlinux.h, PCH, page cache) for both sides alike
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await runOnce();
    samples.push(performance.now() - start);
  }
  return samples;
}

async function measureSession(session: AgentSession): Promise<number[]> {
  return timeRuns(async () => {
    const report = await checkFile(session.client, program, { target: session.description, kernelRelease: session.hello.kernelRelease });
    if (!report.compiled || report.programs.some((p) => !p.ok)) throw new Error(`benchmark program did not pass: ${JSON.stringify(report.diagnostics)}`);
  });
}

function measureManual(): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-bench-'));
  fs.writeFileSync(path.join(dir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));
  const pin = `/sys/fs/bpf/ebpf-studio-bench-${process.pid}`;
  return timeRuns(() => {
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${dir}`, `-I${path.dirname(program)}`, '-c', program, '-o', path.join(dir, 'prog.o')]);
    execFileSync('bpftool', ['prog', 'loadall', path.join(dir, 'prog.o'), pin]);
    fs.rmSync(pin, { recursive: true, force: true });
  }).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

function row(name: string, samples: number[], manualP50: number): string {
  const p50 = percentile(samples, 50);
  return `${name.padEnd(34)} ${p50.toFixed(0).padStart(6)} ms ${percentile(samples, 95).toFixed(0).padStart(6)} ms   ${(manualP50 / p50).toFixed(2)}x`;
}

async function main(): Promise<void> {
  const agentSourceDir = path.join(root, 'remote-agent/agent');
  const clientVersion = 'bench';
  const manual = await measureManual();
  const local = await openAgentSession({ target: { kind: 'local' }, agentSourceDir, clientVersion });
  const rows = [row('manual: clang + bpftool loadall', manual, percentile(manual, 50))];
  try {
    rows.push(row('eBPF Studio, local agent', await measureSession(local), percentile(manual, 50)));
  } finally {
    await local.dispose();
  }
  if (values.ssh) {
    const sshd = await startSshd();
    try {
      const session = await openAgentSession({
        target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
        identityFile: sshd.identityFile,
        knownHostsFile: sshd.knownHostsFile,
        agentSourceDir,
        clientVersion,
      });
      try {
        rows.push(row('eBPF Studio, agent over SSH (lo)', await measureSession(session), percentile(manual, 50)));
      } finally {
        await session.dispose();
      }
    } finally {
      await sshd.stop();
    }
  }
  console.log(`check of ${path.relative(root, program)} (includes vmlinux.h), ${runs} runs after one warm-up, kernel ${os.release()}`);
  console.log(`${''.padEnd(34)} ${'p50'.padStart(9)} ${'p95'.padStart(9)}   speed-up vs manual (p50)`);
  for (const r of rows) console.log(r);
}

main().catch((e) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
