/**
 * The verifier log view's pure parts: every line of a log classified in one pass over the text
 * (offsets and a kind per line in typed arrays, no object per line, so a 1,000,000-line log costs a
 * few megabytes besides its text), the row a line is drawn as (instruction and register state
 * apart, a `;` annotation as the header of the instructions under it with its file:line), the marks
 * (the failing instruction, the error message, the causal chain's lines), search and the register
 * filter (each one regular expression over the whole text), and the extension's answers to the
 * webview, which gets only the rows in view. Imports neither vscode nor the DOM.
 */
import type { ProgramReport, RelatedLocation } from '../remote-agent/client/checkReport';
import { parseVerifierLog } from '../remote-agent/client/verifierLog';
import { sourceOfLogLine, type LogSourceRun, type SourceLine } from '../remote-agent/client/verifierWalk';
import { MAX_CELL, type FromWebview, type RegisterName, type StatItem, type ToWebview } from './verifierLogMessages';

export type RowKind = 'text' | 'blank' | 'annotation' | 'insn' | 'state' | 'branch' | 'stats';
/** Kinds by their code in the per-line array. */
const KINDS: readonly RowKind[] = ['text', 'blank', 'annotation', 'insn', 'state', 'branch', 'stats'];
const TEXT = 0;
const BLANK = 1;
const ANNOTATION = 2;
const INSN = 3;
const STATE = 4;
const BRANCH = 5;
const STATS = 6;

/** One log line as the view draws it. */
export interface LogRow {
  /** 0-based line of the log. */
  line: number;
  kind: RowKind;
  /** Instruction index, for instruction and full-state lines. */
  insn?: string;
  /** The instruction ("(79) r1 = *(u64 *)(r0 +0)"), an annotation's source text, "from 5 to 14", or the whole line. */
  text: string;
  /** Register and stack state: an instruction's delta after "; ", or a full state. */
  state?: string;
  /** Annotations: the source line the instructions under it belong to, "probe.bpf.c:21". */
  where?: string;
  mark?: 'failing' | 'error' | 'causal';
  /** First row of a causal-chain line: why it matters ("R0 becomes a nullable map value here"). */
  note?: string;
  /** The row matches the search. */
  match?: boolean;
}

/**
 * Where a register is mentioned: `r1`/`w1` in an instruction, `R1=`, `R1_w=` or `R1 invalid …` in
 * a state or message — and not `r10` for R1, nor a word that merely contains it.
 */
export function registerPattern(register: RegisterName): RegExp {
  const n = register.slice(1);
  return new RegExp(`(?<!\\w)(?:[rw]${n}(?!\\w)|R${n}(?![0-9]))`, 'g');
}

/** A case-insensitive search for the text as typed; undefined for an empty query. */
export function searchPattern(query: string): RegExp | undefined {
  if (query === '') return undefined;
  return new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
}

/** Related locations of a verifier diagnostic that are its causal chain: checkFile.ts names the merely walked ones "verifier path: …". */
export function causalChain(related: readonly RelatedLocation[] | undefined): RelatedLocation[] {
  return (related ?? []).filter((r) => !r.message.startsWith('verifier path:'));
}

export interface LogInput {
  /** The program's whole log: the verifier's, then libbpf's messages. */
  log: string;
  /** Which source line each stretch of the log is about (the program's walk), local paths. */
  logSources?: readonly LogSourceRun[];
  /** The verifier rejected the program: its failing instruction and message get marked. */
  rejected: boolean;
  /** The rejection's related locations (causal chain first), local paths. */
  related?: readonly RelatedLocation[];
  /** The local path of a file a log annotation names ("prog.bpf.c"): places a log that has no walk. */
  resolveFile(name: string): string | undefined;
}

const INSN_LINE = /^(\d+): (\([0-9a-f]{2}\) .*?)(?:\s+; (.*))?$/;
const STATE_LINE = /^(\d+): (.*)$/;
const BRANCH_LINE = /^(from \d+ to \d+): ?(.*)$/;
const ANNOTATION_LINE = /^; ?(.*?)(?: @ (\S+):(\d+))?$/;
/** A message the kernel printed without its newline, glued to the statistics (as verifierLog.ts's splitLogLines splits it). */
const GLUED_TIME = /^(.+?)(verification time \d+ usec)$/;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHexDigit = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);

