/**
 * The template catalogue (bpf-templates/templateCatalog.ts) on the real template folders and on
 * small fixture folders written per test: a malformed template.json is refused with the exact
 * message naming the file, parameters are validated by kind and substituted everywhere, an
 * instantiation never overwrites (and then writes nothing), and runnability follows the probed
 * features. For every real template: each `{{x}}` in its files is a declared parameter, and each
 * parameter is used somewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KernelFeatures } from '../../remote-agent/protocol';
import {
  defaultTemplatesDir,
  findTemplate,
  HOOK_KINDS,
  instantiateTemplate,
  loadTemplates,
  missingFeatures,
  notRunnableReason,
  parameterValueError,
  resolveParameters,
  TemplateError,
  type BpfTemplate,
} from '../../bpf-templates/templateCatalog';

const templatesDir = join(import.meta.dirname, '..', '..', 'bpf-templates');

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'template-catalog-'));
}

const goodManifest = {
  id: 'probe-thing',
  title: 'A probe',
  description: 'Counts things.',
  hook: 'kprobe',
  programTypes: ['kprobe'],
  minKernel: '5.5',
  requires: ['kprobeEvents'],
  parameters: [
    { name: 'function', description: 'The kernel function.', kind: 'kernelFunction', default: 'do_unlinkat' },
    { name: 'port', description: 'A port.', kind: 'port', default: '8080' },
  ],
  program: 'probe_thing.bpf.c',
};

/** A catalogue folder with one template folder `id` holding `files` (template.json given as a value or raw text). */
function fixtureCatalog(id: string, manifest: unknown, files: Record<string, string> = {}): string {
  const dir = scratch();
  mkdirSync(join(dir, id));
  writeFileSync(join(dir, id, 'template.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, id, name, '..'), { recursive: true });
    writeFileSync(join(dir, id, name), text);
  }
  return dir;
}

const probeFiles = {
  'probe_thing.bpf.c': 'SEC("kprobe/{{function}}") int probe(void *ctx) { return {{ port }}; }\n',
  'probe_thing.h': '#define PORT {{port}}\n',
  'docs/NOTES.md': 'Attaches to {{function}}.\n',
};

function loadError(dir: string): string {
  try {
    loadTemplates(dir);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `not a TemplateError: ${e}`);
    return e.message;
  }
  assert.fail('loadTemplates accepted the folder');
}

const features: KernelFeatures = {
  kprobeEvents: true,
  uprobeEvents: true,
  tracingPrograms: true,
  lsm: true,
  ringbuf: true,
  tcx: true,
  bpfCookie: true,
  tracefs: '/sys/kernel/tracing',
  bpffs: '/sys/fs/bpf',
  programTypes: ['kprobe', 'tracepoint', 'xdp', 'tracing', 'lsm'],
  mapTypes: ['array', 'ringbuf'],
};

test('a well-formed fixture template loads with its manifest, folder and files (template.json excluded, sorted, subfolders included)', () => {
  const dir = fixtureCatalog('probe-thing', goodManifest, probeFiles);
  const [t, ...rest] = loadTemplates(dir);
  assert.equal(rest.length, 0);
  assert.deepEqual({ ...t }, { ...goodManifest, dir: join(dir, 'probe-thing'), files: ['docs/NOTES.md', 'probe_thing.bpf.c', 'probe_thing.h'] });
});

test('folders without template.json (and plain files) are not templates', () => {
  const dir = fixtureCatalog('probe-thing', goodManifest, probeFiles);
  mkdirSync(join(dir, 'scratch-notes'));
  writeFileSync(join(dir, 'scratch-notes', 'x.bpf.c'), '');
  writeFileSync(join(dir, 'catalogue.ts'), '');
  assert.deepEqual(loadTemplates(dir).map((t) => t.id), ['probe-thing']);
});

