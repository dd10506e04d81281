// A light model of one eBPF C document: its #includes, top-level functions (with their SEC("…")
// section and parameters), BTF-defined maps, the license, and struct definitions — each with offsets.
// Built by a single scan of the document's own text. It never opens included files, so a program that
// includes a 130k-line vmlinux.h costs no more than its own lines. A tokenizer-level model, not a C
// parser: it relies on the shapes libbpf programs are written in, which is what the editor features need.

import { maskCSource } from '../remote-agent/client/cSource';
import { derived, type VersionedText } from './documentCache';

export interface Span {
  /** Offset of the first character. */
  start: number;
  /** Offset after the last character. */
  end: number;
}

export interface Include {
  path: string;
  /** `<…>` rather than `"…"`. */
  system: boolean;
  span: Span;
}

export interface SectionName {
  name: string;
  /** The characters between the quotes. */
  span: Span;
}

export interface Parameter {
  /** Normalised C type, e.g. `struct xdp_md *`; '' when only a name is written (macro arguments). */
  type: string;
  name: string;
  /** The whole declaration. */
  span: Span;
  /** The type part of the declaration, as written. */
  typeSpan: Span;
}

export interface FunctionDefinition {
  /** The function's name; for `int BPF_KPROBE(do_unlinkat, …)` the first macro argument. */
  name: string;
  nameSpan: Span;
  /** libbpf's argument macro the function is declared with (BPF_KPROBE, BPF_PROG …), or null. */
  macro: string | null;
  section: SectionName | null;
  /** Real parameters, or the typed arguments of the macro. */
  params: Parameter[];
  /** From the start of the declaration to the closing brace. */
  span: Span;
  /** From `{` to after `}`. */
  body: Span;
}

export interface MapField {
  macro: string;
  key: string;
  /** The second argument, as written. */
  value: string;
  span: Span;
}

export interface MapDefinition {
  name: string;
  nameSpan: Span;
  /** `BPF_MAP_TYPE_…` as written in `__uint(type, …)`, or null when missing. */
  type: string | null;
  fields: MapField[];
  /** From `struct` to the `;`. */
  span: Span;
  /** From `{` to after `}`. */
  body: Span;
}

export interface License {
  /** The variable, e.g. `LICENSE`. */
  name: string;
  /** The license string, or null when it is not a plain string literal. */
  value: string | null;
  span: Span;
}

export interface StructDefinition {
  name: string;
  nameSpan: Span;
  span: Span;
}

export interface DocumentModel {
  text: string;
  /**
   * The text with comments, preprocessor directives and the contents of string and character
   * literals blanked out (same offsets, newlines kept): what code-structure searches run on.
   */
  code: string;
  includes: Include[];
  /** Every SEC("…") in code, wherever it is. */
  sections: SectionName[];
  functions: FunctionDefinition[];
  /** The functions with a section: the programs libbpf loads. */
  programs: FunctionDefinition[];
  maps: MapDefinition[];
  license: License | null;
  structs: StructDefinition[];
}

/** libbpf's macros whose first argument is the function name and the rest its typed arguments. */
export const ARGUMENT_MACROS: ReadonlySet<string> = new Set([
  'BPF_KPROBE',
  'BPF_KRETPROBE',
  'BPF_KSYSCALL',
  'BPF_KPROBE_SYSCALL',
  'BPF_UPROBE',
  'BPF_URETPROBE',
  'BPF_USDT',
  'BPF_PROG',
  'BPF_PROG2',
  'BPF_STRUCT_OPS',
  'BPF_STRUCT_OPS_SLEEPABLE',
]);

/** The offset of the bracket matching the one at `open`, or -1. */
export function matchingBracket(code: string, open: number): number {
  const opening = code[open];
  const closing = opening === '(' ? ')' : opening === '{' ? '}' : ']';
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === opening) depth++;
    else if (code[i] === closing && --depth === 0) return i;
  }
  return -1;
}

function matchingOpen(code: string, close: number): number {
  const closing = code[close];
  const opening = closing === ')' ? '(' : closing === '}' ? '{' : '[';
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    if (code[i] === closing) depth++;
    else if (code[i] === opening && --depth === 0) return i;
  }
  return -1;
}

function skipSpaceBack(code: string, i: number): number {
  while (i >= 0 && /\s/.test(code[i])) i--;
  return i;
}

function skipSpace(code: string, i: number): number {
  while (i < code.length && /\s/.test(code[i])) i++;
  return i;
}

