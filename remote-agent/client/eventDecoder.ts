/**
 * Decodes ring buffer and perf buffer records into named fields with the program's BTF: the
 * record's C type is compiled once into a tree of small closures (one per member, with offsets,
 * widths and signedness fixed at compile time), which then decode whole batches straight out of
 * one Buffer — no per-record type walking, no copies. Rules, as an eBPF developer reads them:
 * integers signed or unsigned by their BTF encoding (64-bit ones as numbers while exact, else
 * bigint), bitfields, enums by their enumerator names, `char` arrays as text up to the NUL when
 * printable, nested structs/unions/arrays as nested values (anonymous members flattened, as C
 * reads them), a trailing flexible array filled from the rest of the record, pointers and
 * anything without a meaning (fwd, void, func) as hex bytes.
 */
import type { Btf, BtfType } from './btf';

/** Raw bytes shown as hex: pointers, non-text char arrays, types without a meaning. JSON: "0x…". */
export class HexBytes {
  constructor(readonly hex: string) {}
  toString(): string {
    return this.hex;
  }
  toJSON(): string {
    return this.hex;
  }
}

export type DecodedValue = number | bigint | boolean | string | HexBytes | DecodedValue[] | DecodedFields;
export interface DecodedFields {
  [field: string]: DecodedValue;
}

/** Decodes one value at `offset` of `bytes`; `end` bounds a trailing flexible array. */
type ValueReader = (bytes: Buffer, view: DataView, offset: number, end: number) => DecodedValue;

export interface RecordDecoder {
  /** C spelling of the record type, e.g. "struct exec_event". */
  readonly typeName: string;
  /** sizeof the type; records shorter than this are decoded as hex with a note. */
  readonly size: number;
  decode(bytes: Buffer, offset: number, length: number): DecodedValue;
  /** Decodes a batch of records laid back to back (an `events` notification's data and sizes). */
  decodeBatch(bytes: Buffer, sizes: readonly number[]): DecodedValue[];
}

const TWO_32 = 4294967296;
/** 2^21: a high word below this keeps a 64-bit value within Number.MAX_SAFE_INTEGER. */
const SAFE_HIGH = 0x200000;
const MAX_DEPTH = 32;

/** Compiles the decoder of BTF type `typeId` (records of the target's byte order). */
export function compileRecordDecoder(btf: Btf, typeId: number, littleEndian = true): RecordDecoder {
  const reader = new ReaderCompiler(btf, littleEndian).reader(typeId, 0);
  const size = btf.sizeOf(typeId);
  const typeName = btf.typeName(typeId);
  const decode = (bytes: Buffer, view: DataView, offset: number, length: number): DecodedValue => {
    if (length < size) {
      return { _error: `the record is ${length} bytes, shorter than ${typeName} (${size} bytes)`, _bytes: hexOf(bytes, offset, length) };
    }
    return reader(bytes, view, offset, offset + length);
  };
  return {
    typeName,
    size,
    decode: (bytes, offset, length) => decode(bytes, viewOf(bytes), offset, length),
    decodeBatch: (bytes, sizes) => {
      const view = viewOf(bytes);
      const out = new Array<DecodedValue>(sizes.length);
      let offset = 0;
      for (let i = 0; i < sizes.length; i++) {
        const length = sizes[i];
        if (offset + length > bytes.length) throw new Error(`event batch is ${bytes.length} bytes, but its sizes add up to more`);
        out[i] = decode(bytes, view, offset, length);
        offset += length;
      }
      return out;
    },
  };
}

/** For records whose type is unknown: each record as hex bytes. */
export const hexRecordDecoder: RecordDecoder = {
  typeName: 'unknown',
  size: 0,
  decode: (bytes, offset, length) => hexOf(bytes, offset, length),
  decodeBatch: (bytes, sizes) => {
    const out = new Array<DecodedValue>(sizes.length);
    let offset = 0;
    for (let i = 0; i < sizes.length; i++) {
      out[i] = hexOf(bytes, offset, sizes[i]);
      offset += sizes[i];
    }
    return out;
  },
};

