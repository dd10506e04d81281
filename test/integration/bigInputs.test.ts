/**
 * Inputs at the sizes that break tools, checked the way the editor checks a file (a local agent
 * session and checkFile) on this machine's kernel: a program the verifier walks until its million
 * instructions, whose log is over 16 MiB; an object with 64 programs; a 10,000-line source file.
 * Each verdict arrives whole and exact, and the agent's peak memory (VmHWM) and the client's stay
 * within bounds a workstation affords. Times are reported as diagnostics, never asserted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';
import { programFixtures } from '../support/rawAgent';
import { commOf, descendantsOf } from '../support/processTree';

const root = join(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'big-inputs-test-'));
const MiB = 1 << 20;
/** The agent holds a verifier log of at most 64 MiB (verify.c's LOG_MAX) and its JSON reply. */
const AGENT_PEAK_BOUND = 512 * MiB;
const CLIENT_GROWTH_BOUND = 1024 * MiB;

let session: AgentSession;
let agentPid: number;

before(async () => {
  session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir: join(root, 'remote-agent/agent'), clientVersion: 'bigInputs.test' });
  const agents = descendantsOf(process.pid).filter((pid) => commOf(pid) === 'ebpf-agent');
  assert.equal(agents.length, 1, `one agent below this process: ${agents.join(', ')}`);
  agentPid = agents[0]!;
});

after(async () => {
  await session?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

/** The agent's peak resident memory so far, bytes. */
function agentPeak(): number {
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${agentPid}/status`, 'utf8'))?.[1];
  assert.ok(kb, `VmHWM of agent ${agentPid}`);
  return Number(kb) * 1024;
}

async function check(file: string) {
  const rssBefore = process.memoryUsage().rss;
  const started = Date.now();
  const report = await checkFile(session.client, file, { target: session.description, kernelRelease: session.hello.kernelRelease });
  return { report, ms: Date.now() - started, clientGrowth: process.memoryUsage().rss - rssBefore };
}

test('a program the verifier walks to its million-instruction limit is rejected as too large, with its whole log of over 16 MiB, in bounded memory', { timeout: 600_000 }, async (t) => {
  const { report, ms, clientGrowth } = await check(join(programFixtures, 'big/million_insns.bpf.c'));
  assert.equal(report.compiled, true);
  assert.equal(report.programs.length, 1);
  const [program] = report.programs;
  assert.equal(program!.ok, false);
  assert.equal(program!.error, 'BPF program is too large. Processed 1000001 insn');
  assert.equal(program!.insnsProcessed, 1_000_001);
  assert.ok(program!.log.length > 16 * MiB, `the log is ${program!.log.length} bytes`);
  assert.match(program!.log, /BPF program is too large\. Processed 1000001 insn\n/);
  const peak = agentPeak();
  assert.ok(peak < AGENT_PEAK_BOUND, `agent peak ${peak} bytes`);
  assert.ok(clientGrowth < CLIENT_GROWTH_BOUND, `client grew ${clientGrowth} bytes`);
  t.diagnostic(`verdict in ${ms} ms; log ${(program!.log.length / MiB).toFixed(1)} MiB; agent peak ${(peak / MiB).toFixed(0)} MiB; client +${(clientGrowth / MiB).toFixed(0)} MiB`);
});

test('an object with 64 programs gets 64 verdicts, each of its own program', { timeout: 600_000 }, async (t) => {
  const file = join(scratch, 'sixty_four.bpf.c');
  const programs = Array.from({ length: 64 }, (_, n) => n);
  writeFileSync(
    file,
    [
      '// SPDX-License-Identifier: GPL-2.0',
      '#include "vmlinux.h"',
      '#include <bpf/bpf_helpers.h>',
      'struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");',
      ...programs.map((n) =>
        [
          'SEC("tracepoint/syscalls/sys_enter_getppid")',
          `int program_${n}(void *ctx)`,
          '{',
          `\t__u32 key = ${n};`,
          '\t__u64 *count = bpf_map_lookup_elem(&hits, &key);',
          '',
          `\tif (${n % 8 === 7 ? '' : '!'}count)`,
          '\t\treturn 0;',
          '\t__sync_fetch_and_add(count, 1);',
          '\treturn 0;',
          '}',
        ].join('\n'),
      ),
      'char LICENSE[] SEC("license") = "GPL";',
      '',
    ].join('\n'),
  );
  const { report, ms } = await check(file);
  assert.equal(report.compiled, true);
  assert.deepEqual(report.programs.map((p) => p.name), programs.map((n) => `program_${n}`));
  // Every eighth one adds to the count only when the lookup failed: a NULL dereference.
  const rejected = report.programs.filter((p) => !p.ok).map((p) => p.name);
  assert.deepEqual(rejected, programs.filter((n) => n % 8 === 7).map((n) => `program_${n}`));
  for (const p of report.programs.filter((p) => !p.ok)) assert.match(p.error ?? '', /invalid mem access 'scalar'|invalid mem access 'map_value_or_null'|R\d invalid mem access/);
  t.diagnostic(`64 verdicts in ${ms} ms`);
});

test('a 10,000-line source file compiles and verifies, its verdict on the program near its end', { timeout: 600_000 }, async (t) => {
  const file = join(scratch, 'ten_thousand_lines.bpf.c');
  const helpers = 1_998;
  const lines = ['// SPDX-License-Identifier: GPL-2.0', '#include "vmlinux.h"', '#include <bpf/bpf_helpers.h>'];
  for (let n = 0; n < helpers; n++) lines.push(`static __always_inline __u64 step_${n}(__u64 x)`, '{', `\treturn x * ${n + 3} + ${n};`, '}', '');
  lines.push('SEC("tracepoint/syscalls/sys_enter_getppid")', 'int near_the_end(void *ctx)', '{', `\treturn step_${helpers - 1}(bpf_get_prandom_u32()) & 1;`, '}', 'char LICENSE[] SEC("license") = "GPL";');
  while (lines.length < 10_000) lines.push('// padding: a long file is mostly what a program does not run');
  writeFileSync(file, `${lines.join('\n')}\n`);
  assert.equal(readFileSync(file, 'utf8').split('\n').length - 1, 10_000);
  const { report, ms } = await check(file);
  assert.equal(report.compiled, true);
  assert.deepEqual(report.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(report.programs.length, 1);
  assert.equal(report.programs[0]!.ok, true, report.programs[0]!.error);
  assert.equal(report.programs[0]!.line, helpers * 5 + 5, 'the program is found where it is in the file');
  t.diagnostic(`10,000 lines: verdict in ${ms} ms (compile ${report.compileMs} ms)`);
});
