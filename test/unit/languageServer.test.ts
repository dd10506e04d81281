// The language server, driven as a separate process over stdio by a real LSP client, the way an
// editor uses it: completion, hover and signature help for BPF helpers in a realistic program.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CompletionRequest,
  CompletionResolveRequest,
  DidChangeTextDocumentNotification,
  HoverRequest,
  SignatureHelpRequest,
  type CompletionItem,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { itemsOf, positionAfter, startLanguageServer, type LanguageServerSession } from './languageServerSession';

const uri = 'file:///work/probe/execsnoop.bpf.c';

// A tracepoint program with a ring buffer, caught while its author types `bpf_ring`.
const program = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct event {
	__u32 pid;
	char comm[16];
	char filename[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} exec_count SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *count = bpf_map_lookup_elem(&exec_count, &pid);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;
	int ppid;

	/* no helpers here: bpf_ring */
	bpf_printk("reserve with bpf_ring", pid);
	e = bpf_ring
	if (!e)
		return 0;
	e->pid = pid;
	bpf_probe_read_kernel(&ppid, sizeof(ppid), &task->real_parent->tgid);
	bpf_probe_read_kernel(e->comm, 
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

const headerHelpers = [
  ...readFileSync(process.env.BPF_HELPER_DEFS || '/usr/include/bpf/bpf_helper_defs.h', 'utf8').matchAll(
    /^static (.*?)\(\*(bpf_\w+)\)\((.*)\) = \(void \*\) \d+;$/gm,
  ),
].map((m) => m[2]);

let session: LanguageServerSession;
let connection: LanguageServerSession['connection'];
let version = 1;
let firstCompletionMs = 0;

// Loaded after the helper table is generated, which they import.
let scanCursorContext: typeof import('../../language-server/cursorContext').scanCursorContext;
let completeHelpers: typeof import('../../language-server/completion').completeHelpers;

before(async () => {
  session = await startLanguageServer();
  connection = session.connection;
  assert.equal(session.initializeResult.serverInfo?.name, 'ebpf-studio-language-server');
  ({ scanCursorContext } = await import('../../language-server/cursorContext'));
  ({ completeHelpers } = await import('../../language-server/completion'));
  await session.open(uri, program);
});

after(() => {
  session?.kill();
});

test('completion after `bpf_ring` offers every ring buffer helper with its exact signature', async () => {
  const result = await connection.sendRequest(CompletionRequest.type, {
    textDocument: { uri },
    position: positionAfter(program, 'e = bpf_ring'),
  });
  firstCompletionMs = performance.now() - session.startedAt;
  // kfuncs of this machine's kernel follow the helpers (languageServerKernelTypes.test.ts covers them).
  const items = itemsOf(result).filter((i) => i.labelDetails?.description !== 'kfunc');
  assert.deepEqual(
    items.map((i) => i.label),
    headerHelpers,
    'all helpers are offered; the client filters them by what was typed',
  );

  const ring = items.filter((i) => (i.label as string).startsWith('bpf_ring'));
  assert.deepEqual(
    ring.map((i) => i.label),
    headerHelpers.filter((name) => name.startsWith('bpf_ring')),
  );
  const detail = (name: string) => ring.find((i) => i.label === name)?.detail;
  assert.equal(detail('bpf_ringbuf_reserve'), 'void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags)');
  assert.equal(detail('bpf_ringbuf_submit'), 'void bpf_ringbuf_submit(void *data, __u64 flags)');
  assert.equal(detail('bpf_ringbuf_output'), 'long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags)');
  assert.equal(detail('bpf_ringbuf_discard'), 'void bpf_ringbuf_discard(void *data, __u64 flags)');

  const reserve = ring.find((i) => i.label === 'bpf_ringbuf_reserve')!;
  assert.equal(reserve.kind, 3 /* CompletionItemKind.Function */);
  assert.equal(reserve.insertTextFormat, 2 /* InsertTextFormat.Snippet */);
  const typed = positionAfter(program, 'e = bpf_ring');
  assert.deepEqual(reserve.textEdit, {
    range: { start: { line: typed.line, character: typed.character - 'bpf_ring'.length }, end: typed },
    newText: 'bpf_ringbuf_reserve(${1:ringbuf}, ${2:size}, ${3:flags})',
  });
});

test('resolving a completion adds the helper documentation as Markdown', async () => {
  const items = itemsOf(
    await connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: positionAfter(program, 'e = bpf_ring') }),
  );
  const resolved = await connection.sendRequest(
    CompletionResolveRequest.type,
    items.find((i) => i.label === 'bpf_ringbuf_reserve')!,
  );
  assert.deepEqual(resolved.documentation, {
    kind: 'markdown',
    value:
      'Reserve *size* bytes of payload in a ring buffer *ringbuf*.\n*flags* must be 0.\n\n' +
      '**Returns**\n\nValid pointer with *size* bytes of memory available; NULL,\notherwise.\n\n' +
      'Helper `BPF_FUNC_ringbuf_reserve` = 131 (libbpf `bpf_helper_defs.h`)',
  });
});

