/**
 * Compiling as the project builds, for real on this machine: the agent's `includeDirs` (validated,
 * and winning over the system's libbpf headers), then `ebpf-studio check` on a tree laid out like
 * libbpf-tools (test/fixtures/projects/libbpf-tools: a vendored libbpf newer than the system's 1.1
 * with a BPF_UPROBE macro 1.1 lacks, per-tool headers, shared headers, a compile_commands.json),
 * compiled on the target and on the client.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing, agentTestsGate, assertNoSanitizerReport, buildSanitizedAgent, RawAgent } from '../support/rawAgent';

const repo = path.join(__dirname, '..', '..');
const fixture = path.join(repo, 'test/fixtures/projects/libbpf-tools');
const skipReason = agentPrerequisiteMissing();
const t = agentTestsGate('project flags integration tests', skipReason);

let agent: RawAgent;
let scratch: string;

before(() => {
  if (skipReason) return;
  buildSanitizedAgent();
  agent = new RawAgent();
  scratch = mkdtempSync(path.join(tmpdir(), 'project-flags-it-'));
});

after(async () => {
  if (agent) {
    await agent.close();
    assertNoSanitizerReport(agent.stderr);
    agent.cleanup();
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Needs the vendored header: the system's libbpf 1.1 bpf_helpers.h does not define the marker. */
const needsVendored = [
  '#include <vmlinux.h>',
  '#include <bpf/bpf_helpers.h>',
  '#ifndef STUDIO_VENDORED_LIBBPF',
  '#error "the system\'s bpf_helpers.h was used"',
  '#endif',
  'SEC("tracepoint/syscalls/sys_enter_getpid") int on_getpid(void *ctx) { return 0; }',
  'char LICENSE[] SEC("license") = "GPL";',
  '',
].join('\n');
const vendoredHelpers = '#define STUDIO_VENDORED_LIBBPF 1\n#define SEC(name) __attribute__((section(name), used))\n';

t('a header sent in an include dir wins over the system\'s; without includeDirs the system\'s is used', async () => {
  const files = [
    { path: 'tools/t.bpf.c', content: needsVendored },
    { path: 'vendor/bpf/bpf_helpers.h', content: vendoredHelpers },
  ];
  const vendored = await agent.request('compile', { files, main: 'tools/t.bpf.c', includeDirs: ['vendor'] });
  assert.equal(vendored.result.stderr, '');
  assert.equal(vendored.result.ok, true);
  const system = await agent.request('compile', { files, main: 'tools/t.bpf.c' });
  assert.equal(system.result.ok, false);
  assert.match(system.result.stderr, /^tools\/t\.bpf\.c:4:2: error: "the system's bpf_helpers\.h was used"$/m);
  // "." is the work directory itself.
  const atRoot = await agent.request('compile', {
    files: [{ path: 't.bpf.c', content: needsVendored }, { path: 'bpf/bpf_helpers.h', content: vendoredHelpers }],
    main: 't.bpf.c',
    includeDirs: ['.'],
  });
  assert.equal(atRoot.result.ok, true);
  for (const r of [vendored, atRoot]) await agent.request('release', { objectId: r.result.objectId });
});

t('includeDirs are validated like paths: relative, no .. segment, no duplicates, at most 32 strings', async () => {
  const base = { files: [{ path: 'a.bpf.c', content: needsVendored }], main: 'a.bpf.c' };
  const cases: Array<[unknown, string]> = [
    [['../etc'], 'params.includeDirs[0] "../etc" contains a \'..\' segment.'],
    [['ok', '/usr/include'], 'params.includeDirs[1] "/usr/include" is absolute; paths must be relative to the work directory.'],
    [['a/./b'], 'params.includeDirs[0] "a/./b" contains a \'.\' segment.'],
    [['inc', 'inc'], 'params.includeDirs[1] "inc" appears twice.'],
    [[''], 'params.includeDirs[0] "" is empty.'],
    [[7], 'params.includeDirs[0] must be a string without NUL characters.'],
    ['inc', 'params.includeDirs must be an array of at most 32 strings.'],
    [Array.from({ length: 33 }, (_, i) => `d${i}`), 'params.includeDirs must be an array of at most 32 strings.'],
  ];
  for (const [includeDirs, message] of cases) {
    const reply = await agent.request('compile', { ...base, includeDirs });
    assert.deepEqual(reply.error, { code: ErrorCode.InvalidParams, message }, JSON.stringify(includeDirs));
  }
});

