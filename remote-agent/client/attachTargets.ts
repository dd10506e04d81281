/**
 * Which target each program of a run attaches to, from the attach specs the caller gives
 * (attachSpec.ts): a spec that names its program goes to it, one that does not goes to the one
 * program whose type can attach there. Problems are told as what is wrong (AttachSpecError with a
 * `problem` to branch on); the CLI words them with its flags, as the editor would with its prompts.
 */
import type { AttachTarget } from '../protocol';
import { explicitTargetNeeded, programTypesFor, type AttachSpec } from './attachSpec';
import type { CheckReport } from './checkReport';

export type AttachSpecProblem =
  /** The spec names no program and no program's type can attach to its kind of target. */
  | { kind: 'no-program-fits'; targetKind: AttachTarget['kind']; programs: { name: string; type: string }[] }
  /** The spec names no program and several could take it. */
  | { kind: 'several-programs-fit'; targetKind: AttachTarget['kind']; programs: string[] }
  | { kind: 'unknown-program'; program: string; programs: string[] }
  | { kind: 'program-given-twice'; program: string }
  /** The program's section does not say where it attaches, and no spec does (`example` is a spec that would). */
  | { kind: 'target-needed'; program: string; section: string; why: string; example: string };

/** The attach specs do not fit the file's programs; nothing was compiled or loaded. */
export class AttachSpecError extends Error {
  override readonly name = 'AttachSpecError';
  constructor(readonly problem: AttachSpecProblem) {
    super(describeProblem(problem));
  }
}

/**
 * The explicit target of each program the specs name (the others attach by their section); with
 * 'every', also that each program whose section does not say where has one. Throws
 * AttachSpecError before anything is compiled or loaded.
 */
export function assignTargets(report: CheckReport, specs: AttachSpec[], targetsFor: 'some' | 'every'): Map<string, AttachTarget> {
  const targets = new Map<string, AttachTarget>();
  const names = report.programs.map((p) => p.name);
  for (const spec of specs) {
    let program = spec.program;
    if (program === undefined) {
      const types = programTypesFor(spec.target);
      const fitting = report.programs.filter((p) => types.includes(p.type) && !targets.has(p.name));
      if (fitting.length === 0) throw new AttachSpecError({ kind: 'no-program-fits', targetKind: spec.target.kind, programs: report.programs.map(({ name, type }) => ({ name, type })) });
      if (fitting.length > 1) throw new AttachSpecError({ kind: 'several-programs-fit', targetKind: spec.target.kind, programs: fitting.map((p) => p.name) });
      program = fitting[0].name;
    }
    if (!names.includes(program)) throw new AttachSpecError({ kind: 'unknown-program', program, programs: names });
    if (targets.has(program)) throw new AttachSpecError({ kind: 'program-given-twice', program });
    targets.set(program, spec.target);
  }
  if (targetsFor === 'every') {
    for (const p of report.programs) {
      const needed = explicitTargetNeeded(p.section);
      if (needed && !targets.has(p.name)) throw new AttachSpecError({ kind: 'target-needed', program: p.name, section: p.section, ...needed });
    }
  }
  return targets;
}

function describeProblem(problem: AttachSpecProblem): string {
  switch (problem.kind) {
    case 'no-program-fits':
      return `No program of this file can attach to ${problem.targetKind} (programs: ${problem.programs.map((p) => `${p.name} (${p.type})`).join(', ')}). Check the spec's kind.`;
    case 'several-programs-fit':
      return `Several programs can attach to ${problem.targetKind} (${problem.programs.join(', ')}): the spec must name the program it is for.`;
    case 'unknown-program':
      return `An attach spec names program '${problem.program}', but this file's programs are ${problem.programs.join(', ')}.`;
    case 'program-given-twice':
      return `Program '${problem.program}' is given two attach specs; a run attaches each program once.`;
    case 'target-needed':
      return `Program ${problem.program} (SEC("${problem.section}")) cannot attach by its section: ${problem.why}. It needs an attach spec such as ${problem.program}=${problem.example}.`;
  }
}
