/** Specification of reading a project's compile flags: command lines, compile_commands.json, .clangd. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clangdAddedFlags, extractFlags, parseCompileDatabase, pickCompileCommand, splitCommandLine } from '../../remote-agent/client/compileFlags';

test('a command line splits as a shell splits it: quotes, escapes, runs of blanks', () => {
  assert.deepEqual(splitCommandLine(`clang  -DNAME='"a b"' -I "dir with space" -DX=1\\ 2 -DQ=\\"v\\" ''`), [
    'clang', '-DNAME="a b"', '-I', 'dir with space', '-DX=1 2', '-DQ="v"', '',
  ]);
  assert.deepEqual(splitCommandLine(' \t\n'), []);
  assert.throws(() => splitCommandLine('clang -I"unclosed'), /unterminated " quote in: clang -I"unclosed/);
});

test('include dirs come in clang\'s order (-iquote, -I, -isystem), resolved against the directory, without duplicates', () => {
  const flags = extractFlags(
    ['clang', '-isystem', 'sys', '-I../libbpf/src', '-iquote', 'q', '-I', '/abs/inc', '--include-directory=more', '-I../libbpf/src', '-isystemsys2', '-c', 'x.bpf.c'],
    '/ws/tools',
  );
  assert.deepEqual(flags.includeDirs, [
    { dir: '/ws/tools/q', kind: 'quote' },
    { dir: '/ws/libbpf/src', kind: 'angle' },
    { dir: '/abs/inc', kind: 'angle' },
    { dir: '/ws/tools/more', kind: 'angle' },
    { dir: '/ws/tools/sys', kind: 'system' },
    { dir: '/ws/tools/sys2', kind: 'system' },
  ]);
  assert.deepEqual(flags.defines, []);
  assert.deepEqual(flags.ignored, []);
});

test('-D and -U apply in order; what the agent cannot take is ignored with the reason', () => {
  const flags = extractFlags(
    ['-DA', '-D', 'B=2', '-DC=3', '-UA', '-DB=4', '-D__TARGET_ARCH_x86', '-DS="a b"', '-U__linux__', '-I=/sysroot/inc', '-DBAD-NAME'],
    '/ws',
  );
  assert.deepEqual(flags.defines, ['C=3', 'B=4']);
  assert.deepEqual(flags.ignored, [
    { flag: '-D__TARGET_ARCH_x86', why: "the agent defines __TARGET_ARCH_* for the target's architecture" },
    { flag: '-DS="a b"', why: 'the agent takes NAME or NAME=VALUE with no whitespace in VALUE' },
    { flag: '-U__linux__', why: 'it undefines a macro the compiler itself defines; the agent cannot pass -U' },
    { flag: '-I=/sysroot/inc', why: "a sysroot-relative directory is the target system's own" },
    { flag: '-DBAD-NAME', why: 'the agent takes NAME or NAME=VALUE with no whitespace in VALUE' },
  ]);
  assert.deepEqual(extractFlags(['-I'], '/ws'), { includeDirs: [], defines: [], ignored: [] });
});

test('more defines than the agent takes: the first 64 are kept, the rest ignored', () => {
  const flags = extractFlags(Array.from({ length: 66 }, (_, i) => `-DM${i}`), '/ws');
  assert.equal(flags.defines.length, 64);
  assert.equal(flags.defines[63], 'M63');
  assert.deepEqual(flags.ignored, [
    { flag: '-DM64', why: 'the agent takes at most 64 defines' },
    { flag: '-DM65', why: 'the agent takes at most 64 defines' },
  ]);
});

test('compile_commands.json: arguments or command, paths resolved against each entry\'s directory', () => {
  const db = parseCompileDatabase(
    JSON.stringify([
      { directory: '/ws/tools', file: 'a.bpf.c', arguments: ['clang', '-I../libbpf/src', '-c', 'a.bpf.c'] },
      { directory: 'build', file: '/ws/tools/b.c', command: 'cc "-DNAME=x" -c /ws/tools/b.c' },
    ]),
    '/ws',
  );
  assert.deepEqual(db, [
    { directory: '/ws/tools', file: '/ws/tools/a.bpf.c', arguments: ['clang', '-I../libbpf/src', '-c', 'a.bpf.c'] },
    { directory: '/ws/build', file: '/ws/tools/b.c', arguments: ['cc', '-DNAME=x', '-c', '/ws/tools/b.c'] },
  ]);
  assert.throws(() => parseCompileDatabase('{', '/ws'), /^Error: not valid JSON/);
  assert.throws(() => parseCompileDatabase('{}', '/ws'), /^Error: not a JSON array of compile commands$/);
  assert.throws(() => parseCompileDatabase('[{"directory":"/ws"}]', '/ws'), /^Error: entry 0 lacks "directory" or "file"$/);
  assert.throws(() => parseCompileDatabase('[{"directory":"/ws","file":"a.c"}]', '/ws'), /^Error: entry 0 has neither "arguments" \(strings\) nor "command"$/);
});

test('the entry for a file is its own; else a BPF program\'s in the nearest directory', () => {
  const entry = (file: string) => ({ directory: '/ws', file, arguments: [file] });
  const db = [entry('/ws/tools/user.c'), entry('/ws/other/x.bpf.c'), entry('/ws/tools/a.bpf.c'), entry('/ws/tools/b.bpf.c'), entry('/ws/tools/sub/c.bpf.c')];
  assert.deepEqual(pickCompileCommand(db, '/ws/tools/b.bpf.c'), { command: db[3], exact: true });
  // A new tool the build does not list yet: the first BPF program of its directory.
  assert.deepEqual(pickCompileCommand(db, '/ws/tools/new.bpf.c'), { command: db[2], exact: false });
  assert.deepEqual(pickCompileCommand(db, '/ws/tools/sub/deeper/d.bpf.c'), { command: db[4], exact: false });
  // Not a BPF program: the nearest entry of any kind.
  assert.deepEqual(pickCompileCommand(db, '/ws/tools/helper.h'), { command: db[0], exact: false });
  assert.equal(pickCompileCommand([], '/ws/a.bpf.c'), undefined);
});

test('.clangd: Add of every document whose If matches the file, flow and block lists, quoted scalars, comments', () => {
  const config = [
    '# project flags',
    'CompileFlags:',
    '  Add: [-I../libbpf/src, "-DVERSION=2", \'-DQ=it\'\'s\']',
    '  Remove: [-W*]',
    '---',
    'If:',
    '  PathMatch: [.*\\.bpf\\.c, .*\\.bpf\\.h]',
    '  PathExclude: tools/legacy/.*',
    'CompileFlags:',
    '  Add:',
    '    - -DBPF_ONLY   # for BPF files',
    '    - "-Ivendor/include"',
    '---',
    'If:',
    '  PathMatch: .*\\.c',
    'Diagnostics:',
    '  Suppress: "*"',
  ].join('\n');
  assert.deepEqual(clangdAddedFlags(config, 'tools/a.bpf.c'), ['-I../libbpf/src', '-DVERSION=2', "-DQ=it's", '-DBPF_ONLY', '-Ivendor/include']);
  assert.deepEqual(clangdAddedFlags(config, 'tools/legacy/a.bpf.c'), ['-I../libbpf/src', '-DVERSION=2', "-DQ=it's"]);
  // PathMatch is anchored, as in clangd.
  assert.deepEqual(clangdAddedFlags(config, 'tools/a.bpf.c.orig'), ['-I../libbpf/src', '-DVERSION=2', "-DQ=it's"]);
  assert.deepEqual(clangdAddedFlags('', 'a.bpf.c'), []);
});
