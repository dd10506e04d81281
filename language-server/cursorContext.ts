// What surrounds a cursor in eBPF C source: whether it sits in code, a string, a character literal,
// a comment or an #include path, and which calls and brackets are still open there.
// A forward scan from the start of the document to the cursor — a tokenizer, not a C parser: it
// knows comments, literals and brackets, which is what completion, hover and signature help need.
// Every request asks this, several times, of a document that may have thousands of lines: the scan
// leaves checkpoints of its state along the way, per text, so the next question about the same text
// resumes from the nearest checkpoint before its offset instead of from offset 0.

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

/** Everything the scan carries from one character to the next: enough to resume it there. */
interface ScanState {
  /** The next character to read. */
  i: number;
  region: Region;
  open: OpenBracket[];
  lastIdentifier: string | null;
  atLineStart: boolean;
}

/** Characters between checkpoints: resuming costs at most this much scanning. */
const CHECKPOINT_STRIDE = 2048;
/** Texts whose checkpoints are kept: the open documents a client asks about in turn. */
const CHECKPOINTED_TEXTS = 8;

/** Per text, states the scan passed through, ascending by `i`; the most recently used text first. */
const checkpointsByText: { text: string; states: ScanState[] }[] = [];

function copyState(state: ScanState): ScanState {
  return { ...state, open: state.open.map((b) => ({ ...b })) };
}

function checkpointsOf(text: string): ScanState[] {
  const at = checkpointsByText.findIndex((c) => c.text === text);
  const entry = at === -1 ? { text, states: [{ i: 0, region: 'code' as Region, open: [], lastIdentifier: null, atLineStart: true }] } : checkpointsByText.splice(at, 1)[0];
  checkpointsByText.unshift(entry);
  checkpointsByText.length = Math.min(checkpointsByText.length, CHECKPOINTED_TEXTS);
  return entry.states;
}

/** The last checkpoint at or before `offset` (the first one is at 0). */
function checkpointBefore(states: ScanState[], offset: number): ScanState {
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
  const states = checkpointsOf(text);
  const state = copyState(checkpointBefore(states, offset));
  advance(text, state, offset, states);
  return { region: state.region, openBrackets: state.open };
}

/**
 * Scans from `state.i` until `offset`. The state at each step depends only on the text before it,
 * never on `offset`, so a checkpoint is valid for every later question about the same text.
 */
function advance(text: string, state: ScanState, offset: number, checkpoints: ScanState[]): void {
  const open = state.open;
  let { i, region, lastIdentifier, atLineStart } = state;
  let nextCheckpoint = checkpoints.at(-1)!.i + CHECKPOINT_STRIDE;

  while (i < offset) {
    if (i >= nextCheckpoint) {
      checkpoints.push(copyState({ i, region, open, lastIdentifier, atLineStart }));
      nextCheckpoint = i + CHECKPOINT_STRIDE;
    }
    const c = text[i];
    const next = text[i + 1];

    if (region === 'line-comment' || region === 'include-path') {
      if (c === '\n') region = 'code';
      i++;
      continue;
    }
    if (region === 'block-comment') {
      if (c === '*' && next === '/') {
        region = 'code';
        i += 2;
      } else i++;
      continue;
    }
    if (region === 'string' || region === 'char') {
      if (c === '\\') i += 2;
      else {
        // An unterminated literal ends at the line's end, so a half-typed string cannot swallow the file.
        if ((region === 'string' && c === '"') || (region === 'char' && c === "'") || c === '\n') region = 'code';
        i++;
      }
      continue;
    }

    if (c === '\n') {
      atLineStart = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    const lineStart = atLineStart;
    atLineStart = false;

    if (c === '/' && next === '/') {
      region = 'line-comment';
      i += 2;
    } else if (c === '/' && next === '*') {
      region = 'block-comment';
      i += 2;
    } else if (c === '"') {
      region = 'string';
      i++;
    } else if (c === "'") {
      region = 'char';
      i++;
    } else if (c === '#' && lineStart) {
      const directive = /^#\s*include\b/.exec(text.slice(i, i + 40));
      if (directive) {
        region = 'include-path';
        i += directive[0].length;
      } else i++;
      lastIdentifier = null;
    } else if (isIdentifierStart(c)) {
      const start = i;
      while (i < text.length && isIdentifierChar(text[i])) i++;
      lastIdentifier = text.slice(start, i);
      continue;
    } else if (c >= '0' && c <= '9') {
      // A number, with its suffixes and hex digits (0x1fULL): never a callee.
      while (i < text.length && (isIdentifierChar(text[i]) || text[i] === '.')) i++;
      lastIdentifier = null;
      continue;
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
  state.region = region;
  state.lastIdentifier = lastIdentifier;
  state.atLineStart = atLineStart;
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
