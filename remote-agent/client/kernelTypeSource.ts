/**
 * One kernel type as C, the way `bpftool btf dump file … format c` writes it into vmlinux.h: a
 * struct or union with its members (bitfields, `__attribute__((packed))` where the layout needs it),
 * an enum with its values, a typedef. Anonymous types are written inline where they are used, as in
 * vmlinux.h, because they have no name to be looked up by; named types it refers to are not
 * included (not even as forward declarations): each is its own lookup, so a reader asks for the
 * one it needs instead of getting task_struct's hundred neighbours. Pure: BTF in, text out.
 * Padding members and enum modes are written where C's layout would differ from the kernel's, as
 * bpftool does, so the definition compiles to the kernel's layout.
 */
import type { Btf, BtfKind, BtfType } from './btf';

/** The kinds a name can be looked up as; `enum` covers enum64. */
export type KernelTypeKeyword = 'struct' | 'union' | 'enum' | 'typedef';

/**
 * The named types @query means: `task_struct` is every struct, union, enum or typedef of that name
 * (a kernel may have `struct foo` and `typedef … foo`), `struct task_struct` only the struct. A
 * forward declaration counts only when the kernel has no definition of that tag.
 */
export function kernelTypesNamed(btf: Btf, query: string): BtfType[] {
  const match = /^\s*(?:(struct|union|enum|typedef)\s+)?([A-Za-z_]\w*)\s*$/.exec(query);
  if (match === null) return [];
  const keyword = match[1] as KernelTypeKeyword | undefined;
  const name = match[2]!;
  const kinds: BtfKind[] =
    keyword === undefined ? ['struct', 'union', 'enum', 'enum64', 'typedef'] : keyword === 'enum' ? ['enum', 'enum64'] : [keyword];
  const found = kinds.map((kind) => btf.byName(name, kind)).filter((t): t is BtfType => t !== undefined);
  const fwd = btf.byName(name, 'fwd');
  const tagDefined = found.some((t) => t.kind === 'struct' || t.kind === 'union');
  if (fwd !== undefined && !tagDefined && (keyword === undefined || keyword === (fwd.fwdUnion ? 'union' : 'struct'))) found.push(fwd);
  return found;
}

/** Named types whose name contains @query's name (any case), for "did you mean"; at most @limit. */
export function kernelTypeNamesLike(btf: Btf, query: string, limit: number): string[] {
  const word = query.trim().split(/\s+/).pop()?.toLowerCase() ?? '';
  if (word === '') return [];
  const names = new Set<string>();
  for (const t of btf.types) {
    if (t.name === '' || !DEFINITION_KINDS.has(t.kind) || !t.name.toLowerCase().includes(word)) continue;
    names.add(`${keywordOf(t)} ${t.name}`);
  }
  // The shortest first: `sock` before `sock_common_ops_cb_data`.
  return [...names].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)).slice(0, limit);
}

const DEFINITION_KINDS = new Set<BtfKind>(['struct', 'union', 'enum', 'enum64', 'typedef']);

/** `struct`, `union`, `enum` or `typedef`: how C names @t's kind. */
export function keywordOf(t: BtfType): string {
  if (t.kind === 'enum64') return 'enum';
  if (t.kind === 'fwd') return t.fwdUnion ? 'union' : 'struct';
  return t.kind;
}

/** @t's definition as C, ending in `;`. */
export function cDefinitionOf(btf: Btf, t: BtfType): string {
  switch (t.kind) {
    case 'struct':
    case 'union':
      return `${recordBody(btf, t, '')};`;
    case 'enum':
    case 'enum64':
      return `${enumBody(btf, t, '')};`;
    case 'typedef':
      return `typedef ${declarationWithAnonymous(btf, t.type!, t.name, '')};`;
    case 'fwd':
      return `${keywordOf(t)} ${t.name}; /* only declared in this kernel's BTF, never defined */`;
    default:
      return `${btf.declaration(t.id, t.name)};`;
  }
}

