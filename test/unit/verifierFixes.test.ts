/**
 * The quick fixes' edits, exact text out: each fix on a small program of its kind, the return
 * value by program type, and the shapes where no fix is offered rather than a guessed one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceDiagnostic } from '../../remote-agent/client/checkReport';
import { applyTextEdits, verifierFixes } from '../../remote-agent/client/verifierFixes';

function diagnostic(kind: string, line: number, message = 'm'): SourceDiagnostic {
  return {
    file: '/w/prog.bpf.c',
    line,
    column: 1,
    severity: 'error',
    message,
    source: 'verifier',
    program: 'prog',
    explanation: { id: kind, title: 't', text: 'x', fix: 'f', docs: `docs/verifier-errors.md#${kind}` },
  };
}

/** The source with the fix numbered `n` applied, and every fix's title. */
function fixed(source: string, d: SourceDiagnostic, n = 0): { titles: string[]; text: string } {
  const fixes = verifierFixes(source, d);
  assert.ok(fixes.length > n, `fix #${n} offered; got ${JSON.stringify(fixes)}`);
  return { titles: fixes.map((f) => f.title), text: applyTextEdits(source, fixes[n]!.edits) };
}

const lines = (...l: string[]): string => l.join('\n') + '\n';

test('NULL check after a lookup split over two lines, with the tracepoint convention (return 0)', () => {
  const source = lines(
    'SEC("tp/syscalls/sys_enter_execve")',
    'int count(void *ctx)',
    '{',
    '\t__u32 key = 0;',
    '\t__u64 *count = bpf_map_lookup_elem(&counters,',
    '\t\t\t\t\t   &key);',
    '',
    '\t*count += 1;',
    '\treturn 0;',
    '}',
  );
  assert.deepEqual(fixed(source, diagnostic('nullable-map-value', 8)), {
    titles: ["Add a NULL check of 'count' after the lookup"],
    text: lines(
      'SEC("tp/syscalls/sys_enter_execve")',
      'int count(void *ctx)',
      '{',
      '\t__u32 key = 0;',
      '\t__u64 *count = bpf_map_lookup_elem(&counters,',
      '\t\t\t\t\t   &key);',
      '\tif (!count) return 0;',
      '',
      '\t*count += 1;',
      '\treturn 0;',
      '}',
    ),
  });
});

test('NULL check returns what lets traffic pass: XDP_PASS, TC_ACT_OK when the file names it, 1 for cgroup, nothing in a void function', () => {
  const program = (section: string, signature: string, extra = '') =>
    lines(extra, `SEC("${section}")`, `${signature}`, '{', '\tstruct v *v;', '\tv = bpf_map_lookup_elem(&m, &k);', '\tv->n++;', '}');
  const inserted = (source: string) => fixed(source, diagnostic('nullable-map-value', 7)).text.split('\n')[6];
  assert.equal(inserted(program('xdp', 'int f(struct xdp_md *ctx)')), '\tif (!v) return XDP_PASS;');
  assert.equal(inserted(program('tc', 'int f(struct __sk_buff *skb)', '#define TC_ACT_OK 0')), '\tif (!v) return TC_ACT_OK;');
  assert.equal(inserted(program('tc', 'int f(struct __sk_buff *skb)')), '\tif (!v) return 0;');
  assert.equal(inserted(program('cgroup_skb/egress', 'int f(struct __sk_buff *skb)')), '\tif (!v) return 1;');
  assert.equal(inserted(lines('', '', 'static __always_inline void bump(void)', '{', '\tstruct v *v;', '\tv = bpf_map_lookup_elem(&m, &k);', '\tv->n++;', '}')), '\tif (!v) return;');
});

test('NULL check after a ring buffer reservation (a nullable pointer other than a map value)', () => {
  const source = lines('SEC("tp/x/y")', 'int f(void *ctx)', '{', '\t__u32 *pid = bpf_ringbuf_reserve(&events, sizeof(*pid), 0);', '', '\t*pid = 1;', '\tbpf_ringbuf_submit(pid, 0);', '\treturn 0;', '}');
  assert.deepEqual(fixed(source, diagnostic('nullable-pointer', 6)), {
    titles: ["Add a NULL check of 'pid' after bpf_ringbuf_reserve"],
    text: lines('SEC("tp/x/y")', 'int f(void *ctx)', '{', '\t__u32 *pid = bpf_ringbuf_reserve(&events, sizeof(*pid), 0);', '\tif (!pid) return 0;', '', '\t*pid = 1;', '\tbpf_ringbuf_submit(pid, 0);', '\treturn 0;', '}'),
  });
  // A map value rejection is not fixed by checking some other nullable result.
  assert.deepEqual(verifierFixes(source, diagnostic('nullable-map-value', 6)), []);
});

