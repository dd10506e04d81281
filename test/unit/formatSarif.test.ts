/**
 * `check --format sarif`: the SARIF 2.1.0 log of a two-target check, its structure checked by a
 * small validator of the parts of the SARIF 2.1.0 schema code-scanning uploads rely on (required
 * properties, level values, rule indexes, 1-based regions, unique related-location ids), and
 * exact values for one rejection: rule with help and link, location, causal chain in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckReport, SourceDiagnostic } from '../../remote-agent/client/checkReport';
import { SARIF_SCHEMA, toSarif, type SarifLog } from '../../cli/formatSarif';
import { DOCS_BASE_URL } from '../../remote-agent/client/docsUrl';
import { explainVerifierMessage } from '../../remote-agent/client/verifierKnowledge';

const cwd = '/work/proj';

function report(target: string, kernelRelease: string, diagnostics: SourceDiagnostic[]): CheckReport {
  return { file: `${cwd}/probe.bpf.c`, target, kernelRelease, compiled: true, diagnostics, programs: [], compileMs: 1, loadMs: 1, compiledOn: 'target' };
}

const kind = explainVerifierMessage("R0 invalid mem access 'map_value_or_null'")!;
const nullDeref: SourceDiagnostic = {
  file: `${cwd}/probe.bpf.c`,
  line: 21,
  column: 9,
  severity: 'error',
  message: "R0 invalid mem access 'map_value_or_null'",
  source: 'verifier',
  program: 'count_execve',
  related: [
    { file: `${cwd}/probe.bpf.c`, line: 20, column: 10, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' },
    { file: '/usr/include/bpf/bpf_helpers.h', line: 3, column: 1, message: 'verifier path: x' },
  ],
  explanation: { id: kind.id, title: kind.title, text: kind.explanation, fix: kind.fix, docs: `docs/verifier-errors.md#${kind.id}` },
  category: 'Register Type Safety',
  reason: 'R0 may be NULL here',
  suggestion: 'Add a NULL check',
};
const clangError: SourceDiagnostic = { file: `${cwd}/src dir/other.bpf.c`, line: 4, column: 2, severity: 'error', message: "use of undeclared identifier 'x'", source: 'clang' };
const unexplained: SourceDiagnostic = { file: `${cwd}/probe.bpf.c`, line: 30, column: 0, severity: 'error', message: 'some new message', source: 'verifier', program: 'other' };

/** The schema's constraints that matter to consumers, as assertions (no network, no schema library). */
function assertValidSarif(log: SarifLog): void {
  assert.equal(log.version, '2.1.0');
  assert.equal(log.$schema, SARIF_SCHEMA);
  assert.ok(Array.isArray(log.runs));
  const isUri = (u: string) => /^[a-z][a-z0-9+.-]*:/i.test(u) || !u.startsWith('/');
  const checkLocation = (p: SarifLog['runs'][number]['results'][number]['locations'][number]['physicalLocation'], baseIds: string[]) => {
    assert.equal(typeof p.artifactLocation.uri, 'string');
    assert.ok(isUri(p.artifactLocation.uri), `a URI or relative reference: ${p.artifactLocation.uri}`);
    if (p.artifactLocation.uriBaseId !== undefined) assert.ok(baseIds.includes(p.artifactLocation.uriBaseId));
    else assert.match(p.artifactLocation.uri, /^file:\/\//);
    assert.ok(Number.isInteger(p.region.startLine) && p.region.startLine >= 1);
    if (p.region.startColumn !== undefined) assert.ok(Number.isInteger(p.region.startColumn) && p.region.startColumn >= 1);
  };
  for (const run of log.runs) {
    assert.equal(typeof run.tool.driver.name, 'string');
    const ids = run.tool.driver.rules.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'rule ids are unique');
    for (const rule of run.tool.driver.rules) {
      assert.ok(rule.shortDescription.text && rule.fullDescription.text && rule.help.text, `rule ${rule.id} has texts`);
      if (rule.helpUri !== undefined) assert.doesNotThrow(() => new URL(rule.helpUri!));
      assert.ok(['error', 'warning', 'note', 'none'].includes(rule.defaultConfiguration.level));
    }
    const baseIds = Object.keys(run.originalUriBaseIds);
    for (const base of Object.values(run.originalUriBaseIds)) assert.match(base.uri, /^file:\/\/.*\/$/, 'a base URI ends with a slash');
    assert.match(run.automationDetails.id, /\/$/, 'an automation id ending in / is a category');
    assert.equal(run.invocations.length, 1);
    for (const result of run.results) {
      assert.equal(run.tool.driver.rules[result.ruleIndex]?.id, result.ruleId, 'ruleIndex points at the rule');
      assert.ok(['error', 'warning', 'note', 'none'].includes(result.level));
      assert.ok(result.message.text.length > 0);
      assert.ok(result.locations.length >= 1);
      for (const l of result.locations) checkLocation(l.physicalLocation, baseIds);
      const related = result.relatedLocations ?? [];
      assert.equal(new Set(related.map((r) => r.id)).size, related.length, 'related ids are unique');
      for (const r of related) {
        assert.ok(Number.isInteger(r.id) && r.id >= 0);
        checkLocation(r.physicalLocation, baseIds);
      }
    }
  }
  // Whatever else, it is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(log)), log);
}

