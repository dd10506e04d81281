/**
 * How `ebpf-studio check` prints results: compiler-style text lines or a JSON array.
 * Pure functions of CheckReports, so the formats are unit-tested without a target.
 */
import * as path from 'node:path';
import type { CheckReport, DiagnosticExplanation, SourceDiagnostic } from '../remote-agent/client/checkReport';
import type { PresetHint } from '../remote-agent/client/loadFailures';
import { reportMessageUrl } from '../remote-agent/client/verifierKnowledge';
import { topSourceLines } from '../remote-agent/client/verifierWalk';

export type OutputFormat = 'text' | 'json';

/** One entry of the `--format json` array; line and column are 1-based. */
export interface JsonDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: SourceDiagnostic['severity'];
  message: string;
  source: SourceDiagnostic['source'];
  program: string | null;
  /** Verifier diagnostics whose message the knowledge base knows. */
  explanation?: DiagnosticExplanation;
  category?: string;
  /** The causal chain first, then the walked path (verifier); clang's notes. */
  related?: Array<{ file: string; line: number; column: number; message: string }>;
  reason?: string;
  suggestion?: string;
  /** A load preset that stands in for what the program's loader sets (`--map-size`, `--attach-target`). */
  preset?: PresetHint;
}

/** Paths under the working directory print relative to it, as compilers do; others stay absolute. */
export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** `topLines`: also each program's costliest source lines and the lines the verifier never reached. */
export function formatText(reports: CheckReport[], cwd: string, topLines?: number): string {
  const lines: string[] = [];
  for (const report of reports) {
    for (const d of report.diagnostics) {
      const program = d.program ? ` (${d.program})` : '';
      // One line per diagnostic, as grep and CI annotators expect: multi-line verifier messages are joined.
      const message = d.message.split('\n').join('; ');
      lines.push(`${displayPath(d.file, cwd)}:${d.line}:${d.column}: ${d.severity}: ${message} [${d.source}]${program}`);
      // What it means, as a compiler-style note line: the title and the one-line fix.
      if (d.explanation) {
        lines.push(`${displayPath(d.file, cwd)}:${d.line}:${d.column}: note: ${d.explanation.title}. Fix: ${d.explanation.fix} (${d.explanation.docs})`);
      } else if (d.source === 'verifier') {
        lines.push(`${displayPath(d.file, cwd)}:${d.line}:${d.column}: note: eBPF Studio cannot explain this message yet; please report it: ${reportMessageUrl(d.message)}`);
      }
      if (d.preset) lines.push(`${displayPath(d.file, cwd)}:${d.line}:${d.column}: note: the program's loader sets this before load; check with ${presetFlag(d.preset)}`);
    }
    const where = `${displayPath(report.file, cwd)}`;
    if (!report.compiled) {
      if (report.compileFlags) lines.push(`${where}: note: ${compileFlagsNote(report.compileFlags, cwd)}`);
      lines.push(`${where}: not compiled, no program verified (on ${report.target})`);
      continue;
    }
    for (const p of report.programs) {
      const insns = p.insnsProcessed === null ? 'instructions processed unknown' : `${p.insnsProcessed} insns processed`;
      const verdict = p.ok ? 'ok' : 'failed';
      // Where clang ran is worth saying only when it was not the target itself.
      const compiledHere = report.compiledOn === 'client' ? ', compiled on this machine against its BTF' : '';
      lines.push(`${where}: program ${p.name} (${p.section}): ${verdict}, ${insns} (on ${report.target}, kernel ${report.kernelRelease}${compiledHere})`);
      if (topLines !== undefined && p.walk) {
        for (const l of topSourceLines(p.walk, topLines)) {
          const share = p.walk.insnLines === 0 ? 0 : Math.round((100 * l.insnsProcessed) / p.walk.insnLines);
          lines.push(`  ${displayPath(l.file, cwd)}:${l.line}: ${l.insnsProcessed} insns processed (${share}%)`);
        }
        if (p.walk.unreached.length > 0) lines.push(`  never reached: ${p.walk.unreached.map((l) => `${displayPath(l.file, cwd)}:${l.line}`).join(', ')}`);
      }
    }
    if (report.programs.length === 0) lines.push(`${where}: no BPF programs found (no SEC("…") functions)`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Which project flags a failed compile used, so a user can tell whether their build's flags applied. */
function compileFlagsNote(flags: NonNullable<CheckReport['compileFlags']>, cwd: string): string {
  const source = path.isAbsolute(flags.source) ? displayPath(flags.source, cwd) : flags.source;
  const ignored = flags.ignored.map((i) => `${i.flag} (${i.why})`).join('; ');
  return `compiled with the include paths and defines of ${source}${ignored ? `; not used: ${ignored}` : ''}`;
}

export function toJsonDiagnostics(reports: CheckReport[], cwd: string): JsonDiagnostic[] {
  return reports.flatMap((r) => r.diagnostics.map((d) => toJsonDiagnostic(d, (file) => displayPath(file, cwd))));
}

/** One diagnostic as `--format json` (and the MCP server's check) give it; @shown names its files. */
export function toJsonDiagnostic(d: SourceDiagnostic, shown: (file: string) => string): JsonDiagnostic {
  return {
    file: shown(d.file),
    line: d.line,
    column: d.column,
    severity: d.severity,
    message: d.message,
    source: d.source,
    program: d.program ?? null,
    ...(d.explanation ? { explanation: d.explanation } : {}),
    ...(d.category ? { category: d.category } : {}),
    ...(d.related ? { related: d.related.map((r) => ({ ...r, file: shown(r.file) })) } : {}),
    ...(d.reason ? { reason: d.reason } : {}),
    ...(d.suggestion ? { suggestion: d.suggestion } : {}),
    ...(d.preset ? { preset: d.preset } : {}),
  };
}

/** The CLI flag that gives the check what the loader would set. */
function presetFlag(preset: PresetHint): string {
  if (preset.kind === 'mapSize') return `--map-size ${preset.map}=N`;
  if (preset.kind === 'kconfig') return `--set ${preset.name}=y|n|m|NUMBER`;
  return `--attach-target ${preset.program}=FUNCTION (in place of ${preset.current})`;
}

/** 0 when every program compiled and passed, 1 when anything is an error. */
export function exitStatusOf(reports: CheckReport[]): 0 | 1 {
  const failed = reports.some(
    (r) => !r.compiled || r.programs.some((p) => !p.ok) || r.diagnostics.some((d) => d.severity === 'error'),
  );
  return failed ? 1 : 0;
}