test('malformed manifests are refused with the file and what is wrong', async (t) => {
  const cases: [string, unknown, string][] = [
    ['an array', '[]', 'not a JSON object'],
    ['a missing title', { ...goodManifest, title: undefined }, '"title" must be a non-empty string'],
    ['an empty description', { ...goodManifest, description: '' }, '"description" must be a non-empty string'],
    ['an id of the wrong form', { ...goodManifest, id: 'Probe_Thing' }, `id "Probe_Thing" must be lower-case words joined by '-'`],
    ['an unknown hook', { ...goodManifest, hook: 'kretprobe' }, `hook "kretprobe" is not one of ${HOOK_KINDS.join(', ')}`],
    ['programTypes not strings', { ...goodManifest, programTypes: 'kprobe' }, '"programTypes" must be an array of strings'],
    ['a minKernel with a patch level', { ...goodManifest, minKernel: '5.5.1' }, 'minKernel "5.5.1" must be "major.minor"'],
    ['an unknown requirement', { ...goodManifest, requires: ['btf'] }, 'requires "btf" is not one of kprobeEvents, uprobeEvents, tracingPrograms, lsm, ringbuf, tcx, bpfCookie, tracefs, bpffs'],
    ['a program that is not *.bpf.c', { ...goodManifest, program: 'probe_thing.c' }, 'program "probe_thing.c" must be a *.bpf.c file in the template\'s folder'],
    ['parameters not an array', { ...goodManifest, parameters: {} }, '"parameters" must be an array'],
    ['a parameter that is not an object', { ...goodManifest, parameters: ['port'] }, 'parameters[0] must be an object'],
    ['a parameter name that is not a C identifier', { ...goodManifest, parameters: [{ ...goodManifest.parameters[0], name: 'the-function' }] }, 'parameters[0].name "the-function" must be a C identifier'],
    ['an unknown parameter kind', { ...goodManifest, parameters: [{ ...goodManifest.parameters[0], kind: 'path' }] }, 'parameters[0].kind "path" is not one of tracepoint, kernelFunction, syscall, lsmHook, interface, binary, symbol, usdt, port, identifier'],
    ['a default of the wrong kind', { ...goodManifest, parameters: [goodManifest.parameters[0], { ...goodManifest.parameters[1], default: '70000' }] }, 'parameters[1].default: "70000" is not a port number from 1 to 65535'],
    ['a parameter without a description', { ...goodManifest, parameters: [{ ...goodManifest.parameters[0], description: 3 }] }, 'parameters[0].description must be a string'],
    ['a parameter declared twice', { ...goodManifest, parameters: [goodManifest.parameters[0], goodManifest.parameters[0]] }, 'parameters[1].name "function" is declared twice'],
  ];
  for (const [what, manifest, message] of cases) {
    await t.test(what, () => {
      const dir = fixtureCatalog('probe-thing', manifest, probeFiles);
      assert.equal(loadError(dir), `${join(dir, 'probe-thing', 'template.json')}: ${message}`);
    });
  }
  await t.test('an id that differs from its folder', () => {
    const dir = fixtureCatalog('other-name', goodManifest, probeFiles);
    assert.equal(loadError(dir), `${join(dir, 'other-name', 'template.json')}: id "probe-thing" differs from its folder "other-name"`);
  });
  await t.test('a program file that is not in the folder', () => {
    const dir = fixtureCatalog('probe-thing', goodManifest, { 'probe_thing.h': '' });
    assert.equal(loadError(dir), `${join(dir, 'probe-thing', 'template.json')}: program "probe_thing.bpf.c" is not in the folder`);
  });
});

test('invalid JSON names the file and keeps the parser\'s reason', () => {
  const dir = fixtureCatalog('probe-thing', '{ "id": ', probeFiles);
  assert.match(loadError(dir), new RegExp(`^${join(dir, 'probe-thing', 'template.json').replaceAll('/', '\\/')}: not valid JSON \\(.+\\)$`));
});

test('instantiation substitutes every {{param}} (with or without inner spaces, in subfolders too) from given values and defaults', () => {
  const template = loadTemplates(fixtureCatalog('probe-thing', goodManifest, probeFiles))[0];
  const dest = join(scratch(), 'new', 'project');
  const written = instantiateTemplate(template, dest, { port: '443' });
  assert.deepEqual(written, ['docs/NOTES.md', 'probe_thing.bpf.c', 'probe_thing.h'].map((f) => join(dest, f)));
  assert.equal(readFileSync(join(dest, 'probe_thing.bpf.c'), 'utf8'), 'SEC("kprobe/do_unlinkat") int probe(void *ctx) { return 443; }\n');
  assert.equal(readFileSync(join(dest, 'probe_thing.h'), 'utf8'), '#define PORT 443\n');
  assert.equal(readFileSync(join(dest, 'docs/NOTES.md'), 'utf8'), 'Attaches to do_unlinkat.\n');
  assert.equal(existsSync(join(dest, 'template.json')), false);
});