/** The kind of the line text[start, end), from its first characters (a regular expression only for rare lines). */
function classify(text: string, start: number, end: number): number {
  if (start === end) return BLANK;
  const first = text.charCodeAt(start);
  if (first === 59 /* ; */) return ANNOTATION;
  if (isDigit(first)) {
    let i = start + 1;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
    if (i + 2 >= end || text.charCodeAt(i) !== 58 /* : */ || text.charCodeAt(i + 1) !== 32) return TEXT;
    i += 2;
    const next = text.charCodeAt(i);
    if (next === 40 /* ( */ && i + 4 < end && isHexDigit(text.charCodeAt(i + 1)) && isHexDigit(text.charCodeAt(i + 2)) && text.charCodeAt(i + 3) === 41 && text.charCodeAt(i + 4) === 32) return INSN;
    if ((next === 82 /* R */ && isDigit(text.charCodeAt(i + 1))) || text.startsWith('frame', i) || text.startsWith('fp-', i)) return STATE;
    return TEXT;
  }
  if (first === 102 /* f */ && text.startsWith('from ', start)) return BRANCH_LINE.test(text.slice(start, end)) ? BRANCH : TEXT;
  if (
    (first === 112 /* p */ && text.startsWith('processed ', start)) ||
    (first === 118 /* v */ && text.startsWith('verification time ', start)) ||
    (first === 115 /* s */ && (text.startsWith('stack depth ', start) || /^subprog \d+ \(/.test(text.slice(start, Math.min(end, start + 40)))))
  ) {
    return STATS;
  }
  return TEXT;
}

/** A log, indexed line by line, with its marks and the source line of each stretch. */
export class IndexedLog {
  readonly text: string;
  readonly lineCount: number;
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;
  private readonly kinds: Uint8Array;
  /** Which source line each stretch of the log is about, in log order. */
  readonly sources: readonly LogSourceRun[];
  /** The rejected instruction's line; null when the program passed or the log names none. */
  readonly failingLine: number | null;
  /** Lines of the verifier's error message. */
  readonly errorLines: ReadonlySet<number>;
  /** The causal chain's messages by file, then line. */
  private readonly chain = new Map<string, Map<number, string>>();
  private readonly lastInsnLine: number;

  constructor(input: LogInput) {
    const text = input.log;
    this.text = text;
    // Sized by the newlines; a glued line (rare) makes one more.
    let capacity = 1;
    for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) capacity++;
    let starts = new Uint32Array(capacity);
    let ends = new Uint32Array(capacity);
    let kinds = new Uint8Array(capacity);
    let count = 0;
    const add = (start: number, end: number, kind: number): void => {
      if (count === starts.length) {
        capacity += 16;
        starts = grown(starts, new Uint32Array(capacity));
        ends = grown(ends, new Uint32Array(capacity));
        kinds = grown(kinds, new Uint8Array(capacity));
      }
      starts[count] = start;
      ends[count] = end;
      kinds[count++] = kind;
    };
    let lastInsnLine = -1;
    for (let start = 0; start <= text.length; ) {
      let newline = text.indexOf('\n', start);
      if (newline < 0) newline = text.length;
      let end = newline;
      if (end > start && text.charCodeAt(end - 1) === 13 /* \r */) end--;
      const glued = text.charCodeAt(end - 1) === 99 /* c */ && text.endsWith(' usec', end) ? GLUED_TIME.exec(text.slice(start, end)) : null;
      const split = glued && !text.startsWith('verification time ', start) ? start + glued[1].length : end;
      const kind = classify(text, start, split);
      if (kind === INSN) lastInsnLine = count;
      add(start, split, kind);
      if (split < end) add(split, end, STATS);
      start = newline + 1;
    }
    this.starts = starts.subarray(0, count);
    this.ends = ends.subarray(0, count);
    this.kinds = kinds.subarray(0, count);
    this.lineCount = count;
    const { failingLine, errorLines } = this.failure(input.rejected, lastInsnLine);
    this.failingLine = failingLine;
    this.errorLines = errorLines;
    this.sources = input.logSources ?? this.annotatedSources(input.resolveFile);
    this.lastInsnLine = lastInsnLine;
    for (const r of causalChain(input.related)) {
      const lines = this.chain.get(r.file) ?? new Map<number, string>();
      if (!lines.has(r.line)) lines.set(r.line, r.message);
      this.chain.set(r.file, lines);
    }
  }

  kindOf(line: number): RowKind {
    return KINDS[this.kinds[line]];
  }

  lineText(line: number): string {
    return this.text.slice(this.starts[line], this.ends[line]);
  }

  /** The source line a log line is about; undefined before the first instruction the log places. */
  sourceOf(line: number): SourceLine | undefined {
    return sourceOfLogLine({ logSources: this.sources as LogSourceRun[] }, line);
  }

  /** Lines on which `pattern` (a global regular expression) matches, ascending, each once. */
  linesMatching(pattern: RegExp): Uint32Array {
    const text = this.text;
    const found = new Uint32Array(this.lineCount);
    let count = 0;
    pattern.lastIndex = 0;
    let line = 0;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(text)) !== null) {
      const at = match.index;
      while (line + 1 < this.lineCount && this.starts[line + 1] <= at) line++;
      found[count++] = line;
      // One hit per line is enough: go on from the end of this one.
      pattern.lastIndex = Math.max(this.ends[line], at + 1);
    }
    return found.slice(0, count);
  }

  /** The row a line is drawn as, without the search's mark. */
  row(line: number): LogRow {
    const text = this.lineText(line);
    const kind = this.kinds[line];
    const row: LogRow = { line, kind: KINDS[kind], text };
    let m: RegExpExecArray | null;
    if (kind === INSN && (m = INSN_LINE.exec(text))) {
      row.insn = m[1];
      row.text = m[2];
      if (m[3] !== undefined) row.state = m[3];
    } else if (kind === STATE && (m = STATE_LINE.exec(text))) {
      row.insn = m[1];
      row.text = '';
      row.state = m[2];
    } else if (kind === BRANCH && (m = BRANCH_LINE.exec(text))) {
      row.text = m[1];
      row.state = m[2];
    } else if (kind === ANNOTATION && (m = ANNOTATION_LINE.exec(text))) {
      row.text = m[1].trim();
      const source = this.sourceOf(line);
      if (source) row.where = `${baseName(source.file)}:${source.line}`;
      else if (m[2] !== undefined && m[3] !== '0') row.where = `${m[2]}:${m[3]}`;
    }
    row.text = clip(row.text);
    if (row.state !== undefined) row.state = clip(row.state);
    const causal = this.causalAt(line);
    if (line === this.failingLine) row.mark = 'failing';
    else if (this.errorLines.has(line)) row.mark = 'error';
    else if (causal) row.mark = 'causal';
    if (causal?.first) row.note = causal.message;
    return row;
  }

  /**
   * The causal chain's message when a log line is about a line of the chain, and whether it is the
   * first log line about it there (the last source line's stretch ends with the last instruction,
   * not with the stats).
   */
  private causalAt(line: number): { message: string; first: boolean } | undefined {
    if (this.chain.size === 0 || line > this.lastInsnLine) return undefined;
    const source = this.sourceOf(line);
    const message = source && this.chain.get(source.file)?.get(source.line);
    if (!source || message === undefined) return undefined;
    const before = line === 0 ? undefined : this.sourceOf(line - 1);
    return { message, first: before?.file !== source.file || before.line !== source.line };
  }

  /**
   * The failing instruction and the message: the verifier stops at its error, so both are in the
   * log's tail from the last instruction on, and only that tail is parsed (the rest of a long log
   * never goes through a regular expression here).
   */
  private failure(rejected: boolean, lastInsnLine: number): { failingLine: number | null; errorLines: Set<number> } {
    const errorLines = new Set<number>();
    if (!rejected) return { failingLine: null, errorLines };
    const tailStart = Math.max(0, lastInsnLine);
    const tail = parseVerifierLog(this.text.slice(this.starts[tailStart]));
    const message = new Set(tail.message);
    for (let line = tailStart + 1; line < this.lineCount; line++) {
      if (this.kinds[line] === TEXT && message.has(this.lineText(line).trimEnd())) errorLines.add(line);
    }
    if (tail.failingInsn === null || lastInsnLine < 0) return { failingLine: null, errorLines };
    // Usually the last instruction; a message naming another ("at insn 12") means the last of those.
    const prefix = `${tail.failingInsn}: `;
    for (let line = lastInsnLine; line >= 0; line--) {
      if (this.kinds[line] === INSN && this.text.startsWith(prefix, this.starts[line])) return { failingLine: line, errorLines };
    }
    return { failingLine: null, errorLines };
  }

  /** Without a walk, the annotations' own `@ file:line` place the log (6.12+; 6.1's have none). */
  private annotatedSources(resolveFile: (name: string) => string | undefined): LogSourceRun[] {
    const runs: LogSourceRun[] = [];
    for (let line = 0; line < this.lineCount; line++) {
      if (this.kinds[line] !== ANNOTATION) continue;
      const m = ANNOTATION_LINE.exec(this.lineText(line));
      if (!m || m[2] === undefined || m[3] === '0') continue;
      const file = resolveFile(m[2]);
      const last = runs[runs.length - 1];
      if (file !== undefined && !(last && last.file === file && last.line === Number(m[3]))) runs.push({ file, line: Number(m[3]), fromLogLine: line });
    }
    return runs;
  }
}

