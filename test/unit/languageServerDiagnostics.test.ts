// The language server's own diagnostics and quick fixes, through LSP over stdio on realistic
// programs: exact codes, ranges, messages' key facts and edits; none on correct programs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeActionRequest, CompletionItemKind, CompletionRequest, DidChangeTextDocumentNotification, type CodeAction, type Diagnostic } from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { TargetInfoNotification, type TargetInfoParams } from '../../language-server/lspExtensions';
import { itemsOf, positionAfter, positionOf, rangeOf, root, startLanguageServer, type LanguageServerSession } from './languageServerSession';

const DOCS = 'https://github.com/ebpf-studio/ebpf-studio/blob/main/docs/diagnostics.md';

let session: LanguageServerSession;

before(async () => {
  session = await startLanguageServer();
});

after(async () => {
  assert.equal(await session.close(), 0, session.stderr());
});

function messageOf(d: Diagnostic): string {
  return typeof d.message === 'string' ? d.message : d.message.value;
}

/** code, range and severity of each diagnostic: what the assertions compare. */
function summary(diagnostics: Diagnostic[]) {
  return diagnostics.map((d) => ({ code: d.code, range: d.range, severity: d.severity }));
}

async function actionsAt(uri: string, diagnostic: Diagnostic | undefined, range = diagnostic!.range): Promise<CodeAction[]> {
  const result = await session.connection.sendRequest(CodeActionRequest.type, {
    textDocument: { uri },
    range,
    context: { diagnostics: diagnostic ? [diagnostic] : [] },
  });
  return (result ?? []) as CodeAction[];
}

function applyAction(uri: string, text: string, action: CodeAction): string {
  const document = TextDocument.create(uri, 'c', 1, text);
  return TextDocument.applyEdits(document, action.edit!.changes![uri]);
}

const xdpCounter = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pkt_count SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&pkt_count, &key);

	*count += 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
`;

test('a map value dereferenced before its NULL check is an error at the dereference, fixed by an early XDP_PASS', async () => {
  const uri = 'file:///work/xdp/counter.bpf.c';
  const diagnostics = await session.open(uri, xdpCounter);
  assert.deepEqual(summary(diagnostics), [
    { code: 'unchecked-map-value', range: { start: positionOf(xdpCounter, '*count +=', 1), end: positionOf(xdpCounter, '*count +=', 6) }, severity: 1 },
  ]);
  const [d] = diagnostics;
  assert.equal(d.source, 'ebpf-studio');
  assert.deepEqual(d.codeDescription, { href: `${DOCS}#unchecked-map-value` });
  assert.match(messageOf(d), /'count' may be NULL here: bpf_map_lookup_elem returns NULL when the key is not in the map/);
  assert.match(messageOf(d), /map_value_or_null/);

  const actions = await actionsAt(uri, d);
  assert.deepEqual(actions.map((a) => a.title), ['Return XDP_PASS when count is NULL']);
  assert.equal(actions[0].isPreferred, true);
  assert.equal(
    applyAction(uri, xdpCounter, actions[0]),
    xdpCounter.replace('&pkt_count, &key);\n', '&pkt_count, &key);\n\tif (!count)\n\t\treturn XDP_PASS;\n'),
  );
});

test('the guarded forms of a lookup are not reported', async () => {
  const text = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct val { __u64 packets; __u64 bytes; };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct val);
} stats SEC(".maps");

