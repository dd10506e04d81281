/**
 * Decoded event records as rows of a table, shared by the extension (which keeps the rows and
 * exports them) and the Events webview (which filters and shows them): nested fields flattened to
 * `a.b` columns, the filter language typed above the table (`pid=4242 comm~bash`), a bounded ring
 * of the newest rows, and CSV/JSON export. Imports neither vscode nor the DOM.
 */

import { cutText } from './targetText';

/** Rows the Events view keeps per stream. */
export const EVENTS_MAX_ROWS = 5000;
/** Characters of one value the view holds (and exports): 5,000 rows of one such column stay under 100 MB. */
export const EVENTS_MAX_CELL = 8192;

/** One event as shown: `cells[i]` is the value of `columns[i]` of its stream ('' when absent). */
export interface EventRow {
  /** Position of the record in its stream since the run started (1-based), so gaps show drops or clears. */
  seq: number;
  /** Client wall-clock time (ms since the epoch) the record's batch arrived. */
  time: number;
  cells: string[];
}

/** What the table needs of a decoded value: the decoder's types, without importing them into the webview. */
export type RecordValue = number | bigint | boolean | string | { toJSON(): string } | RecordValue[] | { [field: string]: RecordValue };

/** Arrays of scalars up to this length stay in one cell (`[1, 2, 3]`); longer or nested ones get a column per element. */
const INLINE_ARRAY_LIMIT = 16;

/**
 * Flattens a decoded record into `column → text`: struct members as `a.b`, array elements as
 * `a[0]` (short scalar arrays in one cell), hex as `0x…`; a record that is not a struct (hex
 * because its type is unknown, or a scalar) becomes the single column `value`.
 */
export function flattenRecord(record: RecordValue): Map<string, string> {
  const out = new Map<string, string>();
  if (isFields(record)) flattenInto(record, '', out);
  else flattenValue(record, 'value', out);
  return out;
}

function flattenInto(fields: { [field: string]: RecordValue }, prefix: string, out: Map<string, string>): void {
  for (const name of Object.keys(fields)) flattenValue(fields[name], prefix === '' ? name : `${prefix}.${name}`, out);
}

function flattenValue(value: RecordValue, column: string, out: Map<string, string>): void {
  if (Array.isArray(value)) {
    if (value.length <= INLINE_ARRAY_LIMIT && value.every((v) => !Array.isArray(v) && !isFields(v))) {
      out.set(column, `[${value.map((v) => scalarText(v)).join(', ')}]`);
      return;
    }
    value.forEach((v, i) => flattenValue(v, `${column}[${i}]`, out));
    return;
  }
  if (isFields(value)) {
    flattenInto(value, column, out);
    return;
  }
  out.set(column, scalarText(value));
}

function isFields(value: RecordValue): value is { [field: string]: RecordValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

function scalarText(value: RecordValue): string {
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') return (value as { toJSON(): string }).toJSON();
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// The filter: space-separated terms, all of which must hold.
//   pid=4242   field equals (numbers compare as numbers: pid=0x10a2 matches 4258)
//   pid!=1     field differs
//   comm~bash  field contains, case-insensitive
//   cpu>=2     numeric comparisons: > < >= <=
//   bash       any field contains, case-insensitive
// Values with spaces are quoted: comm="kworker/0:1 x".

export type FilterOperator = '=' | '!=' | '~' | '>' | '<' | '>=' | '<=';

export interface FilterTerm {
  /** Column name; undefined for a bare word (any column). */
  field?: string;
  operator: FilterOperator;
  value: string;
}

export type ParsedFilter = { ok: true; terms: FilterTerm[] } | { ok: false; error: string };

const TERM = /^([A-Za-z_][\w.[\]]*)(!=|>=|<=|=|~|>|<)(.*)$/;

export function parseFilter(text: string): ParsedFilter {
  const words = splitWords(text);
  if (!words.ok) return words;
  const terms: FilterTerm[] = [];
  for (const word of words.words) {
    const m = word.quoted ? null : TERM.exec(word.text);
    if (!m) {
      terms.push({ operator: '~', value: word.text });
      continue;
    }
    const [, field, operator, rawValue] = m;
    const value = unquote(rawValue);
    if (value === undefined) return { ok: false, error: `${word.text}: the closing quote is missing.` };
    if ((operator === '>' || operator === '<' || operator === '>=' || operator === '<=') && toNumber(value) === undefined) {
      return { ok: false, error: `${field}${operator}${value}: ${operator} compares numbers, and '${value}' is not a number.` };
    }
    terms.push({ field, operator: operator as FilterOperator, value });
  }
  return { ok: true, terms };
}

/** Fields a filter names that are not columns of the table: a typo the user should see. */
export function unknownFields(terms: FilterTerm[], columns: readonly string[]): string[] {
  const known = new Set([...columns, ...META_COLUMNS]);
  return [...new Set(terms.flatMap((t) => (t.field !== undefined && !known.has(t.field) ? [t.field] : [])))];
}

/** Columns every row has besides its record's fields. */
export const META_COLUMNS = ['seq', 'time'] as const;

/** Builds a predicate over rows of a stream with these columns. */
export function rowMatcher(terms: FilterTerm[], columns: readonly string[]): (row: EventRow) => boolean {
  if (terms.length === 0) return () => true;
  const index = new Map(columns.map((c, i) => [c, i]));
  const tests = terms.map((term) => {
    const compare = valueTest(term);
    if (term.field === undefined) return (row: EventRow) => row.cells.some(compare) || compare(String(row.seq));
    if (term.field === 'seq') return (row: EventRow) => compare(String(row.seq));
    if (term.field === 'time') return (row: EventRow) => compare(formatTime(row.time));
    const i = index.get(term.field);
    if (i === undefined) return () => false;
    return (row: EventRow) => compare(row.cells[i] ?? '');
  });
  return (row) => tests.every((t) => t(row));
}

function valueTest(term: FilterTerm): (cell: string) => boolean {
  const wanted = term.value;
  const wantedNumber = toNumber(wanted);
  switch (term.operator) {
    case '~': {
      const lower = wanted.toLowerCase();
      return (cell) => cell.toLowerCase().includes(lower);
    }
    case '=':
      return (cell) => cell === wanted || (wantedNumber !== undefined && toNumber(cell) === wantedNumber);
    case '!=':
      return (cell) => !(cell === wanted || (wantedNumber !== undefined && toNumber(cell) === wantedNumber));
    default: {
      const op = term.operator;
      const bound = wantedNumber!;
      return (cell) => {
        const n = toNumber(cell);
        if (n === undefined) return false;
        return op === '>' ? n > bound : op === '<' ? n < bound : op === '>=' ? n >= bound : n <= bound;
      };
    }
  }
}

/** Decimal or 0x hex integers and decimals; 64-bit values beyond 2^53 compare approximately. */
function toNumber(text: string): number | undefined {
  if (!/^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?)$/.test(text)) return undefined;
  return text.startsWith('-') ? -Number(text.slice(1)) : Number(text);
}

function splitWords(text: string): { ok: true; words: { text: string; quoted: boolean }[] } | { ok: false; error: string } {
  const words: { text: string; quoted: boolean }[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    let word = '';
    let quoted = false;
    let inQuote = false;
    for (; i < text.length && (inQuote || !/\s/.test(text[i])); i++) {
      if (text[i] === '"') {
        if (word === '') quoted = true;
        inQuote = !inQuote;
      }
      word += text[i];
    }
    if (inQuote) return { ok: false, error: `${word}: the closing quote is missing.` };
    words.push({ text: quoted ? word.slice(1, -1) : word, quoted });
  }
  return { ok: true, words };
}

function unquote(value: string): string | undefined {
  if (!value.startsWith('"')) return value;
  return value.length >= 2 && value.endsWith('"') ? value.slice(1, -1) : undefined;
}

// ---------------------------------------------------------------------------------------------

/** The newest `capacity` rows, oldest first; pushing beyond it forgets the oldest. */
export class RowRing {
  private rows: EventRow[] = [];
  private start = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.rows.length;
  }

  push(row: EventRow): void {
    if (this.rows.length < this.capacity) {
      this.rows.push(row);
      return;
    }
    this.rows[this.start] = row;
    this.start = (this.start + 1) % this.capacity;
  }

  clear(): void {
    this.rows = [];
    this.start = 0;
  }

  toArray(): EventRow[] {
    return this.start === 0 ? this.rows.slice() : [...this.rows.slice(this.start), ...this.rows.slice(0, this.start)];
  }
}

