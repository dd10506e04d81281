/**
 * The one scan of C source the client and the language server read code through: comments and
 * literal contents become spaces with every offset kept, directives are blanked on request with
 * their #includes collected, and comments are handed out for annotations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskCSource } from '../../remote-agent/client/cSource';

/** `text` blanked: what the scan makes of a comment or a literal's content. */
const spaces = (text: string): string => text.replace(/[^\n]/g, ' ');

const source = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#define MAX /* entries */ 64 \\
	+ 1
/* ebpf-studio: event events struct exec_event */
SEC("tp/sched/sched_process_exec") // the hook
int on_exec(void *ctx) { char c = '"'; const char *url = "http://x/*y*/"; return c; }
`;

test('comments and literal contents are blanked, quotes and newlines kept, so offsets do not move', () => {
  const { code, comments, includes } = maskCSource(source);
  assert.equal(code.length, source.length);
  assert.deepEqual(code.split('\n'), [
    `#include "${spaces('vmlinux.h')}"`,
    '#include <bpf/bpf_helpers.h>',
    `#define MAX ${spaces('/* entries */')} 64 \\`,
    '\t+ 1',
    spaces('/* ebpf-studio: event events struct exec_event */'),
    `SEC("${spaces('tp/sched/sched_process_exec')}") ${spaces('// the hook')}`,
    `int on_exec(void *ctx) { char c = ' '; const char *url = "${spaces('http://x/*y*/')}"; return c; }`,
    '',
  ]);
  // A comment-looking part of a string literal is not a comment.
  assert.deepEqual(comments.map((c) => c.text), ['/* entries */', '/* ebpf-studio: event events struct exec_event */', '// the hook']);
  assert.equal(source.slice(comments[1].start, comments[1].start + 2), '/*');
  assert.deepEqual(includes, [], 'directives kept: includes are not collected');
});

test('with blankDirectives, a directive goes to the end of its last continued line and its #include is collected', () => {
  const { code, includes, comments } = maskCSource(source, { blankDirectives: true });
  assert.equal(code.length, source.length);
  assert.deepEqual(code.split('\n').slice(0, 4), source.split('\n').slice(0, 4).map(spaces), 'both includes and the #define with its continued line');
  assert.deepEqual(includes, [
    { path: 'vmlinux.h', system: false, start: 10, end: 19 },
    { path: 'bpf/bpf_helpers.h', system: true, start: source.indexOf('bpf/bpf_helpers.h'), end: source.indexOf('bpf/bpf_helpers.h') + 17 },
  ]);
  assert.deepEqual(comments.map((c) => c.text), ['/* ebpf-studio: event events struct exec_event */', '// the hook']);
  assert.match(code, /^SEC\(" +"\) +$/m);
});

test('an unterminated comment or literal blanks to the end of the text or of its line', () => {
  assert.equal(maskCSource('a /* b\nc').code, 'a     \n ');
  assert.equal(maskCSource('x = "abc\ny;').code, 'x = "   \ny;');
});