SEC("xdp")
int guarded(struct xdp_md *ctx)
{
	__u32 key = ctx->ingress_ifindex;
	struct val *a = bpf_map_lookup_elem(&stats, &key);
	struct val *b, *c, *d, *e;

	if (!a)
		return XDP_PASS;
	a->packets++;
	b = bpf_map_lookup_elem(&stats, &key);
	if (b == NULL)
		return XDP_PASS;
	b->bytes += sizeof(*b);
	c = (struct val *)bpf_map_lookup_elem(&stats, &key);
	if (c) {
		c->packets = 0;
	}
	d = bpf_map_lookup_elem(&stats, &key);
	if (!d || d->packets > 10)
		return XDP_DROP;
	e = bpf_map_lookup_elem(&stats, &key);
	__u64 size = sizeof(*e);
	if (NULL != e)
		e->bytes = size;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
`;
  assert.deepEqual(await session.open('file:///work/xdp/guarded.bpf.c', text), []);
});

test('a tc program with the XDP context type: error on the type, fixed to struct __sk_buff *; its early return is TC_ACT_OK', async () => {
  const uri = 'file:///work/tc/filter.bpf.c';
  const text = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} blocked SEC(".maps");

SEC("tc")
int drop_blocked(struct xdp_md *ctx)
{
    __u32 mark = 1;
    __u64 *hits = bpf_map_lookup_elem(&blocked, &mark);

    __sync_fetch_and_add(&hits[0], 1);
    return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
`;
  const diagnostics = await session.open(uri, text);
  assert.deepEqual(summary(diagnostics), [
    { code: 'unchecked-map-value', range: { start: positionOf(text, '&hits[0]', 1), end: positionOf(text, '&hits[0]', 5) }, severity: 1 },
    { code: 'wrong-context-type', range: rangeOf(text, 'struct xdp_md *'), severity: 1 },
  ]);
  assert.match(messageOf(diagnostics[1]), /SEC\("tc"\) is a sched_cls program: its context is struct __sk_buff \*, not struct xdp_md \*/);

  const typeFix = await actionsAt(uri, diagnostics[1]);
  assert.deepEqual(typeFix.map((a) => a.title), ['Change the parameter type to struct __sk_buff *']);
  assert.match(applyAction(uri, text, typeFix[0]), /int drop_blocked\(struct __sk_buff \*ctx\)/);

  // Indented with four spaces: the fix follows the file's own indentation.
  const nullFix = await actionsAt(uri, diagnostics[0]);
  assert.equal(
    applyAction(uri, text, nullFix[0]),
    text.replace('&blocked, &mark);\n', '&blocked, &mark);\n    if (!hits)\n        return TC_ACT_OK;\n'),
  );
});

test('a kprobe with a non-GPL license: each GPL-only helper is an error; BPF_KPROBE offers its #include', async () => {
  const uri = 'file:///work/kprobe/unlink.bpf.c';
  const text = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(trace_unlink, int dfd, struct filename *name)
{
	const char *path = BPF_CORE_READ(name, name);
	__u64 start = bpf_ktime_get_ns();

	bpf_printk("unlink %s at %llu", path, start);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(unattached)
{
	return 0;
}

char LICENSE[] SEC("license") = "Proprietary";
`;
  const diagnostics = await session.open(uri, text);
  assert.deepEqual(summary(diagnostics), [
    { code: 'section-without-target', range: rangeOf(text, 'kprobe', 1), severity: 2 },
    { code: 'gpl-only-helper', range: rangeOf(text, 'BPF_CORE_READ'), severity: 1 },
    { code: 'gpl-only-helper', range: rangeOf(text, 'bpf_printk'), severity: 1 },
  ]);
  assert.match(messageOf(diagnostics[0]), /SEC\("kprobe"\) has no target, so libbpf loads it but its auto-attach skips it/);
  assert.match(messageOf(diagnostics[2]), /bpf_printk \(bpf_trace_printk\) is GPL-only and the license is "Proprietary"/);
  assert.match(messageOf(diagnostics[2]), /built-in list measured on Linux 6\.18/);
  // bpf_ktime_get_ns is not GPL-only (it loaded with license "Proprietary").
  assert.equal(diagnostics.some((d) => messageOf(d).includes('bpf_ktime_get_ns')), false);

  const licenseFix = await actionsAt(uri, diagnostics[2]);
  assert.deepEqual(licenseFix.map((a) => a.title), ['Change the license to "Dual BSD/GPL"']);
  assert.match(applyAction(uri, text, licenseFix[0]), /char LICENSE\[\] SEC\("license"\) = "Dual BSD\/GPL";/);

  for (const [name, header] of [['BPF_KPROBE', 'bpf/bpf_tracing.h'], ['BPF_CORE_READ', 'bpf/bpf_core_read.h']]) {
    const actions = await actionsAt(uri, undefined, rangeOf(text, name));
    const add = actions.find((a) => a.title === `Add #include <${header}> (declares ${name})`);
    assert.ok(add, `include fix for ${name}: ${actions.map((a) => a.title)}`);
    assert.equal(applyAction(uri, text, add), text.replace('#include <bpf/bpf_helpers.h>\n', `#include <bpf/bpf_helpers.h>\n#include <${header}>\n`));
  }
  // bpf_helpers.h is included: no fix offered for a helper.
  const helperActions = await actionsAt(uri, undefined, rangeOf(text, 'bpf_ktime_get_ns'));
  assert.deepEqual(helperActions, []);
});