test('instantiation refuses when any file exists, names them, and writes nothing at all', () => {
  const template = loadTemplates(fixtureCatalog('probe-thing', goodManifest, probeFiles))[0];
  const dest = scratch();
  writeFileSync(join(dest, 'probe_thing.h'), 'my own header\n');
  assert.throws(() => instantiateTemplate(template, dest), new TemplateError(`${dest} already has probe_thing.h: choose an empty folder, nothing was written`));
  assert.deepEqual(readdirSync(dest), ['probe_thing.h']);
  assert.equal(readFileSync(join(dest, 'probe_thing.h'), 'utf8'), 'my own header\n');
});

test('an unknown parameter is refused naming the ones there are', () => {
  const template = loadTemplates(fixtureCatalog('probe-thing', goodManifest, probeFiles))[0];
  const dest = join(scratch(), 'out');
  assert.throws(() => instantiateTemplate(template, dest, { interface: 'eth0' }), new TemplateError('template "probe-thing" has no parameter "interface"; it has: function, port'));
  assert.equal(existsSync(dest), false);
  assert.throws(() => resolveParameters({ ...goodManifest, parameters: [] } as never, { port: '1' }), new TemplateError('template "probe-thing" has no parameter "port"'));
});

test('a placeholder that is not a declared parameter is refused naming the file, writing nothing', () => {
  const template = loadTemplates(fixtureCatalog('probe-thing', goodManifest, { ...probeFiles, 'probe_thing.h': '{{ifname}}\n' }))[0];
  const dest = join(scratch(), 'out');
  assert.throws(() => instantiateTemplate(template, dest), new TemplateError('probe-thing/probe_thing.h: {{ifname}} is not a parameter of the template'));
  assert.equal(existsSync(dest), false);
});

test('each parameter kind accepts its form and refuses others with an example of the form', async (t) => {
  const cases: [Parameters<typeof parameterValueError>[0], string[], [string, string][]][] = [
    ['tracepoint', ['syscalls/sys_enter_openat', 'sched/sched_switch'], [['sys_enter_openat', 'category/name, e.g. syscalls/sys_enter_openat'], ['a/b/c', 'category/name, e.g. syscalls/sys_enter_openat'], ['sched/x"); evil("', 'category/name, e.g. syscalls/sys_enter_openat']]],
    ['kernelFunction', ['do_unlinkat', 'tcp_v4_connect.isra.0'], [['do unlinkat', 'a kernel function name, e.g. do_unlinkat'], ['1abc', 'a kernel function name, e.g. do_unlinkat']]],
    ['syscall', ['openat'], [['OpenAt', 'a syscall name, e.g. openat'], ['sys/openat', 'a syscall name, e.g. openat']]],
    ['lsmHook', ['file_open'], [['bpf_lsm_file_open()', 'an LSM hook name, e.g. file_open']]],
    ['interface', ['eth0', 'veth-a.10', 'lo'], [['', 'an interface name of at most 15 characters, e.g. eth0'], ['a-very-long-ifname', 'an interface name of at most 15 characters, e.g. eth0'], ['eth 0', 'an interface name of at most 15 characters, e.g. eth0']]],
    ['binary', ['/bin/bash', '/usr/lib/x86_64-linux-gnu/libc.so.6'], [['bash', 'an absolute path, e.g. /bin/bash'], ['/bin/ba sh', 'an absolute path, e.g. /bin/bash']]],
    ['symbol', ['readline', 'memcpy@GLIBC_2.14'], [['read line', 'a symbol name, e.g. readline']]],
    ['usdt', ['libc:setjmp'], [['libc', 'provider:name, e.g. libc:setjmp'], ['libc:set:jmp', 'provider:name, e.g. libc:setjmp']]],
    ['port', ['1', '80', '65535'], [['0', 'a port number from 1 to 65535'], ['65536', 'a port number from 1 to 65535'], ['080', 'a port number from 1 to 65535'], ['http', 'a port number from 1 to 65535']]],
    ['identifier', ['my_prog', '_x1'], [['my-prog', 'a C identifier'], ['9lives', 'a C identifier']]],
  ];
  for (const [kind, good, bad] of cases) {
    await t.test(kind, () => {
      for (const value of good) assert.equal(parameterValueError(kind, value), undefined, value);
      for (const [value, form] of bad) assert.equal(parameterValueError(kind, value), `"${value}" is not ${form}`);
    });
  }
});

