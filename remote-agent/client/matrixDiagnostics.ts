/**
 * One diagnostic per distinct problem across a kernel matrix: the same message on the same line
 * from several targets is one problem, and it says on which kernels it happens, so a rejection on
 * one kernel out of three reads as such instead of appearing three times. Pure function of the outcomes.
 */
import type { SourceDiagnostic } from './checkReport';
import type { TargetOutcome } from './kernelMatrix';

export interface MergedDiagnostic {
  /** The first target's diagnostic (its related locations and explanation), message unchanged. */
  diagnostic: SourceDiagnostic;
  /** Where it happens, in the matrix's target order: 'vm:6.1 (6.1.0-50-amd64)'. */
  kernels: string[];
  /** How many targets were checked at all (reports, not errors). */
  checkedTargets: number;
}

export function mergeTargetDiagnostics(outcomes: TargetOutcome[]): MergedDiagnostic[] {
  const merged = new Map<string, MergedDiagnostic>();
  const checked = outcomes.filter((o) => o.reports !== undefined);
  for (const outcome of checked) {
    for (const report of outcome.reports!) {
      const kernel = `${outcome.target} (${report.kernelRelease})`;
      for (const d of report.diagnostics) {
        const key = JSON.stringify([d.file, d.line, d.severity, d.message]);
        const entry = merged.get(key);
        if (entry === undefined) merged.set(key, { diagnostic: d, kernels: [kernel], checkedTargets: checked.length });
        else if (!entry.kernels.includes(kernel)) entry.kernels.push(kernel);
      }
    }
  }
  return [...merged.values()];
}

/** The message as shown in a merged list: "R0 invalid mem access … — on vm:6.1 (6.1.0-50-amd64), local (6.18.0)". */
export function mergedMessage(m: MergedDiagnostic): string {
  const where = m.kernels.length === m.checkedTargets && m.checkedTargets > 1 ? `all ${m.checkedTargets} targets: ${m.kernels.join(', ')}` : m.kernels.join(', ');
  return `${m.diagnostic.message} — on ${where}`;
}
