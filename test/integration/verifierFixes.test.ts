/**
 * Each quick fix on a broken program of its kind, through `ebpf-studio check --format json` on real
 * kernels: before, the verifier rejects the program with that knowledge-base id; the fix computed
 * from the source and that diagnostic (verifierFixes.ts) is applied; after, every program passes.
 * On this machine for every fix; on Debian's 6.1 and 7.3 (test VMs) for all but the stack one
 * (its rejection needs a loader without CAP_PERFMON; below, the CLI runs with that capability
 * dropped from its bounding set, so the agent it starts cannot have it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { SourceDiagnostic } from '../../remote-agent/client/checkReport';
import { applyTextEdits, verifierFixes } from '../../remote-agent/client/verifierFixes';
import { readyTarget, testKernels } from '../support/testKernels';

const root = path.join(import.meta.dirname, '..', '..');
const fixtures = path.join(root, 'test/fixtures/programs/fixes');
const fixedDir = mkdtempSync(path.join(tmpdir(), 'ebpf-fixes-'));
after(() => rmSync(fixedDir, { recursive: true, force: true }));

interface Case {
  file: string;
  kind: string;
  /** Loaded by an agent without CAP_PERFMON and CAP_SYS_ADMIN (CAP_BPF only). */
  withoutPerfmon?: boolean;
}

const CASES: Case[] = [
  { file: 'null-map-value.bpf.c', kind: 'nullable-map-value' },
  { file: 'ringbuf-null.bpf.c', kind: 'nullable-pointer' },
  { file: 'packet-bounds.bpf.c', kind: 'packet-out-of-bounds' },
  { file: 'ringbuf-leak.bpf.c', kind: 'unreleased-reference' },
  { file: 'missing-license.bpf.c', kind: 'gpl-only-function' },
  { file: 'helper-size.bpf.c', kind: 'helper-size-unbounded' },
  { file: 'helper-size-u64.bpf.c', kind: 'helper-size-unbounded' },
  { file: 'uninitialized-stack.bpf.c', kind: 'uninitialized-stack-read', withoutPerfmon: true },
];

interface JsonReport {
  diagnostics: Array<Omit<SourceDiagnostic, 'program'> & { target: string; program: string | null }>;
  programs: Array<{ target: string; file: string; program: string; ok: boolean }>;
  unreachable: unknown[];
}

function check(cwd: string, files: string[], targets: string[], withoutPerfmon = false): { status: number | null; report: JsonReport } {
  const cli = [path.join(root, 'out/cli.js'), 'check', ...files, ...targets.flatMap((t) => ['--target', t]), '--format', 'json'];
  const run = withoutPerfmon
    ? spawnSync('setpriv', ['--bounding-set=-perfmon,-sys_admin', '--inh-caps=-perfmon,-sys_admin', process.execPath, ...cli], { cwd, encoding: 'utf8', timeout: 600_000 })
    : spawnSync(process.execPath, cli, { cwd, encoding: 'utf8', timeout: 600_000 });
  assert.equal(run.stderr, '');
  return { status: run.status, report: JSON.parse(run.stdout) as JsonReport };
}

/** The fixed copy of a case's file, written under `dir`: its first fix applied. */
function applyFix(c: Case, diagnostic: JsonReport['diagnostics'][number], dir: string): string {
  const source = readFileSync(path.join(fixtures, c.file), 'utf8');
  const fixes = verifierFixes(source, { ...diagnostic, file: path.join(fixtures, c.file), program: diagnostic.program ?? undefined });
  assert.ok(fixes.length > 0, `a fix is offered for ${c.file}`);
  writeFileSync(path.join(dir, c.file), applyTextEdits(source, fixes[0]!.edits));
  return fixes[0]!.title;
}

for (const c of CASES) {
  test(`${c.file}: rejected as ${c.kind} on this machine, passes after the quick fix`, { timeout: 300_000 }, (t) => {
    const before = check(fixtures, [c.file], ['local'], c.withoutPerfmon);
    assert.equal(before.status, 1);
    assert.deepEqual(before.report.diagnostics.map((d) => [d.file, d.explanation?.id]), [[c.file, c.kind]]);
    const dir = mkdtempSync(path.join(fixedDir, 'local-'));
    t.diagnostic(`applied: ${applyFix(c, before.report.diagnostics[0]!, dir)}`);
    const fixed = check(dir, [c.file], ['local'], c.withoutPerfmon);
    assert.deepEqual(fixed.report.diagnostics, []);
    assert.ok(fixed.report.programs.length > 0 && fixed.report.programs.every((p) => p.ok), JSON.stringify(fixed.report.programs));
    assert.equal(fixed.status, 0);
  });
}

const vms = testKernels().filter((k) => k.target !== 'local');
const onVms = CASES.filter((c) => !c.withoutPerfmon);
if (vms.length > 0) {
  test(`the quick fixes make the same programs pass on ${vms.map((k) => k.label).join(' and ')}`, { timeout: 1_200_000 }, async (t) => {
    const targets = await Promise.all(vms.map((k) => readyTarget(k)));
    const files = onVms.map((c) => c.file);
    const before = check(fixtures, files, targets);
    assert.equal(before.status, 1);
    assert.deepEqual(before.report.unreachable, []);
    const dir = mkdtempSync(path.join(fixedDir, 'vms-'));
    for (const target of targets) {
      assert.deepEqual(
        before.report.diagnostics.filter((d) => d.target === target).map((d) => [d.file, d.explanation?.id]),
        onVms.map((c) => [c.file, c.kind]),
        `rejections on ${target}`,
      );
    }
    for (const c of onVms) {
      const source = readFileSync(path.join(fixtures, c.file), 'utf8');
      const fixesOn = (target: string) => {
        const d = before.report.diagnostics.find((x) => x.target === target && x.file === c.file)!;
        return verifierFixes(source, { ...d, file: path.join(fixtures, c.file), program: d.program ?? undefined });
      };
      // Every kernel's diagnostic leads to the same edit; the first kernel's is applied.
      for (const target of targets.slice(1)) assert.deepEqual(fixesOn(target), fixesOn(targets[0]!), `the fix from ${target}'s diagnostic`);
      t.diagnostic(`${c.file}: ${applyFix(c, before.report.diagnostics.find((d) => d.target === targets[0] && d.file === c.file)!, dir)}`);
    }
    const fixed = check(dir, files, targets);
    assert.deepEqual(fixed.report.diagnostics, []);
    assert.deepEqual(
      fixed.report.programs.map((p) => [p.target, p.file, p.ok]),
      targets.flatMap((target) => files.map((f) => [target, f, true])),
    );
    assert.equal(fixed.status, 0);
  });
}
