// The type of a C expression before `->` or `.`, well enough to list its fields: declared locals and
// parameters (`struct task_struct *t`), casts (`((struct sk_buff *)x)->`), chains through members
// (`t->mm->`), subscripts, kfunc calls, typedefs, and the document's own structs.
// Kernel types come from BTF; the document's types from a light scan of its struct, union and
// typedef definitions — never from parsing vmlinux.h, which is what keeps this fast on big files.
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Btf } from '../remote-agent/client/btf';
import { maskCSource } from '../remote-agent/client/cSource';
import { isIdentifierChar } from './cursorContext';
import { derived } from './documentCache';

/** A struct or union the document defines (also anonymous ones nested in another). */
export interface DocumentStruct {
  keyword: 'struct' | 'union';
  /** '' when anonymous. */
  name: string;
  members: DocumentMember[];
}

export interface DocumentMember {
  /** '' for an anonymous struct/union member, whose fields belong to the enclosing struct. */
  name: string;
  /** The type as written without declarator, e.g. `struct task_struct` or `__u32`. */
  typeText: string;
  pointers: number;
  arrayDims: string[];
  bitSize: number;
  /** A struct/union defined right in the member's declaration. */
  inline?: DocumentStruct;
  functionPointer: boolean;
}

interface DocumentTypedef {
  typeText: string;
  pointers: number;
  inline?: DocumentStruct;
}

/** What the document itself declares, scanned once per version. */
export interface DocumentTypes {
  /** The text with comments and string/char literals blanked, same length: offsets stay valid. */
  code: string;
  structs: Map<string, DocumentStruct>;
  typedefs: Map<string, DocumentTypedef>;
}

export type TypeBase = { source: 'btf'; id: number } | { source: 'document'; struct: DocumentStruct } | { source: 'unknown'; text: string };

/** A base type with `pointers` levels of pointer on top (a BTF id may itself be a pointer type). */
export interface ValueType {
  base: TypeBase;
  pointers: number;
}

export interface Field {
  name: string;
  /** C spelling of the field's type. */
  typeName: string;
  type: ValueType;
  /** Known for kernel (BTF) types only. */
  bitOffset?: number;
  bitSize?: number;
  size?: number;
}

const C_KEYWORDS = new Set([
  'return', 'else', 'goto', 'case', 'sizeof', 'typeof', '__typeof__', 'do', 'if', 'while', 'switch', 'for', 'default', 'break', 'continue',
]);
const QUALIFIERS = new Set(['const', 'volatile', 'static', 'register', 'extern', 'inline', '__always_inline', 'restrict', '__restrict', 'auto']);
const BASE_TYPE_WORDS = new Set(['void', 'char', 'short', 'int', 'long', 'unsigned', 'signed', 'float', 'double', '_Bool', 'bool']);

// ---------------------------------------------------------------------------------------------
// The document's own types.

/** The document's own types, scanned once per version (documentCache.ts keeps them while it is open). */
export function documentTypes(document: TextDocument): DocumentTypes {
  return derived(document, scanDocumentTypes);
}

function scanDocumentTypes(text: string): DocumentTypes {
  const code = maskCSource(text).code;
  const types: DocumentTypes = { code, structs: new Map(), typedefs: new Map() };
  scanDefinitions(code, types);
  return types;
}

