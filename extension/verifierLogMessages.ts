/**
 * The messages between the verifier log view (extension side, verifierLogView.ts) and its webview
 * (webview/verifierLog.ts), and their validation: each side checks every message it receives, as
 * a webview's messages cross a trust boundary. The extension holds the log; the webview asks for
 * the rows it is about to show and gets only those. Imports neither vscode nor the DOM.
 */
import type { LogRow, RowKind, SearchState } from './verifierLogRows';

export const REGISTERS = ['R0', 'R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7', 'R8', 'R9', 'R10'] as const;
export type RegisterName = (typeof REGISTERS)[number];

export function isRegisterName(value: unknown): value is RegisterName {
  return typeof value === 'string' && (REGISTERS as readonly string[]).includes(value);
}

/** A figure above the log: "insns processed 1,234". */
export interface StatItem {
  label: string;
  value: string;
  title: string;
  warn?: boolean;
}

/** Rows the webview may ask for at once (a few screens). */
export const MAX_WINDOW = 600;
/** Longest text of one cell: the extension cuts longer lines (a state dump can run to kilobytes). */
export const MAX_CELL = 8192;
const MAX_QUERY = 256;
const MAX_TEXT = 4096;

export type ToWebview =
  /**
   * A log to show (again, after a new check or another filter): `generation` tells its rows from
   * older ones still in flight; `total` rows are shown; `focus` is the position to bring into view.
   */
  | {
      type: 'log';
      generation: number;
      title: string;
      subtitle: string;
      stats: StatItem[];
      total: number;
      lineCount: number;
      filter: RegisterName | null;
      failing: number | null;
      focus: number | null;
      search: SearchState;
      notice: string | null;
    }
  | { type: 'rows'; generation: number; from: number; rows: LogRow[] }
  | { type: 'search'; generation: number; search: SearchState }
  | { type: 'notice'; text: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'rows'; generation: number; from: number; count: number }
  /** `line`: the log line to keep in view across the change. */
  | { type: 'filter'; register: RegisterName | null; line: number }
  | { type: 'search'; query: string; from: number }
  | { type: 'step'; direction: 1 | -1 }
  | { type: 'reveal'; line: number }
  | { type: 'openText' };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isText(value: unknown, max = MAX_TEXT): value is string {
  return typeof value === 'string' && value.length <= max;
}

/** A message from the webview, or undefined when it is not one of ours (it is then ignored). */
export function parseFromWebview(message: unknown): FromWebview | undefined {
  if (!isRecord(message)) return undefined;
  switch (message.type) {
    case 'ready':
    case 'openText':
      return { type: message.type };
    case 'rows':
      return isIndex(message.generation) && isIndex(message.from) && isIndex(message.count) && message.count <= MAX_WINDOW
        ? { type: 'rows', generation: message.generation, from: message.from, count: message.count }
        : undefined;
    case 'filter':
      return (message.register === null || isRegisterName(message.register)) && isIndex(message.line)
        ? { type: 'filter', register: message.register, line: message.line }
        : undefined;
    case 'search':
      return isText(message.query, MAX_QUERY) && isIndex(message.from) ? { type: 'search', query: message.query, from: message.from } : undefined;
    case 'step':
      return message.direction === 1 || message.direction === -1 ? { type: 'step', direction: message.direction } : undefined;
    case 'reveal':
      return isIndex(message.line) ? { type: 'reveal', line: message.line } : undefined;
    default:
      return undefined;
  }
}

const ROW_KINDS: ReadonlySet<string> = new Set<RowKind>(['text', 'blank', 'annotation', 'insn', 'state', 'branch', 'stats']);
const MARKS: ReadonlySet<string> = new Set(['failing', 'error', 'causal']);

function isOptional(value: unknown, test: (v: unknown) => boolean): boolean {
  return value === undefined || test(value);
}

function isRow(value: unknown): value is LogRow {
  return (
    isRecord(value) &&
    isIndex(value.line) &&
    typeof value.kind === 'string' &&
    ROW_KINDS.has(value.kind) &&
    isText(value.text, MAX_CELL + 1) &&
    isOptional(value.insn, (v) => isText(v, 16)) &&
    isOptional(value.state, (v) => isText(v, MAX_CELL + 1)) &&
    isOptional(value.where, (v) => isText(v)) &&
    isOptional(value.mark, (v) => typeof v === 'string' && MARKS.has(v)) &&
    isOptional(value.note, (v) => isText(v)) &&
    isOptional(value.match, (v) => v === true)
  );
}

function isSearch(value: unknown): value is SearchState {
  return (
    isRecord(value) &&
    isText(value.query, MAX_QUERY) &&
    isIndex(value.count) &&
    typeof value.current === 'number' &&
    Number.isSafeInteger(value.current) &&
    value.current >= -1 &&
    (value.position === null || isIndex(value.position))
  );
}

function isStat(value: unknown): value is StatItem {
  return isRecord(value) && isText(value.label) && isText(value.value) && isText(value.title) && isOptional(value.warn, (v) => typeof v === 'boolean');
}

/** A message from the extension, or undefined when it is malformed. */
export function parseToWebview(message: unknown): ToWebview | undefined {
  if (!isRecord(message)) return undefined;
  switch (message.type) {
    case 'log':
      return isIndex(message.generation) &&
        isText(message.title) &&
        isText(message.subtitle) &&
        Array.isArray(message.stats) &&
        message.stats.every(isStat) &&
        isIndex(message.total) &&
        isIndex(message.lineCount) &&
        (message.filter === null || isRegisterName(message.filter)) &&
        (message.failing === null || isIndex(message.failing)) &&
        (message.focus === null || isIndex(message.focus)) &&
        isSearch(message.search) &&
        (message.notice === null || isText(message.notice))
        ? (message as ToWebview)
        : undefined;
    case 'rows':
      return isIndex(message.generation) && isIndex(message.from) && Array.isArray(message.rows) && message.rows.length <= MAX_WINDOW && message.rows.every(isRow)
        ? (message as ToWebview)
        : undefined;
    case 'search':
      return isIndex(message.generation) && isSearch(message.search) ? (message as ToWebview) : undefined;
    case 'notice':
      return isText(message.text) ? (message as ToWebview) : undefined;
    default:
      return undefined;
  }
}
