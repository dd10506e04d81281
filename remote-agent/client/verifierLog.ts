/**
 * Reads a kernel verifier log (log level 1 and/or 4) as text and extracts what a diagnostic needs:
 * the error message, the failing instruction, the source annotations the verifier printed, the
 * source lines it walked, and the statistics. A pure function of the text.
 *
 * Formats: since Linux 6.x (here 6.18) annotations are `; <code> @ <file>:<line>`; older kernels
 * (6.1) print `; <code>` only, so the file and line must then come from the object's line info.
 * Linux 7.3+ follows the first error line with a structured report (verifierReport.ts), and may
 * print more of the message after it: the report is parsed into `report` and kept out of `message`.
 */
import { parseVerifierReportLines, type VerifierReport } from './verifierReport';

/** A `; <code>` line of the log: the source line of the instructions that follow it. */
export interface LogAnnotation {
  /** Source text as the kernel printed it (leading whitespace stripped by the kernel). */
  source: string;
  /** File name as printed (the kernel prints the basename); absent in 6.1-style logs. */
  file?: string;
  /** 1-based line; absent in 6.1-style logs. 0 means "no line" (compiler-generated code). */
  line?: number;
  /** Index of the instruction printed right after the annotation; null when none follows. */
  insn: number | null;
  /** 0-based line number in the log. */
  logLine: number;
}

export interface VerifierStats {
  insnsProcessed: number | null;
  insnLimit: number | null;
  maxStatesPerInsn: number | null;
  totalStates: number | null;
  peakStates: number | null;
  markRead: number | null;
  verificationTimeUs: number | null;
  /** Stack depth per (sub)program, from "stack depth 0+8". */
  stackDepth: number[] | null;
  /** Deepest stack of any call chain, from 7.3's "stack depth max N". */
  stackDepthMax: number | null;
  /** 7.3's per-subprogram lines, "subprog 0 (count_execs) main insns_self 8 insns_total 8 stack 8". */
  subprograms: SubprogramStats[] | null;
}

export interface SubprogramStats {
  index: number;
  name: string;
  /** How the kernel classifies it: "main", "static", "global", … as printed. */
  kind: string;
  insnsSelf: number;
  insnsTotal: number;
  stack: number;
}

export interface ParsedVerifierLog {
  /** The verifier's error message, one entry per line; empty when the log holds no error. */
  message: string[];
  /** Index of the instruction the verifier rejected; null when the log names none. */
  failingInsn: number | null;
  /** Instruction that acquired a leaked reference ("alloc_insn=N"), when the message names one. */
  allocInsn: number | null;
  /** Every annotation, in log order. */
  annotations: LogAnnotation[];
  /**
   * The source lines the verifier walked up to the failure, oldest first, with consecutive
   * repeats of the same line folded; the last entry is the line of the failing instruction.
   */
  path: LogAnnotation[];
  stats: VerifierStats;
  /** The 7.3+ structured report; null when the kernel printed none. */
  report: VerifierReport | null;
}

const INSN_LINE = /^(\d+): \([0-9a-f]{2}\) /;
/** Register-state lines: "0: R1=ctx() R10=fp0", "6: frame1: R1=…", "from 5 to 14: …". */
const STATE_LINE = /^(\d+: (R\d+|frame\d+:|safe)|from \d+ to \d+:)/;
const ANNOTATION_LINE = /^; ?(.*?)(?: @ (\S+):(\d+))?$/;
const PROCESSED_LINE =
  /^processed (\d+) insns \(limit (\d+)\) max_states_per_insn (\d+) total_states (\d+) peak_states (\d+) mark_read (\d+)/;