/**
 * The rows of one stream as the Events view keeps them: columns in the order records bring
 * them, every record numbered (so a gap in `seq` shows what was not kept), only the newest
 * `capacity` records of a batch flattened, values cut to `cellChars` (saying their length).
 */
export class RowTable {
  readonly ring: RowRing;
  readonly columns: string[] = [];
  private readonly columnIndex = new Map<string, number>();
  /** The number of the last record taken (kept or not). */
  seq = 0;

  constructor(
    capacity = EVENTS_MAX_ROWS,
    private readonly cellChars = EVENTS_MAX_CELL,
  ) {
    this.ring = new RowRing(capacity);
  }

  /** Takes a batch's records; returns the rows made, and whether a record brought a new column. */
  add(records: readonly RecordValue[], receivedAt: number): { rows: EventRow[]; newColumns: boolean } {
    const first = Math.max(0, records.length - this.ring.capacity);
    this.seq += first;
    const rows: EventRow[] = [];
    let newColumns = false;
    for (let i = first; i < records.length; i++) {
      const flat = flattenRecord(records[i]!);
      for (const column of flat.keys()) {
        if (!this.columnIndex.has(column)) {
          this.columnIndex.set(column, this.columns.length);
          this.columns.push(column);
          newColumns = true;
        }
      }
      const row: EventRow = { seq: ++this.seq, time: receivedAt, cells: this.columns.map((c) => cutText(flat.get(c) ?? '', this.cellChars)) };
      this.ring.push(row);
      rows.push(row);
    }
    return { rows, newColumns };
  }

  /** Counts records that are not shown (the view is paused). */
  skip(count: number): void {
    this.seq += count;
  }
}

/** 12:34:56.789 (local time), the precision events are stamped with on arrival. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** RFC 4180: a field with a comma, quote, CR or LF (or edge spaces) is quoted, its quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV with a header line; `time` as an ISO 8601 timestamp so spreadsheets and scripts read it. */
export function rowsToCsv(columns: readonly string[], rows: readonly EventRow[]): string {
  const lines = [['seq', 'time', ...columns].map(csvField).join(',')];
  for (const row of rows) lines.push([String(row.seq), new Date(row.time).toISOString(), ...columns.map((_, i) => row.cells[i] ?? '')].map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** JSON: one object per row with the flattened column names as keys. */
export function rowsToJson(columns: readonly string[], rows: readonly EventRow[]): string {
  const objects = rows.map((row) => {
    const object: Record<string, string | number> = { seq: row.seq, time: new Date(row.time).toISOString() };
    columns.forEach((c, i) => {
      object[c] = row.cells[i] ?? '';
    });
    return object;
  });
  return `${JSON.stringify(objects, null, 2)}\n`;
}