test('no NULL check when the failing line does not use the looked-up pointer, or no lookup is above it', () => {
  const source = lines('int f(void *ctx)', '{', '\tv = bpf_map_lookup_elem(&m, &k);', '\tw->n++;', '}');
  assert.deepEqual(verifierFixes(source, diagnostic('nullable-map-value', 4)), []);
  assert.deepEqual(verifierFixes(lines('int f(void *ctx)', '{', '\tw->n++;', '}'), diagnostic('nullable-map-value', 3)), []);
});

test('data_end check before the header read through a pointer the function declares', () => {
  const source = lines(
    'SEC("xdp")',
    'int drop_tcp(struct xdp_md *ctx)',
    '{',
    '\tvoid *data = (void *)(long)ctx->data;',
    '\tvoid *data_end = (void *)(long)ctx->data_end;',
    '\tstruct ethhdr *eth = data;',
    '\tstruct iphdr *ip;',
    '',
    '\tif ((void *)(eth + 1) > data_end)',
    '\t\treturn XDP_PASS;',
    '\tip = (void *)(eth + 1);',
    '\tif (ip->protocol == 6)',
    '\t\treturn XDP_DROP;',
    '\treturn XDP_PASS;',
    '}',
  );
  const { titles, text } = fixed(source, diagnostic('packet-out-of-bounds', 12));
  assert.deepEqual(titles, ["Check 'ip' against data_end before the access"]);
  assert.deepEqual(text.split('\n').slice(10, 13), ['\tip = (void *)(eth + 1);', '\tif ((void *)(ip + 1) > data_end) return XDP_PASS;', '\tif (ip->protocol == 6)']);
});

test('no data_end check where it would split a statement, or without a data_end variable', () => {
  const inBody = lines('SEC("xdp")', 'int f(struct xdp_md *ctx)', '{', '\tvoid *data_end = (void *)(long)ctx->data_end;', '\tstruct iphdr *ip = data;', '\tif (x)', '\t\tn = ip->protocol;', '}');
  assert.deepEqual(verifierFixes(inBody, diagnostic('packet-out-of-bounds', 7)), []);
  const noEnd = lines('SEC("xdp")', 'int f(struct xdp_md *ctx)', '{', '\tstruct iphdr *ip = data;', '\tn = ip->protocol;', '}');
  assert.deepEqual(verifierFixes(noEnd, diagnostic('packet-out-of-bounds', 5)), []);
});

test('zero initialisers on the declarations of the stack variables the failing call reads', () => {
  const source = lines(
    'SEC("socket")',
    'int count_flows(struct __sk_buff *skb)',
    '{',
    '\tstruct flow_key key;',
    '\t__u64 init; /* the value */',
    '\tchar name[16];',
    '',
    '\tkey.proto = skb->protocol;',
    '\tbpf_map_update_elem(&flows, &key, &init, BPF_ANY);',
    '\tbpf_map_update_elem(&names, &key, &name, BPF_ANY);',
    '\treturn 0;',
    '}',
  );
  const first = fixed(source, diagnostic('uninitialized-stack-read', 9));
  assert.deepEqual(first.titles, ["Zero-initialise 'key' and 'init' where declared"]);
  assert.deepEqual(first.text.split('\n').slice(3, 6), ['\tstruct flow_key key = {};', '\t__u64 init = 0; /* the value */', '\tchar name[16];']);
  assert.deepEqual(fixed(source, diagnostic('uninitialized-stack-read', 10)).text.split('\n').slice(3, 6), ['\tstruct flow_key key = {};', '\t__u64 init; /* the value */', '\tchar name[16] = {};']);
  // Already initialised: nothing to zero.
  assert.deepEqual(verifierFixes(source.replace('key;', 'key = {};').replace('init;', 'init = 0;'), diagnostic('uninitialized-stack-read', 9)), []);
});

test('ring buffer discard on each return that skips the submit: brace-less body, one-line if; the NULL check and the submitted path left alone', () => {
  const source = lines(
    'SEC("tp/syscalls/sys_enter_execve")',
    'int report(void *ctx)',
    '{',
    '\tstruct event *e;',
    '',
    '\te = bpf_ringbuf_reserve(&events, sizeof(*e), 0);',
    '\tif (!e)',
    '\t\treturn 0;',
    '\tif (pid == 1) // init',
    '\t\treturn 0;',
    '\tif (pid == 2) return 1;',
    '\tif (pid == 3) {',
    '\t\tbpf_ringbuf_discard(e, 0);',
    '\t\treturn 0;',
    '\t}',
    '\te->pid = pid;',
    '\tbpf_ringbuf_submit(e, 0);',
    '\treturn 0;',
    '}',
  );
  assert.deepEqual(fixed(source, diagnostic('unreleased-reference', 19)), {
    titles: ["Discard the ring buffer record 'e' on the returns that skip bpf_ringbuf_submit"],
    text: lines(
      'SEC("tp/syscalls/sys_enter_execve")',
      'int report(void *ctx)',
      '{',
      '\tstruct event *e;',
      '',
      '\te = bpf_ringbuf_reserve(&events, sizeof(*e), 0);',
      '\tif (!e)',
      '\t\treturn 0;',
      '\tif (pid == 1) { // init',
      '\t\tbpf_ringbuf_discard(e, 0);',
      '\t\treturn 0;',
      '\t}',
      '\tif (pid == 2) {',
      '\t\tbpf_ringbuf_discard(e, 0);',
      '\t\treturn 1;',
      '\t}',
      '\tif (pid == 3) {',
      '\t\tbpf_ringbuf_discard(e, 0);',
      '\t\treturn 0;',
      '\t}',
      '\te->pid = pid;',
      '\tbpf_ringbuf_submit(e, 0);',
      '\treturn 0;',
      '}',
    ),
  });
});

