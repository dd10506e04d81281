/**
 * Every template in bpf-templates/ as a user gets it: instantiated with its defaults into a folder
 * of its own, it compiles and passes the verifier on every test kernel (this machine, Debian's 6.1
 * and 7.3 in QEMU; the VMs compiled here against their BTF, as `check` does). On a kernel whose
 * probed features (hello.features) say it cannot run a template, the catalogue's reason must name
 * what is missing, and `ebpf-studio new` must still write the files. And every template's
 * standalone loader builds with its Makefile against this machine's libbpf; the execsnoop loader
 * runs and prints the line of an exec the test causes.
 * (Attaching every template and counting the events it causes is another test's job.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { createInterface } from 'node:readline';
import { openCliSession } from '../../cli/cliSession';
import { instantiateTemplate, loadTemplates, REQUIREMENTS, notRunnableReason, type BpfTemplate } from '../../bpf-templates/templateCatalog';
import { checkFilesOnSession, LocalCompiler } from '../../remote-agent/client/kernelMatrix';
import type { KernelFeatures } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing, agentTestsGate } from '../support/rawAgent';
import { readyTarget, testKernels } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'out', 'cli.js');
const templates = loadTemplates();
const scratch = mkdtempSync(join(tmpdir(), 'templates-test-'));
/** Each template written with its defaults, as `ebpf-studio new ID DIR` would: its folder by id. */
const instantiated = new Map<string, string>(
  templates.map((t) => {
    const dir = join(scratch, 'defaults', t.id);
    instantiateTemplate(t, dir);
    return [t.id, dir];
  }),
);
const programOf = (t: BpfTemplate): string => join(instantiated.get(t.id)!, t.program);

const verifying = agentTestsGate('template verification tests', agentPrerequisiteMissing());

let compiler: LocalCompiler;
before(() => {
  compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, AbortSignal.timeout(300_000), { unprivileged: true }));
});
after(async () => {
  await compiler?.dispose();
});

test('the catalogue has at least execsnoop and tracepoint-printk, and each template is instantiated into a folder of its own files', () => {
  assert.ok(templates.some((t) => t.id === 'execsnoop') && templates.some((t) => t.id === 'tracepoint-printk'), templates.map((t) => t.id).join(', '));
  for (const t of templates) assert.deepEqual(readdirSync(instantiated.get(t.id)!).sort(), [...t.files].sort(), t.id);
});

/** What a kernel without these features must be told it lacks, in the catalogue's words. */
function expectedLacks(t: BpfTemplate, features: KernelFeatures): string[] {
  const lacks = t.programTypes.filter((type) => !features.programTypes.includes(type)).map((type) => `${type} programs`);
  for (const r of t.requires) {
    const has = r === 'tracefs' || r === 'bpffs' ? features[r] !== null : features[r];
    if (!has) lacks.push(REQUIREMENTS[r]);
  }
  return lacks;
}