test('section names: typos get a "did you mean" fix, a tracepoint without its event is malformed', async () => {
  const uri = 'file:///work/tp/sched.bpf.c';
  const text = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepiont/sched/sched_switch")
int on_switch(void *ctx)
{
	return 0;
}

SEC("tracepoint/sched")
int on_sched(void *ctx)
{
	return 0;
}

SEC("kprobes/do_exit")
int on_exit(struct pt_regs *ctx)
{
	return 0;
}

SEC("fentry")
int on_entry(void *ctx)
{
	return 0;
}

SEC("?tp/syscalls/sys_enter_openat")
int later(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;
  const diagnostics = await session.open(uri, text);
  assert.deepEqual(summary(diagnostics), [
    { code: 'unknown-section', range: rangeOf(text, 'tracepiont/sched/sched_switch'), severity: 1 },
    { code: 'malformed-section-target', range: rangeOf(text, 'tracepoint/sched'), severity: 1 },
    { code: 'unknown-section', range: rangeOf(text, 'kprobes/do_exit'), severity: 1 },
    { code: 'section-without-target', range: rangeOf(text, 'fentry'), severity: 1 },
  ]);
  assert.equal(messageOf(diagnostics[0]), 'libbpf does not know the section "tracepiont/sched/sched_switch". Did you mean "tracepoint/sched/sched_switch"?');
  assert.match(messageOf(diagnostics[1]), /"sched" is not CATEGORY\/EVENT/);
  assert.equal(messageOf(diagnostics[2]), 'libbpf does not know the section "kprobes/do_exit". Did you mean "kprobe/do_exit"?');
  assert.match(messageOf(diagnostics[3]), /SEC\("fentry"\) needs a target: libbpf resolves \[MODULE:\]FUNCTION/);
  const fixes = await actionsAt(uri, diagnostics[0]);
  assert.deepEqual(fixes.map((a) => a.title), ['Change to "tracepoint/sched/sched_switch"']);
  assert.match(applyAction(uri, text, fixes[0]), /^SEC\("tracepoint\/sched\/sched_switch"\)$/m);
});

test('a program without a license: an error naming the GPL-only helpers it uses, fixed by appending the license', async () => {
  const uri = 'file:///work/tp/nolicense.bpf.c';
  const text = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct trace_event_raw_sys_enter *ctx)
{
	char filename[256];

	bpf_probe_read_user_str(filename, sizeof(filename), (const char *)ctx->args[1]);
	return 0;
}
`;
  const diagnostics = await session.open(uri, text);
  assert.deepEqual(summary(diagnostics), [{ code: 'missing-license', range: rangeOf(text, 'trace_openat'), severity: 1 }]);
  assert.match(messageOf(diagnostics[0]), /refuses its GPL-only helpers \(bpf_probe_read_user_str; built-in list/);
  const [fix] = await actionsAt(uri, diagnostics[0]);
  assert.equal(fix.title, 'Add char LICENSE[] SEC("license") = "GPL";');
  assert.equal(applyAction(uri, text, fix), `${text}\nchar LICENSE[] SEC("license") = "GPL";\n`);

  // Without GPL-only helpers it loads, so it is only a warning.
  const quiet = text.replace(/\tbpf_probe_read_user_str.*\n/, '');
  const warned = await session.open('file:///work/tp/nolicense-quiet.bpf.c', quiet);
  assert.deepEqual(summary(warned), [{ code: 'missing-license', range: rangeOf(quiet, 'trace_openat'), severity: 2 }]);
});

test('a local array past the 512-byte stack is an error; static arrays and small ones are not', async () => {
  const text = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("kprobe/vfs_read")
int big_stack(struct pt_regs *ctx)
{
	__u8 small[64];
	static char kept[4096];
	char path[1024];
	__u64 samples[8][16];

	small[0] = kept[0] = path[0] = samples[0][0] = 0;
	return small[0];
}

char LICENSE[] SEC("license") = "GPL";
`;
  const diagnostics = await session.open('file:///work/kprobe/stack.bpf.c', text);
  assert.deepEqual(summary(diagnostics), [
    { code: 'stack-array-too-large', range: rangeOf(text, 'path'), severity: 1 },
    { code: 'stack-array-too-large', range: rangeOf(text, 'samples'), severity: 1 },
  ]);
  assert.match(messageOf(diagnostics[0]), /'path' takes 1024 bytes of stack; a BPF program has 512 bytes/);
  assert.match(messageOf(diagnostics[1]), /'samples' takes 1024 bytes/);
});