/** Splits `a, b(c, d), e` at its top-level commas, keeping offsets. */
export function splitArguments(code: string, start: number, end: number): Span[] {
  const parts: Span[] = [];
  let depth = 0;
  let from = start;
  for (let i = start; i < end; i++) {
    const c = code[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push({ start: from, end: i });
      from = i + 1;
    }
  }
  parts.push({ start: from, end });
  return parts.map((p) => {
    const s = skipSpace(code, p.start);
    const e = skipSpaceBack(code, p.end - 1) + 1;
    return { start: s, end: Math.max(s, e) };
  });
}

function parseParameter(code: string, span: Span): Parameter | undefined {
  const text = code.slice(span.start, span.end);
  if (text === '' || text === 'void' || text === '...') return undefined;
  const name = /(\w+)\s*(\[[^\]]*\]\s*)*$/.exec(text);
  if (!name) return undefined;
  const typeText = text.slice(0, name.index);
  return {
    type: normaliseType(typeText),
    name: name[1],
    span,
    typeSpan: { start: span.start, end: span.start + typeText.trimEnd().length },
  };
}

/** `struct  xdp_md*` → `struct xdp_md *`: one spelling to compare types by. */
export function normaliseType(type: string): string {
  return type
    .replace(/\s+/g, ' ')
    .replace(/\s*\*\s*/g, ' *')
    .replace(/\* \*/g, '**')
    .trim();
}

const SECTION_CALL = /\bSEC\s*\(\s*"([^"\n]*)"\s*\)/g;

function sectionsIn(text: string, code: string, from: number, to: number): SectionName[] {
  const found: SectionName[] = [];
  SECTION_CALL.lastIndex = from;
  for (let m = SECTION_CALL.exec(code); m !== null && m.index < to; m = SECTION_CALL.exec(code)) {
    const start = m.index + m[0].indexOf('"') + 1;
    const end = start + m[1].length;
    found.push({ name: text.slice(start, end), span: { start, end } });
  }
  return found;
}

function parseFunction(text: string, code: string, headerStart: number, open: number, close: number): FunctionDefinition | undefined {
  const paramsClose = skipSpaceBack(code, open - 1);
  if (code[paramsClose] !== ')') return undefined;
  const paramsOpen = matchingOpen(code, paramsClose);
  if (paramsOpen <= headerStart) return undefined;
  const nameEnd = skipSpaceBack(code, paramsOpen - 1) + 1;
  let nameStart = nameEnd;
  while (nameStart > headerStart && /\w/.test(code[nameStart - 1])) nameStart--;
  if (nameStart === nameEnd) return undefined;
  const declared = code.slice(nameStart, nameEnd);
  const args = splitArguments(code, paramsOpen + 1, paramsClose);
  let name = declared;
  let nameSpan: Span = { start: nameStart, end: nameEnd };
  let macro: string | null = null;
  let params: Parameter[];
  if (ARGUMENT_MACROS.has(declared) && args.length > 0 && /^\w+$/.test(code.slice(args[0].start, args[0].end))) {
    macro = declared;
    name = code.slice(args[0].start, args[0].end);
    nameSpan = args[0];
    params = args.slice(1).flatMap((a) => parseParameter(code, a) ?? []);
  } else params = args.flatMap((a) => parseParameter(code, a) ?? []);
  return {
    name,
    nameSpan,
    macro,
    section: sectionsIn(text, code, headerStart, nameStart)[0] ?? null,
    params,
    span: { start: headerStart, end: close + 1 },
    body: { start: open, end: close + 1 },
  };
}

