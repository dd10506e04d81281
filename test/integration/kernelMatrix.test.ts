/**
 * The kernel matrix as a user runs it: `ebpf-studio check FILE --target local --target vm:… ` on
 * this machine and Debian's 6.1 and 7.3 in VMs (booted by the project's own vm code), one CLI run.
 * The fixture is one LSM program that three kernels judge three ways: 6.1 loads it, 7.x range-checks
 * LSM return values and rejects it, a kernel without BPF LSM cannot load it. VMs compile here
 * against their own BTF (compile-on-client); each verdict is decided from that kernel's probe.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { openAgentSession } from '../../remote-agent/client/agentSession';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import { readyTarget, testKernels } from '../support/testKernels';

const root = path.join(import.meta.dirname, '..', '..');
const fixtures = path.join(root, 'test/fixtures/programs/matrix');
const kernels = testKernels();
/** Per target: its kernel release and whether it has BPF LSM, as its agent probed it. */
const probed = new Map<string, { release: string; lsm: boolean }>();
/** 6.1 has BPF LSM but no range check of LSM return values yet. */
const loadsThere = (target: string): boolean => probed.get(target)!.lsm && /^6\.1\./.test(probed.get(target)!.release);

before(
  async () => {
    for (const kernel of kernels) {
      const target = await readyTarget(kernel);
      const session = await openAgentSession({ target: parseTarget(target), agentSourceDir: path.join(root, 'remote-agent/agent'), agentBinaryDir: path.join(root, 'out/agent-bin'), clientVersion: 'kernelMatrix.test' });
      probed.set(target, { release: session.hello.kernelRelease, lsm: session.hello.features.lsm });
      await session.dispose();
    }
  },
  { timeout: 900_000 },
);

function checkOnAll(format: 'text' | 'json') {
  const targets = kernels.flatMap((k) => ['--target', k.target]);
  const run = spawnSync(process.execPath, [path.join(root, 'out/cli.js'), 'check', 'lsm_return_value.bpf.c', ...targets, '--format', format], { cwd: fixtures, encoding: 'utf8', timeout: 600_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('one check on every test kernel gives each kernel\'s own verdict on the same LSM program', { timeout: 600_000 }, (t) => {
  const run = checkOnAll('json');
  assert.equal(run.stderr, '');
  assert.equal(run.status, 1, 'a rejection on any kernel is exit 1');
  const report = JSON.parse(run.stdout);
  assert.deepEqual(report.unreachable, []);
  for (const kernel of kernels) {
    const [program, ...others] = report.programs.filter((p: { target: string }) => p.target === kernel.target);
    assert.deepEqual(others, []);
    const diagnostics = report.diagnostics.filter((d: { target: string }) => d.target === kernel.target);
    // Kernel VMs are compiled for here; this machine has clang (bootstrap installs it) and compiles for itself.
    assert.equal(program.compiledOn, kernel.target.startsWith('vm:') ? 'client' : 'target');
    if (!probed.get(kernel.target)!.lsm) {
      t.diagnostic(`${kernel.label} (${program.kernelRelease}): no BPF LSM in its probe: the program cannot load`);
      assert.equal(program.ok, false);
      assert.match(diagnostics[0].message, /refuse_writers is a BPF LSM program, and this kernel does not have BPF LSM enabled/);
    } else if (loadsThere(kernel.target)) {
      t.diagnostic(`${kernel.label} (${program.kernelRelease}): BPF LSM, no return-value range check: loads`);
      assert.equal(program.ok, true);
      assert.ok(program.insnsProcessed > 0);
      assert.deepEqual(diagnostics, []);
    } else {
      t.diagnostic(`${kernel.label} (${program.kernelRelease}): BPF LSM with return values range-checked: rejected`);
      assert.equal(program.ok, false);
      assert.deepEqual(
        diagnostics.map((d: { file: string; line: number; message: string; explanation?: { id: string } }) => [d.file, d.line, d.message, d.explanation?.id]),
        [['lsm_return_value.bpf.c', 13, 'At program exit the register R0 has smin=0 smax=1 should have been in [-4095, 0]', 'invalid-return-value']],
      );
    }
  }
});

test('the text report is a table of verdicts per kernel that calls out where the program passes and where it is rejected', { timeout: 600_000 }, () => {
  const run = checkOnAll('text');
  assert.equal(run.status, 1);
  const passes = kernels.filter((k) => loadsThere(k.target)).map((k) => k.target);
  const rejected = kernels.filter((k) => !passes.includes(k.target)).map((k) => k.target);
  assert.ok(passes.length > 0 && rejected.length > 0, 'the test kernels include one that loads it and one that does not');
  assert.ok(run.stdout.includes(`\nlsm_return_value.bpf.c refuse_writers: passes on ${passes.join(', ')}; rejected on ${rejected.join(', ')}\n`), run.stdout);
  const header = run.stdout.split('\n').find((line) => line.startsWith('program '))!;
  for (const kernel of kernels) assert.ok(header.includes(kernel.target), header);
});
