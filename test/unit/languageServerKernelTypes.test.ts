// Kernel types in the language server, driven over stdio by a real LSP client: struct fields after
// `->` and `.` with offsets and sizes from THIS machine's kernel BTF, hover with layouts, kfuncs,
// SEC("…/") attach targets, and switching to another target's BTF through ebpfStudio/targetInfo.
// Expected offsets come from bpftool's dump of /sys/kernel/btf/vmlinux, not from the server's reader.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompletionRequest,
  CompletionResolveRequest,
  HoverRequest,
  SignatureHelpRequest,
  type CompletionItem,
  type CompletionList,
  type MarkupContent,
  type Position,
} from 'vscode-languageserver-protocol/node';
import { parseBtf } from '../../remote-agent/client/btf';
import { BpfObject } from '../../remote-agent/client/elfObject';
import { TargetInfoNotification, type TargetInfoParams } from '../../language-server/lspExtensions';
import { itemsOf, positionAfter, startLanguageServer, type LanguageServerSession } from './languageServerSession';

const VMLINUX = '/sys/kernel/btf/vmlinux';

const program = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
	__u32 pid;
	__u32 ppid;
	char comm[16];
	struct task_struct *task;
	union {
		__u64 ts;
		__u32 halves[2];
	};
	unsigned long start;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(trace_open, int dfd, const char *filename)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = t->tgid;
	e->task = t;
	bpf_probe_read_kernel(&e->start, sizeof(e->start), &t->mm->start_stack);
	bpf_probe_read_kernel(&e->ppid, sizeof(e->ppid), &e->task->real_parent->tgid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 14 > data_end)
		return XDP_PASS;
	return ((struct xdp_md *)ctx)->ingress_ifindex ? XDP_PASS : XDP_DROP;
}

SEC("fentry/do_sys_openat2")
int BPF_PROG(fentry_open, int dfd, const char *filename, struct open_how *how)
{
	struct task_struct *owned = bpf_task_acquire(bpf_get_current_task_btf());

	if (owned) {
		bpf_printk("pid %d", bpf_task_acquire(owned)->pid);
		bpf_task_release(owned);
	}
	return how->flags;
}

char LICENSE[] SEC("license") = "GPL";
`;

const uri = 'file:///work/probe/kernel.bpf.c';

/** bpftool's raw dump, read independently of the server's BTF reader. */
const rawDump = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'raw'], { maxBuffer: 1 << 30 }).toString();

/** Struct/union type id → its member lines, and struct name → id, from bpftool's dump. */
const dumpedRecords = new Map<number, { name: string; type: number; bitOffset: number }[]>();
const dumpedStructIds = new Map<string, number>();
{
  let members: { name: string; type: number; bitOffset: number }[] | undefined;
  for (const line of rawDump.split('\n')) {
    const head = /^\[(\d+)\] (STRUCT|UNION) '([^']*)'/.exec(line);
    const member = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (head) {
      members = [];
      dumpedRecords.set(Number(head[1]), members);
      if (head[2] === 'STRUCT' && !dumpedStructIds.has(head[3])) dumpedStructIds.set(head[3], Number(head[1]));
    } else if (member && members) members.push({ name: member[1], type: Number(member[2]), bitOffset: Number(member[3]) });
    else members = undefined;
  }
}

/** Member name → byte offset of a struct, from bpftool; members of anonymous structs/unions count as the struct's own. */
function bpftoolOffsets(struct: string): Map<string, number> {
  const id = dumpedStructIds.get(struct);
  assert.notEqual(id, undefined, `struct ${struct} is not in this kernel's BTF`);
  const offsets = new Map<string, number>();
  const collect = (recordId: number, base: number) => {
    for (const m of dumpedRecords.get(recordId)!) {
      if (m.name === '(anon)' && dumpedRecords.has(m.type)) collect(m.type, base + m.bitOffset);
      else offsets.set(m.name, (base + m.bitOffset) / 8);
    }
  };
  collect(id!, 0);
  return offsets;
}

/** Names of types of `kind` with `prefix`, from bpftool. */
function bpftoolNames(kind: string, prefix: string): string[] {
  return [...rawDump.matchAll(new RegExp(`^\\[\\d+\\] ${kind} '(${prefix}\\w*)'`, 'gm'))].map((m) => m[1]);
}

