// Section and map knowledge through LSP over stdio: completion inside SEC("…") and map definitions,
// map names where a helper wants a map, hovers, the outline, go to definition, and the command that
// writes clangd's flags for *.bpf.c.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ApplyWorkspaceEditRequest,
  CompletionRequest,
  DefinitionRequest,
  DocumentSymbolRequest,
  ExecuteCommandRequest,
  HoverRequest,
  type CompletionItem,
  type DocumentSymbol,
  type Hover,
  type TextDocumentEdit,
  type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { itemsOf, positionOf, rangeOf, startLanguageServer, type LanguageServerSession } from './languageServerSession';

const workspace = mkdtempSync(join(tmpdir(), 'ls-workspace-'));
let session: LanguageServerSession;

before(async () => {
  session = await startLanguageServer({ rootUri: pathToFileURL(workspace).href, workspaceEdit: true });
  await session.open(uri, program);
});

after(async () => {
  assert.equal(await session.close(), 0, session.stderr());
  rmSync(workspace, { recursive: true, force: true });
});

const uri = 'file:///work/rb/execsnoop.bpf.c';
// A tracepoint program with a ring buffer and a hash map, in the middle of being written.
const program = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct event);
	__uint(ty
} last_exec SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	e = bpf_ringbuf_reserve(ev, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	bpf_map_update_elem(&la, &pid, e, BPF_ANY);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("xdp")
int pass_all(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tracepoint/sys")
int partial(void *ctx) { return 0; }

SEC("kpr")
int typing(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
`;


async function complete(marker: string, delta = marker.length, occurrence = 0): Promise<CompletionItem[]> {
  return itemsOf(await session.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: positionOf(program, marker, delta, occurrence) }));
}

test('inside SEC("…") every libbpf section is offered with its program type and what follows it', async () => {
  const items = await complete('SEC("kpr');
  const labels = items.map((i) => i.label);
  for (const expected of ['socket', 'kprobe/', 'kretprobe/', 'uprobe/', 'ksyscall/', 'usdt/', 'tcx/ingress', 'tc', 'tracepoint/', 'tp_btf/', 'fentry/', 'lsm/', 'iter/', 'xdp', 'xdp.frags', 'cgroup_skb/ingress', 'cgroup/connect4', 'sk_msg', 'struct_ops/', 'netfilter', 'license', '.maps']) {
    assert.ok(labels.includes(expected), `${expected} offered`);
  }
  const kprobe = items.find((i) => i.label === 'kprobe/')!;
  assert.equal(kprobe.detail, 'BPF_PROG_TYPE_KPROBE');
  const range = { start: positionOf(program, 'SEC("kpr', 5), end: positionOf(program, 'SEC("kpr', 8) };
  assert.deepEqual(kprobe.textEdit, { range, newText: 'kprobe/' });
  const doc = (kprobe.documentation as { value: string }).value;
  assert.match(doc, /\*\*Target\*\* `kprobe\/FUNCTION\[\+OFFSET\]`/);
  assert.match(doc, /\*\*Context\*\* `struct pt_regs \*` \(or declare it with `BPF_KPROBE`/);
  assert.equal(items.find((i) => i.label === 'tcx/ingress')!.detail, 'BPF_PROG_TYPE_SCHED_CLS · BPF_TCX_INGRESS');
  assert.match((items.find((i) => i.label === 'xdp')!.documentation as { value: string }).value, /\*\*Returns\*\* XDP_PASS/);
});

test('after tracepoint/ the categories of this machine’s tracefs, then their events', async (t) => {
  const events = (() => {
    try {
      return readFileSync('/sys/kernel/tracing/available_events', 'utf8');
    } catch {
      return '';
    }
  })();
  if (events === '') {
    // bootstrap.sh mounts tracefs; a CI machine without it is misconfigured, not a reason to pass.
    const reason = 'tracefs is not readable here (/sys/kernel/tracing/available_events): mount -t tracefs tracefs /sys/kernel/tracing';
    if (process.env.CI === 'true') assert.fail(`cannot run here: ${reason}`);
    return t.skip(reason);
  }
  const categories = await complete('SEC("tracepoint/sys');
  const syscalls = categories.find((i) => i.label === 'syscalls/');
  assert.ok(syscalls, 'syscalls/ offered');
  const start = positionOf(program, 'SEC("tracepoint/sys', 'SEC("tracepoint/'.length);
  assert.deepEqual(syscalls.textEdit, { range: { start, end: positionOf(program, 'SEC("tracepoint/sys', 'SEC("tracepoint/sys'.length) }, newText: 'syscalls/' });
  const eventItems = await complete('SEC("tracepoint/syscalls/sys_enter_', 'SEC("tracepoint/syscalls/'.length);
  assert.ok(eventItems.some((i) => i.label === 'sys_enter_execve'), 'sys_enter_execve offered');
  assert.ok(eventItems.every((i) => !String(i.label).includes('/')));
});

test('map names are offered where a helper wants a map, with & added when missing', async () => {
  const reserve = await complete('bpf_ringbuf_reserve(ev');
  const typed = { start: positionOf(program, 'reserve(ev', 8), end: positionOf(program, 'reserve(ev', 10) };
  assert.deepEqual(
    reserve.map((i) => [i.label, i.detail, i.textEdit]),
    [
      ['events', 'BPF_MAP_TYPE_RINGBUF', { range: typed, newText: '&events' }],
      ['last_exec', 'BPF_MAP_TYPE_HASH', { range: typed, newText: '&last_exec' }],
    ],
  );
  const update = await complete('bpf_map_update_elem(&la');
  assert.deepEqual(update.map((i) => (i.textEdit as { newText: string }).newText), ['events', 'last_exec']);
  // The second argument is a key, not a map: helpers as usual.
  const key = await complete('bpf_map_update_elem(&la, &pid');
  assert.equal(key.some((i) => i.label === 'last_exec'), false);
});

test('inside a map definition: the keys, and the map types after __uint(type, ', async () => {
  const keys = await complete('__uint(ty', 0, 2);
  assert.deepEqual(keys.map((i) => i.label), ['type', 'max_entries', 'key', 'value', 'key_size', 'value_size', 'map_flags', 'pinning', 'numa_node', 'map_extra', 'values']);
  assert.equal((keys.find((i) => i.label === 'key')!.textEdit as { newText: string }).newText, '__type(key, __u32);');
  const uintKeys = await complete('__uint(ty', undefined, 2);
  assert.ok(uintKeys.some((i) => i.label === 'max_entries') && !uintKeys.some((i) => i.label === 'key'));
  const types = await complete('__uint(type, BPF_MAP_TYPE_HA', undefined);
  assert.ok(types.some((i) => i.label === 'BPF_MAP_TYPE_HASH' && i.detail?.startsWith('Hash table')));
  assert.ok(types.some((i) => i.label === 'BPF_MAP_TYPE_RINGBUF'));
  assert.equal(types.some((i) => i.label === 'bpf_map_lookup_elem'), false);
});

async function hover(marker: string, delta = 1, occurrence = 0): Promise<Hover | null> {
  return session.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: positionOf(program, marker, delta, occurrence) });
}

test('hover on a section string explains program type, context and return values', async () => {
  const tp = await hover('tracepoint/syscalls/sys_enter_execve', 3);
  assert.deepEqual(tp?.range, rangeOf(program, 'tracepoint/syscalls/sys_enter_execve'));
  const text = (tp!.contents as { value: string }).value;
  assert.match(text, /^`SEC\("tracepoint\/syscalls\/sys_enter_execve"\)`/);
  assert.match(text, /Target: `syscalls\/sys_enter_execve`/);
  assert.match(text, /Context for this event: `struct trace_event_raw_sys_enter \*`/);
  assert.match(text, /\*\*Program type\*\* `tracepoint`/);
  const xdp = (await hover('SEC("xdp', 5))!.contents as { value: string };
  assert.match(xdp.value, /\*\*Context\*\* `struct xdp_md \*`/);
  assert.match(xdp.value, /\*\*Returns\*\* XDP_PASS \(to the stack\), XDP_DROP/);
});

test('hover on a map name shows its type, key, value and max_entries', async () => {
  const events = await hover('} events', 3);
  const value = (events!.contents as { value: string }).value;
  assert.match(value, /\*\*events\*\*: `BPF_MAP_TYPE_RINGBUF`/);
  assert.match(value, /- max_entries: `256 \* 1024`/);
  assert.match(value, /max_entries is the size in bytes: a power of 2/);
  const last = await hover('} last_exec', 3);
  const lastValue = (last!.contents as { value: string }).value;
  assert.match(lastValue, /- key: `__u32`\n- value: `struct event`\n- max_entries: `1024`/);
});

test('the outline lists programs with their sections, maps with their types, and the license', async () => {
  const symbols = (await session.connection.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } })) as DocumentSymbol[];
  assert.deepEqual(
    symbols.map((s) => [s.name, s.detail, s.kind]),
    [
      ['events', 'BPF_MAP_TYPE_RINGBUF', 13],
      ['last_exec', 'BPF_MAP_TYPE_HASH', 13],
      ['handle_execve', 'tracepoint/syscalls/sys_enter_execve', 12],
      ['pass_all', 'xdp', 12],
      ['partial', 'tracepoint/sys', 12],
      ['typing', 'kpr', 12],
      ['LICENSE', 'GPL', 14],
    ],
  );
  assert.deepEqual(symbols[2].selectionRange, rangeOf(program, 'handle_execve'));
});

test('go to definition: a map name to its definition, struct event to the struct', async () => {
  const map = await session.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position: positionOf(program, 'reserve(ev', 9) });
  assert.equal(map, null, '`ev` is not a map yet');
  const struct = await session.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position: positionOf(program, 'struct event *e', 9) });
  assert.deepEqual(struct, { uri, range: rangeOf(program, 'event') });
  const events = await session.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position: positionOf(program, '} events', 3) });
  assert.deepEqual(events, { uri, range: rangeOf(program, 'events') });
});

test('ebpfStudio.writeClangdConfig writes .clangd flags for *.bpf.c and keeps the rest of the file', async () => {
  assert.deepEqual(session.initializeResult.capabilities.executeCommandProvider, { commands: ['ebpfStudio.writeClangdConfig'] });
  const existing = 'CompileFlags:\n  Add: [-Wall]\n';
  writeFileSync(join(workspace, '.clangd'), existing);
  const vmlinuxDir = mkdtempSync(join(tmpdir(), 'ls-vmlinux-dir-'));
  const edits: { edit: unknown }[] = [];
  session.connection.onRequest(ApplyWorkspaceEditRequest.type, (params) => {
    edits.push(params);
    const change = params.edit.documentChanges!.find((c): c is TextDocumentEdit => 'edits' in c)!;
    const document = TextDocument.create(change.textDocument.uri, 'yaml', 1, existsSync(join(workspace, '.clangd')) ? readFileSync(join(workspace, '.clangd'), 'utf8') : '');
    writeFileSync(join(workspace, '.clangd'), TextDocument.applyEdits(document, change.edits as TextEdit[]));
    return { applied: true };
  });
  const result = await session.connection.sendRequest(ExecuteCommandRequest.type, { command: 'ebpfStudio.writeClangdConfig', arguments: [{ vmlinuxDir }] });
  const multiarch = existsSync('/usr/include/x86_64-linux-gnu') ? ['-idirafter', '/usr/include/x86_64-linux-gnu'] : [];
  assert.deepEqual(result, { path: `${workspace}/.clangd`, flags: ['-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${vmlinuxDir}`, ...multiarch] });
  const written = readFileSync(join(workspace, '.clangd'), 'utf8');
  assert.ok(written.startsWith(`${existing}---\n# >>> ebpf-studio`), written);
  assert.match(written, /If:\n {2}PathMatch: \.\*\\\.bpf\\\.c\nCompileFlags:\n {2}Add:\n {4}- "-target"\n {4}- bpf\n {4}- "-D__TARGET_ARCH_x86"\n/);

  // Running it again replaces our block in place.
  await session.connection.sendRequest(ExecuteCommandRequest.type, { command: 'ebpfStudio.writeClangdConfig', arguments: [{ vmlinuxDir }] });
  assert.equal(readFileSync(join(workspace, '.clangd'), 'utf8'), written);
  assert.equal(edits.length, 2);
  rmSync(vmlinuxDir, { recursive: true });
});

test('`ebpf-studio lsp` (cli/lspCommand.ts) serves the same server over stdio', { timeout: 30_000 }, async () => {
  // argv as the bundled CLI sees it: [node, cli.js, 'lsp'].
  const cli = await startLanguageServer({ nodeArguments: ['--import', 'tsx', '-e', "require('./cli/lspCommand.ts').runLanguageServer([])", 'out/cli.js', 'lsp'] });
  const init = cli.initializeResult;
  assert.equal(init.serverInfo?.name, 'ebpf-studio-language-server');
  assert.equal(init.capabilities.documentSymbolProvider, true);
  cli.kill();
});
