/** `ebpf-studio explain`: a message's entry, an unknown message's report link, a saved log's error and causes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { explainLog, explainMessage } from '../../cli/explainCommand';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures');

test('a known message prints its title, id, category, explanation, fix and docs link; status 0', () => {
  const { text, status } = explainMessage('program of this type cannot use helper bpf_skb_load_bytes#26');
  assert.equal(status, 0);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Helper not available to this program type [helper-not-allowed · Policy]');
  assert.match(lines[4], /^Fix: Use a helper allowed for this program type/);
  assert.equal(lines[5], 'More: docs/verifier-errors.md#helper-not-allowed');
});

test('an unknown message is echoed with a link to report it; status 1', () => {
  assert.deepEqual(explainMessage('R4 frobnicated'), {
    text:
      'No explanation is known for: R4 frobnicated\n' +
      'Please report this message: https://example.invalid/ebpf-studio/issues/new?title=Unexplained%20verifier%20message%3A%20R4%20frobnicated\n',
    status: 1,
  });
});

test('a 6.18 log: the error lines, the failing line, the entry, and the causes with their source lines', () => {
  const { text, status } = explainLog(readFileSync(path.join(fixtures, 'verifier-logs', 'ringbuf-leak', 'verifier.log'), 'utf8'));
  assert.equal(status, 0);
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 3), [
    'error: Unreleased reference id=3 alloc_insn=6',
    'error: BPF_EXIT instruction in main prog would lead to reference leak',
    '  at instruction 20: prog.bpf.c:24: if (!e)',
  ]);
  assert.deepEqual(lines.slice(lines.indexOf('How it got there:')), [
    'How it got there:',
    '  insn 6 (prog.bpf.c:23: e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);): reference id=3 is acquired here (bpf_ringbuf_reserve)',
    '  insn 10 (prog.bpf.c:24: if (!e)): this branch leads to the exit with reference id=3 still held',
    '',
  ]);
});

test('a 7.3 log adds the kernel\'s reason and suggestion, and its causal path by file:line:col', () => {
  const { text } = explainLog(readFileSync(path.join(fixtures, 'verifier-reports', 'ringbuf-leak-7.3.log'), 'utf8'));
  assert.ok(text.includes("\nKernel's suggestion: Release or transfer ownership of the acquired resource on every path before the program exits.\n"));
  assert.ok(
    text.endsWith(
      'How it got there:\n' +
        '  prog.bpf.c:23:6: acquired: owned resource (id=3)\n' +
        '  prog.bpf.c:24:6: branch: took the false branch of this conditional, goto not followed\n' +
        '  prog.bpf.c:24:6: branch: took the true branch of this conditional, goto followed\n',
    ),
  );
});

test('a log without an error says so; status 1', () => {
  assert.deepEqual(explainLog(readFileSync(path.join(fixtures, 'verifier-logs', 'two-programs', 'count_ok.log'), 'utf8')), {
    text: 'The log holds no verifier error (did the program pass?).\n',
    status: 1,
  });
});
