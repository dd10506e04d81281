/** Specification of the BPF object reader: functions, BTF.ext line info, instruction → source. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BpfObject, ElfFormatError } from '../../remote-agent/client/elfObject';

const objectOf = (name: string) =>
  readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs', name, 'prog.o'));

test('program functions come from STT_FUNC symbols with their section, offset and size', () => {
  const obj = BpfObject.parse(objectOf('subprog-null'));
  assert.deepEqual(
    obj.functions.map((f) => [f.name, f.sectionName, f.offset, f.size, f.global]),
    [
      ['bump', '.text', 0, 80, false],
      ['count_close', 'tracepoint/syscalls/sys_enter_close', 0, 48, true],
    ],
  );
});

test('an instruction index maps to the line info entry at or before it', () => {
  const obj = BpfObject.parse(objectOf('xdp-packet-oob'));
  assert.deepEqual(obj.positionOf('drop_tcp', 10), {
    file: '/run/ebpf-agent/work/prog.bpf.c',
    line: 22,
    column: 10,
    source: 'if (ip->protocol == 6)',
  });
  // Instruction 0 is the function's first: its signature line here.
  assert.equal(obj.positionOf('drop_tcp', 0)?.line, 9);
});

test('instructions of line 0 (compiler-generated) take the previous real line', () => {
  const obj = BpfObject.parse(objectOf('null-map-value'));
  // The verifier log annotates instruction 4 with "@ prog.bpf.c:0".
  assert.equal(obj.positionOf('count_execve', 4)?.line, 17);
});

test('past the function (libbpf appends subprograms there) the answer is undefined', () => {
  const obj = BpfObject.parse(objectOf('subprog-null'));
  assert.equal(obj.positionOf('count_close', 5)?.line, 12);
  assert.equal(obj.positionOf('count_close', 6), undefined);
  assert.equal(obj.positionOf('no_such_program', 0), undefined);
});

test('line info of header code names the header as clang spelled its path', () => {
  const obj = BpfObject.parse(objectOf('subprog-null'));
  assert.deepEqual(obj.positionOf('bump', 6), {
    file: '/run/ebpf-agent/work/./lib/counters.h',
    line: 17,
    column: 9,
    source: '*count += 1;',
  });
});

test('bytes that are not a BPF ELF object are refused with a reason', () => {
  assert.throws(() => BpfObject.parse(new TextEncoder().encode('not an object at all, certainly not ELF'.repeat(3))), ElfFormatError);
  const x86 = new Uint8Array(objectOf('null-map-value'));
  x86[0x12] = 62; // EM_X86_64
  assert.throws(() => BpfObject.parse(x86), /ELF machine is 62, not BPF/);
  const truncated = objectOf('null-map-value').subarray(0, 1000);
  assert.throws(() => BpfObject.parse(truncated), /lies outside the file/);
});
