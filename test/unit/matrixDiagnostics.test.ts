/** The kernel matrix's shared pieces on hand-made reports: merged diagnostics, where clang runs, and one outcome per target. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckReport, SourceDiagnostic } from '../../remote-agent/client/checkReport';
import { checkOnTargets, compilesOnClient, type TargetOutcome } from '../../remote-agent/client/kernelMatrix';
import { mergedMessage, mergeTargetDiagnostics } from '../../remote-agent/client/matrixDiagnostics';
import type { HelloResult } from '../../remote-agent/protocol';

const FILE = '/work/probe.bpf.c';
const nullDeref: SourceDiagnostic = { file: FILE, line: 25, column: 9, severity: 'error', message: "R0 invalid mem access 'map_value_or_null'", source: 'verifier', program: 'count_execve' };
const returnRange: SourceDiagnostic = { file: FILE, line: 40, column: 2, severity: 'error', message: 'At program exit the register R0 has smin=-1 smax=-1 should have been in [0, 0]', source: 'verifier', program: 'lsm_open' };

const report = (kernelRelease: string, diagnostics: SourceDiagnostic[]): CheckReport => ({
  file: FILE,
  target: 'ignored',
  kernelRelease,
  compiled: true,
  diagnostics,
  programs: [],
  compileMs: 1,
  loadMs: 1,
  compiledOn: 'client',
});

test('the same message on the same line from several targets is one diagnostic naming each kernel, in target order', () => {
  const outcomes: TargetOutcome[] = [
    { target: 'local', reports: [report('6.18.44', [nullDeref])] },
    { target: 'vm:6.1', reports: [report('6.1.0-50-amd64', [nullDeref, returnRange])] },
    { target: 'vm:7.3', reports: [report('7.3-amd64', [{ ...nullDeref, column: 2, related: [] }])] },
    { target: 'ssh://lab', error: 'connect ECONNREFUSED' },
  ];
  const merged = mergeTargetDiagnostics(outcomes);
  assert.deepEqual(
    merged.map((m) => [m.diagnostic.line, m.kernels, m.checkedTargets]),
    [
      [25, ['local (6.18.44)', 'vm:6.1 (6.1.0-50-amd64)', 'vm:7.3 (7.3-amd64)'], 3],
      [40, ['vm:6.1 (6.1.0-50-amd64)'], 3],
    ],
  );
  assert.equal(merged[0]!.diagnostic, nullDeref, "the first target's diagnostic is kept whole");
  assert.equal(mergedMessage(merged[0]!), "R0 invalid mem access 'map_value_or_null' — on all 3 targets: local (6.18.44), vm:6.1 (6.1.0-50-amd64), vm:7.3 (7.3-amd64)");
  assert.equal(mergedMessage(merged[1]!), 'At program exit the register R0 has smin=-1 smax=-1 should have been in [0, 0] — on vm:6.1 (6.1.0-50-amd64)');
});

test('a different message or line is a different problem; one target alone is named, not "all 1"', () => {
  const merged = mergeTargetDiagnostics([{ target: 'local', reports: [report('6.18.44', [nullDeref, { ...nullDeref, line: 26 }, { ...nullDeref, message: 'R1 type=scalar expected=fp' }])] }]);
  assert.equal(merged.length, 3);
  assert.equal(mergedMessage(merged[0]!), "R0 invalid mem access 'map_value_or_null' — on local (6.18.44)");
});

test('auto compiles here for kernel VMs and targets without clang, on the target otherwise; an explicit place wins', () => {
  const hello = (clang: string | null): HelloResult => ({ clang }) as HelloResult;
  assert.equal(compilesOnClient({ target: { kind: 'vm', name: '6.1' }, hello: hello('clang 14') }, 'auto'), true);
  assert.equal(compilesOnClient({ target: { kind: 'ssh', host: 'prod' }, hello: hello(null) }, 'auto'), true);
  assert.equal(compilesOnClient({ target: { kind: 'local' }, hello: hello('clang 14') }, 'auto'), false);
  assert.equal(compilesOnClient({ target: { kind: 'vm', name: '6.1' }, hello: hello('clang 14') }, 'target'), false);
  assert.equal(compilesOnClient({ target: { kind: 'local' }, hello: hello('clang 14') }, 'client'), true);
});

test('every target is checked at once; one that fails is an outcome with its reason, and a cancellation rejects the matrix', async () => {
  const waiting: Array<() => void> = [];
  const checking = checkOnTargets(['a', 'b', 'c'], (target) => {
    if (target === 'b') return Promise.reject(new Error('cannot connect\n  to b'));
    return new Promise<CheckReport[]>((resolve) => waiting.push(() => resolve([report(target, [])])));
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(waiting.length, 2, 'a and c run concurrently');
  for (const release of waiting) release();
  assert.deepEqual((await checking).map((o) => [o.target, o.error ?? o.reports?.[0]?.kernelRelease]), [['a', 'a'], ['b', 'cannot connect to b'], ['c', 'c']]);

  const controller = new AbortController();
  const cancelled = checkOnTargets(['a'], () => {
    controller.abort(new DOMException('stop', 'AbortError'));
    return Promise.reject(controller.signal.reason as Error);
  }, controller.signal);
  await assert.rejects(cancelled, { name: 'AbortError' });
});
