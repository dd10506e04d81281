/**
 * `ebpf-studio check` on several targets (a kernel matrix): a table with one row per program and
 * one column per target, the programs whose verdict differs between kernels called out, and the
 * JSON report whose diagnostics and program results each name their target as the user wrote it.
 * Pure functions of the outcomes, unit-tested without a target.
 */
import type { TargetOutcome } from '../remote-agent/client/kernelMatrix';
import { topSourceLines } from '../remote-agent/client/verifierWalk';
import { displayPath, toJsonDiagnostics, type JsonDiagnostic } from './formatReport';


export interface JsonProgramResult {
  target: string;
  kernelRelease: string;
  file: string;
  program: string;
  section: string;
  ok: boolean;
  insnsProcessed: number | null;
  totalStates: number | null;
  peakStates: number | null;
  verificationTimeUs: number | null;
  /** Deepest stack the verifier found, bytes. */
  stackDepth: number | null;
  compiledOn: 'target' | 'client';
  error?: string;
  /** With --top-src-lines N: the program's N costliest source lines. */
  topSourceLines?: Array<{ file: string; line: number; insnsProcessed: number }>;
  /** With --top-src-lines: lines of an accepted program the verifier never reached. */
  unreachedLines?: Array<{ file: string; line: number }>;
}

/** `--format json`: every diagnostic and every program verdict, each with its target; targets that could not be checked. */
export interface JsonCheckReport {
  diagnostics: Array<JsonDiagnostic & { target: string }>;
  programs: JsonProgramResult[];
  unreachable: Array<{ target: string; error: string }>;
}

export function toJsonReport(outcomes: TargetOutcome[], cwd: string, topLines?: number): JsonCheckReport {
  const json: JsonCheckReport = { diagnostics: [], programs: [], unreachable: [] };
  for (const outcome of outcomes) {
    if (outcome.error !== undefined || outcome.reports === undefined) {
      json.unreachable.push({ target: outcome.target, error: outcome.error ?? 'not checked' });
      continue;
    }
    json.diagnostics.push(...toJsonDiagnostics(outcome.reports, cwd).map((d) => ({ ...d, target: outcome.target })));
    for (const report of outcome.reports) {
      for (const p of report.programs) {
        json.programs.push({
          target: outcome.target,
          kernelRelease: report.kernelRelease,
          file: displayPath(report.file, cwd),
          program: p.name,
          section: p.section,
          ok: p.ok,
          insnsProcessed: p.insnsProcessed,
          totalStates: p.totalStates,
          peakStates: p.peakStates,
          verificationTimeUs: p.verificationTimeUs,
          stackDepth: p.stackDepth,
          compiledOn: report.compiledOn,
          ...(p.error !== undefined && { error: p.error }),
          ...(topLines !== undefined && {
            topSourceLines: p.walk ? topSourceLines(p.walk, topLines).map((l) => ({ file: displayPath(l.file, cwd), line: l.line, insnsProcessed: l.insnsProcessed })) : [],
            unreachedLines: (p.walk?.unreached ?? []).map((l) => ({ file: displayPath(l.file, cwd), line: l.line })),
          }),
        });
      }
    }
  }
  return json;
}

const CELL_WIDTH = 34;

/** The table (program × target), then one line per program whose verdict differs between targets. */
export function formatMatrix(outcomes: TargetOutcome[], cwd: string): string {
  const rows = new Map<string, Map<string, string>>();
  const verdicts = new Map<string, { passes: string[]; rejected: string[] }>();
  const row = (key: string): Map<string, string> => rows.get(key) ?? rows.set(key, new Map()).get(key)!;
  for (const outcome of outcomes) {
    for (const report of outcome.reports ?? []) {
      const file = displayPath(report.file, cwd);
      if (!report.compiled) row(`${file} (all programs)`).set(outcome.target, '✗ not compiled');
      for (const p of report.programs) {
        const key = `${file} ${p.name}`;
        row(key).set(outcome.target, p.ok ? passCell(p) : `✗ ${p.error ?? 'rejected'}`);
        const verdict = verdicts.get(key) ?? verdicts.set(key, { passes: [], rejected: [] }).get(key)!;
        (p.ok ? verdict.passes : verdict.rejected).push(outcome.target);
      }
    }
  }
  const headers = outcomes.map((o) => {
    const kernel = o.reports?.[0]?.kernelRelease;
    return kernel ? `${o.target} (${kernel})` : o.target;
  });
  const firstWidth = Math.max('program'.length, ...[...rows.keys()].map((k) => k.length));
  const fit = (text: string, width: number): string => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
  const lines = [[fit('program', firstWidth), ...headers.map((h) => fit(h, CELL_WIDTH))].join('  ').trimEnd()];
  for (const [key, cells] of rows) {
    const line = [fit(key, firstWidth), ...outcomes.map((o) => fit(o.error !== undefined ? `unreachable` : cells.get(o.target) ?? '—', CELL_WIDTH))];
    lines.push(line.join('  ').trimEnd());
  }
  for (const [key, { passes, rejected }] of verdicts) {
    if (passes.length > 0 && rejected.length > 0) lines.push(`${key}: passes on ${passes.join(', ')}; rejected on ${rejected.join(', ')}`);
  }
  for (const o of outcomes) if (o.error !== undefined) lines.push(`${o.target}: not checked: ${o.error}`);
  return lines.join('\n') + '\n';
}

function passCell(p: { insnsProcessed: number | null; totalStates: number | null; peakStates: number | null; verificationTimeUs: number | null }): string {
  const parts = [`✓ ${p.insnsProcessed === null ? '?' : p.insnsProcessed.toLocaleString('en-US')} insns`];
  if (p.totalStates !== null && p.peakStates !== null) parts.push(`${p.totalStates}/${p.peakStates} st`);
  if (p.verificationTimeUs !== null) parts.push(`${(p.verificationTimeUs / 1000).toFixed(1)} ms`);
  return parts.join(' ');
}
