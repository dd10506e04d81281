// The helper table the language server is built with: generated from libbpf's real
// bpf_helper_defs.h, complete, and exact for well-known helpers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface GeneratedHelper {
  name: string;
  id: number;
  returnType: string;
  params: { type: string; name: string }[];
  variadic: boolean;
  signature: string;
  description: string;
  returns: string;
}

const root = join(import.meta.dirname, '../..');
const headerPath = process.env.BPF_HELPER_DEFS || '/usr/include/bpf/bpf_helper_defs.h';
const tablePath = join(root, 'language-server/generated/bpfHelpers.json');
let helpers: GeneratedHelper[] = [];

function helper(name: string): GeneratedHelper {
  const found = helpers.find((h) => h.name === name);
  assert.ok(found, `${name} is missing from the generated table`);
  return found;
}

before(() => {
  execFileSync(process.execPath, [join(root, 'scripts/generate-helper-table.mjs')], { stdio: 'pipe' });
  helpers = JSON.parse(readFileSync(tablePath, 'utf8')).helpers;
});

test('the table has exactly the helpers the header declares, with their numbers', () => {
  const header = readFileSync(headerPath, 'utf8');
  const declared = [...header.matchAll(/^static [^(]*\(\*(bpf_\w+)\)\(.*\) = \(void \*\) (\d+);$/gm)].map((m) => ({
    name: m[1],
    id: Number(m[2]),
  }));
  assert.ok(declared.length > 200, `only ${declared.length} declarations found in ${headerPath}`);
  assert.deepEqual(
    helpers.map((h) => ({ name: h.name, id: h.id })),
    declared,
  );
});

test('every helper has a signature and a documented description and return value', () => {
  for (const h of helpers) {
    assert.match(h.signature, new RegExp(`^.+\\b${h.name}\\(.*\\)$`), h.name);
    assert.notEqual(h.description, '', `${h.name} has no description`);
    assert.notEqual(h.returns, '', `${h.name} has no return value text`);
  }
});

test('bpf_map_lookup_elem is helper 1, taking the map and a key', () => {
  const h = helper('bpf_map_lookup_elem');
  assert.equal(h.id, 1);
  assert.equal(h.returnType, 'void *');
  assert.deepEqual(h.params, [
    { type: 'void *', name: 'map' },
    { type: 'const void *', name: 'key' },
  ]);
  assert.equal(h.variadic, false);
  assert.equal(h.signature, 'void *bpf_map_lookup_elem(void *map, const void *key)');
  assert.equal(h.description, 'Perform a lookup in *map* for an entry associated to *key*.');
  assert.equal(h.returns, 'Map value associated to *key*, or **NULL** if no entry was\nfound.');
});

test('bpf_ringbuf_reserve reserves size bytes of a ring buffer', () => {
  const h = helper('bpf_ringbuf_reserve');
  assert.equal(h.id, 131);
  assert.equal(h.signature, 'void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags)');
  assert.equal(h.description, 'Reserve *size* bytes of payload in a ring buffer *ringbuf*.\n*flags* must be 0.');
  assert.equal(h.returns, 'Valid pointer with *size* bytes of memory available; NULL,\notherwise.');
});

test('bpf_trace_printk is variadic and its literal block becomes a code fence', () => {
  const h = helper('bpf_trace_printk');
  assert.equal(h.id, 6);
  assert.equal(h.variadic, true);
  assert.deepEqual(h.params, [
    { type: 'const char *', name: 'fmt' },
    { type: '__u32', name: 'fmt_size' },
  ]);
  assert.equal(h.signature, 'long bpf_trace_printk(const char *fmt, __u32 fmt_size, ...)');
  assert.ok(h.description.startsWith('This helper is a "printk()-like" facility for debugging. It\n'));
  assert.ok(
    h.description.includes(
      'defaults to something like:\n\n```\ntelnet-470   [001] .N.. 419421.045894: 0x00000001: <formatted msg>\n```\n\nIn the above:\n\n* `telnet` is the name of the current task.',
    ),
  );
  assert.ok(h.description.includes('to file */sys/kernel/debug/tracing/trace* from DebugFS'), 'RST escapes \\/ are removed');
  assert.ok(h.description.includes('note that **bpf_trace_printk**() is slow'), 'RST "\\ " separators are removed');
});

test('a definition list (the flags of bpf_map_update_elem) becomes a Markdown list', () => {
  const h = helper('bpf_map_update_elem');
  assert.ok(
    h.description.includes(
      '- **BPF_NOEXIST**\\\n  The entry for *key* must not exist in the map.\n- **BPF_EXIST**\\\n  The entry for *key* must already exist in the map.',
    ),
  );
});

test('helpers without parameters have an empty parameter list and (void) in the signature', () => {
  const h = helper('bpf_ktime_get_ns');
  assert.deepEqual(h.params, []);
  assert.equal(h.signature, '__u64 bpf_ktime_get_ns(void)');
});

test('generating again leaves the table unchanged', () => {
  const before = readFileSync(tablePath, 'utf8');
  const output = execFileSync(process.execPath, [join(root, 'scripts/generate-helper-table.mjs')], { encoding: 'utf8' });
  assert.match(output, /^generate-helper-table: \d+ helpers from .* \(unchanged\)\n$/);
  assert.equal(readFileSync(tablePath, 'utf8'), before);
});

test('a missing header fails with a message naming libbpf-dev', () => {
  assert.throws(
    () =>
      execFileSync(process.execPath, [join(root, 'scripts/generate-helper-table.mjs')], {
        env: { ...process.env, BPF_HELPER_DEFS: '/nonexistent/bpf_helper_defs.h' },
        stdio: 'pipe',
      }),
    (error: { status: number; stderr: Buffer }) => {
      assert.equal(error.status, 1);
      assert.match(error.stderr.toString(), /\/nonexistent\/bpf_helper_defs\.h not found\. .*libbpf-dev/);
      return true;
    },
  );
});
