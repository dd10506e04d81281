// The published JSON Schemas (schemas/) against the TypeScript types the CLI's `--format json`
// outputs are built from: a value with only a type's required properties must have exactly the
// schema's required properties and validate, and one with every optional property too must
// validate (the schemas forbid properties they do not name, so a field added to a type without
// its schema fails here). The types keep the samples honest: a required field missing from a
// sample, or one the type does not have, fails the type-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonCheckReport, JsonProgramResult } from '../../cli/formatMatrix';
import type { JsonDiagnostic } from '../../cli/formatReport';
import type { CostComparison, CostRow, MetricDifference } from '../../remote-agent/client/verifierCostComparison';
import type { StreamSummary } from '../../remote-agent/client/programRun';
import type { TraceStopResult } from '../../remote-agent/protocol';
import type { JsonTemplate } from '../../cli/templateCommands';
import { HOOK_KINDS, PARAMETER_KINDS, type TemplateParameter } from '../../bpf-templates/templateCatalog';
import { schemaErrors, schemaValidator } from '../support/jsonSchemas';

const ajv = schemaValidator();

function assertValid(schemaRef: string, value: unknown): void {
  const errors = schemaErrors(ajv, schemaRef, value);
  assert.equal(errors, undefined, `${schemaRef}: ${errors} in ${JSON.stringify(value)}`);
}

/** The schema object a reference points to, for its `required` list. */
function schemaAt(schemaRef: string): { required: string[] } {
  return ajv.getSchema(schemaRef)!.schema as { required: string[] };
}

function assertSameRequired(schemaRef: string, minimal: object): void {
  assert.deepEqual(Object.keys(minimal).sort(), [...schemaAt(schemaRef).required].sort(), `${schemaRef}: required properties`);
}

const diagnostic = { file: 'probe.bpf.c', line: 22, column: 3, severity: 'error', message: "R0 invalid mem access 'map_value_or_null'", source: 'verifier', program: 'count_execve' } satisfies JsonDiagnostic;
const fullDiagnostic: Required<JsonDiagnostic> = {
  ...diagnostic,
  explanation: { id: 'nullable-map-value', title: 'Map value may be NULL', text: 't', fix: 'f', docs: 'https://example.invalid/docs' },
  category: 'null-pointer',
  related: [{ file: 'probe.bpf.c', line: 19, column: 2, message: 'returned by bpf_map_lookup_elem' }],
  reason: 'r',
  suggestion: 's',
  preset: { kind: 'attachTarget', program: 'p', current: 'c' },
};
const program = {
  target: 'local', kernelRelease: '6.18.0', file: 'probe.bpf.c', program: 'count_execve', section: 'tracepoint/syscalls/sys_enter_execve', ok: false,
  insnsProcessed: 10, totalStates: null, peakStates: 1, verificationTimeUs: 52, stackDepth: 8, compiledOn: 'target',
} satisfies JsonProgramResult;
const fullProgram: Required<JsonProgramResult> = { ...program, error: 'R0 invalid mem access', topSourceLines: [{ file: 'probe.bpf.c', line: 22, insnsProcessed: 4 }], unreachedLines: [{ file: 'probe.bpf.c', line: 30 }] };

test('check: the report, a diagnostic and a program result have the properties their types require, and every optional one validates', () => {
  const report = { diagnostics: [{ ...diagnostic, target: 'local' }], programs: [program], unreachable: [{ target: 'vm:6.1', error: 'not running' }] } satisfies JsonCheckReport;
  assertSameRequired('check.schema.json', report);
  assertSameRequired('check.schema.json#/$defs/diagnostic', diagnostic);
  assertSameRequired('check.schema.json#/$defs/program', program);
  assertValid('check.schema.json', report);
  assertValid('check.schema.json', { diagnostics: [{ ...fullDiagnostic, target: 'local' }], programs: [fullProgram], unreachable: [] } satisfies JsonCheckReport);
  for (const preset of [{ kind: 'mapSize', map: 'events' }, { kind: 'kconfig', name: 'CONFIG_X' }] as const) assertValid('check.schema.json', { diagnostics: [{ ...diagnostic, preset, target: 'local' }], programs: [], unreachable: [] });
});

test('check: what the schema forbids — a property no type has, a diagnostic without its target, a wrong severity', () => {
  const validate = ajv.getSchema('check.schema.json')!;
  assert.equal(validate({ diagnostics: [], programs: [{ ...program, extra: 1 }], unreachable: [] }), false);
  assert.equal(validate({ diagnostics: [diagnostic], programs: [], unreachable: [] }), false);
  assert.equal(validate({ diagnostics: [{ ...diagnostic, target: 'local', severity: 'fatal' }], programs: [], unreachable: [] }), false);
});

