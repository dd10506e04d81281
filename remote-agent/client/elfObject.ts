/**
 * Reads a compiled BPF object (64-bit ELF relocatable, little- or big-endian) far enough to map a
 * program's instruction index, as the verifier log numbers it, to a source file, line and column:
 * section headers, the symbol table (program functions), the .BTF string section and the
 * .BTF.ext func_info/line_info records. Pure: takes the object's bytes, does no I/O.
 *
 * In an object file, BTF.ext insn_off is a byte offset within the ELF section; libbpf turns it
 * into an instruction index when it loads. The verifier numbers a program's instructions from the
 * start of its function; subprograms that libbpf appends behind it have no position we can know
 * here, so lookups past the function's end answer undefined.
 */

const BPF_INSN_SIZE = 8;
const EM_BPF = 247;
const SHT_SYMTAB = 2;
const STT_FUNC = 2;
const BTF_MAGIC = 0xeb9f;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfFunction {
  name: string;
  /** Index of the section holding the function's code. */
  sectionIndex: number;
  sectionName: string;
  /** Byte offset of the function in its section. */
  offset: number;
  /** Size in bytes (0 when the symbol does not say). */
  size: number;
  global: boolean;
}

export interface LineInfo {
  /** Byte offset in the section. */
  insnOff: number;
  /** File name as the compiler recorded it (often absolute, in the compiling directory). */
  file: string;
  line: number;
  /** 1-based column; 0 when unknown. */
  column: number;
  /** The source line's text as the compiler recorded it ('' when it could not read the file). */
  source: string;
}

export interface FuncInfo {
  insnOff: number;
  typeId: number;
}

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
  source: string;
}

export class ElfFormatError extends Error {
  constructor(message: string) {
    super(`Not a readable BPF object: ${message}`);
    this.name = 'ElfFormatError';
  }
}

interface ObjectTables {
  sections: ElfSection[];
  functions: ElfFunction[];
  lineInfo: Map<string, LineInfo[]>;
  funcInfo: Map<string, FuncInfo[]>;
  littleEndian: boolean;
}

export class BpfObject {
  readonly sections: ElfSection[];
  readonly functions: ElfFunction[];
  /** line_info records per section name, sorted by insnOff. */
  readonly lineInfo: Map<string, LineInfo[]>;
  readonly funcInfo: Map<string, FuncInfo[]>;
  readonly littleEndian: boolean;

  private constructor(tables: ObjectTables) {
    this.sections = tables.sections;
    this.functions = tables.functions;
    this.lineInfo = tables.lineInfo;
    this.funcInfo = tables.funcInfo;
    this.littleEndian = tables.littleEndian;
  }

  /** Throws ElfFormatError when the bytes are not a well-formed BPF ELF object. */
  static parse(bytes: Uint8Array): BpfObject {
    return new BpfObject(parseObject(bytes));
  }

  findFunction(name: string): ElfFunction | undefined {
    return this.functions.find((f) => f.name === name);
  }

  /**
   * Source position of instruction `insn` of program `program` (instruction 0 = the function's
   * first). Entries with line 0 mark compiler-generated code: the nearest earlier real line wins.
   * Undefined past the function's end (libbpf's appended subprograms) or without line info.
   */
  positionOf(program: string, insn: number): SourcePosition | undefined {
    const fn = this.findFunction(program);
    if (!fn || !Number.isInteger(insn) || insn < 0) return undefined;
    const target = fn.offset + insn * BPF_INSN_SIZE;
    if (fn.size > 0 && target >= fn.offset + fn.size) return undefined;
    const infos = this.lineInfo.get(fn.sectionName);
    if (!infos) return undefined;
    let best: LineInfo | undefined;
    for (const li of infos) {
      if (li.insnOff > target) break;
      if (li.insnOff >= fn.offset && li.line > 0) best = li;
    }
    if (!best) return undefined;
    return { file: best.file, line: best.line, column: best.column, source: best.source };
  }

  /** Every source line with instructions in program `program`'s own function (not its subprograms), by line info. */
  linesOf(program: string): SourcePosition[] {
    const fn = this.findFunction(program);
    const infos = fn && this.lineInfo.get(fn.sectionName);
    if (!fn || !infos) return [];
    const end = fn.size > 0 ? fn.offset + fn.size : Infinity;
    return infos
      .filter((li) => li.insnOff >= fn.offset && li.insnOff < end && li.line > 0)
      .map((li) => ({ file: li.file, line: li.line, column: li.column, source: li.source }));
  }
}

