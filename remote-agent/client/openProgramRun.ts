/**
 * Starting a run of one BPF C file on a target: verify it exactly as `check` does, work out each
 * program's attach target (attachTargets.ts), compile it for running (compileForRun.ts) and hand
 * the object to a ProgramRun (programRun.ts), following trace_pipe when the file prints.
 * Editor-independent: the CLI's `run` attaches everything at once (startProgramRun); the extension
 * opens a run and attaches and detaches programs one by one (openProgramRun, then
 * ProgramRun.attachProgram / detachProgram).
 */
import type { AttachSpec } from './attachSpec';
import { assignTargets } from './attachTargets';
import { checkFile, type CheckOptions } from './checkFile';
import type { CheckReport } from './checkReport';
import { compileForRun } from './compileForRun';
import { findEventTypes, type EventTypeHint } from './eventRecordTypes';
import { ProgramRun, undoingOnFailure, type RunningAgent, type StreamOptions } from './programRun';
import { collectProjectBundle } from './projectFlags';

export interface RunOptions extends CheckOptions {
  /** Explicit targets; programs not named here attach by their section. */
  attach?: AttachSpec[];
  /** Follow trace_pipe; default: when the source calls bpf_printk / bpf_trace_printk. */
  trace?: boolean;
  /** Attach, but start reading the event maps only on `run.startStreams()` (records wait in the kernel's buffers). */
  deferStreams?: boolean;
  stream?: StreamOptions;
}

/**
 * Verifies `file` (the report is exactly `check`'s) and, when every program passes, compiles it
 * for running and loads nothing yet: the run is open with no program attached, its trace_pipe
 * follower (if any) started. Attach programs into it one by one with `attachProgram`; they all go
 * into the one object instance the agent loads on the first attach, so they share its maps.
 * When a program is rejected or the file does not compile, `run` is undefined. `opts.attach`
 * specs are checked here (before anything is compiled) and become the programs' default targets.
 * The caller must `stop()` the run.
 */
export function openProgramRun(agent: RunningAgent, file: string, opts: RunOptions): Promise<{ report: CheckReport; run?: ProgramRun }> {
  return openRun(agent, file, opts, 'some');
}

/**
 * `openProgramRun`, then every program attached (by section, or where `opts.attach` says) and the
 * event maps streaming: the CLI's `run`. Fails with AttachSpecError before anything is compiled
 * when a program needs an explicit target that the specs do not give; a failure after that undoes
 * the whole run.
 */
export async function startProgramRun(agent: RunningAgent, file: string, opts: RunOptions): Promise<{ report: CheckReport; run?: ProgramRun }> {
  const opened = await openRun(agent, file, opts, 'every');
  if (!opened.run) return opened;
  const run = opened.run;
  await undoingOnFailure(run, async () => {
    for (const program of run.report.programs) await run.attachProgram(program.name, { signal: opts.signal });
  });
  return opened;
}

async function openRun(agent: RunningAgent, file: string, opts: RunOptions, targetsFor: 'some' | 'every'): Promise<{ report: CheckReport; run?: ProgramRun }> {
  const report = await checkFile(agent, file, opts);
  const rejected = !report.compiled || report.programs.some((p) => !p.ok) || report.diagnostics.some((d) => d.severity === 'error');
  if (rejected) return { report };
  if (report.programs.length === 0) throw new Error(`${file} has no BPF programs (no SEC("…") functions): there is nothing to run.`);
  const targets = assignTargets(report, opts.attach ?? [], targetsFor);
  const bundle = await collectProjectBundle(file, opts);
  const hints = new Map<string, EventTypeHint>();
  for (const f of bundle.files) for (const [map, hint] of findEventTypes(f.content)) if (!hints.has(map)) hints.set(map, hint);
  const notes: string[] = [];
  const compiled = await compileForRun(agent, bundle, hints, notes, opts.signal);
  const run = new ProgramRun(agent, { file, report, bundle, hints, targets, compiled, notes, readFile: opts.readFile, project: opts.project, presets: opts.presets, stream: opts.stream, deferStreams: opts.deferStreams ?? false });
  await undoingOnFailure(run, () => run.open(opts.trace, opts.signal));
  return { report, run };
}
