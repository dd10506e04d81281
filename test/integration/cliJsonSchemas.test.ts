/**
 * The CLI's `--format json` outputs hold to the schemas it publishes (schemas/, shipped in the
 * package): the real `ebpf-studio` (out/cli.js, as installed) checks, runs and compares fixture
 * programs on this machine's kernel, and every output is validated with Ajv. The unit test
 * test/unit/jsonSchemas.test.ts holds the schemas to the TypeScript types; this one to what is printed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { schemaErrors, schemaValidator } from '../support/jsonSchemas';
import { agentPrerequisiteMissing, agentTestsGate, programFixtures } from '../support/rawAgent';

const t = agentTestsGate('CLI JSON schema tests', agentPrerequisiteMissing());
const repo = join(__dirname, '..', '..');
const ajv = schemaValidator();

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): CliResult {
  const run = spawnSync(process.execPath, [join(repo, 'out', 'cli.js'), ...args], { cwd: programFixtures, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** As cli(), without blocking this process: for runs that need it to keep starting programs meanwhile. */
function cliAsync(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'out', 'cli.js'), ...args], { cwd: programFixtures, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function assertValid(schemaRef: string, value: unknown): void {
  const errors = schemaErrors(ajv, schemaRef, value);
  assert.equal(errors, undefined, `${schemaRef}: ${errors} in ${JSON.stringify(value).slice(0, 2000)}`);
}

/** stdout of `run --format json` as its lines, each parsed; the schema's line kinds they were. */
function ndjson(stdout: string): { type: string }[] {
  return stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { type: string });
}

t('check --format json: a rejected and an accepted program, with --top-src-lines, validate against check.schema.json', () => {
  const run = cli(['check', 'rejected.bpf.c', 'passes.bpf.c', '--target', 'local', '--format', 'json', '--top-src-lines', '3']);
  assert.equal(run.status, 1, run.stderr);
  const report = JSON.parse(run.stdout);
  assertValid('check.schema.json', report);
  assert.deepEqual(report.programs.map((p: { program: string; ok: boolean }) => [p.program, p.ok]).sort(), [['count_execve', false], ['trace_execve', true]]);
  assert.ok(report.diagnostics[0].explanation, 'the optional properties are there to be validated too');
  assert.ok(report.programs.every((p: { topSourceLines?: unknown[] }) => Array.isArray(p.topSourceLines)));

  // A matrix still reports what it reached; the target it did not is listed with the reason.
  const unreachable = cli(['check', 'passes.bpf.c', '--target', 'local', '--target', 'vm:no-such-vm', '--format', 'json']);
  const unreached = JSON.parse(unreachable.stdout);
  assertValid('check.schema.json', unreached);
  assert.equal(unreached.unreachable.length, 1, unreachable.stderr);
});

t('run --format json: every NDJSON line validates against run.schema.json (records, printk lines, counters); a rejected check against $defs/rejected', async () => {
  const execs = setInterval(() => spawn('/bin/true').on('error', () => {}), 100);
  let events: CliResult;
  let printk: CliResult;
  try {
    events = await cliAsync(['run', join(repo, 'bpf-templates', 'execsnoop', 'execsnoop.bpf.c'), '--target', 'local', '--format', 'json', '--duration', '2']);
    printk = await cliAsync(['run', 'printk.bpf.c', '--target', 'local', '--format', 'json', '--duration', '2']);
  } finally {
    clearInterval(execs);
  }
  const lines = [...ndjson(events.stdout), ...ndjson(printk.stdout)];
  for (const line of lines) assertValid('run.schema.json', line);
  const kinds = new Set(lines.map((line) => line.type));
  assert.deepEqual([...kinds].sort(), ['event', 'printk', 'stream', 'trace'], `${events.stderr}\n${printk.stderr}`);

  const rejected = cli(['run', 'rejected.bpf.c', '--target', 'local', '--format', 'json', '--duration', '1']);
  assert.equal(rejected.status, 1, rejected.stderr);
  assertValid('run.schema.json#/$defs/rejected', JSON.parse(rejected.stdout));
});

t('compare --format json: one target against itself validates against compare.schema.json', () => {
  const run = cli(['compare', 'rejected.bpf.c', 'passes.bpf.c', '--target', 'local', '--target', 'local', '--format', 'json']);
  const comparison = JSON.parse(run.stdout);
  assertValid('compare.schema.json', comparison);
  assert.equal(comparison.rows.length, 2, run.stderr);
});

t('templates --format json: the catalogue, and with --target local each template\'s runnability, validate against templates.schema.json', () => {
  const plain = cli(['templates', '--format', 'json']);
  assert.equal(plain.status, 0, plain.stderr);
  const listed = JSON.parse(plain.stdout) as { id: string; runnable?: boolean }[];
  assertValid('templates.schema.json', listed);
  assert.ok(listed.some((template) => template.id === 'execsnoop'), plain.stdout);
  assert.ok(listed.every((template) => !('runnable' in template)), 'runnable is only said about a target');

  const onTarget = cli(['templates', '--format', 'json', '--target', 'local']);
  assert.equal(onTarget.status, 0, onTarget.stderr);
  const judged = JSON.parse(onTarget.stdout) as { id: string; runnable: boolean; notRunnableReason?: string }[];
  assertValid('templates.schema.json', judged);
  assert.deepEqual(judged.map((template) => template.id), listed.map((template) => template.id));
  for (const template of judged) {
    assert.equal(typeof template.runnable, 'boolean', template.id);
    // A reason exactly when not runnable, saying what the kernel lacks.
    if (template.runnable) assert.equal(template.notRunnableReason, undefined, template.id);
    else assert.match(template.notRunnableReason ?? '', /^this kernel lacks .+/, template.id);
  }
});