const MAP_FIELD = /\b(__uint|__type|__array|__ulong)\s*\(\s*(\w+)\s*,/g;

function parseMap(text: string, code: string, structStart: number, open: number, close: number, trailerEnd: number): MapDefinition | undefined {
  const trailer = code.slice(close + 1, trailerEnd);
  const name = /^\s*(\w+)\s*SEC\s*\(\s*"\s*"\s*\)/.exec(trailer);
  if (!name || sectionsIn(text, code, close + 1, trailerEnd)[0]?.name !== '.maps') return undefined;
  const nameStart = close + 1 + trailer.indexOf(name[1]);
  const fields: MapField[] = [];
  MAP_FIELD.lastIndex = open;
  for (let m = MAP_FIELD.exec(code); m !== null && m.index < close; m = MAP_FIELD.exec(code)) {
    const paren = code.indexOf('(', m.index);
    const end = matchingBracket(code, paren);
    if (end === -1 || end > close) continue;
    const valueStart = m.index + m[0].length;
    fields.push({ macro: m[1], key: m[2], value: text.slice(valueStart, end).trim(), span: { start: m.index, end: end + 1 } });
  }
  return {
    name: name[1],
    nameSpan: { start: nameStart, end: nameStart + name[1].length },
    type: fields.find((f) => f.key === 'type' && f.macro === '__uint')?.value ?? null,
    fields,
    span: { start: structStart, end: trailerEnd + 1 },
    body: { start: open, end: close + 1 },
  };
}

const LICENSE_DECLARATION = /\b(\w+)\s*\[\s*\]\s*SEC\s*\(\s*"\s*"\s*\)\s*=\s*"/;

function parseLicense(text: string, code: string, start: number, end: number): License | undefined {
  const declaration = code.slice(start, end);
  const sections = sectionsIn(text, code, start, end);
  if (!sections.some((s) => s.name === 'license')) return undefined;
  const m = LICENSE_DECLARATION.exec(declaration);
  const first = skipSpace(code, start);
  if (!m) return { name: /\w+(?=\s*\[)/.exec(declaration)?.[0] ?? 'license', value: null, span: { start: first, end: end + 1 } };
  const valueStart = start + m.index + m[0].length;
  const valueEnd = text.indexOf('"', valueStart);
  return { name: m[1], value: text.slice(valueStart, valueEnd), span: { start: first, end: end + 1 } };
}

export function buildDocumentModel(text: string): DocumentModel {
  // Directives blanked too: a macro's body is not code the model should find functions in.
  const masked = maskCSource(text, { blankDirectives: true });
  const code = masked.code;
  const includes: Include[] = masked.includes.map(({ path, system, start, end }) => ({ path, system, span: { start, end } }));
  const functions: FunctionDefinition[] = [];
  const maps: MapDefinition[] = [];
  const structs: StructDefinition[] = [];
  let license: License | null = null;

  // Walk the top level: each item ends at a `;` or at the `}` closing a function body.
  let itemStart = 0;
  let parens = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '(') parens++;
    else if (c === ')') parens = Math.max(0, parens - 1);
    else if (c === ';' && parens === 0) {
      license ??= parseLicense(text, code, itemStart, i) ?? null;
      itemStart = i + 1;
    } else if (c === '{' && parens === 0) {
      const close = matchingBracket(code, i);
      if (close === -1) break; // unterminated: the author is typing; the rest is not top level
      const header = code.slice(itemStart, i);
      const headerStart = skipSpace(code, itemStart);
      if (/\)\s*$/.test(header)) {
        const fn = parseFunction(text, code, headerStart, i, close);
        if (fn) functions.push(fn);
        itemStart = close + 1;
        i = close;
        continue;
      }
      const aggregate = /\b(struct|union)\s*(\w+)?\s*$/.exec(header);
      // An initializer or a struct: its declaration continues to the next top-level `;`.
      let semicolon = close + 1;
      let depth = 0;
      while (semicolon < code.length && !(code[semicolon] === ';' && depth === 0)) {
        if (code[semicolon] === '(' || code[semicolon] === '{') depth++;
        else if (code[semicolon] === ')' || code[semicolon] === '}') depth--;
        semicolon++;
      }
      if (aggregate) {
        const aggregateStart = itemStart + aggregate.index;
        const start = skipSpace(code, itemStart);
        if (aggregate[2] !== undefined) {
          const nameStart = itemStart + aggregate.index + aggregate[0].indexOf(aggregate[2], aggregate[1].length);
          structs.push({ name: aggregate[2], nameSpan: { start: nameStart, end: nameStart + aggregate[2].length }, span: { start: aggregateStart, end: close + 1 } });
        }
        const map = parseMap(text, code, start, i, close, semicolon);
        if (map) maps.push(map);
      }
      license ??= parseLicense(text, code, itemStart, semicolon) ?? null;
      itemStart = semicolon + 1;
      i = semicolon;
    }
  }

  return {
    text,
    code,
    includes,
    sections: sectionsIn(text, code, 0, code.length),
    functions,
    programs: functions.filter((f) => f.section !== null),
    maps,
    license,
    structs,
  };
}

/** The innermost function whose body contains `offset`. */
export function functionAt(model: DocumentModel, offset: number): FunctionDefinition | undefined {
  return model.functions.find((f) => offset > f.body.start && offset < f.body.end);
}

/** The model of an open document, built once per version. */
export function modelOf(document: VersionedText): DocumentModel {
  return derived(document, buildDocumentModel);
}