const btf = parseBtf(readFileSync(VMLINUX));
const typeOf = (struct: string, member: string) => {
  const m = btf.byName(struct, 'struct')!.members!.find((x) => x.name === member)!;
  return { name: btf.typeName(m.type), size: btf.sizeOf(m.type) };
};

let session: LanguageServerSession;
let connection: LanguageServerSession['connection'];
let firstFieldCompletionMs = 0;
let tempDir = '';

async function complete(position: Position, documentUri = uri): Promise<CompletionItem[]> {
  return itemsOf(await connection.sendRequest(CompletionRequest.type, { textDocument: { uri: documentUri }, position }));
}

before(async () => {
  session = await startLanguageServer();
  connection = session.connection;
  tempDir = mkdtempSync(join(tmpdir(), 'lsp-kernel-types-'));
  const opened = performance.now();
  await session.open(uri, program);
  const items = await complete(positionAfter(program, 'e->pid = t->'));
  firstFieldCompletionMs = performance.now() - opened;
  assert.ok(items.some((i) => i.label === 'pid'));
});

after(() => {
  session?.kill();
  rmSync(tempDir, { recursive: true, force: true });
});

test('`t->` on a struct task_struct * offers its fields with type, offset and size from this kernel', async (t) => {
  const items = await complete(positionAfter(program, 'e->pid = t->'));
  const offsets = bpftoolOffsets('task_struct');
  for (const name of ['pid', 'tgid', 'comm', 'real_parent', 'mm']) {
    const item = items.find((i) => i.label === name);
    const type = typeOf('task_struct', name);
    assert.equal(item?.detail, `${type.name} · offset ${offsets.get(name)}, size ${type.size}`, name);
    assert.equal(item?.kind, 5 /* CompletionItemKind.Field */);
  }
  assert.equal(items.find((i) => i.label === 'comm')?.detail, `char[16] · offset ${offsets.get('comm')}, size 16`);
  assert.equal(items.find((i) => i.label === 'real_parent')?.detail, `struct task_struct * · offset ${offsets.get('real_parent')}, size 8`);
  // Fields of anonymous members are the struct's own: every named member bpftool lists is offered.
  const labels = new Set(items.map((i) => i.label));
  assert.deepEqual([...offsets.keys()].filter((name) => !labels.has(name)), []);
  assert.equal(items.some((i) => i.label === 'bpf_map_lookup_elem'), false, 'no helpers after `->`');
  const at = positionAfter(program, 'e->pid = t->');
  assert.deepEqual(items.find((i) => i.label === 'tgid')?.textEdit, { range: { start: at, end: at }, newText: 'tgid' });
  t.diagnostic(`didOpen to first field completion: ${firstFieldCompletionMs.toFixed(0)} ms (server already initialized)`);
});

test('a chain through members follows BTF: `t->mm->` offers struct mm_struct fields', async () => {
  const items = await complete(positionAfter(program, '&t->mm->'));
  const offsets = bpftoolOffsets('mm_struct');
  const startStack = items.find((i) => i.label === 'start_stack');
  assert.equal(startStack?.detail, `long unsigned int · offset ${offsets.get('start_stack')}, size 8`);
  assert.ok(items.some((i) => i.label === 'pgd') && items.some((i) => i.label === 'mmap_base'));
});

test('the document’s own struct, then a kernel pointer inside it: `e->` and `e->task->real_parent->`', async () => {
  const own = await complete(positionAfter(program, 'bpf_probe_read_kernel(&e->'));
  assert.deepEqual(
    own.map((i) => [i.label, i.detail]),
    [
      ['pid', '__u32'],
      ['ppid', '__u32'],
      ['comm', 'char[16]'],
      ['task', 'struct task_struct *'],
      ['ts', '__u64'],
      ['halves', '__u32[2]'],
      ['start', 'unsigned long'],
    ],
  );
  const chained = await complete(positionAfter(program, '&e->task->real_parent->'));
  const offsets = bpftoolOffsets('task_struct');
  assert.equal(chained.find((i) => i.label === 'tgid')?.detail, `pid_t · offset ${offsets.get('tgid')}, size 4`);
});

