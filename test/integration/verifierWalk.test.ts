/**
 * The verifier's walk on real kernels (this machine's and Debian's 6.1 and 7.3 in VMs): an accepted
 * program's cost per source line (`check --top-src-lines`, what the heat map shows) puts its loop
 * first and names the line behind a branch the verifier proved dead; a rejected program's walk
 * gives, on the failing line, the register state the hover shows (R0 a map value that may be NULL).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { openCliSession } from '../../cli/cliSession';
import { checkFilesOnSession, LocalCompiler } from '../../remote-agent/client/kernelMatrix';
import { describeValue, parseRegisterState } from '../../remote-agent/client/registerState';
import { readyTarget, testKernels } from '../support/testKernels';

const root = path.join(import.meta.dirname, '..', '..');
const walkDir = path.join(root, 'test/fixtures/programs/walk');
const nullMapValue = path.join(root, 'test/fixtures/programs/fixes/null-map-value.bpf.c');

interface JsonPrograms {
  programs: Array<{
    target: string;
    ok: boolean;
    insnsProcessed: number;
    topSourceLines: Array<{ file: string; line: number; insnsProcessed: number }>;
    unreachedLines: Array<{ file: string; line: number }>;
  }>;
  unreachable: unknown[];
}

for (const kernel of testKernels()) {
  test(`on ${kernel.label}: the loop costs the most, the dead branch is never reached, and the failing line's state has R0 possibly NULL`, { timeout: 900_000 }, async () => {
    const target = await readyTarget(kernel);
    const run = spawnSync(process.execPath, [path.join(root, 'out/cli.js'), 'check', 'dead-branch.bpf.c', '--target', target, '--top-src-lines', '2', '--format', 'json'], {
      cwd: walkDir,
      encoding: 'utf8',
      timeout: 600_000,
    });
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    const [program] = (JSON.parse(run.stdout) as JsonPrograms).programs;
    assert.ok(program?.ok);
    // The loop header and body (lines 14 and 15) cost nearly every instruction processed.
    assert.deepEqual(program.topSourceLines.map((l) => [l.file, l.line]).sort(), [
      ['dead-branch.bpf.c', 14],
      ['dead-branch.bpf.c', 15],
    ]);
    const loopCost = program.topSourceLines.reduce((sum, l) => sum + l.insnsProcessed, 0);
    assert.ok(loopCost >= 0.9 * program.insnsProcessed, `the loop costs ${loopCost} of ${program.insnsProcessed} instructions processed`);
    assert.ok(
      program.unreachedLines.some((l) => l.file === 'dead-branch.bpf.c' && l.line === 17),
      `line 17 is behind "if (debug)" with debug known to be 0: ${JSON.stringify(program.unreachedLines)}`,
    );

    const signal = new AbortController().signal;
    const session = await openCliSession({ target }, signal);
    const compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, signal, { unprivileged: true }));
    try {
      const [report] = await checkFilesOnSession(session, [nullMapValue], { compileOn: 'auto', compiler, walk: true, signal });
      const rejected = report!.programs.find((p) => p.name === 'count_execve')!;
      assert.equal(rejected.ok, false);
      const failing = rejected.walk?.lines.find((l) => l.file === nullMapValue && l.line === 21);
      assert.ok(failing, `the walk reaches the failing line 21: ${JSON.stringify(rejected.walk?.lines.map((l) => l.line))}`);
      assert.deepEqual(failing.registers, ['R0']);
      const r0 = parseRegisterState(failing.stateBefore).get('R0')!;
      assert.match(r0, /^map_value_or_null\(/);
      assert.match(describeValue('R0', r0), /^a pointer into a value of (map counters|a map) \(4-byte keys, 8-byte values\), or NULL: it must be checked against NULL before use$/);
    } finally {
      await session.dispose();
      await compiler.dispose();
    }
  });
}
