/**
 * Specification of the 7.3 structured-report parser, on logs Debian's 7.3-rc7 kernel wrote for the
 * fixture programs (test/fixtures/verifier-reports).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseVerifierReport } from '../../remote-agent/client/verifierReport';
import { parseVerifierLog } from '../../remote-agent/client/verifierLog';
import { rejectionFindings } from '../../remote-agent/client/verifierFindings';

const report73 = (name: string) => readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-reports', `${name}-7.3.log`), 'utf8');
const LOG_73 = report73('null-map-value');
const LOG_618 = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', 'null-map-value', 'verifier.log'), 'utf8');

test('the message is the classic error line, without the report heading or its section names', () => {
  const log = parseVerifierLog(LOG_73);
  assert.deepEqual(log.message, ["R0 invalid mem access 'map_value_or_null'"]);
  assert.equal(log.failingInsn, 8);
  assert.deepEqual(log.path.map((a) => a.line), [17, 20, 21]);
});

test('more of the classic message after the report is still message, and the report ends before it', () => {
  const text = report73('ringbuf-leak');
  const log = parseVerifierLog(text);
  assert.deepEqual(log.message, ['Unreleased reference id=3 alloc_insn=6', 'BPF_EXIT instruction in main prog would lead to reference leak']);
  assert.equal(log.allocInsn, 6);
  assert.equal(log.report?.suggestion, 'Release or transfer ownership of the acquired resource on every path before the program exits.');
  assert.equal(text.split('\n')[log.report!.endLogLine], 'BPF_EXIT instruction in main prog would lead to reference leak');
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
  assert.deepEqual(at.location, { functionName: 'count_execve', file: 'prog.bpf.c', line: 21, column: 9 });
  assert.deepEqual(at.source, [
    { number: 19, text: '...', marked: false },
    { number: 20, text: '        count = bpf_map_lookup_elem(&counters, &key);', marked: false },
    { number: 21, text: '        *count += 1;', marked: true },
    { number: 22, text: '        return 0;', marked: false },
    { number: 23, text: '...', marked: false },
  ]);
  assert.deepEqual(at.instructions, [
    { number: 7, text: '(85) call bpf_map_lookup_elem#1', marked: false },
    { number: 8, text: '(79) r1 = *(u64 *)(r0 +0)', marked: true },
    { number: 9, text: '(07) r1 += 1', marked: false },
    { number: 10, text: '(7b) *(u64 *)(r0 +0) = r1', marked: false },
  ]);
  // The caret sits under the `*` of `*count`: column 9, as in "prog.bpf.c:21:9".
  assert.deepEqual(at.notes, [{ column: 9, kind: 'error', text: 'invalid dereference of R0 (a nullable map value pointer)' }]);
});

test('Causal path: the lookup, its update note unwrapped from three lines', () => {
  const report = parseVerifierReport(LOG_73)!;
  assert.equal(report.causalPath.length, 1);
  const [lookup] = report.causalPath;
  assert.deepEqual(lookup.location, { functionName: 'count_execve', file: 'prog.bpf.c', line: 20, column: 10 });
  assert.deepEqual(lookup.notes, [
    {
      column: 9,
      kind: 'update',
      text: 'R0 changed from integer scalar with signed range [0, 4294967295], unsigned range [0, 4294967295] to nullable map value from counters at offset 0',
    },
  ]);
  assert.deepEqual(lookup.instructions.find((l) => l.marked), { number: 7, text: '(85) call bpf_map_lookup_elem#1', marked: true });
  assert.deepEqual(report.causalPathNotes, []);
});

test('a causal path of several events, in order, each with its kind of note', () => {
  const report = parseVerifierReport(report73('ringbuf-leak'))!;
  assert.deepEqual(
    report.causalPath.map((e) => [e.location?.line, e.notes.map((n) => `${n.kind}: ${n.text}`)]),
    [
      [23, ['acquired: owned resource (id=3)']],
      [24, ['branch: took the false branch of this conditional, goto not followed']],
      [24, ['branch: took the true branch of this conditional, goto followed']],
    ],
  );
});

test('categories seen on 7.3: Memory Safety, Policy, Execution Context Safety, Resource Lifetime Safety', () => {
  assert.deepEqual(
    ['xdp-packet-oob', 'map-value-past-end', 'helper-forbidden', 'spin-lock-call', 'ringbuf-leak', 'task-scalar-deref'].map((name) => {
      const r = parseVerifierReport(report73(name))!;
      return `${r.category}: ${r.title}`;
    }),
    [
      'Memory Safety: Access outside bounds',
      'Memory Safety: Access outside bounds',
      'Policy: Operation is not allowed',
      'Execution Context Safety: Operation is not allowed in this context',
      'Resource Lifetime Safety: Unreleased resource',
      'Register Type Safety: Invalid dereference',
    ],
  );
});

test('not every 7.3 rejection has a report; the message is then as on older kernels', () => {
  const helperSize = parseVerifierLog(report73('unbounded-helper-size'));
  assert.equal(helperSize.report, null);
  assert.deepEqual(helperSize.message, ["R2 min value is negative, either use unsigned or 'var &= const'"]);
  assert.deepEqual(parseVerifierLog(report73('xdp-ctx-variable-offset')).message, ['variable ctx access var_off=(0x0; 0x4) disallowed']);
});

test('7.3 statistics: stack depth max and one line per subprogram', () => {
  const { stats } = parseVerifierLog(LOG_73);
  assert.equal(stats.stackDepthMax, 0);
  assert.equal(stats.stackDepth, null);
  assert.deepEqual(stats.subprograms, [{ index: 0, name: 'count_execve', kind: 'main', insnsSelf: 8, insnsTotal: 8, stack: 8 }]);
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
  assert.deepEqual(findings.at, { functionName: 'count_execve', file: 'prog.bpf.c', line: 21, column: 9 });
  assert.deepEqual(findings.causes, [
    {
      location: { functionName: 'count_execve', file: 'prog.bpf.c', line: 20, column: 10 },
      message:
        'R0 changed from integer scalar with signed range [0, 4294967295], unsigned range [0, 4294967295] to nullable map value from counters at offset 0',
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
    { insn: 7, logLine: 11, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' },
  ]);
});

test('a report whose causal path retained nothing: the chain comes from the log, and a missing weak kfunc explains "R0 !read_ok"', () => {
  const text = report73('kfunc-missing-weak');
  const parsed = parseVerifierLog(text);
  assert.deepEqual(parsed.report?.causalPathNotes, ['no retained diagnostic events on this path']);
  const findings = rejectionFindings(text, parsed, parsed.message);
  assert.equal(findings.explanation?.id, 'kfunc-unknown');
  assert.equal(findings.suggestion, 'Initialize R0 on every path before this instruction.');
  assert.deepEqual(findings.causes, [
    { insn: 1, logLine: 8, message: 'this kfunc was not found in the kernel, so libbpf left the call unresolved (a call to BTF id 0); R0 holds no value after it' },
  ]);
});