function parseObject(bytes: Uint8Array): ObjectTables {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfFormatError('the data does not start with the ELF magic.');
  }
  if (bytes[4] !== 2) throw new ElfFormatError('only 64-bit ELF objects are supported.');
  if (bytes[5] !== 1 && bytes[5] !== 2) throw new ElfFormatError(`unknown ELF data encoding ${bytes[5]}.`);
  const le = bytes[5] === 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = view.getUint16(0x12, le);
  if (machine !== EM_BPF) throw new ElfFormatError(`ELF machine is ${machine}, not BPF (${EM_BPF}).`);

  const shoff = toOffset(view.getBigUint64(0x28, le), 'section header offset');
  const shentsize = view.getUint16(0x3a, le);
  const shnum = view.getUint16(0x3c, le);
  const shstrndx = view.getUint16(0x3e, le);
  if (shentsize < 64) throw new ElfFormatError(`section header entry size ${shentsize} is too small.`);
  checkRange(bytes, shoff, shnum * shentsize, 'section header table');

  const raw: Omit<ElfSection, 'name'>[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const b = shoff + i * shentsize;
    nameOffs.push(view.getUint32(b, le));
    const section = {
      index: i,
      type: view.getUint32(b + 4, le),
      flags: view.getBigUint64(b + 8, le),
      offset: toOffset(view.getBigUint64(b + 24, le), 'section offset'),
      size: toOffset(view.getBigUint64(b + 32, le), 'section size'),
      link: view.getUint32(b + 40, le),
      entsize: toOffset(view.getBigUint64(b + 56, le), 'section entry size'),
    };
    // SHT_NOBITS (8) occupies no file bytes.
    if (section.type !== 8) checkRange(bytes, section.offset, section.size, `section ${i}`);
    raw.push(section);
  }
  if (shstrndx >= shnum) throw new ElfFormatError('the section name table index is out of range.');
  const shstr = raw[shstrndx];
  const sections: ElfSection[] = raw.map((s, i) => ({ ...s, name: cString(bytes, shstr.offset, shstr.size, nameOffs[i]) }));

  const functions = readFunctions(bytes, view, le, sections);
  const btf = sections.find((s) => s.name === '.BTF');
  const ext = sections.find((s) => s.name === '.BTF.ext');
  const lineInfo = new Map<string, LineInfo[]>();
  const funcInfo = new Map<string, FuncInfo[]>();
  if (btf && ext) {
    const strings = readBtfStrings(bytes, view, btf);
    readBtfExt(view, ext, strings, lineInfo, funcInfo);
  }
  return { sections, functions, lineInfo, funcInfo, littleEndian: le };
}

function readFunctions(bytes: Uint8Array, view: DataView, le: boolean, sections: ElfSection[]): ElfFunction[] {
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) return [];
  const strtab = sections[symtab.link];
  if (!strtab) throw new ElfFormatError('the symbol table links to a missing string table.');
  const entsize = symtab.entsize || 24;
  const functions: ElfFunction[] = [];
  for (let off = symtab.offset; off + 24 <= symtab.offset + symtab.size; off += entsize) {
    const info = view.getUint8(off + 4);
    const shndx = view.getUint16(off + 6, le);
    if ((info & 0xf) !== STT_FUNC || shndx === 0 || shndx >= sections.length) continue;
    functions.push({
      name: cString(bytes, strtab.offset, strtab.size, view.getUint32(off, le)),
      sectionIndex: shndx,
      sectionName: sections[shndx].name,
      offset: toOffset(view.getBigUint64(off + 8, le), 'symbol value'),
      size: toOffset(view.getBigUint64(off + 16, le), 'symbol size'),
      global: info >> 4 !== 0,
    });
  }
  return functions;
}

interface BtfStrings {
  get(offset: number): string;
}

function readBtfStrings(bytes: Uint8Array, view: DataView, btf: ElfSection): BtfStrings {
  const le = btfEndianness(view, btf);
  const hdrLen = view.getUint32(btf.offset + 4, le);
  const strOff = view.getUint32(btf.offset + 16, le);
  const strLen = view.getUint32(btf.offset + 20, le);
  const start = btf.offset + hdrLen + strOff;
  if (hdrLen + strOff + strLen > btf.size) throw new ElfFormatError('the .BTF string section lies outside .BTF.');
  const cache = new Map<number, string>();
  return {
    get(offset: number): string {
      let s = cache.get(offset);
      if (s === undefined) {
        if (offset >= strLen) throw new ElfFormatError(`BTF string offset ${offset} is out of range.`);
        s = cString(bytes, start, strLen, offset);
        cache.set(offset, s);
      }
      return s;
    },
  };
}