function matchingBrace(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function scanDefinitions(code: string, types: DocumentTypes): void {
  const definition = /\b(typedef\s+)?(struct|union)\s+(\w+\s*)?\{/g;
  for (let m = definition.exec(code); m !== null; m = definition.exec(code)) {
    const open = m.index + m[0].length - 1;
    const close = matchingBrace(code, open);
    if (close === -1) break;
    const struct: DocumentStruct = { keyword: m[2] as 'struct' | 'union', name: (m[3] ?? '').trim(), members: parseMembers(code.slice(open + 1, close)) };
    if (struct.name !== '') types.structs.set(`${struct.keyword} ${struct.name}`, struct);
    if (m[1] !== undefined) {
      const names = /^\s*([^;]*);/.exec(code.slice(close + 1));
      for (const declarator of names?.[1].split(',') ?? []) {
        const d = /^\s*(\**)\s*(\w+)\s*$/.exec(declarator);
        if (d) types.typedefs.set(d[2], { typeText: '', pointers: d[1].length, inline: struct });
      }
    }
    // Nested definitions are found by the same scan: continue inside the body.
    definition.lastIndex = open + 1;
  }
  const alias = /\btypedef\s+([^;{}()]+?)\s*(\**)\s*(\w+)\s*;/g;
  for (let m = alias.exec(code); m !== null; m = alias.exec(code)) {
    const spec = m[1].replace(/\s+/g, ' ').trim();
    const stars = (spec.match(/\*/g) ?? []).length + m[2].length;
    types.typedefs.set(m[3], { typeText: spec.replace(/\s*\*\s*/g, ' ').trim(), pointers: stars });
  }
}

/** Splits at top-level `;` (braces nest) and reads each member declaration. */
function parseMembers(body: string): DocumentMember[] {
  const members: DocumentMember[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ';' && depth === 0) {
      members.push(...parseMemberDeclaration(body.slice(start, i)));
      start = i + 1;
    }
  }
  return members;
}

function parseMemberDeclaration(text: string): DocumentMember[] {
  const nested = /^\s*(struct|union)\s*(\w*)\s*\{/.exec(text);
  if (nested) {
    const open = nested[0].length - 1;
    const close = matchingBrace(text, open);
    if (close === -1) return [];
    const inline: DocumentStruct = { keyword: nested[1] as 'struct' | 'union', name: nested[2], members: parseMembers(text.slice(open + 1, close)) };
    const rest = text.slice(close + 1).trim();
    const typeText = `${inline.keyword} ${inline.name}`.trim();
    if (rest === '') return [{ name: '', typeText, pointers: 0, arrayDims: [], bitSize: 0, inline, functionPointer: false }];
    return parseDeclarators(rest).map((d) => ({ ...d, typeText, inline }));
  }
  const declaration = splitDeclaration(text);
  if (declaration === undefined) return [];
  return parseDeclarators(declaration.declarators).map((d) => ({ ...d, typeText: declaration.typeText }));
}

/** `unsigned long a, *b` → type `unsigned long` and declarators `a, *b`. */
function splitDeclaration(text: string): { typeText: string; declarators: string } | undefined {
  const words: string[] = [];
  const token = /\s*(\w+)/y;
  let at = 0;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    const word = m[1];
    const after = text.slice(token.lastIndex).trimStart();
    if (QUALIFIERS.has(word)) {
      at = token.lastIndex;
      continue;
    }
    if (word === 'struct' || word === 'union' || word === 'enum') {
      const name = /^\s*(\w+)/.exec(text.slice(token.lastIndex));
      if (!name) return undefined;
      words.push(word, name[1]);
      token.lastIndex += name[0].length;
      at = token.lastIndex;
      break;
    }
    // The last word before `*`, `[`, `,`, `:`, `=`, `;` or `)` is the declarator's name.
    if (!/^\w/.test(after) && words.length > 0) break;
    words.push(word);
    at = token.lastIndex;
    if (!/^\w/.test(after)) break;
  }
  if (words.length === 0) return undefined;
  return { typeText: words.join(' '), declarators: text.slice(at) };
}

function parseDeclarators(text: string): Omit<DocumentMember, 'typeText'>[] {
  const members: Omit<DocumentMember, 'typeText'>[] = [];
  for (const part of splitTopLevel(text, ',')) {
    const fn = /^\s*\(\s*(\**)\s*(\w+)\s*\)\s*\(/.exec(part);
    if (fn) {
      members.push({ name: fn[2], pointers: fn[1].length, arrayDims: [], bitSize: 0, functionPointer: true });
      continue;
    }
    const d = /^\s*((?:\*\s*(?:const\s+)?)*)\s*(\w+)\s*((?:\[[^\]]*\]\s*)*)(?::\s*(\d+))?\s*(?:__attribute__.*)?$/s.exec(part);
    if (!d) continue;
    members.push({
      name: d[2],
      pointers: (d[1].match(/\*/g) ?? []).length,
      arrayDims: [...d[3].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1].trim()),
      bitSize: d[4] === undefined ? 0 : Number(d[4]),
      functionPointer: false,
    });
  }
  return members;
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Types by name.

/**
 * The field lists of kernel structs, per BTF and type id, built once: spelling out task_struct's
 * ~250 fields costs more than the rest of a completion or hover together. Shared, so never mutated.
 */
const kernelFieldLists = new WeakMap<Btf, Map<number, Field[]>>();

/** The fields of a kernel struct/union, spelled out from its BTF. */
function kernelFields(btf: Btf, recordId: number): Field[] {
  const fields: Field[] = [];
  const collect = (id: number, bitBase: number, depth: number) => {
    for (const member of btf.resolve(id).members ?? []) {
      const inner = btf.resolve(member.type);
      if (member.name === '' && (inner.kind === 'struct' || inner.kind === 'union') && depth < 8) {
        collect(inner.id, bitBase + member.bitOffset, depth + 1);
        continue;
      }
      fields.push({
        name: member.name,
        typeName: btf.typeName(member.type),
        type: { base: { source: 'btf', id: member.type }, pointers: 0 },
        bitOffset: bitBase + member.bitOffset,
        bitSize: member.bitSize,
        size: member.bitSize === 0 ? btf.sizeOf(member.type) : undefined,
      });
    }
  };
  collect(recordId, 0, 0);
  return fields;
}

export class TypeResolver {
  constructor(
    readonly btf: Btf | undefined,
    readonly document: DocumentTypes,
  ) {}

  /** `struct task_struct`, `__u32`, `unsigned long`, a document typedef… → its base type. */
  resolveTypeText(typeText: string, depth = 0): ValueType | undefined {
    const words = typeText.split(/\s+/).filter((w) => w !== '' && !QUALIFIERS.has(w));
    if (words.length === 0 || depth > 16) return undefined;
    if ((words[0] === 'struct' || words[0] === 'union' || words[0] === 'enum') && words.length === 2) {
      const own = this.document.structs.get(`${words[0]} ${words[1]}`);
      if (own !== undefined) return { base: { source: 'document', struct: own }, pointers: 0 };
      const kernel = this.btf?.byName(words[1], words[0]) ?? (words[0] === 'struct' || words[0] === 'union' ? this.btf?.byName(words[1], 'fwd') : undefined);
      return kernel === undefined ? undefined : { base: { source: 'btf', id: kernel.id }, pointers: 0 };
    }
    if (words.length === 1) {
      const typedef = this.document.typedefs.get(words[0]);
      if (typedef !== undefined) {
        if (typedef.inline !== undefined) return { base: { source: 'document', struct: typedef.inline }, pointers: typedef.pointers };
        const target = this.resolveTypeText(typedef.typeText, depth + 1);
        return target === undefined ? undefined : { base: target.base, pointers: target.pointers + typedef.pointers };
      }
      const kernel = this.btf?.byName(words[0], 'typedef') ?? this.btf?.byName(words[0], 'int');
      if (kernel !== undefined) return { base: { source: 'btf', id: kernel.id }, pointers: 0 };
    }
    if (words.every((w) => BASE_TYPE_WORDS.has(w))) return { base: { source: 'unknown', text: words.join(' ') }, pointers: 0 };
    return undefined;
  }

  isTypeName(word: string): boolean {
    return (
      BASE_TYPE_WORDS.has(word) ||
      QUALIFIERS.has(word) ||
      word === 'struct' ||
      word === 'union' ||
      word === 'enum' ||
      this.document.typedefs.has(word) ||
      this.btf?.byName(word, 'typedef') !== undefined
    );
  }

  /** C spelling of a value type. */
  typeName(type: ValueType): string {
    const stars = '*'.repeat(type.pointers);
    const base = type.base;
    if (base.source === 'btf') {
      const name = this.btf!.typeName(base.id);
      return stars === '' ? name : `${name}${name.endsWith('*') ? '' : ' '}${stars}`;
    }
    const name = base.source === 'document' ? `${base.struct.keyword} ${base.struct.name === '' ? '(anon)' : base.struct.name}` : base.text;
    return stars === '' ? name : `${name} ${stars}`;
  }

  /** The pointed-to (or element) type; undefined for a non-pointer. */
  deref(type: ValueType): ValueType | undefined {
    if (type.pointers > 0) return { base: type.base, pointers: type.pointers - 1 };
    if (type.base.source !== 'btf' || this.btf === undefined) return undefined;
    const resolved = this.btf.resolve(type.base.id);
    if (resolved.kind === 'ptr') return { base: { source: 'btf', id: resolved.type! }, pointers: 0 };
    if (resolved.kind === 'array') return { base: { source: 'btf', id: resolved.array!.elemType }, pointers: 0 };
    return undefined;
  }

  /**
   * The fields reachable with `.` on a struct/union value, in declaration order; fields of
   * anonymous members are the enclosing struct's own. Undefined when the type has no fields.
   */
  fields(type: ValueType): Field[] | undefined {
    if (type.pointers > 0) return undefined;
    const base = type.base;
    if (base.source === 'document') return this.documentFields(base.struct);
    if (base.source !== 'btf' || this.btf === undefined) return undefined;
    let resolved = this.btf.resolve(base.id);
    if (resolved.kind === 'fwd') {
      // A forward declaration in a document struct (`struct sock *sk`) names a complete kernel type.
      resolved = this.btf.byName(resolved.name, resolved.fwdUnion ? 'union' : 'struct') ?? resolved;
    }
    if (resolved.kind !== 'struct' && resolved.kind !== 'union') return undefined;
    let known = kernelFieldLists.get(this.btf);
    if (known === undefined) kernelFieldLists.set(this.btf, (known = new Map()));
    let fields = known.get(resolved.id);
    if (fields === undefined) known.set(resolved.id, (fields = kernelFields(this.btf, resolved.id)));
    return fields;
  }

  private documentFields(struct: DocumentStruct, depth = 0): Field[] {
    const fields: Field[] = [];
    for (const member of struct.members) {
      if (member.name === '' && member.inline !== undefined && depth < 8) {
        fields.push(...this.documentFields(member.inline, depth + 1));
        continue;
      }
      const pointers = member.pointers + member.arrayDims.length;
      const base: ValueType | undefined = member.functionPointer
        ? { base: { source: 'unknown', text: 'function pointer' }, pointers: 0 }
        : member.inline !== undefined
          ? { base: { source: 'document', struct: member.inline }, pointers: 0 }
          : this.resolveTypeText(member.typeText);
      const type: ValueType = base === undefined ? { base: { source: 'unknown', text: member.typeText }, pointers } : { base: base.base, pointers: base.pointers + pointers };
      const dims = member.arrayDims.map((d) => `[${d}]`).join('');
      const stars = '*'.repeat(member.pointers);
      fields.push({
        name: member.name,
        typeName: member.functionPointer ? `${member.typeText} (${stars})(…)` : `${member.typeText}${stars === '' ? '' : ` ${stars}`}${dims}${member.bitSize > 0 ? `:${member.bitSize}` : ''}`,
        type: member.arrayDims.length > 0 ? { base: type.base, pointers: type.pointers } : type,
      });
    }
    return fields;
  }

  field(type: ValueType, name: string): Field | undefined {
    return this.fields(type)?.find((f) => f.name === name);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions.

  /** The type of the variable `name` as declared nearest before `offset` (local, parameter or global). */
  variableType(name: string, offset: number): ValueType | undefined {
    const code = this.document.code;
    for (let at = code.lastIndexOf(name, offset - 1); at !== -1; at = at === 0 ? -1 : code.lastIndexOf(name, at - 1)) {
      const end = at + name.length;
      if ((at > 0 && isIdentifierChar(code[at - 1])) || isIdentifierChar(code[end] ?? '')) continue;
      if (!/^\s*[=;,)[]/.test(code.slice(end, end + 64))) continue;
      const before = code.slice(Math.max(0, at - 200), at);
      const declaration = /(?:^|[;{}(,])\s*((?:(?:struct|union|enum)\s+\w+|\w+)(?:\s+\w+)*?)\s*((?:\*\s*(?:const\s+)?)*)$/.exec(before);
      if (!declaration) continue;
      const spec = declaration[1];
      if (spec.split(/\s+/).some((w) => C_KEYWORDS.has(w))) continue;
      const type = this.resolveTypeText(spec);
      if (type === undefined) continue;
      return { base: type.base, pointers: type.pointers + (declaration[2].match(/\*/g) ?? []).length };
    }
    return undefined;
  }

  /** The type of the postfix expression that ends right before `end` (where `->` or `.` starts). */
  expressionType(end: number): ValueType | undefined {
    const code = this.document.code;
    const start = postfixExpressionStart(code, end);
    if (start === end) return undefined;
    const tokens = code.slice(start, end).match(/->|\w+|\S/g) ?? [];
    const parser = new ExpressionParser(tokens, this, start);
    const type = parser.postfix();
    return parser.done() ? type : undefined;
  }
}

/** Walks back over `a`, `->b`, `.c`, `[i]`, `(...)` and calls: where the postfix expression begins. */
export function postfixExpressionStart(code: string, end: number): number {
  let i = end;
  const skipSpace = () => {
    while (i > 0 && /\s/.test(code[i - 1])) i--;
  };
  const skipGroup = (close: string, open: string): boolean => {
    let depth = 0;
    for (let k = i - 1; k >= 0; k--) {
      if (code[k] === close) depth++;
      else if (code[k] === open && --depth === 0) {
        i = k;
        return true;
      } else if (code[k] === ';' || code[k] === '{' || code[k] === '}') return false;
    }
    return false;
  };
  let start = end;
  for (;;) {
    skipSpace();
    const c = code[i - 1];
    if (c === ']' || c === ')') {
      if (!skipGroup(c, c === ']' ? '[' : '(')) return start;
      start = i;
      // A call or subscript applies to what comes before it, if anything: `f(x)->`, but not `return (x)->`.
      let w = i;
      while (w > 0 && /\s/.test(code[w - 1])) w--;
      let wordStart = w;
      while (wordStart > 0 && isIdentifierChar(code[wordStart - 1])) wordStart--;
      if (C_KEYWORDS.has(code.slice(wordStart, w))) return start;
      continue;
    }
    if (c !== undefined && isIdentifierChar(c)) {
      while (i > 0 && isIdentifierChar(code[i - 1])) i--;
      start = i;
      skipSpace();
      if (code[i - 1] === '.' && !/[0-9]/.test(code[i - 2] ?? '')) i--;
      else if (code[i - 1] === '>' && code[i - 2] === '-') i -= 2;
      else return start;
      continue;
    }
    return start;
  }
}

class ExpressionParser {
  private at = 0;

  constructor(
    private readonly tokens: string[],
    private readonly types: TypeResolver,
    private readonly offset: number,
  ) {}

  done(): boolean {
    return this.at === this.tokens.length;
  }

  private peek(): string | undefined {
    return this.tokens[this.at];
  }

  /** Index of the `)`/`]` closing the bracket at `open`. */
  private closing(open: number): number {
    let depth = 0;
    for (let k = open; k < this.tokens.length; k++) {
      const t = this.tokens[k];
      if (t === '(' || t === '[') depth++;
      else if ((t === ')' || t === ']') && --depth === 0) return k;
    }
    return -1;
  }

  postfix(): ValueType | undefined {
    let type = this.primary();
    while (type !== undefined && this.at < this.tokens.length) {
      const t = this.peek();
      if (t === '->' || t === '.') {
        const name = this.tokens[this.at + 1];
        if (name === undefined || !/^\w+$/.test(name)) return undefined;
        this.at += 2;
        const record = t === '->' ? this.types.deref(type) : type;
        type = record === undefined ? undefined : this.types.field(record, name)?.type;
      } else if (t === '[') {
        const close = this.closing(this.at);
        if (close === -1) return undefined;
        this.at = close + 1;
        type = this.types.deref(type);
      } else return type;
    }
    return type;
  }

  private primary(): ValueType | undefined {
    const t = this.peek();
    if (t === undefined) return undefined;
    if (t === '(') {
      const close = this.closing(this.at);
      if (close === -1) return undefined;
      const inner = this.tokens.slice(this.at + 1, close);
      this.at = close + 1;
      const cast = this.castType(inner);
      if (cast !== undefined) {
        // `(struct sk_buff *)x` inside a group: the cast decides; the operand that follows is skipped.
        this.at = this.tokens.length;
        return cast;
      }
      return this.group(inner);
    }
    if (/^\w+$/.test(t) && !/^[0-9]/.test(t)) {
      this.at++;
      if (this.peek() === '(') {
        const close = this.closing(this.at);
        if (close === -1) return undefined;
        this.at = close + 1;
        return this.callType(t);
      }
      return this.types.variableType(t, this.offset);
    }
    return undefined;
  }

  /** `( *p )`, `( &v )`, `( (struct x *)y )`, `( a->b )`. */
  private group(inner: string[]): ValueType | undefined {
    let derefs = 0;
    let addressOf = 0;
    let k = 0;
    for (; k < inner.length && (inner[k] === '*' || inner[k] === '&'); k++) inner[k] === '*' ? derefs++ : addressOf++;
    const nested = new ExpressionParser(inner.slice(k), this.types, this.offset);
    let type = nested.postfix();
    if (!nested.done()) return undefined;
    for (let d = 0; d < derefs && type !== undefined; d++) type = this.types.deref(type);
    return type === undefined ? undefined : { base: type.base, pointers: type.pointers + addressOf };
  }

  /** `struct sk_buff *` → that type; undefined when the tokens are not a type name. */
  private castType(inner: string[]): ValueType | undefined {
    let stars = 0;
    let end = inner.length;
    while (end > 0 && inner[end - 1] === '*') {
      stars++;
      end--;
    }
    const words = inner.slice(0, end);
    if (words.length === 0 || !words.every((w) => /^\w+$/.test(w)) || !this.types.isTypeName(words[0])) return undefined;
    const type = this.types.resolveTypeText(words.join(' '));
    return type === undefined ? undefined : { base: type.base, pointers: type.pointers + stars };
  }

  /** A kernel function (kfunc) returns what its BTF prototype says. */
  private callType(name: string): ValueType | undefined {
    const btf = this.types.btf;
    const func = btf?.byName(name, 'func');
    if (btf === undefined || func === undefined) return undefined;
    const proto = btf.types[func.type!];
    return { base: { source: 'btf', id: proto.type! }, pointers: 0 };
  }
}
