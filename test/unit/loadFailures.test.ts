/**
 * The pure mapping of failures before verification (loadFailures.ts) on libbpf's real lines
 * (captured on 6.1, 6.18 and 7.3 from test/fixtures/programs/loader/), and the client's reading of
 * load presets (loadPresets.ts): CLI assignments, the editor setting's globs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { coreRelocationNote, loadFailureOf, type LoadFailureContext } from '../../remote-agent/client/loadFailures';
import { globMatches, presetsForFile, presetsFromAssignments } from '../../remote-agent/client/loadPresets';

const loader = join(import.meta.dirname, '..', 'fixtures', 'programs', 'loader');
const source = (file: string) => ({ path: file, content: readFileSync(join(loader, file), 'utf8') });

function ctx(file: string, over: Partial<LoadFailureContext> = {}): LoadFailureContext {
  return { program: 'p', section: 's', kernelRelease: '7.3-amd64', sources: over.sources ?? (file === '' ? [] : [source(file)]), maps: new Map(), ...over };
}

test('a map of size 0 is placed on its definition, with the map-size preset', () => {
  const log = "libbpf: map 'stackmap': failed to create: Invalid argument(-22)\nlibbpf: failed to load object 'stack_capable'\n";
  assert.deepEqual(loadFailureOf(log, ctx('stack_capable.bpf.c', { maps: new Map([['stackmap', { type: 7, maxEntries: 0 }]]) })), {
    message: ["map 'stackmap': failed to create: Invalid argument(-22)", "map 'stackmap' has max_entries 0: its loader sets the size before load (a map-size preset does that for the check)"],
    kindId: 'map-size-unset',
    at: { path: 'stack_capable.bpf.c', line: 14, column: 3 },
    preset: { kind: 'mapSize', map: 'stackmap' },
  });
});

test('a map with a size that fails is a general create failure; too large points at its max_entries line, with the map-size preset', () => {
  const sources = [{ path: 'm.bpf.c', content: 'struct {\n\t__uint(type, BPF_MAP_TYPE_HASH);\n\t__uint(max_entries, 1 << 30);\n\t__type(key, u32);\n} big SEC(".maps");\n' }];
  const maps = new Map([['big', { type: 1, maxEntries: 1 << 30 }]]);
  assert.deepEqual(loadFailureOf("libbpf: map 'big': failed to create: Argument list too long(-7)", ctx('', { sources, maps })), {
    message: ["map 'big': failed to create: Argument list too long(-7)", "map 'big' has max_entries 1073741824: more than the kernel would allocate for it"],
    kindId: 'map-create-failed',
    at: { path: 'm.bpf.c', line: 3, column: 9 },
    preset: { kind: 'mapSize', map: 'big' },
  });
  assert.deepEqual(loadFailureOf("libbpf: map 'big': failed to create: Invalid argument(-22)", ctx('', { sources, maps }))?.at, { path: 'm.bpf.c', line: 5, column: 3 });
});

test("a map type the kernel lacks (the agent's line) comes before libbpf's bare EINVAL", () => {
  const sources = [{ path: 'r.bpf.c', content: 'struct {\n\t__uint(type, BPF_MAP_TYPE_RINGBUF);\n} events SEC(".maps");\n' }];
  const log = "libbpf: map 'events': failed to create: Invalid argument(-22)\nebpf-agent: map 'events' is a ringbuf map, and this kernel cannot create ringbuf maps.\n";
  assert.deepEqual(loadFailureOf(log, ctx('', { sources, kernelRelease: '5.4.0' })), {
    message: ["map 'events' is a ringbuf map, and this kernel cannot create ringbuf maps.", 'the kernel 5.4.0 has no ringbuf maps'],
    kindId: 'map-type-unsupported',
    at: { path: 'r.bpf.c', line: 3, column: 3 },
  });
});

test('unresolved externs are placed on their declarations', () => {
  assert.deepEqual(loadFailureOf("libbpf: extern (func ksym) 'bpf_task_from_nowhere': not found in kernel or module BTFs\n", ctx('kfunc_missing.bpf.c'))?.at, {
    path: 'kfunc_missing.bpf.c',
    line: 6,
    column: 28,
  });
  assert.deepEqual(loadFailureOf("libbpf: extern (var ksym) 'studio_missing_runqueues': not found in kernel BTF\n", ctx('ksym_missing.bpf.c')), {
    message: ["extern (var ksym) 'studio_missing_runqueues': not found in kernel BTF", "this kernel (7.3-amd64) has no kernel variable 'studio_missing_runqueues'"],
    kindId: 'kfunc-unknown',
    at: { path: 'ksym_missing.bpf.c', line: 6, column: 24 },
  });
  const strong = loadFailureOf("libbpf: extern 'CONFIG_STUDIO_NO_SUCH_OPTION' (strong): not resolved\n", ctx('kconfig_missing.bpf.c'));
  assert.deepEqual([strong?.kindId, strong?.preset], ['kconfig-value-missing', { kind: 'kconfig', name: 'CONFIG_STUDIO_NO_SUCH_OPTION' }]);
  const noConfig = loadFailureOf('libbpf: failed to open system Kconfig\n', ctx('kconfig_missing.bpf.c'));
  assert.deepEqual([noConfig?.at, noConfig?.preset], [{ path: 'kconfig_missing.bpf.c', line: 6, column: 12 }, { kind: 'kconfig', name: 'CONFIG_STUDIO_NO_SUCH_OPTION' }]);
  assert.deepEqual(loadFailureOf("libbpf: extern (kcfg) 'LINUX_KERNEL_VERSION': failed to get kernel version\n", ctx('kconfig_version.bpf.c')), {
    message: [
      "extern (kcfg) 'LINUX_KERNEL_VERSION': failed to get kernel version",
      "libbpf could not read a version number of the form major.minor.patch from this kernel's release '7.3-amd64'",
    ],
    kindId: 'kernel-version-unknown',
    at: { path: 'kconfig_version.bpf.c', line: 7, column: 12 },
  });
});

test("an attach target the kernel lacks is placed on the program's SEC line, with the attach-target preset", () => {
  const c = ctx('fentry_retarget.bpf.c', { program: 'file_read_entry', section: 'fentry/dummy_file_read', definition: { path: 'fentry_retarget.bpf.c', line: 11 } });
  assert.deepEqual(loadFailureOf("libbpf: prog 'file_read_entry': failed to find kernel BTF type ID of 'dummy_file_read': -3\nlibbpf: prog 'file_read_entry': failed to prepare load attributes: -3\n", c), {
    message: ["prog 'file_read_entry': failed to find kernel BTF type ID of 'dummy_file_read': -3", "this kernel (7.3-amd64) has no function 'dummy_file_read' in its BTF for file_read_entry to attach to"],
    kindId: 'attach-target-not-found',
    at: { path: 'fentry_retarget.bpf.c', line: 10, column: 1 },
    preset: { kind: 'attachTarget', program: 'file_read_entry', current: 'dummy_file_read' },
  });
});

test('a program kind the kernel lacks, a refused BTF, and lines we do not know', () => {
  const kindMissing = "libbpf: prog 'f': failed to find kernel BTF type ID of 'x': -3\nebpf-agent: f is an fentry/fexit/fmod_ret program, and this kernel cannot attach BPF trampolines to kernel functions.\n";
  assert.equal(loadFailureOf(kindMissing, ctx('fentry_retarget.bpf.c')), undefined);
  assert.deepEqual(loadFailureOf('libbpf: Error loading .BTF into kernel: -22. BTF is optional, ignoring.\nlibbpf: failed to load object \'x\'\n', ctx('')), {
    message: ['Error loading .BTF into kernel: -22. BTF is optional, ignoring.'],
    kindId: 'btf-rejected',
  });
  assert.equal(loadFailureOf("libbpf: Error loading .BTF into kernel: -22. BTF is optional, ignoring.\nlibbpf: map 'stackmap': failed to create: Invalid argument(-22)\n", ctx('stack_capable.bpf.c'))?.kindId, 'map-create-failed');
  assert.equal(loadFailureOf("libbpf: failed to load object 'x'\n", ctx('')), undefined);
});

test('a CO-RE relocation failure names the kernel type and the field', () => {
  assert.equal(
    coreRelocationNote(['1: <invalid CO-RE relocation>', 'failed to resolve CO-RE relocation <byte_off> [8] struct task_struct___studio.studio_missing_field (0:0 @ offset 0)']),
    "this kernel's BTF has no struct task_struct with a field studio_missing_field (the program's struct task_struct___studio)",
  );
  assert.equal(coreRelocationNote(['failed to resolve CO-RE relocation <type_exists> [3] struct bpf_iter_num (0)']), "this kernel's BTF has no struct bpf_iter_num");
  assert.equal(coreRelocationNote(['R0 invalid mem access']), undefined);
});

test('CLI assignments become presets, checked as the agent checks them', () => {
  assert.deepEqual(presetsFromAssignments(['targ_pid=4242', 'filter=true'], ['stackmap=1024'], ['file_read_entry=vfs_read']), {
    globals: { targ_pid: '4242', filter: 'true' },
    mapSizes: { stackmap: 1024 },
    attachTargets: { file_read_entry: 'vfs_read' },
  });
  assert.equal(presetsFromAssignments([], [], []), undefined);
  assert.throws(() => presetsFromAssignments(['targ pid=1'], [], []), /--set: 'targ pid' is not a C identifier/);
  assert.throws(() => presetsFromAssignments(['x='], [], []), /--set takes NAME=VALUE, not 'x='/);
  assert.throws(() => presetsFromAssignments(['x=1;rm'], [], []), /the value of x must be an integer, true\/false or an enumerator/);
  assert.throws(() => presetsFromAssignments([], ['m=0'], []), /the size of map m must be an integer from 1 to 1073741824/);
  assert.throws(() => presetsFromAssignments([], ['m=1e3'], []), /the size of map m must be an integer/);
  assert.throws(() => presetsFromAssignments([], [], ['p=vfs read']), /--attach-target p: 'vfs read' is not a C identifier/);
});

test('the editor setting: every matching glob, later ones overriding', () => {
  const setting = {
    '**/*.bpf.c': { mapSizes: { stackmap: 1024 } },
    'tools/fsslower.bpf.c': { attachTargets: { file_read_entry: 'ext4_file_read_iter' }, globals: { min_lat_ns: 10000, filter: false } },
    'capable.bpf.c': { mapSizes: { stackmap: 4096 } },
  };
  assert.deepEqual(presetsForFile(setting, 'tools/fsslower.bpf.c'), {
    mapSizes: { stackmap: 1024 },
    attachTargets: { file_read_entry: 'ext4_file_read_iter' },
    globals: { min_lat_ns: '10000', filter: 'false' },
  });
  assert.deepEqual(presetsForFile(setting, 'src/capable.bpf.c'), { mapSizes: { stackmap: 4096 } });
  assert.equal(presetsForFile(setting, 'README.md'), undefined);
  assert.throws(() => presetsForFile({ '*.bpf.c': { mapSizes: { m: -1 } } }, 'a.bpf.c'), /ebpfStudio.loadPresets\["\*.bpf.c"\].mapSizes: the size of map m/);
  assert.equal(globMatches('src/*.bpf.c', 'src/a.bpf.c'), true);
  assert.equal(globMatches('src/*.bpf.c', 'src/x/a.bpf.c'), false);
  assert.equal(globMatches('src/**/a?.bpf.c', 'src/x/y/ab.bpf.c'), true);
  assert.equal(globMatches('a.bpf.c', 'deep/er/a.bpf.c'), true);
});