/** `bigger` with the values of `array` copied to its start. */
function grown<T extends Uint32Array | Uint8Array>(array: T, bigger: T): T {
  bigger.set(array);
  return bigger;
}

/** The file name of a local path, either separator. */
function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** Where a search stands: how many rows match, which one is current (0-based, -1 for none) and its position. */
export interface SearchState {
  query: string;
  count: number;
  current: number;
  position: number | null;
}

/**
 * What the view shows of a log: every line, or with a register filter only the lines that mention
 * it under their annotation headers; rows are addressed by position in what is shown. Search finds
 * the shown rows that contain the query and steps through them.
 */
export class LogView {
  private register: RegisterName | null = null;
  /** Shown lines by position; null when every line is shown. */
  private shown: Uint32Array | null = null;
  private query = '';
  /** Positions of the shown rows that match the query, ascending. */
  private matches: Uint32Array = new Uint32Array(0);
  private current = -1;

  constructor(readonly log: IndexedLog) {}

  get total(): number {
    return this.shown ? this.shown.length : this.log.lineCount;
  }

  get filter(): RegisterName | null {
    return this.register;
  }

  lineAt(position: number): number {
    return this.shown ? this.shown[position] : position;
  }

  /** The position of a line, or of the first shown line after it (the last row when none is). */
  positionOf(line: number): number {
    if (!this.shown) return Math.min(line, this.total - 1);
    const position = lowerBound(this.shown, line);
    return Math.min(position, this.shown.length - 1);
  }