test("helpers the target's probe does not allow for the program type are errors, once targetInfo says so", async () => {
  const uri = 'file:///work/xdp/probe.bpf.c';
  const text = xdpCounter.replace('*count += 1;', 'if (count)\n\t\t*count = bpf_ktime_get_ns();');
  assert.deepEqual(await session.open(uri, text), []);
  const target: TargetInfoParams = {
    description: 'root@vm1:22',
    kernelRelease: '6.1.0-test',
    arch: 'x86_64',
    btfPath: null,
    btfId: null,
    features: null,
    helpers: { helpersByProgramType: { xdp: ['bpf_map_lookup_elem'] }, gplOnly: ['bpf_trace_printk'] },
  };
  const republished = session.nextDiagnostics(uri);
  await session.connection.sendNotification(TargetInfoNotification, target);
  const diagnostics = await republished;
  assert.deepEqual(summary(diagnostics), [{ code: 'helper-not-allowed', range: rangeOf(text, 'bpf_ktime_get_ns'), severity: 1 }]);
  assert.match(messageOf(diagnostics[0]), /bpf_ktime_get_ns is not available to xdp programs on root@vm1:22/);
  // Back to a target without a probe: no guessing.
  const cleared = session.nextDiagnostics(uri);
  await session.connection.sendNotification(TargetInfoNotification, { ...target, helpers: null, description: 'local' });
  assert.deepEqual(await cleared, []);
});

