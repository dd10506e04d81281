/** The kernel matrix of `ebpf-studio check --target A --target B`: table, call-outs and JSON, on hand-made reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMatrix, toJsonReport } from '../../cli/formatMatrix';
import type { TargetOutcome } from '../../remote-agent/client/kernelMatrix';
import type { CheckReport, ProgramReport } from '../../remote-agent/client/checkReport';

const cwd = '/home/dev/probes';
const program = (overrides: Partial<ProgramReport>): ProgramReport => ({
  name: 'lsm_open',
  section: 'lsm/file_open',
  type: 'lsm',
  ok: true,
  insnCount: 20,
  insnsProcessed: 1234,
  totalStates: 12,
  peakStates: 4,
  verificationTimeUs: 400,
  stackDepth: 8,
  log: '',
  ...overrides,
});
const report = (kernelRelease: string, programs: ProgramReport[], compiledOn: 'target' | 'client' = 'client'): CheckReport => ({
  file: '/home/dev/probes/lsm.bpf.c',
  target: 'root@127.0.0.1:2201',
  kernelRelease,
  compiled: true,
  diagnostics: programs.some((p) => !p.ok)
    ? [{ file: '/home/dev/probes/lsm.bpf.c', line: 14, column: 2, severity: 'error', message: 'At program exit the register R0 has smin=-1 smax=-1 should have been in [0, 0]', source: 'verifier', program: 'lsm_open' }]
    : [],
  programs,
  compileMs: 50,
  loadMs: 3,
  compiledOn,
});

const outcomes: TargetOutcome[] = [
  { target: 'vm:6.1', reports: [report('6.1.0-40-amd64', [program({})])] },
  { target: 'vm:7.3', reports: [report('7.3.0-rc1-amd64', [program({ ok: false, insnsProcessed: 9, error: 'At program exit the register R0 has smin=-1 smax=-1 should have been in [0, 0]' })])] },
  { target: 'ssh://root@lab', error: 'Cannot connect to root@lab:22: connect ECONNREFUSED.' },
];

test('the table has a column per target with its kernel, a row per program, and calls out a verdict that differs between kernels', () => {
  assert.equal(
    formatMatrix(outcomes, cwd),
    [
      'program             vm:6.1 (6.1.0-40-amd64)             vm:7.3 (7.3.0-rc1-amd64)            ssh://root@lab',
      'lsm.bpf.c lsm_open  ✓ 1,234 insns 12/4 st 0.4 ms        ✗ At program exit the register R0…  unreachable',
      'lsm.bpf.c lsm_open: passes on vm:6.1; rejected on vm:7.3',
      'ssh://root@lab: not checked: Cannot connect to root@lab:22: connect ECONNREFUSED.',
      '',
    ].join('\n'),
  );
});

test('the JSON report names the target of every diagnostic and program result, and lists unreachable targets', () => {
  const json = toJsonReport(outcomes, cwd);
  assert.deepEqual(json.diagnostics.map((d) => [d.target, d.file, d.line, d.program]), [['vm:7.3', 'lsm.bpf.c', 14, 'lsm_open']]);
  assert.deepEqual(json.programs, [
    { target: 'vm:6.1', kernelRelease: '6.1.0-40-amd64', file: 'lsm.bpf.c', program: 'lsm_open', section: 'lsm/file_open', ok: true, insnsProcessed: 1234, totalStates: 12, peakStates: 4, verificationTimeUs: 400, stackDepth: 8, compiledOn: 'client' },
    { target: 'vm:7.3', kernelRelease: '7.3.0-rc1-amd64', file: 'lsm.bpf.c', program: 'lsm_open', section: 'lsm/file_open', ok: false, insnsProcessed: 9, totalStates: 12, peakStates: 4, verificationTimeUs: 400, stackDepth: 8, compiledOn: 'client', error: 'At program exit the register R0 has smin=-1 smax=-1 should have been in [0, 0]' },
  ]);
  assert.deepEqual(json.unreachable, [{ target: 'ssh://root@lab', error: 'Cannot connect to root@lab:22: connect ECONNREFUSED.' }]);
});
