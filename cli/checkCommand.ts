/**
 * `ebpf-studio check FILE... [--target T]... [--targets-from FILE] [--compile-on auto|target|client]`:
 * compile and verify each file on each target (concurrently), print diagnostics as a compiler does
 * and, for several targets, the kernel matrix (formatMatrix.ts); exit 0 when every program passed
 * everywhere, 1 when any target rejects, 2 when a target cannot be reached.
 *
 * Where clang runs: `auto` compiles on the target when it has clang, else here against its BTF
 * (compileOnClient.ts); kernel VMs always compile here, since emulated compiles are slow.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { version } from '../package.json';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { checkFilesOnSession, checkOnTargets, LocalCompiler, parseCompilePlace, type CheckOnSessionOptions, type TargetOutcome } from '../remote-agent/client/kernelMatrix';
import { commandLineLookup, type FlagsLookup } from '../remote-agent/client/projectFlags';
import { CONNECTION_OPTIONS, joinCflagsValue, openCliSession, parseFormat, type ConnectionValues } from './cliSession';
import { formatMatrix, toJsonReport } from './formatMatrix';
import { toSarif } from './formatSarif';
import { exitStatusOf, formatText } from './formatReport';
import { PRESET_OPTIONS, presetsOf } from './presetOptions';

export async function checkCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: joinCflagsValue(argv),
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      target: { type: 'string', multiple: true },
      'targets-from': { type: 'string' },
      'compile-on': { type: 'string', default: 'auto' },
      cflags: { type: 'string' },
      format: { type: 'string', default: 'text' },
      'top-src-lines': { type: 'string' },
      ...PRESET_OPTIONS,
    },
  });
  const topLines = topSourceLinesOf(values['top-src-lines']);
  const presets = presetsOf(values);
  const format = parseFormat(values.format, ['text', 'json', 'sarif']);
  const compileOn = parseCompilePlace(values['compile-on'], '--compile-on');
  const project = (file: string): FlagsLookup => commandLineLookup(file, values.cflags, process.cwd());
  if (positionals.length === 0) throw new Error('check needs at least one FILE');
  const files = positionals.map((f) => path.resolve(f));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new Error(`${f}: no such file`);
  }
  const targets = [...(values.target ?? []), ...(values['targets-from'] !== undefined ? readTargetsFile(values['targets-from']) : [])];
  if (targets.length === 0) targets.push('local');

  const compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, signal, { unprivileged: true }));
  try {
    const single = targets.length === 1;
    const options = { compileOn, compiler, project, ...(presets && { presets }), walk: topLines !== undefined, signal } satisfies CheckOnSessionOptions;
    const checkOne = (target: string): Promise<CheckReport[]> => checkOnTarget(files, { ...values, target }, options);
    // One target alone fails the command with its own error (exit 2); in a matrix the others still report.
    const outcomes: TargetOutcome[] = single ? [{ target: targets[0]!, reports: await checkOne(targets[0]!) }] : await checkOnTargets(targets, checkOne, signal);
    const cwd = process.cwd();
    if (format === 'json') process.stdout.write(JSON.stringify(toJsonReport(outcomes, cwd, topLines), null, 2) + '\n');
    else if (format === 'sarif') process.stdout.write(JSON.stringify(toSarif(outcomes, cwd, version), null, 2) + '\n');
    else if (single) process.stdout.write(formatText(outcomes[0]!.reports!, cwd, topLines));
    else {
      for (const outcome of outcomes) {
        if (outcome.reports === undefined) continue;
        process.stdout.write(`== ${outcome.target} ==\n${formatText(outcome.reports, cwd, topLines)}`);
      }
      process.stdout.write(`\n${formatMatrix(outcomes, cwd)}`);
    }
    if (outcomes.some((o) => o.error !== undefined)) return 2;
    return exitStatusOf(outcomes.flatMap((o) => o.reports ?? []));
  } finally {
    await compiler.dispose();
  }
}

/** Opens a session to the target `connection` names, checks the files on it, and closes it. */
export async function checkOnTarget(files: string[], connection: ConnectionValues, options: CheckOnSessionOptions & { signal: AbortSignal }): Promise<CheckReport[]> {
  const session = await openCliSession(connection, options.signal);
  try {
    return await checkFilesOnSession(session, files, options);
  } finally {
    await session.dispose();
  }
}

/** --top-src-lines N: how many of each program's costliest source lines to show (veristat's -S). */
function topSourceLinesOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--top-src-lines must be a positive whole number, not '${value}'`);
  return n;
}

/** One target per line; blank lines and lines starting with '#' are skipped. */
function readTargetsFile(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