const TIME_LINE = /^verification time (\d+) usec/;
const STACK_LINE = /^stack depth ([\d+]+)/;
const STACK_MAX_LINE = /^stack depth max (\d+)/;
const SUBPROG_LINE = /^subprog (\d+) \((.*)\) (\S+) insns_self (\d+) insns_total (\d+) stack (\d+)/;
/** Context the verifier prints around some errors; not part of the message itself. */
const NOT_MESSAGE = /^(\s|R\d+(_\w+)?=|frame\d+:|caller:|callee:|cur state:|old state:|func#\d+ @\d+|last_idx |regs=|parent didn't have regs)/;

function emptyStats(): VerifierStats {
  return {
    insnsProcessed: null,
    insnLimit: null,
    maxStatesPerInsn: null,
    totalStates: null,
    peakStates: null,
    markRead: null,
    verificationTimeUs: null,
    stackDepth: null,
    stackDepthMax: null,
    subprograms: null,
  };
}

export function parseVerifierLog(text: string): ParsedVerifierLog {
  const lines = splitLogLines(text);
  const stats = emptyStats();
  const annotations: LogAnnotation[] = [];
  const pendingAnnotations: LogAnnotation[] = [];
  let lastInsnLine = -1;
  let lastInsn: number | null = null;
  let firstStatsLine = lines.length;

  lines.forEach((line, i) => {
    let m: RegExpExecArray | null;
    if ((m = PROCESSED_LINE.exec(line))) {
      stats.insnsProcessed = Number(m[1]);
      stats.insnLimit = Number(m[2]);
      stats.maxStatesPerInsn = Number(m[3]);
      stats.totalStates = Number(m[4]);
      stats.peakStates = Number(m[5]);
      stats.markRead = Number(m[6]);
    } else if ((m = TIME_LINE.exec(line))) {
      stats.verificationTimeUs = Number(m[1]);
    } else if ((m = STACK_MAX_LINE.exec(line))) {
      stats.stackDepthMax = Number(m[1]);
    } else if ((m = SUBPROG_LINE.exec(line))) {
      (stats.subprograms ??= []).push({
        index: Number(m[1]),
        name: m[2],
        kind: m[3],
        insnsSelf: Number(m[4]),
        insnsTotal: Number(m[5]),
        stack: Number(m[6]),
      });
    } else if ((m = STACK_LINE.exec(line))) {
      stats.stackDepth = m[1].split('+').filter((s) => s !== '').map(Number);
    } else if ((m = INSN_LINE.exec(line))) {
      lastInsnLine = i;
      lastInsn = Number(m[1]);
      for (const a of pendingAnnotations) a.insn = lastInsn;
      pendingAnnotations.length = 0;
      return;
    } else if (line.startsWith(';') && (m = ANNOTATION_LINE.exec(line))) {
      const annotation: LogAnnotation = { source: m[1].trim(), insn: null, logLine: i };
      if (m[2] !== undefined) {
        annotation.file = m[2];
        annotation.line = Number(m[3]);
      }
      annotations.push(annotation);
      pendingAnnotations.push(annotation);
      return;
    } else {
      return;
    }
    firstStatsLine = Math.min(firstStatsLine, i);
  });

  const report = parseVerifierReportLines(lines);
  const outsideReport = (i: number) => report === null || i < report.firstLogLine || i >= report.endLogLine;
  const messageEnd = report === null ? firstStatsLine : Math.min(report.firstLogLine, firstStatsLine);
  const message = extractMessage(lines, lastInsnLine, firstStatsLine, outsideReport);
  const joined = message.join('\n');
  const atInsn = /\bat insn (\d+)/.exec(joined);
  const alloc = /\balloc_insn=(\d+)/.exec(joined);
  const failingInsn = message.length === 0 ? null : atInsn ? Number(atInsn[1]) : lastInsn;

  return {
    message,
    failingInsn,
    allocInsn: alloc ? Number(alloc[1]) : null,
    annotations,
    path: walkedPath(annotations, branchResumes(lines), message.length > 0 ? messageEnd : lines.length, failingInsn),
    stats,
    report,
  };
}

/**
 * The log's lines. Some messages lack their newline (6.18's "expected prog array map for tail
 * call"), gluing the statistics' first line onto them: that line is split off again.
 */
export function splitLogLines(text: string): string[] {
  const lines: string[] = [];
  // One pass without per-line arrays: logs of a million lines come through here.
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const glued = line.includes('verification time ') ? GLUED_TIME.exec(line) : null;
    if (glued) lines.push(glued[1], glued[2]);
    else lines.push(line);
  }
  return lines;
}