function cli(args: string[], cwd: string) {
  // tsx by path: the copies of the fixture, where the CLI runs, have no node_modules.
  const tsx = path.join(repo, 'node_modules/tsx/dist/loader.mjs');
  const run = spawnSync(process.execPath, ['--import', tsx, path.join(repo, 'cli/main.ts'), ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A copy of the fixture as its own repository (the workspace), without compile_commands.json when asked. */
function copyOfFixture(name: string, withDatabase: boolean): string {
  const copy = path.join(scratch, name);
  cpSync(fixture, copy, { recursive: true, filter: (src) => withDatabase || path.basename(src) !== 'compile_commands.json' });
  mkdirSync(path.join(copy, '.git'));
  return copy;
}

t('check: a tool using the vendored libbpf\'s BPF_UPROBE fails without the project\'s flags and passes with its compile_commands.json', () => {
  const bare = copyOfFixture('bare', false);
  const failing = cli(['check', 'tools/uprobe_count.bpf.c', '--target', 'local'], bare);
  assert.equal(failing.stderr, '');
  assert.equal(failing.status, 1);
  // The system's libbpf 1.1 has no BPF_UPROBE: clang reads it as an old-style declaration.
  assert.equal(
    failing.stdout,
    'tools/uprobe_count.bpf.c:17:30: error: expected identifier [clang]\n' +
      "tools/uprobe_count.bpf.c:26:37: error: use of undeclared identifier 'size' [clang]\n" +
      'tools/uprobe_count.bpf.c: not compiled, no program verified (on local)\n',
  );

  const project = copyOfFixture('project', true);
  for (const compileOn of ['target', 'client']) {
    const passing = cli(['check', 'tools/uprobe_count.bpf.c', '--target', 'local', '--compile-on', compileOn, '--format', 'json'], project);
    assert.equal(passing.stderr, '');
    assert.equal(passing.status, 0, passing.stdout);
    const report = JSON.parse(passing.stdout);
    assert.deepEqual(report.diagnostics, []);
    assert.deepEqual(
      report.programs.map((p: { file: string; program: string; section: string; ok: boolean; compiledOn: string }) => [p.file, p.program, p.section, p.ok, p.compiledOn]),
      [['tools/uprobe_count.bpf.c', 'count_malloc', 'uprobe', true, compileOn]],
    );
  }
});

t("check: a clang error inside a vendored header, and a verifier rejection inside a shared header, land on those local headers' lines", () => {
  const project = copyOfFixture('errors', true);
  const abi = cli(['check', 'tools/newer_abi.bpf.c', '--target', 'local', '--format', 'json'], project);
  assert.equal(abi.status, 1);
  const abiReport = JSON.parse(abi.stdout);
  assert.deepEqual(
    abiReport.diagnostics.map((d: { file: string; line: number; column: number; severity: string; message: string; source: string }) => [d.file, d.line, d.column, d.severity, d.message, d.source]),
    [['libbpf/src/bpf/bpf_tracing.h', 7, 2, 'error', '"this bpf_tracing.h provides tracing ABI 2; the tool asks for a newer one"', 'clang']],
  );

  // In text, a failed compile says whose flags it used and what of them was not.
  const abiText = cli(['check', 'tools/newer_abi.bpf.c', '--target', 'local'], project);
  assert.equal(
    abiText.stdout,
    'libbpf/src/bpf/bpf_tracing.h:7:2: error: "this bpf_tracing.h provides tracing ABI 2; the tool asks for a newer one" [clang]\n' +
      'tools/newer_abi.bpf.c: note: compiled with the include paths and defines of compile_commands.json; ' +
      "not used: -D__TARGET_ARCH_x86 (the agent defines __TARGET_ARCH_* for the target's architecture)\n" +
      'tools/newer_abi.bpf.c: not compiled, no program verified (on local)\n',
  );

  // unchecked.bpf.c is not in the database: it builds with the flags of its neighbour's entry.
  const unchecked = cli(['check', 'tools/unchecked.bpf.c', '--target', 'local', '--format', 'json'], project);
  assert.equal(unchecked.status, 1);
  const [diagnostic, ...others] = JSON.parse(unchecked.stdout).diagnostics;
  assert.deepEqual(others, []);
  assert.deepEqual(
    [diagnostic.file, diagnostic.line, diagnostic.column, diagnostic.message, diagnostic.program],
    ['common/bits.bpf.h', 10, 8, "R0 invalid mem access 'map_value_or_null'", 'count_getpid'],
  );
  assert.deepEqual(
    diagnostic.related.map((r: { file: string; line: number }) => [r.file, r.line]).slice(0, 1),
    [['common/bits.bpf.h', 8]],
  );
});

t('run: --cflags stands in for a project without compile_commands.json, relative to the working directory', () => {
  const bare = copyOfFixture('run', false);
  const without = cli(['run', 'tools/getpid_count.bpf.c', '--target', 'local', '--duration', '1'], bare);
  assert.equal(without.status, 1);
  assert.equal(
    without.stdout,
    'tools/getpid_count.bpf.c:7:2: error: "built against the system\'s libbpf, not the vendored one" [clang]\n' +
      'tools/getpid_count.bpf.c: not compiled, no program verified (on local)\n',
  );
  const withFlags = cli(['run', 'tools/getpid_count.bpf.c', '--target', 'local', '--cflags', '-Ilibbpf/src -DUNUSED=1', '--duration', '1'], bare);
  assert.equal(withFlags.status, 0, withFlags.stderr);
  assert.match(withFlags.stderr, /^tools\/getpid_count\.bpf\.c: program count_getpid \(tracepoint\/syscalls\/sys_enter_getpid\): ok, \d+ insns processed \(on local, kernel .+\)$/m);
  assert.match(withFlags.stderr, /^attached count_getpid: tracepoint syscalls\/sys_enter_getpid \(prog id \d+\)$/m);
});

t('check: --cflags, relative to the working directory, when the project has no compile_commands.json', () => {
  const bare = copyOfFixture('cflags', false);
  const run = cli(['check', 'tools/uprobe_count.bpf.c', '--target', 'local', '--cflags', '-I libbpf/src -Icommon -DMAX_ENTRIES=10240'], bare);
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0, run.stdout);
  assert.match(run.stdout, /^tools\/uprobe_count\.bpf\.c: program count_malloc \(uprobe\): ok, \d+ insns processed \(on local, kernel .+\)$/m);
});