test('one run per target with the target in its properties; an unreachable target is a failed invocation', () => {
  const log = toSarif(
    [
      { target: 'local', reports: [report('local', '6.18.44', [nullDeref, clangError, unexplained])] },
      { target: 'vm:6.1', reports: [report('vm:6.1', '6.1.0-50-amd64', [nullDeref])] },
      { target: 'ssh://root@gone', error: 'connection refused' },
    ],
    cwd,
    '0.1.0',
  );
  assertValidSarif(log);
  assert.deepEqual(
    log.runs.map((r) => [r.properties, r.automationDetails.id, r.invocations[0]!.executionSuccessful, r.results.map((x) => x.ruleId), r.tool.driver.rules.map((x) => x.id)]),
    [
      [{ target: 'local', kernelRelease: '6.18.44' }, 'ebpf-studio-check/local/', true, ['nullable-map-value', 'clang', 'verifier-unexplained'], ['nullable-map-value', 'clang', 'verifier-unexplained']],
      [{ target: 'vm:6.1', kernelRelease: '6.1.0-50-amd64' }, 'ebpf-studio-check/vm:6.1/', true, ['nullable-map-value'], ['nullable-map-value']],
      [{ target: 'ssh://root@gone' }, 'ebpf-studio-check/ssh://root@gone/', false, [], []],
    ],
  );
  assert.deepEqual(log.runs[2]!.invocations[0]!.toolExecutionNotifications, [{ level: 'error', message: { text: 'ssh://root@gone could not be checked: connection refused' } }]);
  assert.deepEqual(log.runs[0]!.originalUriBaseIds, { '%SRCROOT%': { uri: 'file:///work/proj/' } });
  assert.equal(log.runs[0]!.tool.driver.version, '0.1.0');
});

test('a verifier rejection: its knowledge-base rule with help and link, its location, the causal chain first in related locations', () => {
  const run = toSarif([{ target: 'local', reports: [report('local', '6.18.44', [nullDeref, clangError, unexplained])] }], cwd, '0.1.0').runs[0]!;
  const url = `${DOCS_BASE_URL}docs/verifier-errors.md#nullable-map-value`;
  assert.deepEqual(run.tool.driver.rules[0], {
    id: 'nullable-map-value',
    name: 'NullableMapValue',
    shortDescription: { text: kind.title },
    fullDescription: { text: kind.explanation },
    help: { text: `${kind.explanation}\n\nFix: ${kind.fix}\n\n${url}`, markdown: `**${kind.title}**\n\n${kind.explanation}\n\n**Fix:** ${kind.fix}\n\n[Documentation](${url})` },
    helpUri: url,
    defaultConfiguration: { level: 'error' },
    properties: { category: 'Register Type Safety', tags: ['ebpf', 'verifier'] },
  });
  assert.deepEqual(run.results[0], {
    ruleId: 'nullable-map-value',
    ruleIndex: 0,
    level: 'error',
    message: { text: "R0 invalid mem access 'map_value_or_null' (program count_execve)" },
    locations: [{ physicalLocation: { artifactLocation: { uri: 'probe.bpf.c', uriBaseId: '%SRCROOT%' }, region: { startLine: 21, startColumn: 9 } } }],
    relatedLocations: [
      { id: 1, physicalLocation: { artifactLocation: { uri: 'probe.bpf.c', uriBaseId: '%SRCROOT%' }, region: { startLine: 20, startColumn: 10 } }, message: { text: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' } },
      { id: 2, physicalLocation: { artifactLocation: { uri: 'file:///usr/include/bpf/bpf_helpers.h' }, region: { startLine: 3, startColumn: 1 } }, message: { text: 'verifier path: x' } },
    ],
    properties: { program: 'count_execve', category: 'Register Type Safety', reason: 'R0 may be NULL here', suggestion: 'Add a NULL check' },
  });
  // A path with a space is percent-encoded; a column of 0 (unknown) is left out.
  assert.deepEqual(run.results[1]!.locations[0]!.physicalLocation, { artifactLocation: { uri: 'src%20dir/other.bpf.c', uriBaseId: '%SRCROOT%' }, region: { startLine: 4, startColumn: 2 } });
  assert.deepEqual(run.results[2]!.locations[0]!.physicalLocation.region, { startLine: 30 });
});
