/**
 * The one scan of C source text that the client (event record types) and the language server
 * (document model, expression types, cursor context) read code through: comments and the contents
 * of string and character literals become spaces, newlines kept, so every offset in the result is
 * the offset in the source and regular expressions see only code. Quotes stay (`SEC("xdp")` still
 * reads as a call with an argument). Optionally preprocessor directives are blanked too. Comments,
 * literals, directives and (when directives are blanked) #includes are collected on the way, so a
 * reader can tell what an offset is in. A tokenizer, not a C parser.
 */

export interface CSourceInclude {
  path: string;
  /** `<…>` rather than `"…"`. */
  system: boolean;
  /** Offsets of the path (between its delimiters). */
  start: number;
  end: number;
}

export interface CSourceComment {
  start: number;
  /** The comment with its delimiters. */
  text: string;
}

export interface CSourceLiteral {
  /** Offset of the opening quote. */
  start: number;
  /** Offset of the closing quote, or where an unterminated literal stops: its line's end (or the text's). */
  end: number;
  quote: '"' | "'";
}

export interface CSourceDirective {
  /** Offset of the `#`. */
  start: number;
  /** Where it ends: the end of its last line (continued by backslash-newline or a block comment). */
  end: number;
  /** The word after `#` ('include', 'define', …; '' for a null directive). */
  name: string;
}

export interface MaskedCSource {
  /** The source with comments and literal contents (and directives, when asked) blanked. */
  code: string;
  /** The #include directives, when directives were blanked (they are read before blanking). */
  includes: CSourceInclude[];
  /** Every comment outside literals (and outside directives, when those are blanked). */
  comments: CSourceComment[];
  /** Every string and character literal outside comments (and outside directives, when those are blanked). */
  literals: CSourceLiteral[];
  /** Every preprocessor directive: a `#` first on its line, outside comments and literals. */
  directives: CSourceDirective[];
}

const INCLUDE = /^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]*)[>"]/;
const DIRECTIVE_NAME = /^#[ \t]*(\w*)/;
const NOT_NEWLINE = /[^\n]/g;

export function maskCSource(text: string, options: { blankDirectives?: boolean } = {}): MaskedCSource {
  // The result in pieces: source text copied as is, and blanked stretches (blanks come in ascending order).
  const pieces: string[] = [];
  let copiedUpTo = 0;
  const includes: CSourceInclude[] = [];
  const comments: CSourceComment[] = [];
  const literals: CSourceLiteral[] = [];
  const directives: CSourceDirective[] = [];
  const blank = (from: number, to: number): void => {
    const end = Math.min(to, text.length);
    if (end <= from) return;
    pieces.push(text.slice(copiedUpTo, from), text.slice(from, end).replace(NOT_NEWLINE, ' '));
    copiedUpTo = end;
  };
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#' && lineStart) {
      const end = directiveEnd(text, i);
      directives.push({ start: i, end, name: DIRECTIVE_NAME.exec(text.slice(i, end))![1] });
      if (options.blankDirectives) {
        const lineBegin = text.lastIndexOf('\n', i - 1) + 1;
        const include = INCLUDE.exec(text.slice(lineBegin, end));
        if (include) {
          const start = lineBegin + include[0].indexOf(include[1]) + 1;
          includes.push({ path: include[2], system: include[1] === '<', start, end: start + include[2].length });
        }
        blank(i, end);
        i = end;
        continue;
      }
      // Kept: its literals and comments are masked like any others, from the `#` on.
    }
    lineStart = false;
    if (c === '/' && text[i + 1] === '/') {
      const newline = text.indexOf('\n', i);
      const stop = newline === -1 ? text.length : newline;
      comments.push({ start: i, text: text.slice(i, stop) });
      blank(i, stop);
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      const stop = close === -1 ? text.length : close + 2;
      comments.push({ start: i, text: text.slice(i, stop) });
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let k = i + 1;
      while (k < text.length && text[k] !== c && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1;
      literals.push({ start: i, end: Math.min(k, text.length), quote: c });
      blank(i + 1, k);
      // An unterminated literal stops before its newline, so the next line still starts a line (a directive may follow).
      i = text[k] === '\n' ? k : k + 1;
    } else i++;
  }
  pieces.push(text.slice(copiedUpTo));
  return { code: pieces.join(''), includes, comments, literals, directives };
}

/** The end of the directive whose `#` is at `start`: its line's, continued by backslash-newline. */
function directiveEnd(text: string, start: number): number {
  let end = start;
  while (end < text.length && text[end] !== '\n') {
    if (text[end] === '\\' && text[end + 1] === '\n') end++;
    else if (text[end] === '/' && text[end + 1] === '*') {
      // A block comment may run over the line end; the directive goes on after it.
      const close = text.indexOf('*/', end + 2);
      end = close === -1 ? text.length : close + 1;
    }
    end++;
  }
  return end;
}
