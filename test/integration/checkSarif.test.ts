/**
 * `ebpf-studio check --format sarif` on a real rejection: the unchecked map lookup of
 * test/fixtures/programs/rejected.bpf.c on every test kernel (this machine, and Debian's 6.1 and
 * 7.3 in VMs where QEMU runs), one SARIF run per target naming it, the knowledge-base rule with
 * its help, the result on the dereference and the lookup first among its related locations.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import type { SarifLog } from '../../cli/formatSarif';
import { readyTarget, testKernels } from '../support/testKernels';

const root = path.join(import.meta.dirname, '..', '..');
const programs = path.join(root, 'test/fixtures/programs');
const kernels = testKernels();

test(`a rejection as SARIF 2.1.0, one run per target (${kernels.map((k) => k.label).join(', ')})`, { timeout: 900_000 }, async () => {
  const targets = await Promise.all(kernels.map((k) => readyTarget(k)));
  const run = spawnSync(process.execPath, [path.join(root, 'out/cli.js'), 'check', 'rejected.bpf.c', ...targets.flatMap((t) => ['--target', t]), '--format', 'sarif'], {
    cwd: programs,
    encoding: 'utf8',
    timeout: 600_000,
  });
  assert.equal(run.stderr, '');
  assert.equal(run.status, 1, 'a rejection is exit 1, whatever the format');
  const log = JSON.parse(run.stdout) as SarifLog;
  assert.equal(log.version, '2.1.0');
  assert.deepEqual(log.runs.map((r) => [r.properties.target, r.automationDetails.id, r.invocations]), targets.map((t) => [t, `ebpf-studio-check/${t}/`, [{ executionSuccessful: true }]]));
  for (const r of log.runs) {
    assert.match(r.properties.kernelRelease!, /^\d+\.\d+/);
    assert.deepEqual(r.tool.driver.rules.map((rule) => [rule.id, rule.shortDescription.text, rule.helpUri]), [
      ['nullable-map-value', 'Map value used without a NULL check', 'https://github.com/ebpf-studio/ebpf-studio/blob/main/docs/verifier-errors.md#nullable-map-value'],
    ]);
    assert.match(r.tool.driver.rules[0]!.help.text, /\n\nFix: Test the pointer right after the lookup/);
    const [result, ...others] = r.results;
    assert.deepEqual(others, [], `one result on ${r.properties.target}`);
    assert.deepEqual([result!.ruleId, result!.ruleIndex, result!.level, result!.message.text], ['nullable-map-value', 0, 'error', "R0 invalid mem access 'map_value_or_null' (program count_execve)"]);
    assert.deepEqual(result!.locations, [{ physicalLocation: { artifactLocation: { uri: 'rejected.bpf.c', uriBaseId: '%SRCROOT%' }, region: { startLine: 22, startColumn: 9 } } }]);
    // The causal chain first: the lookup on line 19 that made R0 a nullable map value (each kernel words it its own way).
    const cause = result!.relatedLocations![0]!;
    assert.deepEqual([cause.id, cause.physicalLocation.artifactLocation.uri, cause.physicalLocation.region.startLine], [1, 'rejected.bpf.c', 19]);
    assert.match(cause.message.text, /nullable map value/);
  }
});
