/**
 * Specification of finding a file's project flags (compile_commands.json, .clangd, the user's
 * flags) and of the source bundle they give: the headers of workspace include directories sent
 * under their paths from a common root, the directories handed to the agent in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { collectProjectBundle, defaultWorkspaceRoot, findProjectFlags } from '../../remote-agent/client/projectFlags';

const fixture = path.join(__dirname, '..', 'fixtures', 'projects', 'libbpf-tools');
const tool = (name: string) => path.join(fixture, 'tools', name);

function scratch(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'project-flags-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return root;
}

test("a tool's own compile_commands.json entry gives its include dirs and defines; the target's arch define is left to the agent", async () => {
  const flags = await findProjectFlags(tool('uprobe_count.bpf.c'), { workspaceRoot: fixture });
  assert.deepEqual(flags, {
    source: path.join(fixture, 'compile_commands.json'),
    workspaceRoot: fixture,
    includeDirs: [
      { dir: path.join(fixture, 'libbpf/src'), kind: 'angle' },
      { dir: path.join(fixture, 'common'), kind: 'angle' },
    ],
    defines: ['MAX_ENTRIES=10240'],
    ignored: [{ flag: '-D__TARGET_ARCH_x86', why: "the agent defines __TARGET_ARCH_* for the target's architecture" }],
  });
});

test('a tool the database does not list takes the nearest BPF entry; its defines are its own', async () => {
  const unlisted = await findProjectFlags(tool('unchecked.bpf.c'), { workspaceRoot: fixture });
  assert.deepEqual(unlisted?.defines, ['MAX_ENTRIES=10240']);
  const other = await findProjectFlags(tool('newer_abi.bpf.c'), { workspaceRoot: fixture });
  assert.deepEqual(other?.defines, ['STUDIO_TRACING_ABI=3']);
});

test('the bundle is rooted where the tool and its include dirs meet; <…> headers found there are sent, in include order', async () => {
  const bundle = await collectProjectBundle(tool('uprobe_count.bpf.c'), { project: { workspaceRoot: fixture } });
  assert.equal(bundle.root, fixture);
  assert.equal(bundle.main, 'tools/uprobe_count.bpf.c');
  assert.deepEqual(bundle.files.map((f) => f.path), [
    'tools/uprobe_count.bpf.c',
    'libbpf/src/bpf/bpf_helpers.h',
    'libbpf/src/bpf/bpf_helper_defs.h',
    'libbpf/src/bpf/bpf_tracing.h',
    'tools/uprobe_count.h',
    'tools/maps.bpf.h',
  ]);
  const { files, ...params } = bundle.compileParams();
  assert.equal(files.length, 6);
  assert.deepEqual(params, { main: 'tools/uprobe_count.bpf.c', defines: ['MAX_ENTRIES=10240'], includeDirs: ['libbpf/src', 'common'] });
  // clang's and the verifier's names of a vendored header lead back to the local file.
  const local = path.join(fixture, 'libbpf/src/bpf/bpf_tracing.h');
  assert.equal(bundle.resolve('libbpf/src/bpf/bpf_tracing.h'), local);
  assert.equal(bundle.resolve('./libbpf/src/bpf/bpf_tracing.h'), local);
  assert.equal(bundle.resolve('/tmp/ebpf-agent.Xy12/src/libbpf/src/bpf/bpf_tracing.h'), local);
  assert.equal(bundle.resolve('bpf_tracing.h'), local);
});

test('without project flags the bundle is as before: quoted includes from the main file\'s directory, -I. on the agent', async () => {
  const root = scratch({ 'tools/a.bpf.c': '#include <bpf/bpf_helpers.h>\n#include "a.h"\n', 'tools/a.h': '' });
  const bundle = await collectProjectBundle(path.join(root, 'tools/a.bpf.c'), { project: { workspaceRoot: root } });
  assert.deepEqual(bundle.compileParams(), { files: [{ path: 'a.bpf.c', content: '#include <bpf/bpf_helpers.h>\n#include "a.h"\n' }, { path: 'a.h', content: '' }], main: 'a.bpf.c' });
  rmSync(root, { recursive: true });
});

test('.clangd when there is no database: its Add flags for the file, relative to the file\'s directory', async () => {
  const root = scratch({
    '.clangd': 'If:\n  PathMatch: .*\\.bpf\\.c\nCompileFlags:\n  Add: [-I../vendor, -DFROM_CLANGD]\n',
    'tools/a.bpf.c': '#include <bpf/x.h>\n',
    'vendor/bpf/x.h': '#define X 1\n',
  });
  const bundle = await collectProjectBundle(path.join(root, 'tools/a.bpf.c'), { project: { workspaceRoot: root } });
  assert.deepEqual(bundle.compileParams(), {
    files: [{ path: 'tools/a.bpf.c', content: '#include <bpf/x.h>\n' }, { path: 'vendor/bpf/x.h', content: '#define X 1\n' }],
    main: 'tools/a.bpf.c',
    defines: ['FROM_CLANGD'],
    includeDirs: ['vendor'],
  });
  rmSync(root, { recursive: true });
});

test("the user's flags are the last resort; include dirs outside the workspace stay the target's own", async () => {
  const root = scratch({ 'a.bpf.c': '#include <bpf/x.h>\n#include "q.h"\n', 'inc/bpf/x.h': '', 'quote/q.h': '' });
  const flags = await findProjectFlags(path.join(root, 'a.bpf.c'), {
    workspaceRoot: root,
    fallbackFlags: '-iquote quote -I inc -I/usr/include -isystem ../elsewhere -DLEVEL=2',
    fallbackName: 'ebpfStudio.compileFlags',
  });
  assert.deepEqual(flags, {
    source: 'ebpfStudio.compileFlags',
    workspaceRoot: root,
    includeDirs: [
      { dir: path.join(root, 'quote'), kind: 'quote' },
      { dir: path.join(root, 'inc'), kind: 'angle' },
    ],
    defines: ['LEVEL=2'],
    ignored: [
      { flag: '-I/usr/include', why: "it is outside the workspace: the target's own headers are used there" },
      { flag: `-isystem${path.join(path.dirname(root), 'elsewhere')}`, why: "it is outside the workspace: the target's own headers are used there" },
    ],
  });
  const bundle = await collectProjectBundle(path.join(root, 'a.bpf.c'), { project: { workspaceRoot: root, fallbackFlags: '-iquote quote -I inc' } });
  assert.deepEqual(bundle.files.map((f) => f.path), ['a.bpf.c', 'inc/bpf/x.h', 'quote/q.h']);
  assert.deepEqual(bundle.includeDirs, ['quote', 'inc']);
  // A <…> include is not looked up in -iquote directories.
  const angle = await collectProjectBundle(path.join(root, 'a.bpf.c'), { project: { workspaceRoot: root, fallbackFlags: '-iquote inc' } });
  assert.deepEqual(angle.files.map((f) => f.path), ['a.bpf.c']);
  assert.equal(await findProjectFlags(path.join(root, 'a.bpf.c'), { workspaceRoot: root }), undefined);
  rmSync(root, { recursive: true });
});

test('a database nearer the file wins; a malformed one is an error naming it', async () => {
  const root = scratch({
    'compile_commands.json': JSON.stringify([{ directory: '.', file: 'sub/a.bpf.c', arguments: ['clang', '-DOUTER'] }]),
    'sub/build/compile_commands.json': JSON.stringify([{ directory: '..', file: 'a.bpf.c', arguments: ['clang', '-DINNER'] }]),
    'sub/a.bpf.c': '',
    'bad/compile_commands.json': '[{"file": "a.bpf.c"}]',
    'bad/a.bpf.c': '',
    'lone/a.bpf.c': '',
  });
  assert.deepEqual((await findProjectFlags(path.join(root, 'sub/a.bpf.c'), { workspaceRoot: root }))?.defines, ['INNER']);
  await assert.rejects(
    findProjectFlags(path.join(root, 'bad/a.bpf.c'), { workspaceRoot: root }),
    { message: `${path.join(root, 'bad/compile_commands.json')}: entry 0 lacks "directory" or "file"` },
  );
  await assert.rejects(
    findProjectFlags(path.join(root, 'lone/a.bpf.c'), { workspaceRoot: path.join(root, 'lone'), fallbackFlags: '-I"x' }),
    { message: '--cflags: unterminated " quote in: -I"x' },
  );
  rmSync(root, { recursive: true });
});

test('an edited database is read again; an unchanged one is not parsed again', async () => {
  const root = scratch({ 'compile_commands.json': JSON.stringify([{ directory: '.', file: 'a.bpf.c', arguments: ['clang', '-DFIRST'] }]), 'a.bpf.c': '' });
  const lookup = { workspaceRoot: root };
  assert.deepEqual((await findProjectFlags(path.join(root, 'a.bpf.c'), lookup))?.defines, ['FIRST']);
  writeFileSync(path.join(root, 'compile_commands.json'), JSON.stringify([{ directory: '.', file: 'a.bpf.c', arguments: ['clang', '-DSECOND=2'] }]));
  assert.deepEqual((await findProjectFlags(path.join(root, 'a.bpf.c'), lookup))?.defines, ['SECOND=2']);
  rmSync(root, { recursive: true });
});

test('the default workspace is the repository; else the working directory holding the file; else its directory', () => {
  const root = scratch({ 'repo/.git/HEAD': '', 'repo/tools/a.bpf.c': '', 'plain/tools/b.bpf.c': '' });
  assert.equal(defaultWorkspaceRoot(path.join(root, 'repo/tools/a.bpf.c')), path.join(root, 'repo'));
  assert.equal(defaultWorkspaceRoot(path.join(root, 'plain/tools/b.bpf.c'), path.join(root, 'plain')), path.join(root, 'plain'));
  assert.equal(defaultWorkspaceRoot(path.join(root, 'plain/tools/b.bpf.c'), path.join(root, 'repo')), path.join(root, 'plain/tools'));
  assert.equal(defaultWorkspaceRoot(path.join(root, 'plain/tools/b.bpf.c')), path.join(root, 'plain/tools'));
  rmSync(root, { recursive: true });
});

test('a vendored tree too large for one compile is refused naming the limit', async () => {
  const headers = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`vendor/h${i}.h`, i < 63 ? `#include <h${i + 1}.h>\n` : '']));
  const root = scratch({ 'a.bpf.c': '#include <h0.h>\n', ...headers });
  await assert.rejects(
    collectProjectBundle(path.join(root, 'a.bpf.c'), { project: { workspaceRoot: root, fallbackFlags: '-Ivendor' } }),
    { message: `${path.join(root, 'a.bpf.c')} and the workspace headers it includes are more than 64 files, the most the agent accepts per compile. Merge headers or include fewer.` },
  );
  rmSync(root, { recursive: true });
});