test('a hook the target kernel cannot attach is a warning on its SEC line once the target is known', async () => {
  const uri = 'file:///work/kprobe/hook-on-target.bpf.c';
  const text = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd)
{
\treturn 0;
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int on_unlink_tp(void *ctx)
{
\treturn 0;
}
`;
  assert.deepEqual(await session.open(uri, text), []);
  const features = {
    kprobeEvents: false, uprobeEvents: true, tracingPrograms: false, lsm: false, ringbuf: true, tcx: true, bpfCookie: true,
    tracefs: '/sys/kernel/tracing', bpffs: '/sys/fs/bpf', programTypes: ['kprobe', 'tracepoint'], mapTypes: ['hash'],
  };
  const target: TargetInfoParams = { description: 'root@vm1:22', kernelRelease: '6.18', arch: 'x86_64', btfPath: null, btfId: null, features, helpers: null };
  const republished = session.nextDiagnostics(uri);
  await session.connection.sendNotification(TargetInfoNotification, target);
  const diagnostics = await republished;
  assert.deepEqual(summary(diagnostics), [{ code: 'hook-unsupported-on-target', range: rangeOf(text, 'kprobe/do_unlinkat'), severity: 2 }]);
  assert.equal(
    messageOf(diagnostics[0]),
    'On root@vm1:22: kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set): the program loads but cannot attach; use a tracepoint program instead.', // no fentry on that kernel either, nor raw_tp among its program types,
  );
  const cleared = session.nextDiagnostics(uri);
  await session.connection.sendNotification(TargetInfoNotification, { ...target, features: null, description: 'local' });
  assert.deepEqual(await cleared, []);
});

test("inside a program, helper completion offers only what the target's probe allows its type", async () => {
  const uri = 'file:///work/xdp/complete.bpf.c';
  const text = xdpCounter.replace('*count += 1;', 'if (count)\n\t\t*count = bpf_;') + '\nstatic int outside = bpf_;\n';
  await session.open(uri, text);
  const helpersAt = async (position: ReturnType<typeof positionAfter>) =>
    itemsOf(await session.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position }))
      .filter((item) => item.kind === CompletionItemKind.Function && item.labelDetails?.description !== 'kfunc')
      .map((item) => item.label);
  const target: TargetInfoParams = {
    description: 'root@vm1:22',
    kernelRelease: '6.1.0-test',
    arch: 'x86_64',
    btfPath: null,
    btfId: null,
    features: null,
    helpers: { helpersByProgramType: { xdp: ['bpf_map_lookup_elem', 'bpf_xdp_adjust_head'] }, gplOnly: [] },
  };
  const republished = session.nextDiagnostics(uri);
  await session.connection.sendNotification(TargetInfoNotification, target);
  await republished;
  assert.deepEqual(await helpersAt(positionAfter(text, '*count = bpf_')), ['bpf_map_lookup_elem', 'bpf_xdp_adjust_head']);
  // Outside any program there is no program type to filter by.
  assert.ok((await helpersAt(positionAfter(text, 'outside = bpf_'))).length > 200);
  const cleared = session.nextDiagnostics(uri);
  await session.connection.sendNotification(TargetInfoNotification, { ...target, helpers: null, description: 'local' });
  await cleared;
  assert.ok((await helpersAt(positionAfter(text, '*count = bpf_'))).length > 200, 'without a probe every helper is offered');
});

test('diagnostics follow edits: adding the NULL check clears the error', async () => {
  const uri = 'file:///work/xdp/edit.bpf.c';
  const diagnostics = await session.open(uri, xdpCounter);
  assert.equal(diagnostics.length, 1);
  const at = positionOf(xdpCounter, '\n\n\t*count', 1);
  const republished = session.nextDiagnostics(uri);
  await session.connection.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: at, end: at }, text: '\tif (!count)\n\t\treturn XDP_PASS;\n' }],
  });
  assert.deepEqual(await republished, []);
});

test('no diagnostics on the tracepoint template and the passing fixture', async () => {
  for (const path of ['bpf-templates/execsnoop/execsnoop.bpf.c', 'test/fixtures/programs/passes.bpf.c']) {
    const text = readFileSync(join(root, path), 'utf8');
    assert.deepEqual(await session.open(pathToFileURL(join(root, path)).href, text), [], path);
  }
});

// How fast diagnostics are published on big files is bench/languageServer.ts's to measure.
test('a 3,000-line program that includes a real vmlinux.h: exact diagnostics', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ls-vmlinux-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));

  // A hundred tracepoint programs sharing one ring buffer; number 41 forgets its NULL check.
  const programs = Array.from({ length: 100 }, (_, i) => {
    const check = i === 41 ? '' : `\tif (!e)\n\t\treturn 0;\n`;
    return `struct event_${i} {
	__u32 pid;
	__u32 ppid;
	__u64 ts;
	char comm[16];
};

/* Program ${i}: reports the process that runs it. */
SEC("tracepoint/syscalls/sys_enter_execve")
int handle_${i}(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event_${i} *e;
	__u32 key = ${i};
	__u64 *seen;

	seen = bpf_map_lookup_elem(&seen_count, &key);
	if (seen)
		__sync_fetch_and_add(seen, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
${check}	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`;
  });
  const text = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} seen_count SEC(".maps");

${programs.join('\n')}
char LICENSE[] SEC("license") = "GPL";
`;
  assert.ok(text.split('\n').length >= 3000, `${text.split('\n').length} lines`);
  const file = join(dir, 'many.bpf.c');
  writeFileSync(file, text);
  // It is real eBPF C: clang compiles it against that vmlinux.h.
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${dir}`, '-idirafter', '/usr/include/x86_64-linux-gnu', '-c', file, '-o', join(dir, 'many.o')]);

  const diagnostics = await session.open(pathToFileURL(file).href, text);
  const deref = text.indexOf('e->pid', text.indexOf('int handle_41('));
  const document = TextDocument.create('x', 'c', 1, text);
  assert.deepEqual(summary(diagnostics), [
    { code: 'unchecked-map-value', range: { start: document.positionAt(deref), end: document.positionAt(deref + 1) }, severity: 1 },
  ]);
  assert.match(messageOf(diagnostics[0]), /bpf_ringbuf_reserve returns NULL when the ring buffer is full/);
});