/** BTF carries its own byte order in the magic; it matches the ELF's in practice, but read it. */
function btfEndianness(view: DataView, section: ElfSection): boolean {
  if (section.size < 8) throw new ElfFormatError(`${section.name} is too short for its header.`);
  if (view.getUint16(section.offset, true) === BTF_MAGIC) return true;
  if (view.getUint16(section.offset, false) === BTF_MAGIC) return false;
  throw new ElfFormatError(`${section.name} does not start with the BTF magic 0xeb9f.`);
}

function readBtfExt(
  view: DataView,
  ext: ElfSection,
  strings: BtfStrings,
  lineInfo: Map<string, LineInfo[]>,
  funcInfo: Map<string, FuncInfo[]>,
): void {
  const le = btfEndianness(view, ext);
  const hdrLen = view.getUint32(ext.offset + 4, le);
  // Header: magic, version, flags, hdr_len, then offset/length pairs of func_info and line_info
  // (relative to the end of the header), then optionally core_relo's, which we do not need.
  if (hdrLen < 24 || hdrLen > ext.size) throw new ElfFormatError('the .BTF.ext header length is invalid.');
  const base = ext.offset + hdrLen;
  const end = ext.offset + ext.size;
  const funcOff = view.getUint32(ext.offset + 8, le);
  const funcLen = view.getUint32(ext.offset + 12, le);
  const lineOff = view.getUint32(ext.offset + 16, le);
  const lineLen = view.getUint32(ext.offset + 20, le);

  forEachInfoRecord(view, le, base + funcOff, funcLen, end, 8, strings, (sec, at) => {
    push(funcInfo, sec, { insnOff: view.getUint32(at, le), typeId: view.getUint32(at + 4, le) });
  });
  forEachInfoRecord(view, le, base + lineOff, lineLen, end, 16, strings, (sec, at) => {
    const lineCol = view.getUint32(at + 12, le);
    push(lineInfo, sec, {
      insnOff: view.getUint32(at, le),
      file: strings.get(view.getUint32(at + 4, le)),
      source: strings.get(view.getUint32(at + 8, le)).trim(),
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
    });
  });
  for (const list of lineInfo.values()) list.sort((a, b) => a.insnOff - b.insnOff);
}

/**
 * A BTF.ext info block: u32 record size, then per section { u32 section name offset, u32 count,
 * count records of that size }. Records may be larger than the fields we read (newer formats).
 */
function forEachInfoRecord(
  view: DataView,
  le: boolean,
  start: number,
  length: number,
  end: number,
  minRecordSize: number,
  strings: BtfStrings,
  visit: (sectionName: string, recordAt: number) => void,
): void {
  if (length === 0) return;
  const stop = start + length;
  if (stop > end || length < 4) throw new ElfFormatError('a .BTF.ext info block lies outside .BTF.ext.');
  const recSize = view.getUint32(start, le);
  if (recSize < minRecordSize) throw new ElfFormatError(`.BTF.ext record size ${recSize} is too small.`);
  let at = start + 4;
  while (at + 8 <= stop) {
    const sectionName = strings.get(view.getUint32(at, le));
    const count = view.getUint32(at + 4, le);
    at += 8;
    if (at + count * recSize > stop) throw new ElfFormatError(`.BTF.ext records of ${sectionName} overrun the block.`);
    for (let i = 0; i < count; i++, at += recSize) visit(sectionName, at);
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function toOffset(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfFormatError(`${what} ${v} is too large.`);
  return Number(v);
}

function checkRange(bytes: Uint8Array, offset: number, size: number, what: string): void {
  if (offset + size > bytes.length) throw new ElfFormatError(`${what} lies outside the file.`);
}

function cString(bytes: Uint8Array, tableStart: number, tableSize: number, offset: number): string {
  if (offset >= tableSize) throw new ElfFormatError(`string offset ${offset} is out of range.`);
  let endAt = tableStart + offset;
  const limit = tableStart + tableSize;
  while (endAt < limit && bytes[endAt] !== 0) endAt++;
  return new TextDecoder().decode(bytes.subarray(tableStart + offset, endAt));
}
