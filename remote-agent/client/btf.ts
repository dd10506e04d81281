/**
 * Reads BPF Type Format: the raw .BTF section of a compiled object or a kernel's
 * /sys/kernel/btf/vmlinux (and split BTF of modules, on top of a base). Pure: takes bytes, does no I/O.
 *
 * Shared by the language server (kernel struct layouts, kfuncs, attach points) and event decoding
 * (the layout of a ring buffer record). A kernel's BTF holds ~150k types: the string section is
 * decoded once as one Latin-1 string and names are sliced from it (kernel names are ASCII; other
 * bytes fall back to UTF-8), and the by-name index is built on first use.
 */

export type BtfKind =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

export interface BtfMember {
  name: string;
  type: number;
  bitOffset: number;
  /** 0 unless the member is a bitfield. */
  bitSize: number;
}

export interface BtfType {
  id: number;
  kind: BtfKind;
  /** '' for anonymous types. */
  name: string;
  /** int, float, struct, union, enum, enum64, datasec: size in bytes. */
  size?: number;
  /** ptr, typedef, cv-qualifiers, type_tag, func (its func_proto), func_proto (return), var, decl_tag: the referenced type. */
  type?: number;
  encoding?: { signed: boolean; char: boolean; bool: boolean; bits: number; offset: number };
  array?: { elemType: number; indexType: number; nelems: number };
  members?: BtfMember[];
  values?: { name: string; value: bigint | number }[];
  /** enum/enum64: values are signed. */
  signed?: boolean;
  /** fwd: a forward declaration of a union rather than a struct. */
  fwdUnion?: boolean;
  /** func_proto: a parameter with type 0 and no name last means `...`. */
  params?: { name: string; type: number }[];
  /** func: 0 static, 1 global, 2 extern. var: 0 static, 1 global, 2 extern. */
  linkage?: number;
  /** decl_tag: -1 for the tagged type itself, else the member or parameter index. */
  componentIdx?: number;
  vars?: { type: number; offset: number; size: number }[];
}

export interface Btf {
  /** Index = type id; [0] is void. For split BTF the base's types come first. */
  types: BtfType[];
  /** The named type; without `kind`, a complete definition is preferred over a forward declaration. */
  byName(name: string, kind?: BtfKind): BtfType | undefined;
  /** Skips typedef, const, volatile, restrict and type_tag. */
  resolve(id: number): BtfType;
  sizeOf(id: number): number;
  /** C spelling of the type, e.g. `struct task_struct *`, `char[16]`, `int (*)(void *)`. */
  typeName(id: number): string;
  /** C declaration of `declarator` (a member or typedef name, or '') with type `id`, e.g. `char comm[16]`, `int (*fn)(void *)`. */
  declaration(id: number, declarator: string): string;
}

export class BtfFormatError extends Error {
  constructor(message: string) {
    super(`Not readable BTF: ${message}`);
    this.name = 'BtfFormatError';
  }
}

const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;

const KINDS: BtfKind[] = [
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
];

/** Most types one declaration may visit, and its longest text: far above any real C type, far below a hang. */
const DECLARATION_STEPS = 2_000;
const DECLARATION_CHARS = 16_384;

const MODIFIERS = new Set<BtfKind>(['typedef', 'const', 'volatile', 'restrict', 'type_tag']);

