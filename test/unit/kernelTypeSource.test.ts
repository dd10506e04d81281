// One type as C (remote-agent/client/kernelTypeSource.ts) against bpftool, whose `btf dump
// format c` writes vmlinux.h: a clang-compiled object's types — bitfields, anonymous unions and
// structs (inline), nested arrays, function pointers, a packed struct, a typedef of an anonymous
// struct, a 64-bit enum — must come out as bpftool writes each of them. Then lookups by name on
// this machine's kernel BTF: which kinds a name means, and the names suggested for a miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBtf, type Btf } from '../../remote-agent/client/btf';
import { BpfObject } from '../../remote-agent/client/elfObject';
import { cDefinitionOf, kernelTypeNamesLike, kernelTypesNamed } from '../../remote-agent/client/kernelTypeSource';

const VMLINUX = '/sys/kernel/btf/vmlinux';

const SOURCE = `typedef unsigned int u32;
typedef unsigned long long u64;
enum color { RED = 1, GREEN = 2, BLUE = 4 };
enum big { BIG_ONE = 1, BIG_HUGE = 0xffffffffffULL };
typedef struct { int counter; } atomic_t;
struct list { struct list *next, *prev; };
struct flags {
	u32 a : 3;
	u32 b : 5;
	u64 c;
	char name[12];
	union { int i; float f; } u;
	const char *label;
	int (*cb)(void *, int);
	struct { short x; short y; } point;
	int matrix[2][3];
	enum color color;
};
struct __attribute__((packed)) wire { char tag; u32 len; };
union value { u64 raw; struct { u32 lo; u32 hi; }; };
typedef int (*handler_t)(struct flags *);
struct flags f; struct wire w; union value v; atomic_t at; enum big bg; handler_t h; struct list l;
char _license[] __attribute__((section("license"), used)) = "GPL";
`;

/** The object's BTF, and bpftool's C dump of it split into its top-level declarations. */
function compiled(): { btf: Btf; bpftoolBlocks: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-type-source-'));
  try {
    writeFileSync(join(dir, 'types.bpf.c'), SOURCE);
    const object = join(dir, 'types.o');
    execFileSync('clang', ['-g', '-O2', '-target', 'bpfel', '-c', join(dir, 'types.bpf.c'), '-o', object]);
    const bytes = readFileSync(object);
    const section = BpfObject.parse(bytes).sections.find((s) => s.name === '.BTF')!;
    const btf = parseBtf(bytes.subarray(section.offset, section.offset + section.size));
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', object, 'format', 'c'], { encoding: 'utf8' });
    return { btf, bpftoolBlocks: dump.split(/\n\n+/).map((block) => block.trim()) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('each type of a compiled object is written as bpftool writes it into vmlinux.h', () => {
  const { btf, bpftoolBlocks } = compiled();
  const cases = ['struct flags', 'struct wire', 'union value', 'struct list', 'atomic_t', 'handler_t', 'enum color', 'enum big', 'u64'];
  for (const query of cases) {
    const [type, ...others] = kernelTypesNamed(btf, query);
    assert.ok(type, `${query} is found`);
    assert.deepEqual(others, [], `${query} means one type`);
    const ours = cDefinitionOf(btf, type);
    const first = ours.split('\n')[0]!;
    const theirs = bpftoolBlocks.find((block) => block.split('\n')[0] === first);
    assert.equal(ours, theirs, `${query} as bpftool writes it`);
  }
});

test("names on this machine's kernel: a bare name is every kind it names, a keyword picks one, a miss is suggested names", () => {
  const btf = parseBtf(readFileSync(VMLINUX));
  assert.deepEqual(kernelTypesNamed(btf, 'task_struct').map((t) => t.kind), ['struct']);
  assert.deepEqual(kernelTypesNamed(btf, 'struct task_struct').map((t) => t.kind), ['struct']);
  assert.deepEqual(kernelTypesNamed(btf, 'union task_struct'), []);
  assert.deepEqual(kernelTypesNamed(btf, 'enum bpf_map_type').map((t) => t.kind), ['enum']);
  assert.deepEqual(kernelTypesNamed(btf, 'pid_t').map((t) => t.kind), ['typedef']);
  assert.deepEqual(kernelTypesNamed(btf, 'task_struct *'), [], 'a type expression is not a name');
  assert.deepEqual(kernelTypesNamed(btf, 'no_such_type_anywhere'), []);
  assert.equal(kernelTypeNamesLike(btf, 'task_struc', 5)[0], 'struct task_struct');
  assert.deepEqual(kernelTypeNamesLike(btf, 'zzzz_no_such_zzzz', 5), []);
});
