/** Specification of the verifier log parser, on logs written by Linux 6.18 and in 6.1's format. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseVerifierLog } from '../../remote-agent/client/verifierLog';

const fixture = (name: string, file = 'verifier.log') =>
  readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', name, file), 'utf8');

test('the error message is the line after the last instruction, and that instruction fails', () => {
  const log = parseVerifierLog(fixture('null-map-value'));
  assert.deepEqual(log.message, ["R0 invalid mem access 'map_value_or_null'"]);
  assert.equal(log.failingInsn, 8);
});

test('a 6.18 annotation gives its file, line and the instruction it precedes', () => {
  const log = parseVerifierLog(fixture('null-map-value'));
  assert.deepEqual(log.annotations[0], {
    source: '__u32 key = bpf_get_current_pid_tgid() >> 32;',
    file: 'prog.bpf.c',
    line: 17,
    insn: 0,
    logLine: 2,
  });
  // Line 0 marks compiler-generated code; the walked path leaves it out.
  assert.ok(log.annotations.some((a) => a.line === 0));
  assert.deepEqual(
    log.path.map((a) => a.line),
    [17, 20, 21],
  );
});

test('a 6.1 annotation (a real 6.1 log) has only the source text, still tied to its instruction', () => {
  const log = parseVerifierLog(fixture('xdp-packet-oob-6.1'));
  const last = log.path[log.path.length - 1];
  assert.deepEqual(last, { source: 'if (ip->protocol == 6)', insn: 10, logLine: last.logLine });
  assert.equal(log.failingInsn, 10);
});

test('two-line errors keep both lines', () => {
  assert.deepEqual(parseVerifierLog(fixture('xdp-packet-oob')).message, [
    'invalid access to packet, off=23 size=1, R1(id=0,off=23,r=14)',
    'R1 offset is outside of the packet',
  ]);
  const leak = parseVerifierLog(fixture('ringbuf-leak'));
  assert.deepEqual(leak.message, [
    'Unreleased reference id=3 alloc_insn=6',
    'BPF_EXIT instruction in main prog would lead to reference leak',
  ]);
  assert.equal(leak.failingInsn, 20);
  assert.equal(leak.allocInsn, 6);
});

test('"at insn N" names the failing instruction; the cur/old state dump is not message', () => {
  const log = parseVerifierLog(fixture('infinite-loop'));
  assert.deepEqual(log.message, ['infinite loop detected at insn 3']);
  assert.equal(log.failingInsn, 3);
});

test('the statistics lines are read, including per-subprogram stack depth', () => {
  const log = parseVerifierLog(fixture('subprog-null'));
  assert.deepEqual(log.stats, {
    insnsProcessed: 10,
    insnLimit: 1000000,
    maxStatesPerInsn: 0,
    totalStates: 1,
    peakStates: 1,
    markRead: 0,
    verificationTimeUs: 52,
    stackDepth: [0, 8],
    stackDepthMax: null,
    subprograms: null,
  });
  assert.deepEqual(log.message, ["R0 invalid mem access 'map_value_or_null'"]);
});

test('a passing program\'s stats-only log has no message and no failing instruction', () => {
  const log = parseVerifierLog(fixture('two-programs', 'count_ok.log'));
  assert.deepEqual(log.message, []);
  assert.equal(log.failingInsn, null);
  assert.equal(log.stats.insnsProcessed, 12);
});

test('a log that stops before any instruction gives its last line as the message', () => {
  const log = parseVerifierLog(
    'func#0 @0\nlast insn is not an exit or jmp\nverification time 5 usec\nstack depth 0\n' +
      'processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n',
  );
  assert.deepEqual(log.message, ['last insn is not an exit or jmp']);
  assert.equal(log.failingInsn, null);
  assert.equal(log.stats.insnsProcessed, 0);
});

test('"BPF program is too large" is the message, not a statistics line', () => {
  const log = parseVerifierLog(
    '12: (07) r1 += 1                     ; R1_w=scalar()\n' +
      'BPF program is too large. Processed 1000001 insn\n' +
      'processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 10 peak_states 10 mark_read 1\n',
  );
  assert.deepEqual(log.message, ['BPF program is too large. Processed 1000001 insn']);
  assert.equal(log.failingInsn, 12);
  assert.equal(log.stats.insnsProcessed, 1000001);
});

test('a message missing its newline (6.18\'s tail call map check) is split from the statistics line glued to it', () => {
  const log = parseVerifierLog(fixture('tail-call-hash-map'));
  assert.deepEqual(log.message, ['expected prog array map for tail call']);
  assert.equal(log.stats.verificationTimeUs, 35);
});

test('a level-2 log (its live-register table first) parses like the level-1 log of the same program', () => {
  const level1 = parseVerifierLog(fixture('ringbuf-leak'));
  const level2 = parseVerifierLog(fixture('ringbuf-leak', 'verifier.level2.log'));
  assert.deepEqual(level2.message, level1.message);
  assert.equal(level2.failingInsn, 20);
  assert.equal(level2.allocInsn, 6);
  assert.deepEqual(level2.path.map((a) => a.line).slice(-2), [24, 32]);
});

test('a log whose start was cut (since 6.4 an overflowing log keeps its end) still gives message, failing instruction and stats', () => {
  const whole = fixture('ringbuf-leak');
  const cut = whole.slice(whole.indexOf('R0=scalar(id=1)') + 5); // starts inside a state dump
  const log = parseVerifierLog(cut);
  assert.deepEqual(log.message, parseVerifierLog(whole).message);
  assert.equal(log.failingInsn, 20);
  assert.equal(log.allocInsn, 6);
  assert.equal(log.stats.insnsProcessed, 22);
  assert.deepEqual(log.path.map((a) => a.line), [23, 24]); // the whole log's [21, 23, 24] without the cut-off first line
});