export function parseBtf(bytes: Uint8Array, base?: Btf): Btf {
  if (bytes.length < HEADER_MIN) throw new BtfFormatError(`${bytes.length} bytes is shorter than the BTF header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  if (view.getUint16(0, true) === BTF_MAGIC) little = true;
  else if (view.getUint16(0, false) === BTF_MAGIC) little = false;
  else {
    const magic = view.getUint16(0, true).toString(16).padStart(4, '0');
    throw new BtfFormatError(`bad magic 0x${magic} (expected 0xeb9f); pass a raw .BTF section or /sys/kernel/btf/vmlinux, not an ELF file`);
  }
  const version = view.getUint8(2);
  if (version !== 1) throw new BtfFormatError(`version ${version} is not supported (only version 1 exists)`);
  const hdrLen = view.getUint32(4, little);
  const typeOff = view.getUint32(8, little);
  const typeLen = view.getUint32(12, little);
  const strOff = view.getUint32(16, little);
  const strLen = view.getUint32(20, little);
  if (hdrLen < HEADER_MIN || hdrLen + typeOff + typeLen > bytes.length || hdrLen + strOff + strLen > bytes.length) {
    throw new BtfFormatError(`header says types at ${typeOff}+${typeLen} and strings at ${strOff}+${strLen} but only ${bytes.length - hdrLen} bytes follow it; the file is truncated`);
  }

  const strStart = hdrLen + strOff;
  const strBytes = bytes.subarray(strStart, strStart + strLen);
  const latin1 = Buffer.from(strBytes.buffer, strBytes.byteOffset, strBytes.byteLength).toString('latin1');
  const ascii = !/[\x80-\xff]/.test(latin1);
  const baseStrings = base === undefined ? 0 : (base as BtfIndex).stringsLength;
  const baseName = base === undefined ? undefined : (base as BtfIndex).nameAt;
  const nameAt = (off: number): string => {
    if (off < baseStrings) return baseName!(off);
    const local = off - baseStrings;
    if (local === 0) return '';
    if (local >= strLen) throw new BtfFormatError(`string offset ${off} is past the string section (${strLen} bytes)`);
    let end = latin1.indexOf('\0', local);
    if (end === -1) end = strLen;
    if (ascii) return latin1.slice(local, end);
    return Buffer.from(strBytes.buffer, strBytes.byteOffset + local, end - local).toString('utf8');
  };

  const types: BtfType[] = base === undefined ? [{ id: 0, kind: 'void', name: '' }] : base.types.slice();
  let p = hdrLen + typeOff;
  const typeEnd = p + typeLen;
  // Reading whole words from an aligned copy is ~2x faster than DataView calls over 150k types.
  const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  let words: Uint32Array | undefined;
  if (little === hostLittle && p % 4 === 0) {
    words = new Uint32Array(Math.ceil(typeEnd / 4));
    new Uint8Array(words.buffer).set(bytes.subarray(0, typeEnd));
  }
  const u32 = words === undefined ? (at: number) => view.getUint32(at, little) : (at: number) => words![at >>> 2];
  const i32 = words === undefined ? (at: number) => view.getInt32(at, little) : (at: number) => words![at >>> 2] | 0;

  while (p < typeEnd) {
    if (p + 12 > typeEnd) throw new BtfFormatError(`type ${types.length} is cut off at byte ${p}`);
    const id = types.length;
    const nameOff = u32(p);
    const info = u32(p + 4);
    const sizeOrType = u32(p + 8);
    const vlen = info & 0xffff;
    const kindNo = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const kind = KINDS[kindNo];
    if (kind === undefined || kindNo === 0) throw new BtfFormatError(`type ${id} has unknown kind ${kindNo}; the BTF is newer than this reader`);
    p += 12;
    const extra = extraBytes(kind, vlen);
    // Checked before reading: past the section a DataView read throws RangeError (found by the property tests).
    if (p + extra > typeEnd) throw new BtfFormatError(`type ${id} (${kind}, ${vlen} entries) runs ${p + extra - typeEnd} bytes past the type section`);
    const t: BtfType = { id, kind, name: nameOff === 0 ? '' : nameAt(nameOff) };
    switch (kind) {
      case 'int': {
        const enc = u32(p);
        p += 4;
        const flags = (enc >>> 24) & 0xf;
        t.size = sizeOrType;
        t.encoding = { signed: (flags & 1) !== 0, char: (flags & 2) !== 0, bool: (flags & 4) !== 0, bits: enc & 0xff, offset: (enc >>> 16) & 0xff };
        break;
      }
      case 'float':
        t.size = sizeOrType;
        break;
      case 'array':
        t.array = { elemType: u32(p), indexType: u32(p + 4), nelems: u32(p + 8) };
        p += 12;
        break;
      case 'struct':
      case 'union': {
        t.size = sizeOrType;
        const members: BtfMember[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 12) {
          const off = u32(p + 8);
          const mName = u32(p);
          members[i] = {
            name: mName === 0 ? '' : nameAt(mName),
            type: u32(p + 4),
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitSize: kindFlag ? off >>> 24 : 0,
          };
        }
        t.members = members;
        break;
      }
      case 'enum': {
        t.size = sizeOrType;
        t.signed = kindFlag;
        const values: { name: string; value: number }[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 8) values[i] = { name: nameAt(u32(p)), value: kindFlag ? i32(p + 4) : u32(p + 4) };
        t.values = values;
        break;
      }
      case 'enum64': {
        t.size = sizeOrType;
        t.signed = kindFlag;
        const values: { name: string; value: bigint }[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 12) {
          const raw = (BigInt(u32(p + 8)) << 32n) | BigInt(u32(p + 4));
          values[i] = { name: nameAt(u32(p)), value: kindFlag ? BigInt.asIntN(64, raw) : raw };
        }
        t.values = values;
        break;
      }
      case 'fwd':
        t.fwdUnion = kindFlag;
        break;
      case 'func':
        t.type = sizeOrType;
        t.linkage = vlen;
        break;
      case 'func_proto': {
        t.type = sizeOrType;
        const params: { name: string; type: number }[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 8) {
          const pName = u32(p);
          params[i] = { name: pName === 0 ? '' : nameAt(pName), type: u32(p + 4) };
        }
        t.params = params;
        break;
      }
      case 'var':
        t.type = sizeOrType;
        t.linkage = u32(p);
        p += 4;
        break;
      case 'datasec': {
        t.size = sizeOrType;
        const vars: { type: number; offset: number; size: number }[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 12) vars[i] = { type: u32(p), offset: u32(p + 4), size: u32(p + 8) };
        t.vars = vars;
        break;
      }
      case 'decl_tag':
        t.type = sizeOrType;
        t.componentIdx = i32(p);
        p += 4;
        break;
      default:
        // ptr, typedef, volatile, const, restrict, type_tag: just the referenced type.
        t.type = sizeOrType;
    }
    types.push(t);
  }
  if (p !== typeEnd) throw new BtfFormatError(`the last type runs ${p - typeEnd} bytes past the type section`);
  return new BtfIndex(types, baseStrings + strLen, nameAt);
}

/** Bytes that follow the 12-byte common part of a type of @kind with @vlen entries. */
function extraBytes(kind: BtfKind, vlen: number): number {
  switch (kind) {
    case 'int':
    case 'var':
    case 'decl_tag':
      return 4;
    case 'array':
      return 12;
    case 'struct':
    case 'union':
    case 'enum64':
    case 'datasec':
      return 12 * vlen;
    case 'enum':
    case 'func_proto':
      return 8 * vlen;
    default:
      return 0;
  }
}

class BtfIndex implements Btf {
  private names: Map<string, number | number[]> | undefined;
  private pointerSize: number | undefined;

  constructor(
    readonly types: BtfType[],
    /** Offsets below this belong to this BTF or its base: split BTF on top of it continues from here. */
    readonly stringsLength: number,
    readonly nameAt: (off: number) => string,
  ) {}

  private type(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) throw new BtfFormatError(`type id ${id} does not exist (there are ${this.types.length})`);
    return t;
  }

  byName(name: string, kind?: BtfKind): BtfType | undefined {
    if (this.names === undefined) {
      const names = new Map<string, number | number[]>();
      for (const t of this.types) {
        if (t.name === '') continue;
        const seen = names.get(t.name);
        if (seen === undefined) names.set(t.name, t.id);
        else if (typeof seen === 'number') names.set(t.name, [seen, t.id]);
        else seen.push(t.id);
      }
      this.names = names;
    }
    const found = this.names.get(name);
    if (found === undefined) return undefined;
    const ids = typeof found === 'number' ? [found] : found;
    if (kind !== undefined) {
      const id = ids.find((i) => this.types[i].kind === kind);
      return id === undefined ? undefined : this.types[id];
    }
    // `struct sock` may also exist as a forward declaration; decl tags share their target's name.
    const ranked = ids.map((i) => this.types[i]).filter((t) => t.kind !== 'decl_tag');
    return ranked.find((t) => t.kind !== 'fwd') ?? ranked[0];
  }

  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let depth = 0; MODIFIERS.has(t.kind); depth++) {
      if (depth > 64) throw new BtfFormatError(`type ${id} is a loop of typedefs or qualifiers`);
      t = this.type(t.type!);
    }
    return t;
  }

  sizeOf(id: number, depth = 0): number {
    // An array (or var) of itself, found by the property tests: a stack overflow without this bound.
    if (depth > 64) throw new BtfFormatError(`type ${id} contains itself (a loop of arrays or vars)`);
    const t = this.resolve(id);
    switch (t.kind) {
      case 'ptr':
        return this.ptrSize();
      case 'array':
        return t.array!.nelems * this.sizeOf(t.array!.elemType, depth + 1);
      case 'var':
        return this.sizeOf(t.type!, depth + 1);
      default:
        return t.size ?? 0;
    }
  }

  /** A pointer is as wide as `long` (4 on 32-bit kernels); 8 when the BTF does not say. */
  private ptrSize(): number {
    if (this.pointerSize === undefined) {
      const long = this.byName('long int', 'int') ?? this.byName('long unsigned int', 'int');
      this.pointerSize = long?.size ?? 8;
    }
    return this.pointerSize;
  }

  typeName(id: number): string {
    return this.declaration(id, '').trim();
  }

  declaration(id: number, declarator: string): string {
    return this.declare(id, declarator, 0, { steps: 0 });
  }

  /**
   * C declaration of `declarator` (e.g. a name, `*`, or '') with type `id`: types wrap declarators
   * inside out. Bounded in depth (loops) and in total steps: function prototypes whose parameters
   * are prototypes again multiply the work at each level (found by the property tests, where a
   * chain of 40 such types never finished).
   */
  private declare(id: number, declarator: string, depth: number, budget: { steps: number }): string {
    if (depth > 64) throw new BtfFormatError(`type ${id} nests too deeply to print`);
    if (++budget.steps > DECLARATION_STEPS || declarator.length > DECLARATION_CHARS) {
      throw new BtfFormatError(`type ${id} is too large to print (over ${DECLARATION_STEPS} nested types or ${DECLARATION_CHARS} characters)`);
    }
    const t = this.type(id);
    const tag = (keyword: string) => `${keyword} ${t.name === '' ? '(anon)' : t.name}`;
    const spaced = (base: string) => (declarator === '' || declarator.startsWith('[') ? `${base}${declarator}` : `${base} ${declarator}`);
    switch (t.kind) {
      case 'void':
        return spaced('void');
      case 'int':
      case 'float':
      case 'typedef':
        return spaced(t.name);
      case 'struct':
      case 'union':
      case 'enum':
        return spaced(tag(t.kind));
      case 'enum64':
        return spaced(tag('enum'));
      case 'fwd':
        return spaced(tag(t.fwdUnion ? 'union' : 'struct'));
      case 'const':
      case 'volatile':
      case 'restrict':
        // C cannot qualify an array, only its elements, which BTF then qualifies too: drop it, as bpftool does.
        if (this.type(t.type!).kind === 'array') return this.declare(t.type!, declarator, depth + 1, budget);
        // A qualified pointer qualifies the declarator (`char *const p`); anything else reads `const char *p`.
        if (this.type(t.type!).kind === 'ptr') return this.declare(t.type!, declarator === '' ? t.kind : `${t.kind} ${declarator}`, depth + 1, budget);
        return `${t.kind} ${this.declare(t.type!, declarator, depth + 1, budget)}`;
      case 'type_tag':
        return this.declare(t.type!, declarator, depth + 1, budget);
      case 'ptr': {
        const target = this.type(t.type!);
        const inner = `*${declarator}`;
        const needsParens = target.kind === 'array' || target.kind === 'func_proto';
        return this.declare(t.type!, needsParens ? `(${inner})` : inner, depth + 1, budget);
      }
      case 'array':
        return this.declare(t.array!.elemType, `${declarator}[${t.array!.nelems}]`, depth + 1, budget);
      case 'func_proto': {
        const params = t.params!.map((param, i) =>
          param.type === 0 && i === t.params!.length - 1 ? '...' : this.declare(param.type, param.name, depth + 1, budget).trim(),
        );
        return this.declare(t.type!, `${declarator}(${params.length === 0 ? 'void' : params.join(', ')})`, depth + 1, budget);
      }
      case 'func':
        return this.declare(t.type!, t.name, depth + 1, budget);
      case 'var':
        return this.declare(t.type!, t.name, depth + 1, budget);
      case 'datasec':
        return spaced(`SEC("${t.name}")`);
      case 'decl_tag':
        return spaced(`__attribute__((btf_decl_tag("${t.name}")))`);
    }
  }
}
