/**
 * The one scan of C source text that the client (event record types) and the language server
 * (document model, expression types) read code through: comments and the contents of string and
 * character literals become spaces, newlines kept, so every offset in the result is the offset in
 * the source and regular expressions see only code. Quotes stay (`SEC("xdp")` still reads as a
 * call with an argument). Optionally preprocessor directives are blanked too, and #includes and
 * comments are collected on the way. A tokenizer, not a C parser. (The language server's cursor
 * context keeps its own resumable scan: it answers per keystroke from checkpoints.)
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

export interface MaskedCSource {
  /** The source with comments and literal contents (and directives, when asked) blanked. */
  code: string;
  /** The #include directives, when directives were blanked (they are read before blanking). */
  includes: CSourceInclude[];
  /** Every comment outside literals (and outside directives, when those are blanked). */
  comments: CSourceComment[];
}

const INCLUDE = /^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]*)[>"]/;

export function maskCSource(text: string, options: { blankDirectives?: boolean } = {}): MaskedCSource {
  const chars = text.split('');
  const includes: CSourceInclude[] = [];
  const comments: CSourceComment[] = [];
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to && k < chars.length; k++) if (chars[k] !== '\n') chars[k] = ' ';
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
    if (c === '#' && lineStart && options.blankDirectives) {
      // A directive runs to the end of its line, continued by backslash-newline.
      let end = i;
      while (end < text.length && text[end] !== '\n') {
        if (text[end] === '\\' && text[end + 1] === '\n') end++;
        else if (text[end] === '/' && text[end + 1] === '*') {
          // A block comment may run over the line end; the directive goes on after it.
          const close = text.indexOf('*/', end + 2);
          end = close === -1 ? text.length : close + 1;
        }
        end++;
      }
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
      blank(i + 1, k);
      i = k + 1;
    } else i++;
  }
  return { code: chars.join(''), includes, comments };
}
