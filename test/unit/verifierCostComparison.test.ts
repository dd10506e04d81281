/**
 * The verifier cost comparison (remote-agent/client/verifierCostComparison.ts): the rows built from
 * two sides' reports, with their differences and flags, and the table as text, which must equal
 * test/fixtures/cost-comparison/table.txt (UPDATE_EXPECT=1 rewrites it).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { CheckReport, ProgramReport } from '../../remote-agent/client/checkReport';
import { compareVerifierCost, costSideOf, differenceText, flaggedRows, formatCostComparison } from '../../remote-agent/client/verifierCostComparison';

const TABLE = path.join(import.meta.dirname, '..', 'fixtures', 'cost-comparison', 'table.txt');

/** The statistics line of a verifier log, which names the limit on processed instructions. */
function statsLog(insns: number, totalStates: number, peakStates: number, limit = 1_000_000): string {
  return `processed ${insns} insns (limit ${limit}) max_states_per_insn 1 total_states ${totalStates} peak_states ${peakStates} mark_read 1`;
}

function program(name: string, ok: boolean, insnCount: number, insnsProcessed: number, states: [number, number], timeUs: number | null, stackDepth: number | null, log: string): ProgramReport {
  return { name, section: 'tracepoint/x', type: 'tracepoint', ok, insnCount, insnsProcessed, totalStates: states[0], peakStates: states[1], verificationTimeUs: timeUs, stackDepth, log, ...(ok ? {} : { error: 'rejected' }) };
}

function report(file: string, compiled: boolean, programs: ProgramReport[]): CheckReport {
  return { file, target: 'local', kernelRelease: '6.18.0', compiled, diagnostics: [], programs, compileMs: 1, loadMs: 1, compiledOn: 'target' };
}

const base = costSideOf(
  'probe.bpf.c at HEAD on local (6.18.0)',
  [
    report('/w/probe.bpf.c', true, [
      program('count_execs', true, 40, 120, [10, 4], 310, 8, statsLog(120, 10, 4)),
      program('handle_exit', true, 30, 350, [0, 0], 95, 16, statsLog(350, 0, 0)),
      program('walk_tree', true, 200, 600000, [9000, 300], 250000, 400, statsLog(600000, 9000, 300)),
      program('old_probe', true, 12, 12, [1, 1], 20, 0, statsLog(12, 1, 1)),
      program('strict_check', true, 25, 80, [6, 3], null, 24, statsLog(80, 6, 3)),
    ]),
    report('/w/other.bpf.c', true, [program('other_prog', true, 10, 10, [1, 1], 12, 0, statsLog(10, 1, 1))]),
    report('/w/broken.bpf.c', false, []),
  ],
  (file) => path.relative('/w', file),
);

const current = costSideOf(
  'probe.bpf.c as edited on local (6.18.0)',
  [
    report('/w/probe.bpf.c', true, [
      program('count_execs', true, 52, 372, [31, 9], 702, 16, `verification time 702 usec\nstack depth max 16\n${statsLog(372, 31, 9)}`),
      program('handle_exit', true, 31, 362, [3, 2], 90, 16, statsLog(362, 3, 2)),
      program('walk_tree', true, 230, 950000, [14000, 420], 910000, 400, statsLog(950000, 14000, 420)),
      program('strict_check', false, 27, 90, [7, 3], 60, 24, `invalid access to map value\n${statsLog(90, 7, 3)}`),
      program('new_probe', true, 8, 8, [0, 0], 11, 0, statsLog(8, 0, 0)),
    ]),
    report('/w/other.bpf.c', false, []),
    report('/w/broken.bpf.c', false, []),
  ],
  (file) => path.relative('/w', file),
);

test('each program of either side is a row with both figures and their difference; flags name why a row needs a look', () => {
  const comparison = compareVerifierCost(base, current);
  assert.deepEqual(
    comparison.rows.map((r) => [r.file, r.program, r.base, r.current, r.flags]),
    [
      ['probe.bpf.c', 'count_execs', 'accepted', 'accepted', ['Insns ×3.1']],
      ['probe.bpf.c', 'handle_exit', 'accepted', 'accepted', []],
      ['probe.bpf.c', 'walk_tree', 'accepted', 'accepted', ['Insns at 95% of limit 1000000']],
      ['probe.bpf.c', 'old_probe', 'accepted', 'absent', []],
      ['probe.bpf.c', 'strict_check', 'accepted', 'rejected', ['accepted → rejected']],
      ['probe.bpf.c', 'new_probe', 'absent', 'accepted', []],
      ['other.bpf.c', 'other_prog', 'accepted', 'not compiled', ['accepted → not compiled']],
      ['broken.bpf.c', '—', 'not compiled', 'not compiled', []],
    ],
  );
  const countExecs = comparison.rows[0]!.metrics;
  assert.deepEqual(countExecs.insnsProcessed, { base: 120, current: 372, diff: 252, percent: 210 });
  assert.deepEqual(countExecs.stackDepth, { base: 8, current: 16, diff: 8, percent: 100 });
  assert.deepEqual(comparison.rows[1]!.metrics.totalStates, { base: 0, current: 3, diff: 3, percent: null });
  assert.deepEqual(comparison.rows[4]!.metrics.verificationTimeUs, { base: null, current: 60, diff: null, percent: null });
  assert.deepEqual(flaggedRows(comparison).map((r) => r.program), ['count_execs', 'walk_tree', 'strict_check', 'other_prog']);
});

test('the table: legend, veristat -C columns aligned, differences as "+12 (+3.4%)", and the flagged programs', () => {
  const text = formatCostComparison(compareVerifierCost(base, current));
  if (process.env.UPDATE_EXPECT === '1') writeFileSync(TABLE, text);
  assert.equal(text, readFileSync(TABLE, 'utf8'));
});

test('nothing flagged says so', () => {
  const same = compareVerifierCost(base, { ...base, label: 'the same again' });
  assert.deepEqual(flaggedRows(same), []);
  assert.match(formatCostComparison(same), /\nNo program lost its acceptance, grew to 2× its processed instructions or came within 10% of the limit\.\n$/);
});

test('differences: sign, one decimal, and no percentage from a base of 0', () => {
  assert.equal(differenceText({ base: 350, current: 362, diff: 12, percent: (12 / 350) * 100 }), '+12 (+3.4%)');
  assert.equal(differenceText({ base: 10, current: 5, diff: -5, percent: -50 }), '-5 (-50.0%)');
  assert.equal(differenceText({ base: 7, current: 7, diff: 0, percent: 0 }), '+0 (+0.0%)');
  assert.equal(differenceText({ base: 0, current: 3, diff: 3, percent: null }), '+3');
  assert.equal(differenceText({ base: null, current: 3, diff: null, percent: null }), 'n/a');
});

test('the limit a program is measured against is the one its log names, else 1,000,000', () => {
  const side = (log: string) => costSideOf('x', [report('/w/p.bpf.c', true, [program('p', true, 10, 10, [1, 1], 5, 0, log)])], (file) => file);
  assert.equal(side(`0: (b7) r0 = 0\n${statsLog(10, 1, 1, 131072)}`).programs[0]!.insnLimit, 131072);
  const near = compareVerifierCost(side(statsLog(10, 1, 1)), costSideOf('y', [report('/w/p.bpf.c', true, [program('p', true, 10, 120000, [1, 1], 5, 0, statsLog(120000, 1, 1, 131072))])], (file) => file));
  assert.deepEqual(near.rows[0]!.flags, ['Insns ×12000.0', 'Insns at 91% of limit 131072']);
  assert.equal(side('').programs[0]!.insnLimit, null);
});