test('no completion inside a comment, a string, an #include path; only fields after `->`', async () => {
  for (const position of [
    positionAfter(program, '/* no helpers here: bpf_ring'),
    positionAfter(program, '"reserve with bpf_ring'),
    positionAfter(program, '#include <bpf/bpf_'),
  ]) {
    const result = await connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position });
    assert.deepEqual(itemsOf(result), [], `at ${JSON.stringify(position)}`);
  }
  const fields = itemsOf(await connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: positionAfter(program, 'e->') }));
  assert.deepEqual(
    fields.map((i) => i.label),
    ['pid', 'comm', 'filename'],
  );
});

test('hover over bpf_map_lookup_elem shows its signature, documentation and return value', async () => {
  const start = positionAfter(program, '__u64 *count = ');
  const hover = await connection.sendRequest(HoverRequest.type, {
    textDocument: { uri },
    position: { line: start.line, character: start.character + 5 },
  });
  assert.deepEqual(hover, {
    contents: {
      kind: 'markdown',
      value:
        '```c\nvoid *bpf_map_lookup_elem(void *map, const void *key)\n```\n\n' +
        'Perform a lookup in *map* for an entry associated to *key*.\n\n' +
        '**Returns**\n\nMap value associated to *key*, or **NULL** if no entry was\nfound.\n\n' +
        'Helper `BPF_FUNC_map_lookup_elem` = 1 (libbpf `bpf_helper_defs.h`)',
    },
    range: { start, end: { line: start.line, character: start.character + 'bpf_map_lookup_elem'.length } },
  });
});

test('no hover on names that are not helpers, or on a helper name inside a string', async () => {
  for (const position of [positionAfter(program, 'handle_exe'), positionAfter(program, '"reserve with bpf_ring')]) {
    assert.equal(await connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position }), null);
  }
});

test('signature help in `bpf_probe_read_kernel(e->comm, |` highlights the second parameter', async () => {
  const help = await connection.sendRequest(SignatureHelpRequest.type, {
    textDocument: { uri },
    position: positionAfter(program, 'bpf_probe_read_kernel(e->comm, '),
  });
  const label = 'long bpf_probe_read_kernel(void *dst, __u32 size, const void *unsafe_ptr)';
  assert.equal(help?.activeSignature, 0);
  assert.equal(help?.activeParameter, 1);
  assert.equal(help?.signatures.length, 1);
  const signature = help!.signatures[0];
  assert.equal(signature.label, label);
  assert.equal(signature.activeParameter, 1);
  assert.deepEqual(
    signature.parameters?.map((p) => label.slice(...(p.label as [number, number]))),
    ['void *dst', '__u32 size', 'const void *unsafe_ptr'],
  );
});

test('signature help counts only the call’s own commas, not those of nested calls', async () => {
  const position = positionAfter(program, 'bpf_probe_read_kernel(&ppid, sizeof(ppid), &task->real_parent->tgid');
  const third = await connection.sendRequest(SignatureHelpRequest.type, { textDocument: { uri }, position });
  assert.equal(third?.activeParameter, 2);
  const insideSizeof = await connection.sendRequest(SignatureHelpRequest.type, {
    textDocument: { uri },
    position: positionAfter(program, 'bpf_probe_read_kernel(&ppid, sizeof(pp'),
  });
  assert.equal(insideSizeof?.signatures[0].label.includes('bpf_probe_read_kernel'), true);
  assert.equal(insideSizeof?.activeParameter, 1);
  const inString = await connection.sendRequest(SignatureHelpRequest.type, {
    textDocument: { uri },
    position: positionAfter(program, '"reserve with '),
  });
  assert.equal(inString, null);
});

