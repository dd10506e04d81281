/**
 * Specification of the 7.3 structured-report parser, on the report issue 9 quotes from Debian's
 * 7.3 kernel (test/fixtures/verifier-reports/README.md says which lines are verbatim).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseVerifierReport } from '../../remote-agent/client/verifierReport';
import { parseVerifierLog } from '../../remote-agent/client/verifierLog';
import { rejectionFindings } from '../../remote-agent/client/verifierFindings';

const LOG_73 = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-reports', 'null-map-value-7.3.log'), 'utf8');
const LOG_618 = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', 'null-map-value', 'verifier.log'), 'utf8');

test('the message is the classic error line, without the report heading or its section names', () => {
  const log = parseVerifierLog(LOG_73);
  assert.deepEqual(log.message, ["R0 invalid mem access 'map_value_or_null'"]);
  assert.equal(log.failingInsn, 8);
  assert.deepEqual(log.path.map((a) => a.line), [19, 20]);
});

test('heading, reason and suggestion: category, title and unwrapped paragraphs', () => {
  const report = parseVerifierReport(LOG_73)!;
  assert.equal(report.category, 'Register Type Safety');
  assert.equal(report.title, 'Invalid dereference');
  assert.equal(
    report.reason,
    'R0 may be NULL here (a nullable map value pointer). The program could dereference NULL on this path, so the verifier cannot prove this access is safe.',
  );
  assert.equal(report.suggestion, 'Add a NULL check before the access and dereference the pointer only on the non-NULL path.');
});

test('At: the location with its column, the source and instruction context, the caret note', () => {
  const at = parseVerifierReport(LOG_73)!.at!;
  assert.deepEqual(at.location, { functionName: 'count_execs', file: 'probe.bpf.c', line: 20, column: 9 });
  assert.deepEqual(at.source, [
    { number: 19, text: '        count = bpf_map_lookup_elem(&exec_count, &pid);', marked: false },
    { number: 20, text: '        *count += 1;', marked: true },
  ]);
  assert.deepEqual(at.instructions, [{ number: 8, text: '(79) r1 = *(u64 *)(r0 +0)', marked: true }]);
  // The caret sits under the `*` of `*count`: column 9, as in "probe.bpf.c:20:9".
  assert.deepEqual(at.notes, [{ column: 9, kind: 'error', text: 'invalid dereference of R0 (a nullable map value pointer)' }]);
});

test('Causal path: each location with its update note, oldest first', () => {
  const report = parseVerifierReport(LOG_73)!;
  assert.equal(report.causalPath.length, 1);
  const [lookup] = report.causalPath;
  assert.deepEqual(lookup.location, { functionName: 'count_execs', file: 'probe.bpf.c', line: 19, column: 10 });
  assert.deepEqual(lookup.notes, [
    { column: 9, kind: 'update', text: 'R0 changed from integer scalar ... to nullable map value from exec_count at offset 0' },
  ]);
  assert.deepEqual(report.causalPathNotes, []);
});

test('7.3 statistics: stack depth max and one line per subprogram', () => {
  const { stats } = parseVerifierLog(LOG_73);
  assert.equal(stats.stackDepthMax, 0);
  assert.deepEqual(stats.subprograms, [{ index: 0, name: 'count_execs', kind: 'main', insnsSelf: 8, insnsTotal: 8, stack: 8 }]);
  assert.equal(stats.insnsProcessed, 8);
});

test('an older kernel\'s log has no report', () => {
  assert.equal(parseVerifierReport(LOG_618), null);
  assert.equal(parseVerifierLog(LOG_618).report, null);
});

test('the findings of a 7.3 rejection take category, reason, suggestion, position and causes from the report', () => {
  const parsed = parseVerifierLog(LOG_73);
  const findings = rejectionFindings(LOG_73, parsed, parsed.message);
  assert.equal(findings.explanation?.id, 'nullable-map-value');
  assert.equal(findings.category, 'Register Type Safety');
  assert.equal(findings.suggestion, 'Add a NULL check before the access and dereference the pointer only on the non-NULL path.');
  assert.match(findings.reason ?? '', /^R0 may be NULL here/);
  assert.deepEqual(findings.at, { functionName: 'count_execs', file: 'probe.bpf.c', line: 20, column: 9 });
  assert.deepEqual(findings.causes, [
    {
      location: { functionName: 'count_execs', file: 'probe.bpf.c', line: 19, column: 10 },
      message: 'R0 changed from integer scalar ... to nullable map value from exec_count at offset 0',
    },
  ]);
});

test('a report whose event has no source line keeps the instruction, and unknown lines become notes', () => {
  const report = parseVerifierReport(
    [
      'Verification failed: Resource Lifetime Safety: Unreleased resource',
      'Reason:',
      '  Owned resource (id=3) was acquired at instruction 6 and still needs to be released before this exit path.',
      'Causal path:',
      '  insn 6',
      '  >>>  6 | (85) call bpf_ringbuf_reserve#131',
      '  2 intermediate causal-history events omitted',
      'processed 22 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 0',
    ].join('\n'),
  )!;
  assert.equal(report.category, 'Resource Lifetime Safety');
  assert.equal(report.at, null);
  assert.equal(report.suggestion, null);
  assert.deepEqual(report.causalPath, [
    { location: null, insn: 6, source: [{ number: 6, text: '(85) call bpf_ringbuf_reserve#131', marked: true }], instructions: [], notes: [] },
  ]);
  assert.deepEqual(report.causalPathNotes, ['2 intermediate causal-history events omitted']);
});

test('a 7.3 report without a causal path still gets the chain derived from the log', () => {
  const withoutPath = LOG_73.replace(/Causal path:\n(.*\n)*?\n(?=Suggestion:)/, '');
  const parsed = parseVerifierLog(withoutPath);
  assert.deepEqual(parsed.report?.causalPath, []);
  assert.deepEqual(rejectionFindings(withoutPath, parsed, parsed.message).causes, [
    { insn: 7, logLine: 2, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' },
  ]);
});

test('a caret note wrapped onto further `|` lines is one note', () => {
  const report = parseVerifierReport(
    [
      'Verification failed: Memory Safety: Access outside bounds',
      'At:',
      '  drop_tcp @ prog.bpf.c:22:6',
      '  Source context:',
      '  >>> 22 |         if (ip->protocol == 6)',
      '         |             ^-- error: the maximal bound for a memory access is 24 and exceeds',
      '         |                 maximum allowed offset of 14',
      'stack depth max 0',
    ].join('\n'),
  )!;
  assert.deepEqual(report.at!.notes, [
    { column: 13, kind: 'error', text: 'the maximal bound for a memory access is 24 and exceeds maximum allowed offset of 14' },
  ]);
  assert.deepEqual(report.causalPathNotes, []);
});