  /** Shows only the lines that mention `register` (null: every line), each under its annotation header; the search follows. */
  setFilter(register: RegisterName | null): void {
    this.register = register;
    this.shown = register === null ? null : this.linesWith(register);
    this.search(this.query, 0);
  }

  /** Finds the shown rows containing `query` (case-insensitive); the current match is the first at or after `fromPosition`. */
  search(query: string, fromPosition: number): SearchState {
    this.query = query;
    const pattern = searchPattern(query);
    if (!pattern) {
      this.matches = new Uint32Array(0);
      this.current = -1;
      return this.searchState();
    }
    const lines = this.log.linesMatching(pattern);
    this.matches = this.shown ? intersectPositions(lines, this.shown) : lines;
    this.current = this.matches.length === 0 ? -1 : lowerBound(this.matches, fromPosition) % this.matches.length;
    return this.searchState();
  }

  /** Moves to the next (1) or previous (-1) match, round the end. */
  step(direction: 1 | -1): SearchState {
    const count = this.matches.length;
    if (count > 0) this.current = this.current < 0 ? 0 : (this.current + direction + count) % count;
    return this.searchState();
  }

  searchState(): SearchState {
    return { query: this.query, count: this.matches.length, current: this.current, position: this.current < 0 ? null : this.matches[this.current] };
  }

  /** The rows at positions [from, from + count) of what is shown. */
  rows(from: number, count: number): LogRow[] {
    const rows: LogRow[] = [];
    const end = Math.min(this.total, from + count);
    let match = lowerBound(this.matches, from);
    for (let position = Math.max(0, from); position < end; position++) {
      const row = this.log.row(this.lineAt(position));
      while (match < this.matches.length && this.matches[match] < position) match++;
      if (this.matches[match] === position) row.match = true;
      rows.push(row);
    }
    return rows;
  }

  /** Lines mentioning the register, each preceded by the annotation it comes under (once). */
  private linesWith(register: RegisterName): Uint32Array {
    const mentions = this.log.linesMatching(registerPattern(register));
    const shown = new Uint32Array(this.log.lineCount);
    let count = 0;
    let header = -1;
    let headerShown = false;
    let next = 0;
    for (let line = 0; line < this.log.lineCount && next < mentions.length; line++) {
      const kind = this.log.kindOf(line);
      if (kind === 'annotation') {
        header = line;
        headerShown = false;
        if (mentions[next] === line) next++; // the source text mentioning it is no reason to show a header
        continue;
      }
      if (mentions[next] !== line) continue;
      next++;
      if (header >= 0 && !headerShown) {
        shown[count++] = header;
        headerShown = true;
      }
      shown[count++] = line;
    }
    return shown.slice(0, count);
  }
}

