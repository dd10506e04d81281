// The BTF reader against bpftool: every type of this machine's kernel BTF and of clang-compiled
// objects (little- and big-endian), printed the way `bpftool btf dump format raw` prints them,
// must match bpftool's own dump line for line. Then the C spellings and sizes that the language
// server and event decoding show to users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BtfFormatError, parseBtf, type Btf, type BtfType } from '../../remote-agent/client/btf';
import { BpfObject } from '../../remote-agent/client/elfObject';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** One type as `bpftool btf dump format raw` prints it (bpftool 7.1), headline then member lines. */
function rawDump(btf: Btf, t: BtfType): string[] {
  const name = t.name === '' ? '(anon)' : t.name;
  const head = `[${t.id}] ${t.kind.toUpperCase()} '${name}'`;
  const linkage = ['static', 'global', 'extern'][t.linkage ?? 0];
  switch (t.kind) {
    case 'int': {
      const e = t.encoding!;
      const encoding = e.signed ? 'SIGNED' : e.char ? 'CHAR' : e.bool ? 'BOOL' : '(none)';
      return [`${head} size=${t.size} bits_offset=${e.offset} nr_bits=${e.bits} encoding=${encoding}`];
    }
    case 'array':
      return [`${head} type_id=${t.array!.elemType} index_type_id=${t.array!.indexType} nr_elems=${t.array!.nelems}`];
    case 'struct':
    case 'union':
      return [
        `${head} size=${t.size} vlen=${t.members!.length}`,
        ...t.members!.map(
          (m) =>
            `\t'${m.name === '' ? '(anon)' : m.name}' type_id=${m.type} bits_offset=${m.bitOffset}` +
            (m.bitSize === 0 ? '' : ` bitfield_size=${m.bitSize}`),
        ),
      ];
    case 'enum':
    case 'enum64':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values!.length}`,
        // bpftool marks 64-bit values with a C suffix.
        ...t.values!.map((v) => `\t'${v.name}' val=${v.value}${t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : ''}`),
      ];
    case 'fwd':
      return [`${head} fwd_kind=${t.fwdUnion ? 'union' : 'struct'}`];
    case 'func':
      return [`${head} type_id=${t.type} linkage=${linkage}`];
    case 'func_proto':
      return [
        `${head} ret_type_id=${t.type} vlen=${t.params!.length}`,
        ...t.params!.map((p) => `\t'${p.name === '' ? '(anon)' : p.name}' type_id=${p.type}`),
      ];
    case 'var':
      return [`${head} type_id=${t.type}, linkage=${linkage}`];
    case 'datasec':
      return [
        `${head} size=${t.size} vlen=${t.vars!.length}`,
        ...t.vars!.map((v) => `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (VAR '${btf.types[v.type].name}')`),
      ];
    case 'float':
      return [`${head} size=${t.size}`];
    case 'decl_tag':
      return [`${head} type_id=${t.type} component_idx=${t.componentIdx}`];
    default:
      return [`${head} type_id=${t.type}`];
  }
}

function assertSameAsBpftool(btf: Btf, file: string): number {
  const expected = execFileSync('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw'], { maxBuffer: 1 << 30 })
    .toString()
    .trimEnd()
    .split('\n');
  const actual = btf.types.slice(1).flatMap((t) => rawDump(btf, t));
  const firstDifference = actual.findIndex((line, i) => line !== expected[i]);
  if (firstDifference !== -1) assert.equal(actual[firstDifference], expected[firstDifference], `line ${firstDifference + 1} of the dump`);
  assert.equal(actual.length, expected.length);
  return actual.length;
}

// How long parsing takes is bench/languageServer.ts's business: it prints the server's "parsed in N ms".
test(`every type of ${VMLINUX} reads as bpftool dumps it`, (t) => {
  const bytes = readFileSync(VMLINUX);
  const btf = parseBtf(bytes);
  const lines = assertSameAsBpftool(btf, VMLINUX);
  t.diagnostic(`${btf.types.length - 1} types (${lines} dump lines) from ${(bytes.length / 1e6).toFixed(1)} MB`);
});

test('kernel types read by name, with their C spelling, size and resolved targets', () => {
  const btf = parseBtf(readFileSync(VMLINUX));
  const task = btf.byName('task_struct')!;
  assert.equal(task.kind, 'struct');
  assert.equal(btf.sizeOf(task.id), task.size);
  const member = (name: string) => task.members!.find((m) => m.name === name)!;
  assert.equal(btf.typeName(member('comm').type), 'char[16]');
  assert.equal(btf.sizeOf(member('comm').type), 16);
  assert.equal(btf.typeName(member('real_parent').type), 'struct task_struct *');
  assert.equal(btf.typeName(member('mm').type), 'struct mm_struct *');
  assert.equal(btf.typeName(member('pid').type), 'pid_t');
  assert.equal(btf.resolve(member('pid').type).name, 'int');
  assert.equal(btf.sizeOf(member('real_parent').type), 8);

  const fops = btf.byName('file_operations', 'struct')!;
  const read = fops.members!.find((m) => m.name === 'read')!;
  assert.equal(btf.typeName(read.type), 'ssize_t (*)(struct file *, char *, size_t, loff_t *)');
  assert.equal(btf.typeName(btf.byName('do_sys_openat2', 'func')!.id), 'int do_sys_openat2(int dfd, const char *filename, struct open_how *how)');
  assert.equal(btf.byName('no_such_type_anywhere'), undefined);
  assert.equal(btf.byName('task_struct', 'union'), undefined);
});

test('a clang-compiled object’s .BTF section reads the same in both byte orders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btf-test-'));
  try {
    writeFileSync(
      join(dir, 'layout.bpf.c'),
      `typedef unsigned int u32;
typedef unsigned long long u64;
enum color { RED = 1, GREEN = -2 };
struct flags { u32 a : 3; u32 b : 5; u64 c; char name[12]; union { int i; float f; } u; const char *label; int (*cb)(void *, int); };
struct event { struct flags f; enum color c; } __attribute__((btf_decl_tag("record")));
int __attribute__((btf_type_tag("user"))) *tagged;
struct event last_event;
int __attribute__((section("xdp"), used)) handle(struct event *e) { last_event = *e; return e->f.a + (int)e->f.c; }
char _license[] __attribute__((section("license"), used)) = "GPL";
`,
    );
    const dumps: string[][] = [];
    for (const target of ['bpfel', 'bpfeb']) {
      const object = join(dir, `layout.${target}.o`);
      execFileSync('clang', ['-g', '-O2', '-target', target, '-c', join(dir, 'layout.bpf.c'), '-o', object]);
      const bytes = readFileSync(object);
      const section = BpfObject.parse(bytes).sections.find((s) => s.name === '.BTF')!;
      const btf = parseBtf(bytes.subarray(section.offset, section.offset + section.size));
      assertSameAsBpftool(btf, object);
      dumps.push(btf.types.slice(1).flatMap((t) => rawDump(btf, t)));

      const flags = btf.byName('flags')!;
      assert.deepEqual(
        flags.members!.map((m) => [m.name, btf.typeName(m.type), m.bitOffset, m.bitSize]),
        [
          ['a', 'u32', 0, 3],
          ['b', 'u32', 3, 5],
          ['c', 'u64', 64, 0],
          ['name', 'char[12]', 128, 0],
          ['u', 'union (anon)', 224, 0],
          ['label', 'const char *', 256, 0],
          ['cb', 'int (*)(void *, int)', 320, 0],
        ],
      );
      assert.equal(btf.sizeOf(flags.id), 48);
      assert.deepEqual(btf.byName('color')!.values, [
        { name: 'RED', value: 1 },
        { name: 'GREEN', value: 4294967294 },
      ]);
      assert.equal(btf.typeName(btf.byName('handle')!.id), 'int handle(struct event *e)');
      assert.equal(btf.typeName(btf.byName('tagged', 'var')!.id), 'int *tagged');
      assert.equal(btf.sizeOf(btf.byName('last_event', 'var')!.id), 56);
      assert.equal(btf.byName('record', 'decl_tag')!.type, btf.byName('event')!.id);
      assert.equal(btf.byName('event')!.kind, 'struct', 'a decl tag does not shadow the type it tags');
    }
    assert.deepEqual(dumps[1], dumps[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes that are not BTF are refused with a message that says what to pass instead', () => {
  const elf = new Uint8Array(64);
  elf.set([0x7f, 0x45, 0x4c, 0x46]);
  assert.throws(() => parseBtf(elf), (e: unknown) => e instanceof BtfFormatError && /bad magic 0x457f.*not an ELF file/.test(e.message));
  const header = new Uint8Array(readFileSync(VMLINUX).subarray(0, 64));
  header[2] = 2;
  assert.throws(() => parseBtf(header), /version 2 is not supported/);
  assert.throws(() => parseBtf(readFileSync(VMLINUX).subarray(0, 4096)), /the file is truncated/);
  assert.throws(() => parseBtf(new Uint8Array(8)), /shorter than the BTF header/);
});
