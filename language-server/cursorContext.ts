// What surrounds a cursor in eBPF C source: whether it sits in code, a string, a character literal,
// a comment or an #include path, and which calls and brackets are still open there.
// What is comment, literal or directive comes from the one scan of C source (cSource.ts); on its
// masked code this follows brackets from the start of the document to the cursor — a tokenizer,
// not a C parser, which is what completion, hover and signature help need. Every request asks
// this, several times, of a document that may have thousands of lines: per text, the scan is kept
// and the bracket walk leaves checkpoints of its state along the way, so the next question about
// the same text resumes from the nearest checkpoint before its offset instead of from offset 0.
import { maskCSource, type CSourceDirective } from '../remote-agent/client/cSource';

export type Region = 'code' | 'string' | 'char' | 'line-comment' | 'block-comment' | 'include-path';

/** A bracket opened before the cursor and not yet closed. */
export interface OpenBracket {
  bracket: '(' | '[' | '{';
  /** The identifier right before a `(`, e.g. `bpf_map_lookup_elem` or `sizeof`; null otherwise. */
  callee: string | null;
  /** Top-level commas seen in this bracket so far: the index of the argument under the cursor. */
  commas: number;
}

export interface CursorContext {
  region: Region;
  /** Innermost last. */
  openBrackets: OpenBracket[];
}

const CLOSING: Record<string, '(' | '[' | '{'> = { ')': '(', ']': '[', '}': '{' };

function isIdentifierStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

export function isIdentifierChar(c: string): boolean {
  return isIdentifierStart(c) || (c >= '0' && c <= '9');
}

/**
 * Where a cursor is not in code: after the first character of a comment, literal or #include, up
 * to and including the offset of what closes it (the closing quote, the `*` that ends a block
 * comment, the newline), since a cursor just before the closing delimiter is still inside.
 */
interface NonCodeSpan {
  from: number;
  to: number;
  region: Exclude<Region, 'code'>;
}

/** Everything the bracket walk carries from one character to the next: enough to resume it there. */
interface WalkState {
  /** The next character to read. */
  i: number;
  open: OpenBracket[];
  lastIdentifier: string | null;
}

/** What is kept per text: its masked code, where it is not code, and the walk's checkpoints (ascending by `i`). */
interface ScannedText {
  text: string;
  code: string;
  /** #include lines, ascending: they win over the literals and comments they hold. */
  includePaths: NonCodeSpan[];
  /** Comments and literals, ascending and disjoint. */
  commentsAndLiterals: NonCodeSpan[];
  /** #include directives by the offset of their `#`: the walk steps over them whole. */
  includes: Map<number, CSourceDirective>;
  checkpoints: WalkState[];
}

/** Characters between checkpoints: resuming costs at most this much walking. */
const CHECKPOINT_STRIDE = 2048;
/** Texts kept: the open documents a client asks about in turn. */
const SCANNED_TEXTS = 8;

/** The most recently used text first. */
const scannedTexts: ScannedText[] = [];

function copyState(state: WalkState): WalkState {
  return { ...state, open: state.open.map((b) => ({ ...b })) };
}

function scannedTextOf(text: string): ScannedText {
  const at = scannedTexts.findIndex((c) => c.text === text);
  const entry = at === -1 ? scan(text) : scannedTexts.splice(at, 1)[0];
  scannedTexts.unshift(entry);
  scannedTexts.length = Math.min(scannedTexts.length, SCANNED_TEXTS);
  return entry;
}

function scan(text: string): ScannedText {
  const masked = maskCSource(text);
  const includeDirectives = masked.directives.filter((d) => d.name === 'include');
  const commentsAndLiterals: NonCodeSpan[] = [
    ...masked.comments.map(({ start, text: comment }): NonCodeSpan => {
      const block = comment.startsWith('/*');
      const closed = block && comment.length >= 4 && comment.endsWith('*/');
      return { from: start + 1, to: start + comment.length - (closed ? 2 : 0), region: block ? 'block-comment' : 'line-comment' };
    }),
    ...masked.literals.map(({ start, end, quote }): NonCodeSpan => ({ from: start + 1, to: end, region: quote === '"' ? 'string' : 'char' })),
  ].sort((a, b) => a.from - b.from);
  return {
    text,
    code: masked.code,
    includePaths: includeDirectives.map((d) => ({ from: d.start + 1, to: d.end, region: 'include-path' })),
    commentsAndLiterals,
    includes: new Map(includeDirectives.map((d) => [d.start, d])),
    checkpoints: [{ i: 0, open: [], lastIdentifier: null }],
  };
}