test('a trigger character opens a list only where it starts something: not for the `/` of a comment, nor a comparison', async () => {
  // Each document is the file as it is at the moment its last character was typed.
  const typing = async (name: string, text: string, trigger: string): Promise<CompletionItem[]> => {
    const typedUri = `file:///work/probe/typing-${name}.bpf.c`;
    await session.open(typedUri, text);
    const lines = text.split('\n');
    const position = { line: lines.length - 1, character: lines.at(-1)!.length };
    return itemsOf(await connection.sendRequest(CompletionRequest.type, { textDocument: { uri: typedUri }, position, context: { triggerKind: 2, triggerCharacter: trigger } }));
  };
  const body = 'SEC("tracepoint/syscalls/sys_enter_execve")\nint handle(void *ctx)\n{\n\tstruct event *e = 0;\n\t__u32 pid = 0;\n';
  const start = 'struct event { __u32 pid; char comm[16]; };\n' + body;
  assert.deepEqual(await typing('comment-start', `${start}\t/`, '/'), [], 'the first / of a comment');
  assert.deepEqual(await typing('comment-second', `${start}\t//`, '/'), [], 'the second / of a comment');
  assert.deepEqual(await typing('comment-section', `${start}\t// attach with SEC("kprobe/`, '/'), [], 'a section name quoted in a comment');
  assert.deepEqual(await typing('division', `${start}\tpid = pid /`, '/'), [], 'a division');
  assert.deepEqual(await typing('comparison', `${start}\tif (pid >`, '>'), [], 'a comparison');
  assert.deepEqual(await typing('string', `${start}\tbpf_printk("`, '"'), [], 'a string');
  assert.deepEqual((await typing('arrow', `${start}\te->`, '>')).map((i) => i.label), ['pid', 'comm'], 'fields after ->');
  assert.ok((await typing('section', 'SEC("', '"')).some((i) => i.label === 'tracepoint/'), 'section names after SEC("');
});

test('after an incremental edit, completion answers for the new text', async () => {
  // The author finishes the reservation and starts another call on a new line.
  const typed = positionAfter(program, 'e = bpf_ring');
  const insertion = 'buf_reserve(&events, sizeof(*e), 0);\n\tbpf_ktime';
  await connection.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: ++version },
    contentChanges: [{ range: { start: typed, end: typed }, text: insertion }],
  });
  const position = { line: typed.line + 1, character: '\tbpf_ktime'.length };
  const items = itemsOf(await connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position }));
  const ktime = items.find((i) => i.label === 'bpf_ktime_get_ns');
  assert.equal(ktime?.detail, '__u64 bpf_ktime_get_ns(void)');
  assert.deepEqual(ktime?.textEdit, {
    range: { start: { line: position.line, character: 1 }, end: position },
    newText: 'bpf_ktime_get_ns()',
  });
  const help = await connection.sendRequest(SignatureHelpRequest.type, {
    textDocument: { uri },
    position: { line: typed.line, character: typed.character + 'buf_reserve(&events, '.length },
  });
  assert.equal(help?.signatures[0].label, 'void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags)');
  assert.equal(help?.activeParameter, 1);
});

test('the server logs to the client, not to stdout, and shuts down cleanly', async (t) => {
  assert.deepEqual(
    session.logMessages.filter((m) => m.startsWith('eBPF language server ready')),
    [`eBPF language server ready: ${headerHelpers.length} BPF helpers from libbpf's bpf_helper_defs.h`],
  );
  const code = await session.close();
  assert.equal(code, 0, `server stderr: ${session.stderr()}`);
  assert.equal(session.stderr(), '');
  t.diagnostic(`spawn to first completion answer: ${firstCompletionMs.toFixed(0)} ms (through tsx)`);
});

// The cursor context on its own (in-process): the cases a line-based guess gets wrong.

/** The context at the end of `source`. */
function contextAtEnd(source: string) {
  return scanCursorContext(source, source.length);
}

test('a block comment spanning lines is still a comment on its later lines', () => {
  assert.equal(contextAtEnd('/* keys:\n * pid -> count\n * bpf_map').region, 'block-comment');
  assert.equal(contextAtEnd('/* keys */\nbpf_map').region, 'code');
});

test('quotes inside character literals and escaped quotes do not open or close strings', () => {
  assert.equal(contextAtEnd(`char q = '"'; bpf_`).region, 'code');
  assert.equal(contextAtEnd('bpf_printk("say \\"bpf_').region, 'string');
  assert.equal(contextAtEnd('bpf_printk("a\\\\"); bpf_').region, 'code');
});

test('an unterminated string ends with its line', () => {
  assert.equal(contextAtEnd('bpf_printk("half typed\n\tbpf_').region, 'code');
});

test('an #include path is one after a comment line, after another #include or after an unterminated string', () => {
  assert.equal(contextAtEnd('// SPDX-License-Identifier: GPL-2.0\n#include "vml').region, 'include-path');
  assert.equal(contextAtEnd('#include "vmlinux.h"\n#include <bpf/bpf_hel').region, 'include-path');
  assert.equal(contextAtEnd('#include <bpf/bpf_helpers.h> // helpers').region, 'include-path');
  assert.equal(contextAtEnd('x = "half typed\n#include <bpf/').region, 'include-path');
  assert.equal(contextAtEnd('#include <bpf/bpf_helpers.h>\nbpf_').region, 'code');
});

