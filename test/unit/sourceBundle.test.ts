/** Specification of the source bundle: which files are sent to the target, and the way back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { collectSourceBundle, MAX_BUNDLE_FILES } from '../../remote-agent/client/sourceBundle';

function workspace(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'bundle-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return root;
}

test('the main file and the quoted includes inside its tree are sent, recursively, with relative paths', async () => {
  const root = workspace({
    'outside.h': '',
    'src/prog.bpf.c': '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n#include "common/maps.h"\n# include "../outside.h"\n',
    'src/common/maps.h': '#include "types.h"\n#include "limits.h"\n',
    'src/common/types.h': 'typedef int id_t;\n',
    'src/limits.h': '#define MAX 4\n#include "common/maps.h"\n',
    'src/vmlinux.h': 'never sent: the target generates its own\n',
  });
  const bundle = await collectSourceBundle(path.join(root, 'src/prog.bpf.c'));
  assert.equal(bundle.main, 'prog.bpf.c');
  // limits.h is not next to maps.h, so it is found from the main file's directory.
  assert.deepEqual(
    bundle.files.map((f) => f.path),
    ['prog.bpf.c', 'common/maps.h', 'common/types.h', 'limits.h'],
  );
  assert.equal(bundle.files[3].content, '#define MAX 4\n#include "common/maps.h"\n');
});

test('target names map back to local files: relative, absolute in the agent work dir, basename', async () => {
  const root = workspace({ 'prog.bpf.c': '#include "lib/counters.h"\n', 'lib/counters.h': '' });
  const bundle = await collectSourceBundle(path.join(root, 'prog.bpf.c'));
  assert.equal(bundle.resolve('prog.bpf.c'), path.join(root, 'prog.bpf.c'));
  assert.equal(bundle.resolve('./lib/counters.h'), path.join(root, 'lib/counters.h'));
  assert.equal(bundle.resolve('/run/ebpf-agent/work/./lib/counters.h'), path.join(root, 'lib/counters.h'));
  assert.equal(bundle.resolve('counters.h'), path.join(root, 'lib/counters.h'));
  assert.equal(bundle.resolve('/usr/include/bpf/bpf_helpers.h'), undefined);
});

test('unsaved editor text is read through readFile instead of the disk', async () => {
  const root = workspace({ 'prog.bpf.c': 'on disk\n' });
  const main = path.join(root, 'prog.bpf.c');
  const bundle = await collectSourceBundle(main, {
    readFile: async (p) => {
      if (p === main) return '#include "new.h"\n';
      throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    },
  });
  assert.deepEqual(bundle.files, [{ path: 'prog.bpf.c', content: '#include "new.h"\n' }]);
});

test('more than the agent\'s 64 files is refused with a reason', async () => {
  const files: Record<string, string> = { 'prog.bpf.c': '' };
  for (let i = 0; i < MAX_BUNDLE_FILES; i++) {
    files['prog.bpf.c'] += `#include "h${i}.h"\n`;
    files[`h${i}.h`] = '';
  }
  const root = workspace(files);
  await assert.rejects(collectSourceBundle(path.join(root, 'prog.bpf.c')), /more than 64 files/);
});

test('a read error other than "no such file" is not hidden', async () => {
  const root = workspace({ 'prog.bpf.c': '#include "a.h"\n' });
  await assert.rejects(
    collectSourceBundle(path.join(root, 'prog.bpf.c'), {
      readFile: async (p) => {
        if (p.endsWith('prog.bpf.c')) return '#include "a.h"\n';
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
    }),
    /EACCES/,
  );
});