function regionAt(scanned: ScannedText, offset: number): Region {
  return (spanAt(scanned.includePaths, offset) ?? spanAt(scanned.commentsAndLiterals, offset))?.region ?? 'code';
}

/** The span of ascending, disjoint `spans` that `offset` is in. */
function spanAt(spans: NonCodeSpan[], offset: number): NonCodeSpan | undefined {
  let low = 0;
  let high = spans.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const span = spans[middle];
    if (offset < span.from) high = middle - 1;
    else if (offset > span.to) low = middle + 1;
    else return span;
  }
  return undefined;
}

/** The last checkpoint at or before `offset` (the first one is at 0). */
function checkpointBefore(states: WalkState[], offset: number): WalkState {
  let low = 0;
  let high = states.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (states[middle].i <= offset) low = middle;
    else high = middle - 1;
  }
  return states[low];
}

export function scanCursorContext(text: string, offset: number): CursorContext {
  const scanned = scannedTextOf(text);
  const state = copyState(checkpointBefore(scanned.checkpoints, offset));
  walk(scanned, state, offset);
  return { region: regionAt(scanned, offset), openBrackets: state.open };
}

/**
 * Walks the masked code from `state.i` until `offset`, following brackets. The state at each step
 * depends only on the text before it, never on `offset`, so a checkpoint is valid for every later
 * question about the same text.
 */
function walk(scanned: ScannedText, state: WalkState, offset: number): void {
  const { code, includes, checkpoints } = scanned;
  const open = state.open;
  let { i, lastIdentifier } = state;
  let nextCheckpoint = checkpoints.at(-1)!.i + CHECKPOINT_STRIDE;

  while (i < offset) {
    if (i >= nextCheckpoint) {
      checkpoints.push(copyState({ i, open, lastIdentifier }));
      nextCheckpoint = i + CHECKPOINT_STRIDE;
    }
    const c = code[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    const include = c === '#' ? includes.get(i) : undefined;
    if (include) {
      // A header path is not code: its brackets and names are none of the program's.
      i = include.end;
    } else if (isIdentifierStart(c)) {
      const start = i;
      while (i < code.length && isIdentifierChar(code[i])) i++;
      lastIdentifier = code.slice(start, i);
      continue;
    } else if (c >= '0' && c <= '9') {
      // A number, with its suffixes and hex digits (0x1fULL): never a callee.
      while (i < code.length && (isIdentifierChar(code[i]) || code[i] === '.')) i++;
    } else {
      if (c === '(' || c === '[' || c === '{') {
        open.push({ bracket: c, callee: c === '(' ? lastIdentifier : null, commas: 0 });
      } else if (c in CLOSING) {
        const match = open.map((b) => b.bracket).lastIndexOf(CLOSING[c]);
        if (match !== -1) open.length = match;
      } else if (c === ',') {
        const innermost = open.at(-1);
        if (innermost) innermost.commas++;
      } else if (c === ';') {
        // A statement ended: parentheses left open before it were never closed (except a for header's).
        while (open.length > 0 && open.at(-1)!.bracket === '(' && open.at(-1)!.callee !== 'for') open.pop();
      }
      i++;
    }
    lastIdentifier = null;
  }
  state.i = i;
  state.lastIdentifier = lastIdentifier;
}

/** The identifier the cursor is in or right after, as offsets into `text`. */
export function identifierAt(text: string, offset: number): { start: number; end: number; name: string } | undefined {
  let start = offset;
  while (start > 0 && isIdentifierChar(text[start - 1])) start--;
  let end = offset;
  while (end < text.length && isIdentifierChar(text[end])) end++;
  if (start === end || !isIdentifierStart(text[start])) return undefined;
  return { start, end, name: text.slice(start, end) };
}