test('`ctx->` in SEC("xdp") offers struct xdp_md fields, also through a cast', async () => {
  const offsets = bpftoolOffsets('xdp_md');
  const expected = [...offsets].map(([name, offset]) => [name, `__u32 · offset ${offset}, size 4`]);
  assert.deepEqual(expected.slice(0, 2), [
    ['data', '__u32 · offset 0, size 4'],
    ['data_end', '__u32 · offset 4, size 4'],
  ]);
  const items = await complete(positionAfter(program, '(void *)(long)ctx->'));
  assert.deepEqual(
    items.map((i) => [i.label, i.detail]),
    expected,
  );
  const cast = await complete(positionAfter(program, '((struct xdp_md *)ctx)->'));
  assert.deepEqual(
    cast.map((i) => [i.label, i.detail]),
    expected,
  );
});

test('a kfunc’s BTF return type types its call: `bpf_task_acquire(owned)->` offers task fields; parameters too: `how->`', async () => {
  const items = await complete(positionAfter(program, 'bpf_task_acquire(owned)->'));
  assert.ok(items.some((i) => i.label === 'pid' && i.detail?.startsWith('pid_t')));
  const how = await complete(positionAfter(program, 'return how->'));
  assert.deepEqual(
    how.map((i) => i.label),
    [...bpftoolOffsets('open_how').keys()],
  );
});

test('hover on task_struct shows its layout and size; on a field, its type, offset and size', async () => {
  const size = Number(/\] STRUCT 'task_struct' size=(\d+)/.exec(rawDump)![1]);
  const at = positionAfter(program, 'struct task_');
  const hover = await connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: at });
  const value = (hover?.contents as MarkupContent).value;
  assert.match(value, /^```c\nstruct task_struct \{\n/);
  assert.ok(value.includes(`size ${size} bytes`), value.slice(-200));
  const pidLine = value.split('\n').find((line) => /^\tpid_t pid;/.test(line));
  assert.match(pidLine ?? '', new RegExp(`/\\* +${bpftoolOffsets('task_struct').get('pid')} +4 \\*/$`));

  const field = await connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: positionAfter(program, 'e->pid = t->tg') });
  assert.deepEqual((field?.contents as MarkupContent).value, `\`\`\`c\npid_t tgid;\n\`\`\`\n\nField of \`struct task_struct\` · offset ${bpftoolOffsets('task_struct').get('tgid')}, size 4`);
});

test('kfuncs from this kernel’s BTF are offered with their prototype and the extern declaration they need', async () => {
  const kfuncs = new Set(
    [...rawDump.matchAll(/^\[\d+\] DECL_TAG 'bpf_kfunc' type_id=(\d+) component_idx=-1$/gm)].map((m) => /^\[\d+\] FUNC '(\w+)'/m.exec(rawDump.slice(rawDump.indexOf(`\n[${m[1]}] `) + 1))![1]),
  );
  assert.ok(kfuncs.has('bpf_task_acquire'), 'this kernel tags bpf_task_acquire as a kfunc');
  const items = await complete(positionAfter(program, 'struct task_struct *owned = '));
  const offered = items.filter((i) => i.labelDetails?.description === 'kfunc');
  assert.deepEqual(new Set(offered.map((i) => i.label)), kfuncs);
  assert.ok(items.some((i) => i.label === 'bpf_map_lookup_elem'), 'helpers are still offered');
  const acquire = offered.find((i) => i.label === 'bpf_task_acquire')!;
  assert.equal(acquire.detail, 'struct task_struct *bpf_task_acquire(struct task_struct *p)');
  assert.deepEqual(acquire.additionalTextEdits, [
    { range: { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }, newText: 'extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;\n' },
  ]);
  // The call's parentheses already follow the cursor here: only the name is inserted.
  assert.equal((acquire.textEdit as { newText: string }).newText, 'bpf_task_acquire');
  const resolved = await connection.sendRequest(CompletionResolveRequest.type, acquire);
  assert.match((resolved.documentation as MarkupContent).value, /verify the program to find out/);

  const help = await connection.sendRequest(SignatureHelpRequest.type, { textDocument: { uri }, position: positionAfter(program, 'bpf_task_release(') });
  assert.equal(help?.signatures[0].label, 'void bpf_task_release(struct task_struct *p)');
  assert.equal(help?.activeParameter, 0);
});

