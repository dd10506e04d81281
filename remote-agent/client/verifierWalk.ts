/**
 * How the verifier walked one program, per source line: how many instruction visits each line cost
 * (what `veristat --top-src-lines` counts), the register state the verifier held when it first
 * entered the line, and which source line each part of the log belongs to. Read from a log that
 * prints instructions (with the registers each changed after "; "): level 1 — a failing program's
 * path — or level 2, every path explored, which `load` gives any program when asked to `walk`. A pure function of the text and a resolver from
 * instruction to source position (the object's line info, else the log's annotation).
 */
import { formatRegisterState, parseRegisterState, registersReadBy, sortStateNames, type RegisterState } from './registerState';
import { splitLogLines, type LogAnnotation } from './verifierLog';

export interface SourceLine {
  file: string;
  line: number;
}

export interface WalkedLine extends SourceLine {
  /** Instruction visits on this line, over every path the verifier explored. */
  insnsProcessed: number;
  /** Times the walk came into this line from another one (a loop body counts once per iteration). */
  entries: number;
  /** Register and stack state before the line's first instruction, the first time it was walked. */
  stateBefore: string;
  /** Registers and stack slots the line's instructions read that held a value before it, in state order. */
  registers: string[];
  /** The line's instructions as the log printed them, "7: (85) call bpf_map_lookup_elem#1", once each, in order. */
  instructions: string[];
  /** 0-based log line of the first instruction walked on this line. */
  firstLogLine: number;
}

/** From `fromLogLine` on (until the next run), the log is about this source line. */
export interface LogSourceRun extends SourceLine {
  fromLogLine: number;
}

export interface ProgramWalk {
  /** Walked source lines, in file then line order. */
  lines: WalkedLine[];
  /** Which source line each stretch of the log belongs to, in log order. */
  logSources: LogSourceRun[];
  /** Instruction lines in the log (equals "processed N insns" for a complete level-2 log). */
  insnLines: number;
}

/** Resolves an instruction (with the annotation printed before it, if any) to a local source line. */
export type InsnResolver = (insn: number, annotation: LogAnnotation | undefined) => SourceLine | undefined;

const INSN = /^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$/;
/** Full state: "0: R1=ctx() R10=fp0", "12: frame1: R1=…", "from 5 to 14: R0=…". */
const FULL_STATE = /^(?:\d+: (?=R\d|frame\d+:|fp-)|from \d+ to \d+: )(.*)$/;
const ANNOTATION = /^; ?(.*?)(?: @ (\S+):(\d+))?$/;
/** BPF_JMP|BPF_CALL: helpers and kfuncs clobber R1–R5. */
const CALL_OPCODE = '85';
const CALLER_SAVED = ['R1', 'R2', 'R3', 'R4', 'R5'];
const MAX_INSTRUCTIONS_PER_LINE = 64;

export function walkVerifierLog(text: string, resolve: InsnResolver): ProgramWalk {
  const lines = splitLogLines(text);
  const walked = new Map<string, WalkedLine & { insnsSeen: Set<number>; used: Set<string>; known: Set<string> }>();
  // Per instruction index: its source line and that line's key, resolved once.
  const positions = new Map<number, { position: SourceLine; key: string } | null>();
  const logSources: LogSourceRun[] = [];
  const state = new LazyState();
  let annotation: LogAnnotation | undefined;
  let pendingAnnotationLine: number | null = null;
  let previousKey: string | null = null;
  let insnLines = 0;

  lines.forEach((line, logLine) => {
    let m: RegExpExecArray | null;
    if ((m = INSN.exec(line))) {
      insnLines++;
      const insn = Number(m[1]);
      let resolved = positions.get(insn);
      if (resolved === undefined) {
        const position = resolve(insn, annotation && { ...annotation, insn });
        resolved = position ? { position, key: `${position.file}:${position.line}` } : null;
        positions.set(insn, resolved);
      }
      if (resolved) {
        const { position, key } = resolved;
        let entry = walked.get(key);
        if (!entry) {
          entry = {
            ...position,
            insnsProcessed: 0,
            entries: 0,
            stateBefore: formatRegisterState(state.current()),
            registers: [],
            instructions: [],
            firstLogLine: logLine,
            insnsSeen: new Set(),
            used: new Set(),
            known: new Set(state.current().keys()),
          };
          walked.set(key, entry);
        }
        entry.insnsProcessed++;
        if (key !== previousKey) {
          entry.entries++;
          const last = logSources[logSources.length - 1];
          if (!last || last.file !== position.file || last.line !== position.line) {
            logSources.push({ ...position, fromLogLine: pendingAnnotationLine ?? logLine });
          }
        }
        if (!entry.insnsSeen.has(insn)) {
          entry.insnsSeen.add(insn);
          if (entry.instructions.length < MAX_INSTRUCTIONS_PER_LINE) entry.instructions.push(`${insn}: (${m[2]}) ${m[3]}`);
          for (const r of registersReadBy(m[3])) entry.used.add(r);
        }
        previousKey = key;
      }
      pendingAnnotationLine = null;
      if (m[2] === CALL_OPCODE && !/\bpc[+-]/.test(m[3])) state.clobberCallerSaved();
      if (m[4] !== undefined) state.change(m[4]);
    } else if ((m = FULL_STATE.exec(line))) {
      state.replace(m[1]);
    } else if (line.startsWith(';') && (m = ANNOTATION.exec(line))) {
      annotation = { source: m[1].trim(), insn: null, logLine };
      if (m[2] !== undefined) {
        annotation.file = m[2];
        annotation.line = Number(m[3]);
      }
      pendingAnnotationLine ??= logLine;
    }
  });

  const result = [...walked.values()].map(({ insnsSeen: _seen, used, known, ...entry }) => ({
    ...entry,
    registers: sortStateNames([...used].filter((r) => known.has(r))),
  }));
  result.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { lines: result, logSources, insnLines };
}