for (const kernel of testKernels()) {
  verifying(`on ${kernel.label}: every template with its defaults passes the verifier, or is reported not runnable naming what the kernel lacks`, { timeout: 900_000 }, async (t) => {
    const target = await readyTarget(kernel);
    const session = await openCliSession({ target }, AbortSignal.timeout(600_000));
    try {
      const features = session.hello.features;
      const reports = await checkFilesOnSession(session, templates.map(programOf), { compileOn: 'auto', compiler, signal: AbortSignal.timeout(600_000) });
      for (const template of templates) {
        await t.test(template.id, async () => {
          const reason = notRunnableReason(template, features);
          const lacks = expectedLacks(template, features);
          if (reason !== undefined) {
            t.diagnostic(`${template.id} on ${kernel.label} (${session.hello.kernelRelease}): ${reason}`);
            assert.ok(lacks.length > 0, `${reason}, but the probe shows every feature ${template.id} needs`);
            for (const lack of lacks) assert.ok(reason.includes(lack), `"${reason}" does not name ${lack}`);
            // Not runnable here is no reason not to write it: the user may deploy it elsewhere.
            const dir = join(scratch, 'not-runnable', kernel.label.replaceAll(' ', '-'), template.id);
            const run = spawnSync(process.execPath, [cli, 'new', template.id, dir], { encoding: 'utf8' });
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(readdirSync(dir).filter((f) => f !== '.clangd').sort(), [...template.files].sort());
            return;
          }
          assert.deepEqual(lacks, [], `the probe lacks ${lacks.join(', ')} but the catalogue calls ${template.id} runnable`);
          const report = reports.find((r) => r.file === programOf(template));
          assert.ok(report, `no report for ${programOf(template)}`);
          assert.deepEqual(report.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line}: ${d.message}`), []);
          assert.equal(report.compiled, true);
          assert.ok(report.programs.length >= 1, `${template.program} has no programs`);
          for (const p of report.programs) assert.equal(p.ok, true, `${p.name} on ${kernel.label}: ${p.error}`);
        });
      }
    } finally {
      await session.dispose();
    }
  });
}

/** Why the loaders cannot be built here, or null when they can. */
function loaderToolsMissing(): string | null {
  const onPath = (tool: string): boolean => (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, tool)));
  for (const tool of ['make', 'clang', 'bpftool', 'cc']) if (!onPath(tool)) return `${tool} is not installed (scripts/bootstrap.sh installs it)`;
  if (!existsSync('/usr/include/bpf/libbpf.h')) return 'libbpf-dev is not installed (scripts/bootstrap.sh installs it)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF at /sys/kernel/btf/vmlinux for vmlinux.h';
  return null;
}

const building = agentTestsGate('template loader build tests', loaderToolsMissing());

for (const template of templates) {
  building(`template ${template.id}: its standalone loader builds with make against the system libbpf`, { timeout: 180_000 }, () => {
    const dir = join(scratch, 'builds', template.id);
    instantiateTemplate(template, dir);
    const make = spawnSync('make', ['-C', dir], { encoding: 'utf8', timeout: 170_000 });
    assert.equal(make.status, 0, `${make.stdout}\n${make.stderr}`);
    const loader = join(dir, template.program.replace(/\.bpf\.c$/, ''));
    assert.ok(existsSync(loader), `make built no ${loader}`);
    assert.ok(existsSync(join(dir, template.program.replace(/\.bpf\.c$/, '.skel.h'))), 'the loader is built on a bpftool skeleton');
  });
}

const running = agentTestsGate('execsnoop loader run test', agentPrerequisiteMissing() ?? loaderToolsMissing());

running('the execsnoop loader runs for a second and prints the line of an exec the test causes: pid, parent, uid, command, file name', { timeout: 180_000 }, async () => {
  const dir = join(scratch, 'run', 'execsnoop');
  instantiateTemplate(templates.find((t) => t.id === 'execsnoop')!, dir);
  const make = spawnSync('make', ['-C', dir], { encoding: 'utf8', timeout: 170_000 });
  assert.equal(make.status, 0, make.stderr);
  // A binary of a name no other exec on the machine has, so its line is unmistakably ours.
  const marker = join(dir, `exec-marker-${process.pid}`);
  copyFileSync('/bin/true', marker);
  spawnSync('chmod', ['+x', marker]);

  const loader = spawn(join(dir, 'execsnoop'), ['-d', '1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  loader.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => loader.on('close', resolve));
  let markerPid = 0;
  await new Promise<void>((resolve, reject) => {
    const reader = createInterface({ input: loader.stdout });
    reader.on('line', (line) => {
      lines.push(line);
      // The header is printed once the program is attached: exec the marker then.
      if (lines.length === 1) {
        const child = spawn(marker, [], { stdio: 'ignore' });
        markerPid = child.pid!;
        child.on('error', reject);
      }
    });
    reader.on('close', resolve);
  });
  assert.equal(await exited, 0, stderr);
  assert.match(lines[0]!, /^PID\s+PPID\s+UID\s+COMM\s+FILENAME$/);
  const ours = lines.filter((line) => line.endsWith(` ${marker}`));
  assert.equal(ours.length, 1, `one line for ${marker} in:\n${lines.join('\n')}`);
  const [pid, ppid, uid, comm, filename] = ours[0]!.trim().split(/\s+/);
  assert.deepEqual([Number(pid), Number(ppid), Number(uid), filename], [markerPid, process.pid, process.getuid!(), marker]);
  assert.ok(comm!.length > 0 && comm!.length <= 15, `comm '${comm}'`);
});

test('`ebpf-studio new` writes a template with a parameter, the .clangd for *.bpf.c, and says what to run next', () => {
  const dir = join(scratch, 'cli-new', 'opens');
  const run = spawnSync(process.execPath, [cli, 'new', 'tracepoint-printk', dir, '--param', 'tracepoint=syscalls/sys_enter_openat'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const files = ['Makefile', 'README.md', 'tracepoint_printk.bpf.c', 'tracepoint_printk.c', 'tracepoint_printk.h'];
  const lines = run.stdout.split('\n');
  assert.deepEqual(lines.slice(0, files.length), files.map((f) => `wrote ${join(dir, f)}`));
  assert.match(lines[files.length]!, new RegExp(`^wrote ${join(dir, '.clangd')} \\(clangd flags for \\*\\.bpf\\.c: -target bpf -D__TARGET_ARCH_\\w+ -I\\S+`));
  assert.deepEqual(lines.slice(files.length + 1), ['', 'next:', `  ebpf-studio check ${join(dir, 'tracepoint_printk.bpf.c')}`, `  make -C ${dir}`, '']);
  assert.match(readFileSync(join(dir, 'tracepoint_printk.bpf.c'), 'utf8'), /SEC\("tracepoint\/syscalls\/sys_enter_openat"\)/);
  assert.match(readFileSync(join(dir, '.clangd'), 'utf8'), /PathMatch: \.\*\\\.bpf\\\.c\nCompileFlags:\n {2}Add:\n {4}- "-target"\n {4}- bpf\n/);

  const again = spawnSync(process.execPath, [cli, 'new', 'tracepoint-printk', dir], { encoding: 'utf8' });
  assert.deepEqual([again.status, again.stdout, again.stderr], [2, '', `ebpf-studio: ${dir} already has ${files.join(', ')}: choose an empty folder, nothing was written\n`]);
  const bad = spawnSync(process.execPath, [cli, 'new', 'tracepoint-printk', join(scratch, 'cli-new', 'bad'), '--param', 'tracepoint'], { encoding: 'utf8' });
  assert.deepEqual([bad.status, bad.stderr], [2, "ebpf-studio: --param must be NAME=VALUE, not 'tracepoint'\n"]);
  assert.equal(existsSync(join(scratch, 'cli-new', 'bad')), false);
});

test('the package ships every template folder beside out/, where the bundled CLI and extension look, and not the catalogue\'s TypeScript', { timeout: 120_000 }, () => {
  const listed = spawnSync(process.execPath, [join(root, 'node_modules/@vscode/vsce/vsce'), 'ls', '--no-dependencies'], { cwd: root, encoding: 'utf8', timeout: 110_000 });
  assert.equal(listed.status, 0, listed.stderr);
  const files = new Set(listed.stdout.split('\n'));
  assert.ok(files.has('out/cli.js') && files.has('out/extension.js'), 'the bundles, whose defaultTemplatesDir is out/../bpf-templates');
  for (const t of templates) for (const f of ['template.json', ...t.files]) assert.ok(files.has(`bpf-templates/${t.id}/${f}`), `bpf-templates/${t.id}/${f} is not in the package`);
  assert.deepEqual([...files].filter((f) => f.startsWith('bpf-templates/') && f.endsWith('.ts')), []);
});
