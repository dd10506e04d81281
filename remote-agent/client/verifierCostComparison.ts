/**
 * What the verifier's work on each program cost in two checks, side by side, like `veristat -C`:
 * side A (the base: the file as last committed, or a first target) and side B (the text as it is
 * now, or a second target), per program the instructions processed, states (total and peak),
 * verification time, stack depth and program size, with the absolute and relative difference.
 * Programs found on one side only and verdicts that changed are marked, and a program is flagged
 * when its processed instructions at least doubled or came within 10% of the verifier's limit,
 * so a change that makes a program much harder to verify is seen before it hits the limit.
 * Pure functions of check reports; the CLI (`ebpf-studio compare`) and the editor show the same table.
 */
import type { CheckReport } from './checkReport';

/** The figures compared, in veristat's order and with its column names. */
export const COST_METRICS = [
  { key: 'insnsProcessed', title: 'Insns' },
  { key: 'totalStates', title: 'States' },
  { key: 'peakStates', title: 'Peak states' },
  { key: 'verificationTimeUs', title: 'Duration (us)' },
  { key: 'stackDepth', title: 'Stack depth' },
  { key: 'insnCount', title: 'Program size' },
] as const;

export type CostMetric = (typeof COST_METRICS)[number]['key'];

/** The verifier's limit on processed instructions for a privileged load (BPF_COMPLEXITY_LIMIT_INSNS), when a log does not say. */
export const DEFAULT_INSN_LIMIT = 1_000_000;
/** Processed instructions this many times the base's flag a program. */
export const GROWTH_FLAG_FACTOR = 2;
/** Processed instructions at this share of the limit or more flag a program. */
export const NEAR_LIMIT_SHARE = 0.9;
/** The verifier's statistics line that names its limit; one scan, since a walk's log may be a million lines. */
const PROCESSED_LINE = /^processed \d+ insns \(limit (\d+)\)/m;

export interface ProgramCost {
  /** The file as shown (relative to the working directory or workspace). */
  file: string;
  program: string;
  accepted: boolean;
  figures: Record<CostMetric, number | null>;
  /** The limit the verifier printed ("processed N insns (limit L)"); null when the log has none. */
  insnLimit: number | null;
}

/** One side of a comparison. */
export interface CostSide {
  /** What the side is, for the legend: "probe.bpf.c at HEAD on local (6.18.0)". */
  label: string;
  programs: ProgramCost[];
  /** Files (as shown) that did not compile on this side, so their programs have no figures here. */
  notCompiled: string[];
}

export type SideVerdict = 'accepted' | 'rejected' | 'not compiled' | 'absent';

export interface MetricDifference {
  base: number | null;
  current: number | null;
  /** current − base; null when either is unknown. */
  diff: number | null;
  /** The difference in percent of the base; null when either is unknown or the base is 0. */
  percent: number | null;
}

export interface CostRow {
  file: string;
  program: string;
  base: SideVerdict;
  current: SideVerdict;
  metrics: Record<CostMetric, MetricDifference>;
  /** Why the row needs a look: "Insns ×2.4", "Insns at 93% of limit 1000000", "accepted → rejected". */
  flags: string[];
}

export interface CostComparison {
  base: string;
  current: string;
  rows: CostRow[];
}

/** One side's figures from its check reports; `showFile` turns a report's absolute path into the one shown. */
export function costSideOf(label: string, reports: readonly CheckReport[], showFile: (file: string) => string): CostSide {
  const side: CostSide = { label, programs: [], notCompiled: [] };
  for (const report of reports) {
    const file = showFile(report.file);
    if (!report.compiled) side.notCompiled.push(file);
    for (const p of report.programs) {
      const limit = PROCESSED_LINE.exec(p.log);
      side.programs.push({
        file,
        program: p.name,
        accepted: p.ok,
        figures: {
          insnsProcessed: p.insnsProcessed,
          totalStates: p.totalStates,
          peakStates: p.peakStates,
          verificationTimeUs: p.verificationTimeUs,
          stackDepth: p.stackDepth,
          insnCount: p.insnCount,
        },
        insnLimit: limit ? Number(limit[1]) : null,
      });
    }
  }
  return side;
}

/**
 * A row per program of either side, grouped by file (in the order files first appear), each file's
 * programs in the base's order then those only the current side has; a file that compiled on
 * neither side is one row.
 */
export function compareVerifierCost(base: CostSide, current: CostSide): CostComparison {
  const keyOf = (p: { file: string; program: string }): string => `${p.file}\0${p.program}`;
  const baseByKey = new Map(base.programs.map((p) => [keyOf(p), p]));
  const currentByKey = new Map(current.programs.map((p) => [keyOf(p), p]));
  const programs = [...base.programs, ...current.programs];
  const files = [...new Set([...programs.map((p) => p.file), ...base.notCompiled, ...current.notCompiled])];
  const rows = files.flatMap((file) => {
    const keys = new Set(programs.filter((p) => p.file === file).map(keyOf));
    if (keys.size === 0) return [rowOf(undefined, undefined, base, current, file)];
    return [...keys].map((key) => rowOf(baseByKey.get(key), currentByKey.get(key), base, current));
  });
  return { base: base.label, current: current.label, rows };
}