/** "…verification time 12 usec" glued to the line before it (the kernel does so after some errors). */
const GLUED_TIME = /^(.+?)(verification time \d+ usec)$/;

/**
 * The message is what follows the last instruction, minus annotations and register dumps. Some
 * errors span two lines ("invalid access to packet …" + "R1 offset is outside of the packet",
 * "Unreleased reference …" + "BPF_EXIT instruction … would lead to reference leak"): keep all.
 * Without any instruction (the verifier stopped before walking), the last meaningful line is it.
 */
function extractMessage(lines: string[], lastInsnLine: number, end: number, outsideReport: (i: number) => boolean): string[] {
  const candidates: string[] = [];
  for (let i = lastInsnLine + 1; i < end; i++) {
    if (!outsideReport(i)) continue;
    const line = lines[i].trimEnd();
    if (line === '' || line.startsWith(';') || INSN_LINE.test(line) || STATE_LINE.test(line)) continue;
    if (NOT_MESSAGE.test(line)) continue;
    candidates.push(line);
  }
  if (lastInsnLine >= 0 || candidates.length === 0) return candidates;
  return [candidates[candidates.length - 1]];
}

/** "from X to Y:" lines: the verifier resumes a branch pushed at instruction X. */
function branchResumes(lines: string[]): Array<{ logLine: number; fromInsn: number }> {
  const resumes: Array<{ logLine: number; fromInsn: number }> = [];
  lines.forEach((line, i) => {
    const m = /^from (\d+) to \d+:/.exec(line);
    if (m) resumes.push({ logLine: i, fromInsn: Number(m[1]) });
  });
  return resumes;
}

/**
 * The annotated lines of the path that failed, ending with the failing instruction's line. When the
 * verifier resumes a pushed branch ("from X to Y"), the lines walked after X on the abandoned path
 * are dropped (instruction indexes grow along a path, so they are the ones past X); the failing
 * instruction's line may then have been printed only on that abandoned path, and is taken from there.
 */
function walkedPath(
  annotations: LogAnnotation[],
  resumes: Array<{ logLine: number; fromInsn: number }>,
  endLogLine: number,
  failingInsn: number | null,
): LogAnnotation[] {
  const path: LogAnnotation[] = [];
  let next = 0;
  const resumeBefore = (logLine: number) => {
    for (; next < resumes.length && resumes[next].logLine < logLine; next++) {
      const from = resumes[next].fromInsn;
      while (path.length > 0 && (path[path.length - 1].insn ?? -1) > from) path.pop();
    }
  };
  const push = (a: LogAnnotation) => {
    const prev = path[path.length - 1];
    if (prev && prev.source === a.source && prev.file === a.file && prev.line === a.line) path[path.length - 1] = a;
    else path.push(a);
  };
  const walked = annotations.filter((a) => a.logLine < endLogLine);
  for (const a of walked) {
    resumeBefore(a.logLine);
    if (a.line !== 0 && a.source !== '') push(a);
  }
  resumeBefore(endLogLine);
  if (failingInsn !== null) {
    // The line of the failing instruction: the annotation printed nearest before it.
    let covering: LogAnnotation | undefined;
    for (const a of walked) {
      if (a.insn !== null && a.insn <= failingInsn && a.line !== 0 && a.source !== '' && (!covering || a.insn >= covering.insn!)) covering = a;
    }
    if (covering) push(covering);
  }
  return path;
}
