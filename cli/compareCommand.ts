/**
 * `ebpf-studio compare FILE... [--base REV] [--target T]`: what the verifier's work on each program
 * costs in the files as committed (REV, default HEAD) against the files as they are, both checked
 * on one target; or, with two `--target`, the files as they are on one target against the other.
 * Prints the comparison table (remote-agent/client/verifierCostComparison.ts), or its rows as
 * JSON; exit 1 when a program lost its acceptance, doubled its processed instructions or came
 * within 10% of the limit, 0 otherwise, 2 for usage, git or connection problems.
 *
 * The committed version of each FILE is checked exactly as the current one, from the same path:
 * only FILE's own text is taken from REV; the headers it includes are the ones on disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { fileAtRevision } from '../remote-agent/client/gitRevision';
import { checkFilesOnSession, LocalCompiler, parseCompilePlace, type CheckOnSessionOptions } from '../remote-agent/client/kernelMatrix';
import { commandLineLookup } from '../remote-agent/client/projectFlags';
import { compareVerifierCost, costSideOf, flaggedRows, formatCostComparison, type CostComparison } from '../remote-agent/client/verifierCostComparison';
import { checkOnTarget } from './checkCommand';
import { CONNECTION_OPTIONS, joinCflagsValue, openCliSession, parseFormat, type ConnectionValues } from './cliSession';
import { displayPath } from './formatReport';
import { PRESET_OPTIONS, presetsOf } from './presetOptions';

export async function compareCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: joinCflagsValue(argv),
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      target: { type: 'string', multiple: true },
      base: { type: 'string' },
      'compile-on': { type: 'string', default: 'auto' },
      cflags: { type: 'string' },
      format: { type: 'string', default: 'text' },
      ...PRESET_OPTIONS,
    },
  });
  const format = parseFormat(values.format, ['text', 'json']);
  if (positionals.length === 0) throw new Error('compare needs at least one FILE');
  const files = positionals.map((f) => path.resolve(f));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new Error(`${f}: no such file`);
  }
  const targets = values.target ?? ['local'];
  if (targets.length > 2) throw new Error('compare takes one --target (the files as committed against as they are) or two (the files on one target against the other)');
  if (targets.length === 2 && values.base !== undefined) throw new Error('--base names the revision to compare with on one target; with two --target, the files as they are now are compared between the targets');

  const cwd = process.cwd();
  const shown = (file: string): string => displayPath(file, cwd);
  const names = files.map(shown).join(', ');
  const presets = presetsOf(values);
  const compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, signal, { unprivileged: true }));
  const options = {
    compileOn: parseCompilePlace(values['compile-on'], '--compile-on'),
    compiler,
    project: (file: string) => commandLineLookup(file, values.cflags, cwd),
    ...(presets && { presets }),
    signal,
  } satisfies CheckOnSessionOptions;
  try {
    let comparison: CostComparison;
    if (targets.length === 1) {
      comparison = await compareWithRevision(files, values.base ?? 'HEAD', { ...values, target: targets[0]! }, options, names, shown, signal);
    } else {
      const [a, b] = await Promise.all(targets.map((target) => checkOnTarget(files, { ...values, target }, options)));
      const side = (target: string, reports: CheckReport[]): string => `${names} on ${target} (${reports[0]?.kernelRelease ?? 'kernel unknown'})`;
      comparison = compareVerifierCost(costSideOf(side(targets[0]!, a!), a!, shown), costSideOf(side(targets[1]!, b!), b!, shown));
    }
    process.stdout.write(format === 'json' ? `${JSON.stringify(comparison, null, 2)}\n` : formatCostComparison(comparison));
    return flaggedRows(comparison).length > 0 ? 1 : 0;
  } finally {
    await compiler.dispose();
  }
}

/** The files as of `revision` against as they are, both checked on one session, one after the other. */
async function compareWithRevision(
  files: string[],
  revision: string,
  connection: ConnectionValues,
  options: CheckOnSessionOptions,
  names: string,
  shown: (file: string) => string,
  signal: AbortSignal,
): Promise<CostComparison> {
  const committed = await Promise.all(files.map((file) => fileAtRevision(file, revision, { signal })));
  const committedText = new Map(files.map((file, i) => [file, committed[i]!.text]));
  const commits = [...new Set(committed.map((c) => c.commit))].join(', ');
  const session = await openCliSession(connection, signal);
  try {
    const where = `on ${connection.target} (${session.hello.kernelRelease})`;
    const base = await checkFilesOnSession(session, files, { ...options, readFile: async (file) => committedText.get(file) ?? fs.promises.readFile(file, 'utf8') });
    const current = await checkFilesOnSession(session, files, options);
    return compareVerifierCost(costSideOf(`${names} at ${revision} (${commits}) ${where}`, base, shown), costSideOf(`${names} as ${files.length === 1 ? 'it is' : 'they are'} now ${where}`, current, shown));
  } finally {
    await session.dispose();
  }
}