test('the license: added after the last include when missing, made "GPL" when it is not GPL-compatible', () => {
  const missing = lines('#include "vmlinux.h"', '#include <bpf/bpf_helpers.h>', '', 'SEC("tp/x/y")', 'int peek(void *ctx)', '{', '\treturn 0;', '}');
  assert.deepEqual(fixed(missing, diagnostic('gpl-only-function', 7)), {
    titles: ['Add a GPL license: char LICENSE[] SEC("license") = "GPL";'],
    text: lines('#include "vmlinux.h"', '#include <bpf/bpf_helpers.h>', '', 'char LICENSE[] SEC("license") = "GPL";', '', 'SEC("tp/x/y")', 'int peek(void *ctx)', '{', '\treturn 0;', '}'),
  });
  const proprietary = missing + 'char _license[] SEC("license") = "Proprietary";\n';
  const { titles, text } = fixed(proprietary, diagnostic('gpl-only-function', 7));
  assert.deepEqual(titles, ['Make the license GPL ("Proprietary" is not GPL-compatible)']);
  assert.equal(text, missing + 'char _license[] SEC("license") = "GPL";\n');
});

test('the size argument the message names: masked for a power-of-two buffer, clamped when it is a 64-bit unsigned', () => {
  const program = (type: string, length: number, call: string) =>
    lines('SEC("raw_tracepoint/sys_enter")', 'int copy(struct bpf_raw_tracepoint_args *ctx)', '{', `\tchar buf[${length}];`, `\t${type} len = ctx->args[1];`, '', `\t${call}`, '\treturn buf[0];', '}');
  const read = 'bpf_probe_read_kernel(buf, len, (void *)ctx->args[0]);';
  const message = "R2 min value is negative, either use unsigned or 'var &= const'";
  const u32 = fixed(program('__u32', 64, read), diagnostic('helper-size-unbounded', 7, message));
  assert.deepEqual(u32.titles, ["Mask 'len' with sizeof(buf) - 1 before the call"]);
  assert.deepEqual(u32.text.split('\n').slice(5, 8), ['', '\tlen &= sizeof(buf) - 1;', `\t${read}`]);
  const u64 = fixed(program('__u64', 64, read), diagnostic('helper-size-unbounded', 7, message), 1);
  assert.deepEqual(u64.titles, ["Mask 'len' with sizeof(buf) - 1 before the call", "Clamp 'len' to sizeof(buf) before the call"]);
  assert.deepEqual(u64.text.split('\n').slice(5, 8), ['', '\tif (len > sizeof(buf)) len = sizeof(buf);', `\t${read}`]);
  // R3 is the third argument: bpf_ringbuf_output(map, data, size, flags) with `&event`.
  const output = lines('SEC("tp/x/y")', 'int f(void *ctx)', '{', '\tstruct event event = {};', '\tunsigned long size = get();', '\tbpf_ringbuf_output(&rb, &event, size, 0);', '\treturn 0;', '}');
  assert.deepEqual(fixed(output, diagnostic('helper-size-unbounded', 6, 'R3 unbounded memory access')).text.split('\n')[5], '\tif (size > sizeof(event)) size = sizeof(event);');
  // A 32-bit size and a buffer of 48: neither fix would be proven.
  assert.deepEqual(verifierFixes(program('__u32', 48, read), diagnostic('helper-size-unbounded', 7, message)), []);
});

test('no fix for clang diagnostics, unknown kinds, or kinds without a mechanical fix', () => {
  const source = lines('int f(void *ctx)', '{', '\treturn 0;', '}');
  assert.deepEqual(verifierFixes(source, { ...diagnostic('nullable-map-value', 3), source: 'clang' }), []);
  assert.deepEqual(verifierFixes(source, { ...diagnostic('back-edge', 3) }), []);
  const { explanation: _none, ...unexplained } = diagnostic('x', 3);
  assert.deepEqual(verifierFixes(source, unexplained), []);
});