test('a bad given value is refused with the parameter\'s name, writing nothing', () => {
  const template = loadTemplates(fixtureCatalog('probe-thing', goodManifest, probeFiles))[0];
  const dest = join(scratch(), 'out');
  assert.throws(() => instantiateTemplate(template, dest, { port: '99999' }), new TemplateError('port: "99999" is not a port number from 1 to 65535'));
  assert.equal(existsSync(dest), false);
});

test('runnability comes from the probed features: every missing program type and requirement is named', () => {
  const manifest = { ...goodManifest, programTypes: ['kprobe', 'tracing'], requires: ['kprobeEvents', 'ringbuf', 'tracefs'] } as BpfTemplate;
  assert.deepEqual(missingFeatures(manifest, features), []);
  assert.equal(notRunnableReason(manifest, features), undefined);
  assert.equal(notRunnableReason(manifest, { ...features, kprobeEvents: false }), 'this kernel lacks kprobe events (CONFIG_KPROBE_EVENTS)');
  assert.equal(
    notRunnableReason(manifest, { ...features, programTypes: ['kprobe'], ringbuf: false }),
    'this kernel lacks tracing programs and BPF ring buffers (Linux 5.8+)',
  );
  assert.equal(
    notRunnableReason(manifest, { ...features, programTypes: [], kprobeEvents: false, tracefs: null }),
    'this kernel lacks kprobe programs, tracing programs, kprobe events (CONFIG_KPROBE_EVENTS) and tracefs mounted',
  );
});

test('findTemplate gives the template by id, else lists the ids there are', () => {
  const dir = fixtureCatalog('probe-thing', goodManifest, probeFiles);
  assert.equal(findTemplate('probe-thing', dir).program, 'probe_thing.bpf.c');
  assert.throws(() => findTemplate('nope', dir), new TemplateError('no template "nope"; there are: probe-thing'));
});

test('the catalogue is found beside the sources (and beside out/ when bundled)', () => {
  assert.equal(defaultTemplatesDir(), templatesDir);
});

// The real templates: whatever the other helpers add is held to the same rules.
const real = loadTemplates(templatesDir);

test('the real catalogue loads, grouped by hook kind in picker order', () => {
  assert.ok(real.some((t) => t.id === 'execsnoop') && real.some((t) => t.id === 'tracepoint-printk'), real.map((t) => t.id).join(', '));
  const order = real.map((t) => HOOK_KINDS.indexOf(t.hook));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

for (const t of real) {
  test(`template ${t.id}: every {{x}} in its files is a declared parameter, and every parameter is used`, () => {
    const used = new Set<string>();
    for (const file of t.files) {
      for (const [, name] of readFileSync(join(t.dir, file), 'utf8').matchAll(PLACEHOLDER)) {
        assert.ok(t.parameters.some((p) => p.name === name), `${t.id}/${file}: {{${name}}} is not a declared parameter`);
        used.add(name);
      }
    }
    for (const p of t.parameters) assert.ok(used.has(p.name), `${t.id}: parameter ${p.name} is used in none of its files`);
  });

  test(`template ${t.id}: has its program, event header, loader, Makefile and README, and instantiates with its defaults`, () => {
    const name = t.program.replace(/\.bpf\.c$/, '');
    for (const file of [t.program, `${name}.h`, `${name}.c`, 'Makefile', 'README.md']) assert.ok(t.files.includes(file), `${t.id} has no ${file}`);
    const dest = join(scratch(), t.id);
    assert.deepEqual(instantiateTemplate(t, dest), t.files.map((f) => join(dest, f)));
    for (const file of t.files) assert.doesNotMatch(readFileSync(join(dest, file), 'utf8'), PLACEHOLDER, `${file} still has a placeholder`);
  });
}