/**
 * `struct name {\n\tmembers;\n}` at @indent, anonymous members inlined, without the final `;`.
 * Where C's own layout rules would not put a member (or the end) at its BTF offset, padding
 * members (`long: 64;`) come before it, as vmlinux.h writes them: a cache-line-aligned member.
 */
function recordBody(btf: Btf, t: BtfType, indent: string): string {
  const head = t.name === '' ? t.kind : `${t.kind} ${t.name}`;
  const members = t.members!;
  // Only a struct is ever marked packed: a union's members all start at 0.
  const packed = t.kind === 'struct' && isPacked(btf, t);
  const inner = `${indent}\t`;
  const lines = [`${head} {`];
  let end = 0;
  let previousWasBitfield = false;
  for (const member of members) {
    const align = packed ? 1 : alignmentOf(btf, member.type, 0);
    const continuesBitfield = previousWasBitfield && member.bitSize > 0;
    for (const pad of paddingMembers(end, member.bitOffset, align, continuesBitfield, pointerSize(btf) * 8)) lines.push(`${inner}${pad}`);
    const declaration = declarationWithAnonymous(btf, member.type, member.name, inner);
    lines.push(`${inner}${declaration}${member.bitSize > 0 ? `: ${member.bitSize}` : ''};`);
    end = member.bitSize > 0 ? member.bitOffset + member.bitSize : member.bitOffset + Math.max(0, btf.sizeOf(member.type)) * 8;
    previousWasBitfield = member.bitSize > 0;
  }
  if (t.kind === 'struct') for (const pad of paddingMembers(end, t.size! * 8, alignmentOf(btf, t.id, 0), false, pointerSize(btf) * 8)) lines.push(`${inner}${pad}`);
  const close = `}${packed ? ' __attribute__((packed))' : ''}`;
  if (lines.length === 1 && t.size === 0) return `${head} {${close}`;
  lines.push(`${indent}${close}`);
  return lines.join('\n');
}

/**
 * The unnamed bitfields that move C's layout from bit @from to bit @to, where the next member
 * (aligned to @nextAlign bytes) or the struct's end lies; none when C gets there by itself.
 * libbpf's choice, so the text is vmlinux.h's: first the widest unit (long, int, short, char) whose
 * next boundary is not past @to, marked with `: 0` only when the compiler would not align to it
 * anyway; then whole units, and a last smaller one for a remainder.
 */
