/**
 * One kernel type as C, the way `bpftool btf dump file … format c` writes it into vmlinux.h: a
 * struct or union with its members (bitfields, `__attribute__((packed))` where the layout needs it),
 * an enum with its values, a typedef. Anonymous types are written inline where they are used, as in
 * vmlinux.h, because they have no name to be looked up by; named types it refers to are not
 * included (not even as forward declarations): each is its own lookup, so a reader asks for the
 * one it needs instead of getting task_struct's hundred neighbours. Pure: BTF in, text out.
 * Unlike bpftool, no `long: 64;` padding members are written before cache-line-aligned members: the
 * text is for reading field names and types (CO-RE relocates offsets), not for recompiling the layout.
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
      return `${enumBody(t, '')};`;
    case 'typedef':
      return `typedef ${declarationWithAnonymous(btf, t.type!, t.name, '')};`;
    case 'fwd':
      return `${keywordOf(t)} ${t.name}; /* only declared in this kernel's BTF, never defined */`;
    default:
      return `${btf.declaration(t.id, t.name)};`;
  }
}

/** `struct name {\n\tmembers;\n}` at @indent, anonymous members inlined, without the final `;`. */
function recordBody(btf: Btf, t: BtfType, indent: string): string {
  const head = t.name === '' ? t.kind : `${t.kind} ${t.name}`;
  const lines = [`${head} {`];
  for (const member of t.members!) {
    const declaration = declarationWithAnonymous(btf, member.type, member.name, `${indent}\t`);
    lines.push(`${indent}\t${declaration}${member.bitSize > 0 ? `: ${member.bitSize}` : ''};`);
  }
  lines.push(`${indent}}${isPacked(btf, t) ? ' __attribute__((packed))' : ''}`);
  return lines.join('\n');
}

function enumBody(t: BtfType, indent: string): string {
  // vmlinux.h spells 64-bit enumerators with a suffix, so a compiler reads them at full width.
  const suffix = t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : '';
  const values = t.values!.map((v) => `${indent}\t${v.name} = ${v.value}${suffix},`);
  return [`enum${t.name === '' ? '' : ` ${t.name}`} {`, ...values, `${indent}}`].join('\n');
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
  const body = base.kind === 'enum' || base.kind === 'enum64' ? enumBody(base, indent) : recordBody(btf, base, indent);
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
