// Hover on kernel types and kfuncs, from the target's BTF: a struct/union/enum/typedef name shows
// its layout the way pahole does (offsets, sizes, bitfields, holes, padding); a field after `->`
// or `.` shows its type, offset and size; a kfunc shows its prototype.
import { MarkupKind, type Hover } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Btf, BtfType } from '../remote-agent/client/btf';
import { identifierAt, scanCursorContext } from './cursorContext';
import { documentTypes, TypeResolver } from './expressionTypes';
import { kfuncDocumentation, kfuncSignature } from './kfuncs';
import type { KernelTypeIndex } from './kernelTypes';
import { fieldLayout, memberAccessAt } from './memberCompletion';

/** Beyond this many lines a layout is cut short (task_struct, the largest, needs ~300). */
const MAX_LAYOUT_LINES = 400;

/** `char comm[16]`, `struct task_struct *parent`, `ssize_t (*read)(struct file *, …)`. */
export function declarationOf(btf: Btf, typeId: number, name: string): string {
  const type = btf.typeName(typeId);
  if (/\(\*+\)/.test(type)) return type.replace(/\((\*+)\)/, `($1${name})`);
  const bracket = type.indexOf('[');
  if (bracket !== -1) return `${type.slice(0, bracket)}${type[bracket - 1] === '*' ? '' : ' '}${name}${type.slice(bracket)}`.replace('  ', ' ');
  return `${type}${type.endsWith('*') ? '' : ' '}${name}`;
}

function hole(bits: number, what: 'hole' | 'padding'): string {
  const amount = bits % 8 === 0 ? `${bits / 8} byte${bits === 8 ? '' : 's'}` : `${bits} bit${bits === 1 ? '' : 's'}`;
  return `\t/* XXX ${amount} ${what} */`;
}

/** The layout of a struct or union in C, with `/* offset size *\/` comments as pahole prints them. */
export function layoutOf(btf: Btf, t: BtfType): string {
  const keyword = t.kind === 'union' ? 'union' : 'struct';
  const lines = [`${keyword} ${t.name} {`];
  let end = 0;
  let holes = 0;
  const members = t.members!;
  for (const member of members) {
    if (lines.length >= MAX_LAYOUT_LINES) {
      lines.push(`\t/* … ${members.length - members.indexOf(member)} more members */`);
      break;
    }
    if (t.kind === 'struct' && member.bitOffset > end) {
      lines.push(hole(member.bitOffset - end, 'hole'));
      holes++;
    }
    const resolved = btf.resolve(member.type);
    const anonymous = member.name === '' && (resolved.kind === 'struct' || resolved.kind === 'union');
    const declaration = anonymous ? `${resolved.kind} {…}` : declarationOf(btf, member.type, member.name);
    const offset = Math.floor(member.bitOffset / 8);
    const size = member.bitSize > 0 ? member.bitSize : btf.sizeOf(member.type);
    const where = member.bitSize > 0 ? `${String(offset).padStart(6)}:${String(member.bitOffset % 8).padEnd(2)}${String(size).padStart(4)}b` : `${String(offset).padStart(6)}${String(size).padStart(7)}`;
    const text = `\t${declaration}${member.bitSize > 0 ? `:${member.bitSize}` : ''};`;
    lines.push(`${text.padEnd(44)} /* ${where} */`);
    end = Math.max(end, member.bitOffset + (member.bitSize > 0 ? member.bitSize : size * 8));
  }
  if (t.kind === 'struct' && lines.length < MAX_LAYOUT_LINES && t.size! * 8 > end) lines.push(hole(t.size! * 8 - end, 'padding'));
  lines.push(`};${' '.repeat(42)}/* size: ${t.size}, members: ${members.length}${t.kind === 'struct' ? `, holes: ${holes}` : ''} */`);
  return lines.join('\n');
}

function codeBlock(code: string, note: string): string {
  return `\`\`\`c\n${code}\n\`\`\`\n\n${note}`;
}

