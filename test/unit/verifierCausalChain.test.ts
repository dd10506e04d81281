/**
 * Specification of the causal chain derived from logs of kernels without 7.3's report: on real
 * 6.18 logs (test/fixtures/verifier-logs), the instructions where the offending state came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { deriveCausalChain } from '../../remote-agent/client/verifierCausalChain';
import { parseVerifierLog } from '../../remote-agent/client/verifierLog';

const chainOf = (name: string) => {
  const text = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', name, 'verifier.log'), 'utf8');
  return deriveCausalChain(text, parseVerifierLog(text)).map(({ insn, message }) => ({ insn, message }));
};

test('a nullable map value leads back to the lookup that returned it', () => {
  assert.deepEqual(chainOf('null-map-value'), [{ insn: 7, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' }]);
});

test('in a subprogram too (frame1 states)', () => {
  assert.deepEqual(chainOf('subprog-null'), [{ insn: 11, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' }]);
});

test('a leaked reference: where it was acquired, and the branch that took the path to exit without releasing it', () => {
  assert.deepEqual(chainOf('ringbuf-leak'), [
    { insn: 6, message: 'reference id=3 is acquired here (bpf_ringbuf_reserve)' },
    { insn: 10, message: 'this branch leads to the exit with reference id=3 still held' },
  ]);
});

test('a packet access past the checked range: the data_end check that proved too little, then the pointer move', () => {
  assert.deepEqual(chainOf('xdp-packet-oob'), [
    { insn: 5, message: 'this data_end check proves 14 bytes of the packet; the access needs 24' },
    { insn: 9, message: 'R1 now points 9 bytes into the packet; the access adds 14 more' },
  ]);
});

test('an unbounded helper size: where the size register got its value', () => {
  assert.deepEqual(chainOf('unbounded-helper-size'), [{ insn: 1, message: 'R2 gets its value here: any number, unbounded' }]);
});

test('a variable stack offset: the value added to the stack pointer, looking through zero-extension shifts', () => {
  assert.deepEqual(chainOf('stack-var-offset'), [
    { insn: 5, message: 'R0 gets its value here (returned by bpf_get_prandom_u32): any number, unbounded' },
    { insn: 11, message: "R0 is added to R1 here, so R1's offset is only as bounded as R0" },
  ]);
});

test('failures without an offending register state have no chain', () => {
  assert.deepEqual(chainOf('helper-forbidden'), []);
  assert.deepEqual(chainOf('infinite-loop'), []);
});

test('6.1 prints liveness suffixes (R0_w=); through a copy to R6 the chain still finds the lookup', () => {
  const log = [
    '0: R1=ctx(off=0,imm=0) R10=fp0',
    '; count = bpf_map_lookup_elem(&counters, &key);',
    '5: (18) r1 = 0xffff888003a4b000       ; R1_w=map_ptr(off=0,ks=4,vs=8,imm=0)',
    '7: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)',
    '8: (bf) r6 = r0                       ; R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0) R6_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)',
    '; *count += 1;',
    '9: (79) r1 = *(u64 *)(r6 +0)',
    "R6 invalid mem access 'map_value_or_null'",
    'processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
  ].join('\n');
  assert.deepEqual(
    deriveCausalChain(log, parseVerifierLog(log)).map(({ insn, message }) => ({ insn, message })),
    [
      { insn: 7, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' },
    ],
  );
});

test('level 2 logs (live-register table, whole-state lines, "from X to Y") give the same chains', () => {
  const chain = (name: string) => {
    const text = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', name, 'verifier.level2.log'), 'utf8');
    return deriveCausalChain(text, parseVerifierLog(text)).map(({ insn, message }) => ({ insn, message }));
  };
  assert.deepEqual(chain('null-map-value'), chainOf('null-map-value'));
  assert.deepEqual(chain('ringbuf-leak'), chainOf('ringbuf-leak'));
});

test('any other message naming a register: where that register got its value, unless on the failing line itself', () => {
  assert.deepEqual(chainOf('helper-scalar-argument'), [
    { insn: 1, message: 'R0 gets its value here (returned by bpf_get_prandom_u32): any number, unbounded' },
  ]);
  assert.deepEqual(chainOf('sock-release-unacquired'), [{ insn: 0, message: 'R1 gets its value here: sock_common_or_null(id=1)' }]);
  // `return 2;` sets R0 on the line the diagnostic is already on.
  assert.deepEqual(chainOf('cgroup-bad-return'), []);
});
