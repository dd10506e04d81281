// What surrounds a cursor in eBPF C source: whether it sits in code, a string, a character literal,
// a comment or an #include path, and which calls and brackets are still open there.
// A single forward scan from the start of the document to the cursor — a tokenizer, not a C parser:
// it knows comments, literals and brackets, which is what completion, hover and signature help need.

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

export function scanCursorContext(text: string, offset: number): CursorContext {
  const open: OpenBracket[] = [];
  let region: Region = 'code';
  let lastIdentifier: string | null = null;
  let atLineStart = true;
  let i = 0;

  while (i < offset) {
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
  return { region, openBrackets: open };
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