/** The first index whose value is >= `value` (the length when none is). */
function lowerBound(sorted: Uint32Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Positions in `shown` of the `lines` it holds (both ascending). */
function intersectPositions(lines: Uint32Array, shown: Uint32Array): Uint32Array {
  const positions = new Uint32Array(Math.min(lines.length, shown.length));
  let count = 0;
  let i = 0;
  for (let position = 0; position < shown.length && i < lines.length; position++) {
    while (i < lines.length && lines[i] < shown[position]) i++;
    if (lines[i] === shown[position]) positions[count++] = position;
  }
  return positions.slice(0, count);
}

/** Text cut to `max` characters (and an ellipsis): what the webview accepts. */
export function clip(text: string, max = MAX_CELL): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The figures above the log: the verdict and what the verifier counted. */
export function programStats(
  program: Pick<ProgramReport, 'ok' | 'error' | 'insnsProcessed' | 'totalStates' | 'peakStates' | 'verificationTimeUs' | 'stackDepth'>,
  lineCount: number,
): StatItem[] {
  const number = (n: number | null): string => (n === null ? '?' : n.toLocaleString('en-US'));
  return [
    program.ok
      ? { label: 'verdict', value: 'accepted', title: 'The verifier accepted the program' }
      : { label: 'verdict', value: 'rejected', title: clip(program.error ?? 'The verifier rejected the program', 2000), warn: true },
    { label: 'insns processed', value: number(program.insnsProcessed), title: 'Instructions the verifier processed, over every path it explored (limit 1,000,000)' },
    { label: 'states', value: `${number(program.totalStates)} / ${number(program.peakStates)}`, title: 'Verifier states: total / peak' },
    { label: 'time', value: program.verificationTimeUs === null ? '?' : `${number(program.verificationTimeUs)} µs`, title: 'Verification time the kernel measured' },
    { label: 'stack', value: program.stackDepth === null ? '?' : `${number(program.stackDepth)} B`, title: 'Deepest stack the verifier found' },
    { label: 'log lines', value: number(lineCount), title: 'Lines of the log: the verifier’s, then libbpf’s messages' },
  ];
}

/** What the view shows above a log: whose log it is and the verifier's figures. */
export interface LogHeading {
  title: string;
  subtitle: string;
  stats: StatItem[];
  /** Said above the log (no log at all, an earlier check's log). */
  notice: string | null;
}

/**
 * The extension's side of the conversation with the webview, but for what needs the editor
 * (revealing a source line, opening the text): the log to show, its rows on request, the filter
 * and the search. Every new log, filter or search is a new generation, so rows asked for an older
 * one are not answered.
 */
export class LogViewSession {
  private generation = 0;

  constructor(
    private view: LogView,
    private heading: LogHeading,
  ) {}

  get log(): IndexedLog {
    return this.view.log;
  }

  /** The answer to a message from the webview; undefined when there is none to give. */
  answer(message: FromWebview): ToWebview | undefined {
    switch (message.type) {
      case 'ready':
        return this.logMessage(this.failingPosition(), null);
      case 'rows':
        return message.generation === this.generation ? { type: 'rows', generation: this.generation, from: message.from, rows: this.view.rows(message.from, message.count) } : undefined;
      case 'filter':
        this.view.setFilter(message.register);
        return this.logMessage(this.shownPosition(message.line), message.register !== null && this.view.total === 0 ? `No line mentions ${message.register}.` : null);
      case 'search':
        // Rows carry their match mark: rows of the last search are of another generation.
        return { type: 'search', generation: ++this.generation, search: this.view.search(message.query, message.from) };
      case 'step':
        return { type: 'search', generation: this.generation, search: this.view.step(message.direction) };
      default:
        return undefined;
    }
  }

  /** Shows another log (a newer check's) as the last one was shown: the same filter and search. */
  replace(log: IndexedLog, heading: LogHeading): ToWebview {
    const { filter } = this.view;
    const { query } = this.view.searchState();
    this.view = new LogView(log);
    this.heading = heading;
    if (filter !== null) this.view.setFilter(filter);
    this.view.search(query, 0);
    return this.logMessage(this.failingPosition(), null);
  }

  private logMessage(focus: number | null, notice: string | null): ToWebview {
    const failing = this.log.failingLine;
    const position = this.failingPosition();
    return {
      type: 'log',
      generation: ++this.generation,
      ...this.heading,
      total: this.view.total,
      lineCount: this.log.lineCount,
      filter: this.view.filter,
      // Only when the filter shows it.
      failing: position !== null && this.view.lineAt(position) === failing ? position : null,
      focus,
      search: this.view.searchState(),
      notice: notice ?? this.heading.notice,
    };
  }

  /** Where the failing instruction is, or the next row shown after it. */
  private failingPosition(): number | null {
    const failing = this.log.failingLine;
    return failing === null ? null : this.shownPosition(failing);
  }

  /** The position of a line, or of the next line shown; null when nothing is shown. */
  private shownPosition(line: number): number | null {
    return this.view.total === 0 ? null : this.view.positionOf(line);
  }
}
