/**
 * The verifier's walk read from real logs: register state as 6.1, 6.12+ and 7.3 print it, told in
 * words; visits, entries and state per source line; the heat levels of the cost per line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeValue, formatRegisterState, parseRegisterState, registersReadBy } from '../../remote-agent/client/registerState';
import { heatLevels, sourceOfLogLine, walkVerifierLog } from '../../remote-agent/client/verifierWalk';

test('state text splits at spaces outside parentheses and drops write marks', () => {
  const state = parseRegisterState('R0_w=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0 fp-8_w=mmmm???? refs=2');
  assert.deepEqual([...state], [
    ['R0', 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))'],
    ['R10', 'fp0'],
    ['fp-8', 'mmmm????'],
  ]);
  assert.equal(formatRegisterState(state, ['fp-8', 'R0']), 'R0=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) fp-8=mmmm????');
});

test('values are told in words, in 6.1 and 6.12+ wording alike', () => {
  const cases: Array<[string, string, string]> = [
    ['R1', 'ctx()', "the program's context (its argument)"],
    ['R1', 'ctx(off=0,imm=0)', "the program's context (its argument)"],
    ['R10', 'fp0', "the frame pointer (top of this function's 512-byte stack)"],
    ['R2', 'fp-4', 'a pointer into the stack, 4 bytes below the frame pointer'],
    ['R0', 'scalar()', 'a number the verifier knows nothing about (unbounded)'],
    ['R6', 'scalar(umax=255)', 'a number from 0 to 255'],
    ['R0', 'scalar(umax=4294967295,var_off=(0x0; 0xffffffff))', 'a number from 0 to 4294967295'],
    ['R0', 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))', 'a number from 0 to 4294967295'],
    ['R3', 'scalar(smin=-5,smax=5)', 'a number from -5 to 5'],
    ['R2', '65', 'the constant 65'],
    ['R2', 'P0', 'the constant 0'],
    ['R1', 'map_ptr(map=counters,ks=4,vs=8)', 'the map counters itself (4-byte keys, 8-byte values), as helpers take it'],
    ['R1', 'map_value(map=counts,ks=4,vs=16)', 'a pointer into a value of map counts (4-byte keys, 16-byte values)'],
    ['R0', 'map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)', 'a pointer into a value of a map (4-byte keys, 8-byte values), or NULL: it must be checked against NULL before use'],
    ['R2', 'pkt(off=14,r=34)', 'a packet pointer at offset 14; 34 bytes from the packet start are proven before data_end'],
    ['R2', 'pkt(r=0)', 'a packet pointer; no byte of it is proven before data_end yet'],
    ['R3', 'pkt_end()', 'the end of the packet (data_end): compare packet pointers with it before reading'],
    ['R0', 'ringbuf_mem_or_null(id=2,ref_obj_id=2,sz=16)', 'ring buffer memory reserved by bpf_ringbuf_reserve (16 bytes); it must be submitted or discarded on every path, or NULL: it must be checked against NULL before use'],
    ['R0', 'trusted_ptr_task_struct()', "a pointer to the kernel's struct task_struct (trusted)"],
    ['R1', 'ptr_sock(off=16)', "a pointer to the kernel's struct sock at offset 16"],
    ['fp-8', 'mmmm????', 'the stack bytes at fp-8 hold data; 4 of its 8 bytes were never written (reading them is rejected)'],
    ['fp-16', '00000000', 'the stack bytes at fp-16 hold zeros'],
    ['fp-24', 'map_value(map=counts,ks=4,vs=16)', 'a register spilled to the stack at fp-24: a pointer into a value of map counts (4-byte keys, 16-byte values)'],
    ['R7', 'weird_new_kind(x=1)', 'weird_new_kind(x=1)'],
  ];
  for (const [name, value, words] of cases) assert.equal(describeValue(name, value), words, `${name}=${value}`);
});

test('an instruction reads the registers right of a plain assignment, every register of other forms, and a call its arguments', () => {
  assert.deepEqual(registersReadBy('r1 = *(u64 *)(r10 -8)'), ['R10', 'fp-8']);
  assert.deepEqual(registersReadBy('r2 = *(u32 *)(r10 -4)'), ['R10', 'fp-8']);
  assert.deepEqual(registersReadBy('*(u32 *)(r10 -4) = r0'), ['R10', 'R0']);
  assert.deepEqual(registersReadBy('r0 >>= 32'), ['R0']);
  assert.deepEqual(registersReadBy('if w1 > 0x40 goto pc+3'), ['R1']);
  assert.deepEqual(registersReadBy('call bpf_map_lookup_elem#1'), ['R1', 'R2', 'R3', 'R4', 'R5']);
  assert.deepEqual(registersReadBy('call pc+5'), []);
});

test('the walk of a failing 6.18 log: visits, entries and state before each line, and the log runs of each line', () => {
  const log = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', 'infinite-loop', 'verifier.log'), 'utf8');
  const walk = walkVerifierLog(log, (_insn, a) => (a?.file && a.line ? { file: a.file, line: a.line } : undefined));
  assert.deepEqual(
    walk.lines.map((l) => [l.line, l.insnsProcessed, l.entries]),
    [
      [10, 2, 1],
      [13, 4, 4],
      [14, 3, 3],
    ],
  );
  assert.equal(walk.lines[1].stateBefore, 'R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R2=65 R10=fp0');
  assert.deepEqual(sourceOfLogLine(walk, 0), undefined);
  assert.deepEqual(sourceOfLogLine(walk, 9), { file: 'prog.bpf.c', line: 13 });
  assert.deepEqual(sourceOfLogLine(walk, 10_000), { file: 'prog.bpf.c', line: 13 });
});

test('a helper call forgets R1–R5 and full-state lines replace the state', () => {
  const log = [
    '0: R1=ctx() R10=fp0',
    '; a @ p.c:1',
    '0: (b7) r2 = 1                       ; R2_w=1',
    '1: (85) call bpf_ktime_get_ns#5      ; R0_w=scalar()',
    '; b @ p.c:2',
    '2: (bf) r6 = r0                      ; R0_w=scalar(id=1) R6_w=scalar(id=1)',
    'from 2 to 4: R0=scalar() R10=fp0',
    '; c @ p.c:3',
    '4: (95) exit',
  ].join('\n');
  const walk = walkVerifierLog(log, (_insn, a) => (a?.file && a.line ? { file: a.file, line: a.line } : undefined));
  assert.deepEqual(walk.lines.map((l) => l.stateBefore), ['R1=ctx() R10=fp0', 'R0=scalar() R10=fp0', 'R0=scalar() R10=fp0']);
  assert.deepEqual(walk.lines.map((l) => l.registers), [['R1'], ['R0'], []]);
});

test('heat levels follow a log scale of the costliest line, and only the few costliest lines carry their count', () => {
  const heat = heatLevels([
    { line: 10, insnsProcessed: 1 },
    { line: 11, insnsProcessed: 30 },
    { line: 12, insnsProcessed: 1000 },
    { line: 13, insnsProcessed: 9000 },
  ]);
  assert.deepEqual(
    heat.map((h) => [h.line, h.level, h.share, h.labelled]),
    [
      [10, 1, 0, false],
      [11, 2, 0, false],
      [12, 4, 10, true],
      [13, 4, 90, true],
    ],
  );
  assert.deepEqual(heatLevels([{ line: 3, insnsProcessed: 1 }]).map((h) => h.level), [1]);
  assert.deepEqual(heatLevels([]), []);
});