function viewOf(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hexOf(bytes: Buffer, offset: number, length: number): HexBytes {
  return new HexBytes(`0x${bytes.toString('hex', offset, offset + length)}`);
}

class ReaderCompiler {
  constructor(
    private readonly btf: Btf,
    private readonly le: boolean,
  ) {}

  /** A reader of type `id` at a fixed offset from the start of the value it is handed. */
  reader(id: number, depth: number): ValueReader {
    if (depth > MAX_DEPTH) throw new Error(`type ${this.btf.typeName(id)} nests more than ${MAX_DEPTH} levels deep`);
    const t = this.btf.resolve(id);
    switch (t.kind) {
      case 'int':
        return this.intReader(t);
      case 'enum':
      case 'enum64':
        return this.enumReader(t);
      case 'float':
        if (t.size === 4) return (_b, v, o) => v.getFloat32(o, this.le);
        if (t.size === 8) return (_b, v, o) => v.getFloat64(o, this.le);
        return bytesReader(t.size ?? 0);
      case 'ptr':
        return this.pointerReader(this.btf.sizeOf(id));
      case 'array':
        return this.arrayReader(t, depth);
      case 'struct':
      case 'union':
        return this.compositeReader(t, depth);
      default:
        // void, fwd, func, func_proto, var, datasec: nothing to interpret.
        return bytesReader(this.btf.sizeOf(id));
    }
  }

  private intReader(t: BtfType): ValueReader {
    const enc = t.encoding!;
    const size = t.size!;
    if (enc.bits !== size * 8 || enc.offset !== 0) {
      // Old-style BTF bitfield: the int type itself carries the width and the offset.
      const field = this.bitfieldReader(enc.offset, enc.bits, enc.signed);
      return enc.bool ? (b, v, o, e) => field(b, v, o, e) !== 0 : field;
    }
    const le = this.le;
    let read: ValueReader;
    switch (size) {
      case 1:
        read = enc.signed ? (_b, v, o) => v.getInt8(o) : (b, _v, o) => b[o];
        break;
      case 2:
        read = enc.signed ? (_b, v, o) => v.getInt16(o, le) : (_b, v, o) => v.getUint16(o, le);
        break;
      case 4:
        read = enc.signed ? (_b, v, o) => v.getInt32(o, le) : (_b, v, o) => v.getUint32(o, le);
        break;
      case 8:
        read = enc.signed ? (_b, v, o) => readS64(v, o, le) : (_b, v, o) => readU64(v, o, le);
        break;
      default:
        // __int128 and other widths: hex, most significant byte first as people write numbers.
        return (b, _v, o) => new HexBytes(`0x${hexNumber(b, o, size, le)}`);
    }
    return enc.bool ? (b, v, o, e) => read(b, v, o, e) !== 0 : read;
  }

  private enumReader(t: BtfType): ValueReader {
    const names = new Map<number | bigint, string>();
    for (const { name, value } of t.values ?? []) names.set(normalise(value), name);
    const size = t.size!;
    const signed = t.signed ?? false;
    const raw = this.intReader({ ...t, kind: 'int', encoding: { signed, char: false, bool: false, bits: size * 8, offset: 0 } });
    return (b, v, o, e) => {
      const value = raw(b, v, o, e) as number | bigint;
      return names.get(value) ?? value;
    };
  }

  private pointerReader(size: number): ValueReader {
    const le = this.le;
    return (b, _v, o) => new HexBytes(`0x${hexNumber(b, o, size, le)}`);
  }

  private arrayReader(t: BtfType, depth: number): ValueReader {
    const { elemType, nelems } = t.array!;
    const elem = this.btf.resolve(elemType);
    const elemSize = this.btf.sizeOf(elemType);
    if (elem.kind === 'int' && elem.size === 1 && (elem.name === 'char' || elem.encoding!.char)) {
      return nelems === 0 ? (b, _v, o, e) => charText(b, o, e - o) : (b, _v, o) => charText(b, o, nelems);
    }
    const read = this.reader(elemType, depth + 1);
    if (elemSize === 0) return () => [];
    if (nelems === 0) {
      // A flexible array member: as many whole elements as the record still holds.
      return (b, v, o, e) => {
        const count = Math.max(0, Math.floor((e - o) / elemSize));
        const out = new Array<DecodedValue>(count);
        for (let i = 0; i < count; i++) out[i] = read(b, v, o + i * elemSize, e);
        return out;
      };
    }
    return (b, v, o, e) => {
      const out = new Array<DecodedValue>(nelems);
      for (let i = 0; i < nelems; i++) out[i] = read(b, v, o + i * elemSize, e);
      return out;
    };
  }

  private compositeReader(t: BtfType, depth: number): ValueReader {
    const names: string[] = [];
    const readers: ValueReader[] = [];
    this.collectMembers(t, 0, depth, names, readers);
    const count = names.length;
    return (b, v, o, e) => {
      const fields: DecodedFields = {};
      for (let i = 0; i < count; i++) fields[names[i]] = readers[i](b, v, o, e);
      return fields;
    };
  }

  /** Members of a struct/union at `baseBits`; anonymous struct/union members lend their fields to the parent. */
  private collectMembers(t: BtfType, baseBits: number, depth: number, names: string[], readers: ValueReader[]): void {
    for (const m of t.members ?? []) {
      const bitOffset = baseBits + m.bitOffset;
      const memberType = this.btf.resolve(m.type);
      if (m.name === '' && (memberType.kind === 'struct' || memberType.kind === 'union') && m.bitSize === 0) {
        this.collectMembers(memberType, bitOffset, depth + 1, names, readers);
        continue;
      }
      const name = m.name === '' ? `_anon${names.length}` : m.name;
      let read: ValueReader;
      if (m.bitSize > 0 || bitOffset % 8 !== 0) {
        read = this.memberBitfield(memberType, bitOffset, m.bitSize || this.btf.sizeOf(m.type) * 8);
      } else {
        const inner = this.reader(m.type, depth + 1);
        const byteOffset = bitOffset / 8;
        read = byteOffset === 0 ? inner : (b, v, o, e) => inner(b, v, o + byteOffset, e);
      }
      names.push(name);
      readers.push(read);
    }
  }

  private memberBitfield(type: BtfType, bitOffset: number, bitSize: number): ValueReader {
    const signed = type.kind === 'int' ? type.encoding!.signed : (type.signed ?? false);
    const field = this.bitfieldReader(bitOffset, bitSize, signed);
    if (type.kind === 'enum' || type.kind === 'enum64') {
      const names = new Map<number | bigint, string>();
      for (const { name, value } of type.values ?? []) names.set(normalise(value), name);
      return (b, v, o, e) => {
        const value = field(b, v, o, e) as number | bigint;
        return names.get(value) ?? value;
      };
    }
    if (type.kind === 'int' && type.encoding!.bool) return (b, v, o, e) => field(b, v, o, e) !== 0;
    return field;
  }

  /** Reads `bitSize` bits at `bitOffset` (BTF numbering: from the low bit on little-endian, the high bit on big-endian). */
  private bitfieldReader(bitOffset: number, bitSize: number, signed: boolean): ValueReader {
    const byteStart = bitOffset >> 3;
    const shift = bitOffset & 7;
    const span = (shift + bitSize + 7) >> 3;
    const le = this.le;
    if (span <= 6) {
      // Fits in 48 bits: exact in doubles, so plain arithmetic instead of bigint.
      const low = le ? shift : span * 8 - shift - bitSize;
      const divisor = 2 ** low;
      const modulus = 2 ** bitSize;
      const half = modulus / 2;
      return (b, _v, o) => {
        let value = 0;
        const at = o + byteStart;
        if (le) for (let i = span - 1; i >= 0; i--) value = value * 256 + b[at + i];
        else for (let i = 0; i < span; i++) value = value * 256 + b[at + i];
        value = Math.floor(value / divisor) % modulus;
        return signed && value >= half ? value - modulus : value;
      };
    }
    const low = BigInt(le ? shift : span * 8 - shift - bitSize);
    const mask = (1n << BigInt(bitSize)) - 1n;
    return (b, _v, o) => {
      let value = 0n;
      const at = o + byteStart;
      if (le) for (let i = span - 1; i >= 0; i--) value = (value << 8n) | BigInt(b[at + i]);
      else for (let i = 0; i < span; i++) value = (value << 8n) | BigInt(b[at + i]);
      value = (value >> low) & mask;
      const result = signed ? BigInt.asIntN(bitSize, value) : value;
      return result >= -9007199254740991n && result <= 9007199254740991n ? Number(result) : result;
    };
  }
}

function bytesReader(size: number): ValueReader {
  return (b, _v, o) => hexOf(b, o, size);
}

function readU64(v: DataView, o: number, le: boolean): number | bigint {
  const high = v.getUint32(le ? o + 4 : o, le);
  if (high < SAFE_HIGH) return high * TWO_32 + v.getUint32(le ? o : o + 4, le);
  return v.getBigUint64(o, le);
}

function readS64(v: DataView, o: number, le: boolean): number | bigint {
  const high = v.getInt32(le ? o + 4 : o, le);
  if (high < SAFE_HIGH && high >= -SAFE_HIGH) return high * TWO_32 + v.getUint32(le ? o : o + 4, le);
  return v.getBigInt64(o, le);
}

/** Enumerator values as the readers produce them: numbers while exact, else bigint. */
function normalise(value: number | bigint): number | bigint {
  if (typeof value === 'number') return value;
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

function hexNumber(b: Buffer, o: number, size: number, le: boolean): string {
  if (!le) return b.toString('hex', o, o + size);
  let hex = '';
  for (let i = size - 1; i >= 0; i--) hex += (b[o + i] < 16 ? '0' : '') + b[o + i].toString(16);
  return hex;
}

/** Text up to the first NUL when every byte before it is printable (UTF-8 allowed); else the whole array as hex. */
function charText(b: Buffer, o: number, length: number): string | HexBytes {
  let end = o;
  const limit = o + length;
  let ascii = true;
  for (; end < limit; end++) {
    const c = b[end];
    if (c === 0) break;
    if (c < 0x20 || c === 0x7f) {
      if (c !== 0x09 && c !== 0x0a) return hexOf(b, o, length);
    } else if (c >= 0x80) ascii = false;
  }
  if (ascii) return b.toString('latin1', o, end);
  const text = b.toString('utf8', o, end);
  return text.includes('\ufffd') ? hexOf(b, o, length) : text;
}