test('names and brackets of an #include path are not code; those of a #define are', () => {
  assert.deepEqual(contextAtEnd('#include <odd(name).h>\nfoo(').openBrackets, [{ bracket: '(', callee: 'foo', commas: 0 }]);
  assert.deepEqual(contextAtEnd('#define LOOKUP(m, k) bpf_map_lookup_elem(m, ').openBrackets, [{ bracket: '(', callee: 'bpf_map_lookup_elem', commas: 1 }]);
});

test('a comment between a function name and its parenthesis does not hide the callee', () => {
  assert.deepEqual(contextAtEnd('bpf_map_lookup_elem /* the map */ (&m, ').openBrackets, [{ bracket: '(', callee: 'bpf_map_lookup_elem', commas: 1 }]);
});

test('a cursor right before a closing quote or comment end is inside; right after, in code', () => {
  const source = 'SEC("xdp") /* c */ char q = \'a\';';
  const regionAt = (offset: number) => scanCursorContext(source, offset).region;
  const quote = source.indexOf('"');
  assert.deepEqual([quote, quote + 1, quote + 4, quote + 5].map(regionAt), ['code', 'string', 'string', 'code']);
  const comment = source.indexOf('/*');
  assert.deepEqual([comment, comment + 1, comment + 5, comment + 6].map(regionAt), ['code', 'block-comment', 'block-comment', 'code']);
  const char = source.indexOf("'");
  assert.deepEqual([char, char + 1, char + 2, char + 3].map(regionAt), ['code', 'char', 'char', 'code']);
});

test('a parenthesis left open on an earlier statement does not capture later calls', () => {
  const { openBrackets } = contextAtEnd('foo(a;\nbpf_map_lookup_elem(&map, ');
  assert.deepEqual(openBrackets, [{ bracket: '(', callee: 'bpf_map_lookup_elem', commas: 1 }]);
});

test('commas of a compound literal and semicolons of a for header belong to their own brackets', () => {
  assert.deepEqual(contextAtEnd('for (i = 0; i < n; i++) bpf_map_update_elem(&m, &k, &(struct v){ .a = 1, .b = 2 }, ').openBrackets, [
    { bracket: '(', callee: 'bpf_map_update_elem', commas: 3 },
  ]);
  assert.deepEqual(contextAtEnd('for (i = 0; i < bpf_').openBrackets, [{ bracket: '(', callee: 'for', commas: 0 }]);
});

test('in a long document, asked at any offset in any order, the context is what a first scan finds', () => {
  // Comments, strings and brackets that run across the scanner's checkpoints (every 2048 characters).
  const unit = (i: number) =>
    `/* ${'note '.repeat(i % 7 === 0 ? 500 : 3)} */\nint f${i}(void) {\n\tbpf_printk("${'x'.repeat(i % 5 === 0 ? 2100 : 8)}\\"", ` +
    `bpf_map_lookup_elem(&m, &(struct k){ .a = ${i}, .b = '\\'' }), \n#include <bpf/bpf_helpers.h>\n\t// ${'c'.repeat(i % 3 === 0 ? 2050 : 4)}\n`;
  const source = Array.from({ length: 60 }, (_, i) => unit(i)).join('');
  const offsets = Array.from({ length: 400 }, (_, i) => Math.floor((i * 7919) % (source.length + 1)));
  for (const offset of [...offsets, ...[...offsets].reverse()]) {
    // The same text cut 100 characters on is one never scanned before, and still holds the whole
    // token the offset is in (the scanner looks ahead within a token: `/*`, `#include`).
    const firstScan = scanCursorContext(source.slice(0, offset + 100), offset);
    assert.deepEqual(scanCursorContext(source, offset), firstScan, `at ${offset}`);
  }
});

test('without client snippet support, completion inserts the bare helper name', () => {
  const document = TextDocument.create('file:///x.bpf.c', 'c', 1, 'int f(void) {\n\tbpf_map_look');
  const items = completeHelpers(document, document.getText().length, { snippetSupport: false });
  const lookup = items.find((i) => i.label === 'bpf_map_lookup_elem');
  assert.equal(lookup?.insertTextFormat, 1 /* InsertTextFormat.PlainText */);
  assert.deepEqual(lookup?.textEdit, {
    range: { start: { line: 1, character: 1 }, end: { line: 1, character: 13 } },
    newText: 'bpf_map_lookup_elem',
  });
});

test('when a call already follows the cursor, completion does not add another pair of parentheses', () => {
  const document = TextDocument.create('file:///x.bpf.c', 'c', 1, 'int f(void) {\n\tbpf_ktime(');
  const offset = document.getText().length - 1;
  const ktime = completeHelpers(document, offset, { snippetSupport: true }).find((i) => i.label === 'bpf_ktime_get_ns');
  assert.equal(ktime?.insertTextFormat, 1 /* InsertTextFormat.PlainText */);
  assert.equal((ktime?.textEdit as { newText: string }).newText, 'bpf_ktime_get_ns');
});