function paddingMembers(from: number, to: number, nextAlign: number, inBitfield: boolean, longBits: number): string[] {
  if (from >= to) return [];
  const units: [string, number][] = [['long', longBits], ['int', 32], ['short', 16], ['char', 8]];
  const padding: string[] = [];
  let at = from;
  let [unit, unitBits] = units[units.length - 1]!;
  let boundary = roundUp(at, unitBits);
  for (const [name, bits] of units) {
    [unit, unitBits, boundary] = [name, bits, roundUp(at, bits)];
    if (boundary <= to) break;
  }
  if (boundary > at && boundary <= to) {
    const compilerMissesBoundary = boundary === to ? roundUp(at, nextAlign * 8) !== boundary : to - boundary <= boundary - at;
    if (inBitfield || compilerMissesBoundary) padding.push(`${unit}: ${inBitfield ? boundary - at : 0};`);
    at = boundary;
  }
  while (at < to) {
    const bits = Math.min(to - at, unitBits);
    const name = bits === unitBits ? unit : [...units].reverse().find(([, size]) => size >= bits)![0];
    padding.push(`${name}: ${bits};`);
    at += bits;
  }
  return padding;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

function enumBody(btf: Btf, t: BtfType, indent: string): string {
  const head = `enum${t.name === '' ? '' : ` ${t.name}`}`;
  if (t.values!.length === 0) return head;
  // vmlinux.h spells 64-bit enumerators with a suffix, so a compiler reads them at full width.
  const suffix = t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : '';
  const values = t.values!.map((v) => `${indent}\t${v.name} = ${v.value}${suffix},`);
  return [`${head} {`, ...values, `${indent}}${enumModeAttribute(btf, t)}`].join('\n');
}

/**
 * C gives an enum int's size unless told otherwise: a 1-byte enum needs mode(byte), an 8-byte one
 * whose values all fit in 32 bits mode(word) (bigger values make the compiler widen it itself).
 */
function enumModeAttribute(btf: Btf, t: BtfType): string {
  if (t.size === 1) return ' __attribute__((mode(byte)))';
  if (t.size !== 8 || pointerSize(btf) !== 8) return '';
  const fitIn32Bits = t.kind === 'enum' || t.values!.every((v) => BigInt.asUintN(64, BigInt(v.value)) >> 32n === 0n);
  return fitIn32Bits ? ' __attribute__((mode(word)))' : '';
}

/**
 * The declaration of @name with type @id; when the type at its base (under pointers, arrays and
 * qualifiers) is an anonymous struct, union or enum, its body is written where BTF's spelling
 * would say `struct (anon)`, which is the leftmost type in the declaration.
 */
function declarationWithAnonymous(btf: Btf, id: number, name: string, indent: string): string {
  const declaration = btf.declaration(id, name);
  const base = anonymousBase(btf, id);
  if (base === undefined) return declaration;
  const spelled = `${keywordOf(base)} (anon)`;
  const body = base.kind === 'enum' || base.kind === 'enum64' ? enumBody(btf, base, indent) : recordBody(btf, base, indent);
  const at = declaration.indexOf(spelled);
  return at === -1 ? declaration : `${declaration.slice(0, at)}${body}${declaration.slice(at + spelled.length)}`;
}

function anonymousBase(btf: Btf, id: number): BtfType | undefined {
  let t = btf.types[id];
  for (let depth = 0; t !== undefined && depth < 64; depth++) {
    if (t.kind === 'ptr' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') t = btf.types[t.type!];
    else if (t.kind === 'array') t = btf.types[t.array!.elemType];
    else break;
  }
  if (t === undefined || t.name !== '') return undefined;
  return t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64' ? t : undefined;
}

/**
 * Whether C's own layout rules would place @t's members elsewhere: a member off its type's
 * alignment, or a size that is not a multiple of the widest member's (libbpf's test, the one
 * bpftool uses to write `__attribute__((packed))`).
 */
function isPacked(btf: Btf, t: BtfType): boolean {
  let widest = 1;
  for (const member of t.members!) {
    const align = alignmentOf(btf, member.type, 0);
    widest = Math.max(widest, align);
    if (member.bitSize === 0 && member.bitOffset % (8 * align) !== 0) return true;
  }
  return t.size! % widest !== 0;
}

/** C's alignment of a type in bytes: a scalar's size up to a pointer's, a record's widest member (1 when packed). */
function alignmentOf(btf: Btf, id: number, depth: number): number {
  const t = btf.resolve(id);
  if (depth > 32) return 1;
  switch (t.kind) {
    case 'int':
    case 'float':
    case 'enum':
    case 'enum64':
      return Math.max(1, Math.min(t.size!, pointerSize(btf)));
    case 'ptr':
      return btf.sizeOf(t.id);
    case 'array':
      return alignmentOf(btf, t.array!.elemType, depth + 1);
    case 'struct':
    case 'union': {
      let widest = 1;
      for (const member of t.members!) {
        const align = alignmentOf(btf, member.type, depth + 1);
        if (member.bitSize === 0 && member.bitOffset % (8 * align) !== 0) return 1;
        widest = Math.max(widest, align);
      }
      return t.size! % widest === 0 ? widest : 1;
    }
    default:
      return 1;
  }
}

/** The BTF's pointer width (sizeOf answers for a pointer's id); 8 when it has no pointer type. */
function pointerSize(btf: Btf): number {
  let size = pointerSizes.get(btf);
  if (size === undefined) {
    const pointer = btf.types.find((t) => t.kind === 'ptr');
    size = pointer === undefined ? 8 : btf.sizeOf(pointer.id);
    pointerSizes.set(btf, size);
  }
  return size;
}
const pointerSizes = new WeakMap<Btf, number>();