test('run: every NDJSON line kind, and the diagnostics of a rejected check', () => {
  const stream = { map: 'events', received: 3, sent: 3, dropped: 0, decoded: 3 } satisfies StreamSummary;
  const trace = { received: 1, sent: 1, dropped: 0 } satisfies TraceStopResult;
  assertSameRequired('run.schema.json#/$defs/stream', { type: 'stream', ...stream });
  assertSameRequired('run.schema.json#/$defs/trace', { type: 'trace', ...trace });
  for (const line of [
    { type: 'event', time: '2026-11-29T15:00:00.000Z', map: 'events', fields: { pid: 42, comm: 'bash', nested: { a: [1, 2] } } },
    { type: 'printk', time: '2026-11-29T15:00:00.000Z', comm: 'bash', pid: 42, cpu: 1, timestamp: 1234.5678, message: 'hello' },
    { type: 'printk', time: '2026-11-29T15:00:00.000Z', line: 'an odd line' },
    { type: 'stream', ...stream },
    { type: 'stream', ...stream, endedEarly: 'the map was closed' } satisfies { type: string } & Required<StreamSummary>,
    { type: 'trace', ...trace },
  ]) {
    assertValid('run.schema.json', line);
  }
  assert.equal(ajv.getSchema('run.schema.json')!({ type: 'event', time: 'yesterday', map: 'events', fields: {} }), false, 'times are ISO 8601');
  assertValid('run.schema.json#/$defs/rejected', [diagnostic, fullDiagnostic]);
});

test('compare: a comparison, its rows and their differences have the properties their types require', () => {
  const difference = { base: 10, current: 25, diff: 15, percent: 150 } satisfies MetricDifference;
  const unknown = { base: null, current: 5, diff: null, percent: null } satisfies MetricDifference;
  const row = {
    file: 'probe.bpf.c', program: 'count_execve', base: 'accepted', current: 'rejected', flags: ['accepted → rejected'],
    metrics: { insnsProcessed: difference, totalStates: unknown, peakStates: unknown, verificationTimeUs: difference, stackDepth: difference, insnCount: difference },
  } satisfies CostRow;
  const comparison = { base: 'probe.bpf.c at HEAD on local (6.18.0)', current: 'probe.bpf.c on local (6.18.0)', rows: [row] } satisfies CostComparison;
  assertSameRequired('compare.schema.json', comparison);
  assertSameRequired('compare.schema.json#/properties/rows/items', row);
  assertSameRequired('compare.schema.json#/$defs/difference', difference);
  assertValid('compare.schema.json', comparison);
});

test('templates: a template and its parameters have the properties their types require; with a target, runnable and notRunnableReason validate', () => {
  const parameter = { name: 'tracepoint', description: 'The tracepoint.', kind: 'tracepoint', default: 'syscalls/sys_enter_execve' } satisfies TemplateParameter;
  const template = { id: 'tracepoint-printk', title: 'T', description: 'D', hook: 'tracepoint', programTypes: ['tracepoint'], parameters: [parameter], minKernel: '4.7' } satisfies JsonTemplate;
  assertSameRequired('templates.schema.json#/$defs/template', template);
  assertSameRequired('templates.schema.json#/$defs/parameter', parameter);
  assertValid('templates.schema.json', [template]);
  assertValid('templates.schema.json', [{ ...template, runnable: false, notRunnableReason: 'this kernel lacks tracefs mounted' } satisfies Required<JsonTemplate>]);
  const validate = ajv.getSchema('templates.schema.json')!;
  assert.equal(validate([{ ...template, requires: [] }]), false, 'a property the type does not have');
  assert.equal(validate([{ ...template, hook: 'kretprobe' }]), false, 'a hook kind the catalogue does not have');
  assert.equal(validate([{ ...template, parameters: [{ ...parameter, kind: 'path' }] }]), false, 'a parameter kind the catalogue does not have');
});

test('templates: the schema\'s hook and parameter kinds are the catalogue\'s', () => {
  const schema = ajv.getSchema('templates.schema.json')!.schema as { $defs: { template: { properties: { hook: { enum: string[] } } }; parameter: { properties: { kind: { enum: string[] } } } } };
  assert.deepEqual(schema.$defs.template.properties.hook.enum, [...HOOK_KINDS]);
  assert.deepEqual(schema.$defs.parameter.properties.kind.enum, Object.keys(PARAMETER_KINDS));
});
