/**
 * The messages between the Events view (extension side, eventsView.ts) and its webview
 * (webview/events.ts), and their validation: each side checks every message it receives before
 * using it, as a webview's messages cross a trust boundary. Imports neither vscode nor the DOM.
 */
import type { EventRow } from './eventRows';

/** A stream as listed above the table: one event map of one run. */
export interface StreamInfo {
  key: string;
  /** "events · trace_execve (probe.bpf.c) on local". */
  label: string;
  recordType: string;
  received: number;
  sent: number;
  dropped: number;
  /** Records the kernel produced per second, over the last second. */
  rate: number;
  /** Rows held (the newest up to the view's limit). */
  held: number;
  /** Why it stopped, when it did (run detached, stream ended). */
  ended?: string;
  note?: string;
}

export type ToWebview =
  | { type: 'streams'; streams: StreamInfo[]; selected: string | null; paused: boolean; maxRows: number }
  /**
   * `reset`: replace every row (another stream, new columns, cleared); else append. `stream`: the
   * stream's counters with these rows counted, to show together with them. `seq`: numbers the
   * message, for the webview's `drawn`.
   */
  | { type: 'rows'; seq: number; key: string; reset: boolean; columns: string[]; rows: EventRow[]; stream: StreamInfo };

export type FromWebview =
  | { type: 'ready' }
  /**
   * The `rows` message `seq` is drawn. The extension sends the next rows only then, so a webview
   * slower than the stream gets fewer, newer rows instead of a queue of old ones (and old counters).
   */
  | { type: 'drawn'; seq: number }
  | { type: 'select'; key: string }
  | { type: 'pause'; paused: boolean }
  | { type: 'clear' }
  | { type: 'export'; format: 'json' | 'csv'; filter: string };

const MAX_TEXT = 4096;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_TEXT;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A message from the webview, or undefined when it is not one of ours (it is then ignored). */
export function parseFromWebview(message: unknown): FromWebview | undefined {
  if (!isRecord(message)) return undefined;
  switch (message.type) {
    case 'ready':
    case 'clear':
      return { type: message.type };
    case 'drawn':
      return isCount(message.seq) ? { type: 'drawn', seq: message.seq } : undefined;
    case 'select':
      return isShortString(message.key) ? { type: 'select', key: message.key } : undefined;
    case 'pause':
      return typeof message.paused === 'boolean' ? { type: 'pause', paused: message.paused } : undefined;
    case 'export':
      return (message.format === 'json' || message.format === 'csv') && isShortString(message.filter)
        ? { type: 'export', format: message.format, filter: message.filter }
        : undefined;
    default:
      return undefined;
  }
}

function isRow(value: unknown): value is EventRow {
  return isRecord(value) && isCount(value.seq) && isCount(value.time) && Array.isArray(value.cells) && value.cells.every((c) => typeof c === 'string');
}

function isStream(value: unknown): value is StreamInfo {
  return (
    isRecord(value) &&
    isShortString(value.key) &&
    isShortString(value.label) &&
    isShortString(value.recordType) &&
    isCount(value.received) &&
    isCount(value.sent) &&
    isCount(value.dropped) &&
    isCount(value.rate) &&
    isCount(value.held) &&
    (value.ended === undefined || isShortString(value.ended)) &&
    (value.note === undefined || isShortString(value.note))
  );
}

/** A message from the extension, or undefined when it is malformed. */
export function parseToWebview(message: unknown): ToWebview | undefined {
  if (!isRecord(message)) return undefined;
  if (message.type === 'streams') {
    if (!Array.isArray(message.streams) || !message.streams.every(isStream)) return undefined;
    if (!(message.selected === null || isShortString(message.selected)) || typeof message.paused !== 'boolean' || !isCount(message.maxRows)) return undefined;
    return message as ToWebview;
  }
  if (message.type === 'rows') {
    if (!isCount(message.seq) || !isShortString(message.key) || typeof message.reset !== 'boolean') return undefined;
    if (!Array.isArray(message.columns) || !message.columns.every(isShortString)) return undefined;
    if (!Array.isArray(message.rows) || !message.rows.every(isRow)) return undefined;
    if (!isStream(message.stream) || message.stream.key !== message.key) return undefined;
    return message as ToWebview;
  }
  return undefined;
}

/** How long the extension waits for a `drawn` before it takes the message as lost and sends again. */
export const DRAWN_TIMEOUT_MS = 5000;

/**
 * The extension side's pacing of `rows` messages: at most one is on its way to the webview or
 * being drawn. Posting without it queues messages between the extension host and a busy webview
 * without bound, each carrying counters older than the last (a flood once showed counters half a
 * minute late). A `drawn` that never comes (the webview reloaded, hidden) stops the pacing only
 * until `forget` or DRAWN_TIMEOUT_MS.
 */
export class RowsPacing {
  private awaiting: { seq: number; since: number } | undefined;
  private lastSeq = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether a `rows` message may be posted now. */
  mayPost(): boolean {
    return this.awaiting === undefined || this.now() - this.awaiting.since >= DRAWN_TIMEOUT_MS;
  }

  /** The `seq` of a `rows` message being posted now. */
  posting(): number {
    this.lastSeq++;
    this.awaiting = { seq: this.lastSeq, since: this.now() };
    return this.lastSeq;
  }

  /** The webview drew message `seq` (an older one's `drawn` changes nothing). */
  drawn(seq: number): void {
    if (this.awaiting?.seq === seq) this.awaiting = undefined;
  }

  /** The webview started again or was shown again: what was in flight will not be answered. */
  forget(): void {
    this.awaiting = undefined;
  }
}