function rowOf(a: ProgramCost | undefined, b: ProgramCost | undefined, base: CostSide, current: CostSide, wholeFile?: string): CostRow {
  const file = a?.file ?? b?.file ?? wholeFile!;
  const verdictOf = (p: ProgramCost | undefined, side: CostSide): SideVerdict =>
    p ? (p.accepted ? 'accepted' : 'rejected') : side.notCompiled.includes(file) ? 'not compiled' : 'absent';
  const row: CostRow = {
    file,
    program: a?.program ?? b?.program ?? '—',
    base: verdictOf(a, base),
    current: verdictOf(b, current),
    metrics: Object.fromEntries(COST_METRICS.map(({ key }) => [key, differenceOf(a?.figures[key] ?? null, b?.figures[key] ?? null)])) as Record<CostMetric, MetricDifference>,
    flags: [],
  };
  if (row.base === 'accepted' && row.current !== 'accepted' && row.current !== 'absent') row.flags.push(`accepted → ${row.current}`);
  const insns = row.metrics.insnsProcessed;
  if (insns.base !== null && insns.current !== null && insns.base > 0 && insns.current >= GROWTH_FLAG_FACTOR * insns.base) {
    row.flags.push(`Insns ×${(insns.current / insns.base).toFixed(1)}`);
  }
  const limit = b?.insnLimit ?? DEFAULT_INSN_LIMIT;
  if (insns.current !== null && insns.current >= NEAR_LIMIT_SHARE * limit) row.flags.push(`Insns at ${Math.floor((insns.current / limit) * 100)}% of limit ${limit}`);
  return row;
}

function differenceOf(base: number | null, current: number | null): MetricDifference {
  const diff = base === null || current === null ? null : current - base;
  return { base, current, diff, percent: diff === null || base === 0 ? null : (diff / base!) * 100 };
}

/** A row needs a look when it is flagged (grew, nears the limit, or lost its acceptance). */
export function flaggedRows(comparison: CostComparison): CostRow[] {
  return comparison.rows.filter((row) => row.flags.length > 0);
}

interface Column {
  title: string;
  align: 'left' | 'right';
  cell: (row: CostRow) => string;
}

const VERDICT_TEXT: Record<SideVerdict, string> = { accepted: 'accepted', rejected: 'rejected', 'not compiled': 'not compiled', absent: '—' };

const COLUMNS: Column[] = [
  { title: 'File', align: 'left', cell: (row) => row.file },
  { title: 'Program', align: 'left', cell: (row) => row.program },
  { title: 'Verdict (A)', align: 'left', cell: (row) => VERDICT_TEXT[row.base] },
  { title: 'Verdict (B)', align: 'left', cell: (row) => VERDICT_TEXT[row.current] },
  { title: 'Verdict (DIFF)', align: 'left', cell: verdictDifference },
  ...COST_METRICS.flatMap(({ key, title }): Column[] => [
    { title: `${title} (A)`, align: 'right', cell: (row) => figure(row.metrics[key].base) },
    { title: `${title} (B)`, align: 'right', cell: (row) => figure(row.metrics[key].current) },
    { title: `${title} (DIFF)`, align: 'right', cell: (row) => differenceText(row.metrics[key]) },
  ]),
  { title: 'Flags', align: 'left', cell: (row) => row.flags.join('; ') },
];

function verdictDifference(row: CostRow): string {
  if (row.base === 'absent') return 'only in B';
  if (row.current === 'absent') return 'only in A';
  return row.base === row.current ? 'MATCH' : 'MISMATCH';
}

function figure(value: number | null): string {
  return value === null ? 'n/a' : String(value);
}

/** "+12 (+3.4%)", "-5 (-50.0%)", "+0 (+0.0%)"; "+12" from a base of 0; "n/a" when a side is unknown. */
export function differenceText(m: MetricDifference): string {
  if (m.diff === null) return 'n/a';
  const signed = (n: number, text: string): string => `${n < 0 ? '-' : '+'}${text}`;
  const absolute = signed(m.diff, String(Math.abs(m.diff)));
  return m.percent === null ? absolute : `${absolute} (${signed(m.percent, Math.abs(m.percent).toFixed(1))}%)`;
}

/** The legend (what A and B are), the aligned table, and a line naming the flagged programs. */
export function formatCostComparison(comparison: CostComparison): string {
  const cells = comparison.rows.map((row) => COLUMNS.map((column) => column.cell(row)));
  const widths = COLUMNS.map((column, i) => Math.max(column.title.length, ...cells.map((row) => row[i]!.length)));
  const line = (texts: string[]): string =>
    texts
      .map((text, i) => (COLUMNS[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const flagged = flaggedRows(comparison);
  const summary =
    flagged.length === 0
      ? `No program lost its acceptance, grew to ${GROWTH_FLAG_FACTOR}× its processed instructions or came within ${Math.round((1 - NEAR_LIMIT_SHARE) * 100)}% of the limit.`
      : `Flagged: ${flagged.map((row) => `${row.program} (${row.flags.join('; ')})`).join(', ')}.`;
  return [
    `A: ${comparison.base}`,
    `B: ${comparison.current}`,
    '',
    line(COLUMNS.map((column) => column.title)),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.map(line),
    '',
    summary,
    '',
  ].join('\n');
}
