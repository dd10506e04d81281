/**
 * How `run` words attach-spec problems: the core (remote-agent/client/attachTargets.ts) says what
 * is wrong; here it becomes what to type, in terms of the `--attach PROGRAM=SPEC` flag.
 */
import type { AttachSpecError } from '../remote-agent/client/attachTargets';

export function attachSpecMessage(error: AttachSpecError): string {
  const { problem } = error;
  switch (problem.kind) {
    case 'several-programs-fit':
      return `Several programs can attach to ${problem.targetKind} (${problem.programs.join(', ')}): write --attach PROGRAM=SPEC to choose.`;
    case 'unknown-program':
      return `--attach names program '${problem.program}', but this file's programs are ${problem.programs.join(', ')}.`;
    case 'program-given-twice':
      return `--attach gives program '${problem.program}' twice; a run attaches each program once.`;
    case 'target-needed':
      return `Program ${problem.program} (SEC("${problem.section}")) cannot attach by its section: ${problem.why}. Add --attach ${problem.program}=${problem.example}.`;
    case 'no-program-fits':
      // The core's words already name the spec's kind, which is what the user typed.
      return error.message;
  }
}