test('SEC("…/") completes attach targets from BTF: functions, tracepoints, LSM hooks and syscalls', async () => {
  const targets = 'SEC("fentry/do_sys_o")\nSEC("tp_btf/sched_sw")\nSEC("lsm/file_op")\nSEC("ksyscall/opena")\nSEC("kprobe/")\n';
  const targetsUri = 'file:///work/probe/targets.bpf.c';
  await session.open(targetsUri, targets);
  const fentry = await complete(positionAfter(targets, 'fentry/do_sys_o'), targetsUri);
  assert.deepEqual(fentry.map((i) => i.label), bpftoolNames('FUNC', 'do_sys_o').sort());
  assert.ok(fentry.some((i) => i.label === 'do_sys_openat2'));
  assert.equal(fentry.find((i) => i.label === 'do_sys_openat2')?.detail, 'int do_sys_openat2(int dfd, const char *filename, struct open_how *how)');
  const tp = await complete(positionAfter(targets, 'tp_btf/sched_sw'), targetsUri);
  assert.deepEqual(tp.map((i) => i.label), bpftoolNames('TYPEDEF', 'btf_trace_sched_sw').map((n) => n.slice('btf_trace_'.length)).sort());
  assert.ok(tp.find((i) => i.label === 'sched_switch')?.detail?.includes('struct task_struct *'));
  const lsm = await complete(positionAfter(targets, 'lsm/file_op'), targetsUri);
  assert.deepEqual(lsm.map((i) => i.label), bpftoolNames('FUNC', 'bpf_lsm_file_op').map((n) => n.slice('bpf_lsm_'.length)).sort());
  const syscalls = await complete(positionAfter(targets, 'ksyscall/opena'), targetsUri);
  assert.deepEqual(syscalls.map((i) => i.label), ['openat', 'openat2']);
  const all = await connection.sendRequest(CompletionRequest.type, { textDocument: { uri: targetsUri }, position: positionAfter(targets, 'kprobe/') });
  assert.equal((all as CompletionList).isIncomplete, true, 'tens of thousands of functions: capped, asked again as the name grows');
  assert.equal((all as CompletionList).items.length, 1000);
});

test('ebpfStudio/targetInfo switches to the target’s BTF, and back to this machine', async () => {
  writeFileSync(join(tempDir, 'remote.bpf.c'), 'struct remote_only { int a; long long b : 7; char tail; };\nstruct remote_only remote_value;\n');
  const object = join(tempDir, 'remote.o');
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', join(tempDir, 'remote.bpf.c'), '-o', object]);
  const bytes = readFileSync(object);
  const section = BpfObject.parse(bytes).sections.find((s) => s.name === '.BTF')!;
  const btfPath = join(tempDir, 'remote.btf');
  writeFileSync(btfPath, bytes.subarray(section.offset, section.offset + section.size));

  const text = 'int f(void)\n{\n\tstruct remote_only *r = 0;\n\tstruct task_struct *t = 0;\n\treturn r->a + t->pid;\n}\n';
  const targetUri = 'file:///work/probe/remote.bpf.c';
  await session.open(targetUri, text);
  const target: TargetInfoParams = { description: 'root@10.0.0.2:22', kernelRelease: '6.1.0', arch: 'x86_64', btfPath, btfId: 'remote-1', features: null, helpers: null };
  await connection.sendNotification(TargetInfoNotification, target);
  assert.deepEqual(
    (await complete(positionAfter(text, 'return r->'), targetUri)).map((i) => [i.label, i.detail]),
    [
      ['a', 'int · offset 0, size 4'],
      // The bitfield shares the 8-byte unit that starts at 0, after `a`: bits 32..38, as clang lays it out.
      ['b', 'long long · offset 4 bit 0, 7 bits'],
      ['tail', 'char · offset 5, size 1'],
    ],
  );
  assert.deepEqual(await complete(positionAfter(text, 't->'), targetUri), [], 'task_struct is not in that target’s BTF');

  await connection.sendNotification(TargetInfoNotification, { ...target, description: 'local', btfPath: null, btfId: null });
  assert.ok((await complete(positionAfter(text, 't->'), targetUri)).some((i) => i.label === 'pid'));
  await connection.sendNotification(TargetInfoNotification, { ...target, btfPath: null, btfId: null });
  assert.deepEqual(await complete(positionAfter(text, 't->'), targetUri), [], 'a target without BTF offers no kernel fields');
  assert.ok(session.logMessages.some((m) => m.startsWith(`Kernel types: root@10.0.0.2:22 sent no BTF`)));
  assert.ok(session.logMessages.some((m) => /^Kernel types: \d+ types from \/sys\/kernel\/btf\/vmlinux \(parsed in \d+ ms/.test(m)), session.logMessages.join('\n'));
  assert.equal(session.stderr(), '');
});