/** Per kernel and type id: a layout is the same every time, and task_struct's takes ~0.3 ms to spell out. */
const typeHovers = new WeakMap<KernelTypeIndex, Map<number, string>>();

function typeHover(kernel: KernelTypeIndex, t: BtfType): string {
  let known = typeHovers.get(kernel);
  if (known === undefined) typeHovers.set(kernel, (known = new Map()));
  let markdown = known.get(t.id);
  if (markdown === undefined) known.set(t.id, (markdown = describeType(kernel, t)));
  return markdown;
}

function describeType(kernel: KernelTypeIndex, t: BtfType): string {
  const btf = kernel.btf;
  const from = `Kernel type from the BTF of \`${kernel.source}\``;
  switch (t.kind) {
    case 'struct':
    case 'union':
      return codeBlock(layoutOf(btf, t), `${from} · size ${t.size} bytes`);
    case 'enum':
    case 'enum64': {
      const values = t.values!.slice(0, MAX_LAYOUT_LINES).map((v) => `\t${v.name} = ${v.value},`);
      if (t.values!.length > MAX_LAYOUT_LINES) values.push(`\t/* … ${t.values!.length - MAX_LAYOUT_LINES} more */`);
      return codeBlock(`enum ${t.name} {\n${values.join('\n')}\n};`, `${from} · size ${t.size} bytes`);
    }
    case 'typedef':
      return codeBlock(`typedef ${declarationOf(btf, t.type!, t.name)};`, `${from} · size ${btf.sizeOf(t.id)} bytes`);
    default:
      return codeBlock(btf.typeName(t.id), from);
  }
}

export function hoverKernel(document: TextDocument, offset: number, kernel: KernelTypeIndex | undefined): Hover | null {
  if (kernel === undefined) return null;
  const text = document.getText();
  const word = identifierAt(text, offset);
  if (word === undefined || scanCursorContext(text, word.start).region !== 'code') return null;
  const range = { start: document.positionAt(word.start), end: document.positionAt(word.end) };
  const hover = (value: string): Hover => ({ contents: { kind: MarkupKind.Markdown, value }, range });
  const btf = kernel.btf;

  const access = memberAccessAt(text, word.end);
  if (access !== undefined && access.nameStart === word.start) {
    const types = new TypeResolver(btf, documentTypes(document));
    const type = types.expressionType(access.operatorStart);
    const record = type === undefined ? undefined : access.operator === '->' ? types.deref(type) : type;
    const field = record === undefined ? undefined : types.field(record, word.name);
    if (record === undefined || field === undefined) return null;
    const layout = fieldLayout(field);
    const declaration = field.type.base.source === 'btf' && field.type.pointers === 0 ? declarationOf(btf, field.type.base.id, field.name) : `${field.typeName} ${field.name}`;
    return hover(codeBlock(`${declaration};`, `Field of \`${types.typeName(record)}\`${layout === '' ? '' : ` · ${layout}`}`));
  }

  const keyword = /\b(struct|union|enum)\s+$/.exec(text.slice(Math.max(0, word.start - 16), word.start))?.[1];
  if (keyword !== undefined) {
    if (documentTypes(document).structs.has(`${keyword} ${word.name}`)) return null;
    const t = keyword === 'enum' ? (btf.byName(word.name, 'enum') ?? btf.byName(word.name, 'enum64')) : btf.byName(word.name, keyword as 'struct' | 'union');
    return t === undefined ? null : hover(typeHover(kernel, t));
  }

  const kfunc = kernel.kfunc(word.name);
  if (kfunc !== undefined) return hover(codeBlock(kfuncSignature(kernel, kfunc).label, kfuncDocumentation(kernel, kfunc)));

  const typedef = documentTypes(document).typedefs.has(word.name) ? undefined : btf.byName(word.name, 'typedef');
  return typedef === undefined ? null : hover(typeHover(kernel, typedef));
}
