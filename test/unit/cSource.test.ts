/**
 * The one scan of C source the client and the language server read code through: comments and
 * literal contents become spaces with every offset kept, directives are blanked on request with
 * their #includes collected, and comments, literals and directives are handed out with their
 * offsets (annotations, the cursor's context).
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

test('literals and directives are collected with their offsets, whether directives are blanked or kept', () => {
  const text = '#include "a.h"\n  # define Q \'"\'\nchar *s = "x\\"y"; /* "no" */\n#\n';
  const kept = maskCSource(text);
  assert.deepEqual(kept.literals, [
    { start: 9, end: 13, quote: '"' },
    { start: text.indexOf("'"), end: text.indexOf("'") + 2, quote: "'" },
    { start: text.indexOf('"x'), end: text.indexOf('y"') + 1, quote: '"' },
  ]);
  const directives = [
    { start: 0, end: 14, name: 'include' },
    { start: 17, end: text.indexOf('\nchar'), name: 'define' },
    { start: text.lastIndexOf('#'), end: text.length - 1, name: '' },
  ];
  assert.deepEqual(kept.directives, directives);
  const blanked = maskCSource(text, { blankDirectives: true });
  assert.deepEqual(blanked.directives, directives);
  assert.deepEqual(blanked.literals, kept.literals.slice(2), 'literals inside blanked directives are not collected');
});

test('a directive after an unterminated literal still starts its line', () => {
  const text = 'x = "abc\n#include <a.h>\n';
  assert.deepEqual(maskCSource(text).literals, [{ start: 4, end: 8, quote: '"' }]);
  assert.deepEqual(maskCSource(text).directives, [{ start: 9, end: 23, name: 'include' }]);
  assert.deepEqual(maskCSource(text, { blankDirectives: true }).includes, [{ path: 'a.h', system: true, start: 19, end: 22 }]);
});