/**
 * The register state along the log, parsed only when asked for: a log of a million instructions
 * changes it a million times but is asked for it once per new source line. Changes since the last
 * full state are kept as text; a full state (printed at every branch and prune point) drops them.
 */
class LazyState {
  private base = '';
  private parsed: RegisterState | null = new Map();
  /** Changes after `base`, in order: a state delta's text, or null for a call clobbering R1–R5. */
  private changes: (string | null)[] = [];

  replace(text: string): void {
    this.base = text;
    this.parsed = null;
    this.changes.length = 0;
  }

  change(delta: string): void {
    // Slices of the log's text, so keeping them costs a pointer each.
    this.changes.push(delta);
  }

  clobberCallerSaved(): void {
    this.changes.push(null);
  }

  current(): RegisterState {
    const state = this.parsed ?? parseRegisterState(this.base);
    for (const change of this.changes) {
      if (change === null) for (const r of CALLER_SAVED) state.delete(r);
      else for (const [name, value] of parseRegisterState(change)) state.set(name, value);
    }
    this.parsed = state;
    this.changes.length = 0;
    return state;
  }
}

/** The source line a log line belongs to: the last run starting at or before it. */
export function sourceOfLogLine(walk: Pick<ProgramWalk, 'logSources'>, logLine: number): SourceLine | undefined {
  const runs = walk.logSources;
  let low = 0;
  let high = runs.length - 1;
  let found: LogSourceRun | undefined;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (runs[mid].fromLogLine <= logLine) {
      found = runs[mid];
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found && { file: found.file, line: found.line };
}

export interface LineCost {
  line: number;
  insnsProcessed: number;
}

export interface LineHeat extends LineCost {
  /** 1 (cheap) to 4 (costliest), on a log scale of the file's costliest line. */
  level: 1 | 2 | 3 | 4;
  /** Percent of all instruction visits in the file, rounded. */
  share: number;
  /** One of the few costliest lines, whose count is worth writing beside it. */
  labelled: boolean;
}

/** Costliest lines written out; lines under this share of the visits are never labelled. */
const LABELLED_LINES = 5;
const LABEL_MIN_SHARE = 5;
/** The scale's top is at least this many visits: a file whose costliest line costs 3 is not hot. */
const HOT_FLOOR = 100;

/**
 * A heat level per line from its instruction visits. A log scale, since one loop body often costs
 * thousands of times a straight line: linear shading would show only the loop.
 */
export function heatLevels(lines: LineCost[]): LineHeat[] {
  const total = lines.reduce((sum, l) => sum + l.insnsProcessed, 0);
  const max = lines.reduce((m, l) => Math.max(m, l.insnsProcessed), 0);
  const ranked = [...lines].sort((a, b) => b.insnsProcessed - a.insnsProcessed || a.line - b.line);
  const labelled = new Set(ranked.slice(0, LABELLED_LINES).filter((l) => total > 0 && (100 * l.insnsProcessed) / total >= LABEL_MIN_SHARE).map((l) => l.line));
  return lines.map((l) => {
    const scaled = Math.log1p(l.insnsProcessed) / Math.log1p(Math.max(max, HOT_FLOOR));
    const level = Math.min(4, Math.max(1, Math.ceil(scaled * 4))) as LineHeat['level'];
    return { ...l, level, share: total === 0 ? 0 : Math.round((100 * l.insnsProcessed) / total), labelled: labelled.has(l.line) };
  });
}

/** The `n` lines that cost the most instruction visits, costliest first (veristat's --top-src-lines). */
export function topSourceLines(walk: Pick<ProgramWalk, 'lines'>, n: number): WalkedLine[] {
  return [...walk.lines].sort((a, b) => b.insnsProcessed - a.insnsProcessed || (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1)).slice(0, n);
}
