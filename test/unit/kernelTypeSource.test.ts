// One type as C (remote-agent/client/kernelTypeSource.ts) against bpftool, whose `btf dump
// format c` writes vmlinux.h: a clang-compiled object's types — bitfields, anonymous unions and
// structs (inline), nested arrays, function pointers, a packed struct, a typedef of an anonymous
// struct, a 64-bit enum — must come out as bpftool writes each of them; so must every uniquely
// named type of this machine's kernel. Then lookups by name on the kernel's BTF: which kinds a name
// means, and the names suggested for a miss.
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

/**
 * bpftool's spellings that differ from ours only in ways that do not change the type, and the
 * enum modes this machine's bpftool may be too old to write.
 */
function normalized(c: string): string {
  return c
    .replaceAll('* (*', '*(*') // `void * (*fn)(…)`
    .replace(/\* (const|volatile|restrict)\b/g, '*$1') // `char * const p`
    .replace(/ __attribute__\(\(mode\((byte|word)\)\)\)/g, '') // written by newer libbpf only
    .replace(/___\d+\b/g, ''); // renames that keep a whole header's duplicate names apart
}

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
    assert.equal(normalized(ours), theirs && normalized(theirs), `${query} as bpftool writes it`);
  }
});

test("every uniquely named struct, union, enum and typedef of this machine's kernel reads as bpftool's vmlinux.h writes it", () => {
  const btf = parseBtf(readFileSync(VMLINUX));
  const header = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const blocksByFirstLine = new Map<string, string[]>();
  for (const block of header.split(/\n\n+/)) {
    const first = block.trim().split('\n')[0]!;
    blocksByFirstLine.set(first, [...(blocksByFirstLine.get(first) ?? []), block.trim()]);
  }
  const namesUsed = new Map<string, number>();
  for (const t of btf.types) namesUsed.set(`${t.kind} ${t.name}`, (namesUsed.get(`${t.kind} ${t.name}`) ?? 0) + 1);
  let compared = 0;
  const differing: string[] = [];
  for (const t of btf.types) {
    if (t.name === '' || !['struct', 'union', 'enum', 'enum64', 'typedef'].includes(t.kind) || namesUsed.get(`${t.kind} ${t.name}`)! > 1) continue;
    const ours = cDefinitionOf(btf, t);
    const theirs = blocksByFirstLine.get(ours.split('\n')[0]!);
    // Typedefs of anonymous types all start `typedef struct {`: their first line names no one block.
    if (theirs?.length !== 1) continue;
    compared++;
    if (normalized(theirs[0]!) !== normalized(ours)) differing.push(`ours:\n${ours}\nbpftool:\n${theirs[0]}`);
  }
  assert.ok(compared > 1000, `${compared} types compared`);
  assert.deepEqual(differing.slice(0, 3), [], `${differing.length} of ${compared} differ`);
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
