/**
 * Property tests (fast-check) of the parsers that read what a target sends: verifier logs, BTF,
 * ELF objects with their line info, trace_pipe lines and the agent's message framing. Inputs are
 * arbitrary, and real ones (test/fixtures) mutated: a parser may refuse an input only with its own
 * error type, answers within a time bound, and keeps the invariants its callers rely on. Runs per
 * property: PROPERTY_RUNS (default 200); a failure prints fast-check's seed and shrunk input.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Message } from 'vscode-jsonrpc/node';
import { AgentClient, AgentError } from '../../remote-agent/client/agentClient';
import { BtfFormatError, parseBtf } from '../../remote-agent/client/btf';
import { BpfObject, ElfFormatError } from '../../remote-agent/client/elfObject';
import { LineMessageReader, LineMessageWriter } from '../../remote-agent/client/lineJsonRpc';
import { parseLostLine, parseTraceLine } from '../../remote-agent/client/traceLine';
import { parseVerifierLog, splitLogLines } from '../../remote-agent/client/verifierLog';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const FIXTURES = join(import.meta.dirname, '../fixtures/verifier-logs');
const fixtureDirs = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'verifier.log')));
const realLogs = fixtureDirs.map((d) => readFileSync(join(FIXTURES, d, 'verifier.log'), 'utf8'));
const realObjects = fixtureDirs
  .filter((d) => existsSync(join(FIXTURES, d, 'prog.o')))
  .map((d) => new Uint8Array(readFileSync(join(FIXTURES, d, 'prog.o'))));
const realBtfs = realObjects.map((bytes) => {
  const btf = BpfObject.parse(bytes).sections.find((s) => s.name === '.BTF');
  assert.ok(btf, 'every fixture object carries .BTF');
  return bytes.slice(btf.offset, btf.offset + btf.size);
});

/** Runs `fn`, failing when it takes longer than `ms`, whether it returns or throws (a parser must not hang on what it reads). */
function within<T>(ms: number, what: string, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    const took = performance.now() - start;
    assert.ok(took < ms, `${what} took ${took.toFixed(0)} ms (bound ${ms} ms)`);
  }
}

/** Edits of a real input: cut a range, repeat a range, insert text, or truncate. */
type Edit = { kind: 'cut' | 'repeat' | 'insert' | 'truncate'; at: number; length: number; text: string };
const edits = fc.array(
  fc.record({
    kind: fc.constantFrom<Edit['kind']>('cut', 'repeat', 'insert', 'truncate'),
    at: fc.nat(),
    length: fc.nat({ max: 400 }),
    text: fc.string({ maxLength: 40, unit: 'binary' }),
  }),
  { maxLength: 6 },
);
function applyEdits(text: string, list: Edit[]): string {
  for (const e of list) {
    const at = text.length === 0 ? 0 : e.at % (text.length + 1);
    const end = Math.min(text.length, at + e.length);
    if (e.kind === 'cut') text = text.slice(0, at) + text.slice(end);
    else if (e.kind === 'repeat') text = text.slice(0, end) + text.slice(at, end) + text.slice(end);
    else if (e.kind === 'insert') text = text.slice(0, at) + e.text + text.slice(at);
    else text = text.slice(0, at);
  }
  return text;
}
/** Byte edits of a real binary: overwrite bytes (often with boundary values), cut, truncate. */
const byteEdits = fc.array(
  fc.record({
    at: fc.nat(),
    value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)),
    span: fc.integer({ min: 1, max: 4 }),
    cut: fc.boolean(),
  }),
  { minLength: 1, maxLength: 8 },
);
function applyByteEdits(bytes: Uint8Array, list: { at: number; value: number; span: number; cut: boolean }[]): Uint8Array {
  let out = bytes.slice();
  for (const e of list) {
    const at = e.at % out.length;
    if (e.cut) out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(Math.min(out.length, at + e.span * 16))]);
    else for (let i = at; i < Math.min(out.length, at + e.span); i++) out[i] = e.value;
    if (out.length === 0) break;
  }
  return out;
}

/** The invariants of a parsed verifier log, relative to its text. */
function checkVerifierLog(text: string): void {
  const parsed = within(2000, 'parseVerifierLog', () => parseVerifierLog(text));
  const lineCount = splitLogLines(text).length;
  for (const a of parsed.annotations) {
    assert.ok(Number.isInteger(a.logLine) && a.logLine >= 0 && a.logLine < lineCount, `annotation on log line ${a.logLine} of ${lineCount}`);
    assert.ok(a.insn === null || (Number.isInteger(a.insn) && a.insn >= 0), `annotation insn ${a.insn}`);
    if (a.line !== undefined) assert.ok(Number.isInteger(a.line) && a.line >= 0, `annotation line ${a.line}`);
  }
  for (const p of parsed.path) assert.ok(parsed.annotations.includes(p), 'every path entry is one of the annotations');
  for (const insn of [parsed.failingInsn, parsed.allocInsn]) {
    assert.ok(insn === null || (Number.isInteger(insn) && insn >= 0), `instruction index ${insn}`);
  }
  for (const line of parsed.message) assert.equal(typeof line, 'string');
  for (const [key, value] of Object.entries(parsed.stats)) {
    if (typeof value === 'number') assert.ok(Number.isFinite(value) && value >= 0, `stats.${key} = ${value}`);
  }
}

test('verifier logs: any text parses, within 2 s, with every annotation inside the log and every index a natural number', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 2000, unit: 'binary' }), (text) => checkVerifierLog(text)),
    { numRuns: RUNS },
  );
});

test('verifier logs: the real logs of test/fixtures, cut, repeated, spliced and truncated, keep those invariants', () => {
  fc.assert(
    fc.property(fc.constantFrom(...realLogs), edits, (log, list) => checkVerifierLog(applyEdits(log, list))),
    { numRuns: RUNS },
  );
});

test('verifier logs: lines the parser recognises, in any order and number, keep those invariants', () => {
  const lineShapes = fc.oneof(
    fc.nat({ max: 99999 }).map((n) => `${n}: (85) call bpf_map_lookup_elem#1`),
    fc.tuple(fc.nat({ max: 99 }), fc.nat({ max: 99999 })).map(([r, n]) => `${n}: R${r}=scalar() R10=fp0`),
    fc.tuple(fc.string({ maxLength: 20 }), fc.nat({ max: 9999 })).map(([code, line]) => `; ${code} @ prog.bpf.c:${line}`),
    fc.string({ maxLength: 30 }).map((code) => `; ${code}`),
    fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `processed ${a} insns (limit ${b}) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0`),
    fc.nat().map((n) => `verification time ${n} usec`),
    fc.array(fc.nat({ max: 512 }), { minLength: 1, maxLength: 4 }).map((d) => `stack depth ${d.join('+')}`),
    fc.tuple(fc.nat({ max: 9 }), fc.string({ maxLength: 8 })).map(([i, n]) => `subprog ${i} (${n}) main insns_self 8 insns_total 8 stack 8`),
    fc.nat({ max: 9999 }).map((n) => `Unreleased reference id=2 alloc_insn=${n}`),
    fc.constantFrom('R1 invalid mem access \'map_value_or_null\'', 'invalid access to packet, off=0 size=4', ''),
  );
  fc.assert(
    fc.property(fc.array(lineShapes, { maxLength: 60 }), (lines) => checkVerifierLog(lines.join('\n'))),
    { numRuns: RUNS },
  );
});

/** Every query of a parsed BTF, over every type id: answers, or refuses with BtfFormatError. */
function queryEveryType(btf: ReturnType<typeof parseBtf>): void {
  for (let id = 0; id < btf.types.length; id++) {
    for (const query of [() => btf.resolve(id), () => btf.sizeOf(id), () => btf.typeName(id), () => btf.declaration(id, 'x')]) {
      try {
        within<unknown>(500, `a query of type ${id}`, query);
      } catch (error) {
        if (!(error instanceof BtfFormatError)) throw error;
      }
    }
    const name = btf.types[id].name;
    if (name) btf.byName(name);
  }
}

function checkBtf(bytes: Uint8Array): void {
  let btf;
  try {
    btf = within(2000, 'parseBtf', () => parseBtf(bytes));
  } catch (error) {
    if (error instanceof BtfFormatError) return;
    throw error;
  }
  queryEveryType(btf);
}

test('BTF: arbitrary bytes, and arbitrary bytes behind a valid header, parse or fail with BtfFormatError', () => {
  const header = fc.tuple(fc.nat({ max: 4096 }), fc.nat({ max: 4096 }), fc.nat({ max: 4096 }), fc.nat({ max: 4096 })).map(([typeOff, typeLen, strOff, strLen]) => {
    const h = new DataView(new ArrayBuffer(24));
    h.setUint16(0, 0xeb9f, true);
    h.setUint8(2, 1);
    h.setUint32(4, 24, true);
    h.setUint32(8, typeOff, true);
    h.setUint32(12, typeLen, true);
    h.setUint32(16, strOff, true);
    h.setUint32(20, strLen, true);
    return new Uint8Array(h.buffer);
  });
  fc.assert(
    fc.property(fc.option(header), fc.uint8Array({ maxLength: 600 }), (h, body) => checkBtf(h ? Uint8Array.from([...h, ...body]) : body)),
    { numRuns: RUNS },
  );
});

test('BTF: the .BTF of the fixture objects, with bytes overwritten or cut, parses or fails with BtfFormatError, and every query answers', () => {
  fc.assert(
    fc.property(fc.constantFrom(...realBtfs), byteEdits, (btf, list) => checkBtf(applyByteEdits(btf, list))),
    { numRuns: RUNS },
  );
});

/** A BTF type to encode: its kind, a name index, what it refers to (any id, so loops and dangling ids too), a count. */
interface TypeSpec {
  kind: 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef' | 'volatile' | 'const' | 'func' | 'func_proto' | 'var';
  name: number;
  ref: number;
  refs: number[];
  size: number;
}
const KIND_NUMBER: Record<TypeSpec['kind'], number> = {
  int: 1, ptr: 2, array: 3, struct: 4, union: 5, enum: 6, fwd: 7, typedef: 8, volatile: 9, const: 10, func: 12, func_proto: 13, var: 14,
};
const NAMES = ['', 'a', 'task_struct', 'u32', 'x'];

/** The BTF encoding of `specs` (version 1): the printer parseBtf reads back. `pad` bytes precede the type section. */
function encodeBtf(specs: TypeSpec[], layout: { bigEndian?: boolean; pad?: number } = {}): Uint8Array {
  const strings = Buffer.from(`\0${NAMES.slice(1).join('\0')}\0`, 'latin1');
  const nameOff = (i: number): number => (i === 0 ? 0 : NAMES.slice(1, i).reduce((n, s) => n + s.length + 1, 1));
  const words: number[] = [];
  for (const t of specs) {
    const vlen = t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'func_proto' ? t.refs.length : 0;
    const sizeOrType = ['int', 'struct', 'union', 'enum'].includes(t.kind) ? t.size : t.kind === 'array' || t.kind === 'fwd' ? 0 : t.ref;
    words.push(nameOff(t.name), (KIND_NUMBER[t.kind] << 24) | vlen, sizeOrType);
    if (t.kind === 'int') words.push(Math.min(t.size * 8, 128));
    if (t.kind === 'array') words.push(t.ref, t.refs[0] ?? 0, t.size);
    if (t.kind === 'struct' || t.kind === 'union') for (const [i, r] of t.refs.entries()) words.push(nameOff(i % NAMES.length), r, i * 32);
    if (t.kind === 'enum') for (const [i, r] of t.refs.entries()) words.push(nameOff(i % NAMES.length), r);
    if (t.kind === 'func_proto') for (const [i, r] of t.refs.entries()) words.push(nameOff(i % NAMES.length), r);
    if (t.kind === 'var') words.push(1);
  }
  const be = layout.bigEndian ?? false;
  const pad = layout.pad ?? 0;
  const typeBytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => (be ? typeBytes.writeUInt32BE(w >>> 0, i * 4) : typeBytes.writeUInt32LE(w >>> 0, i * 4)));
  const header = Buffer.alloc(24);
  const u16 = (v: number, at: number) => (be ? header.writeUInt16BE(v, at) : header.writeUInt16LE(v, at));
  const u32 = (v: number, at: number) => (be ? header.writeUInt32BE(v, at) : header.writeUInt32LE(v, at));
  u16(0xeb9f, 0);
  header.writeUInt8(1, 2);
  u32(24, 4);
  u32(pad, 8);
  u32(typeBytes.length, 12);
  u32(pad + typeBytes.length, 16);
  u32(strings.length, 20);
  return new Uint8Array(Buffer.concat([header, Buffer.alloc(pad), typeBytes, strings]));
}
const btfLayout = fc.record({ bigEndian: fc.boolean(), pad: fc.nat({ max: 7 }) });
const typeSpecs = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.array(
    fc.record({
      kind: fc.constantFrom<TypeSpec['kind']>(...(Object.keys(KIND_NUMBER) as TypeSpec['kind'][])),
      name: fc.nat({ max: NAMES.length - 1 }),
      ref: fc.nat({ max: n + 1 }),
      refs: fc.array(fc.nat({ max: n + 1 }), { maxLength: 6 }),
      size: fc.oneof(fc.nat({ max: 16 }), fc.constant(0xffffffff)),
    }),
    { minLength: n, maxLength: n },
  ),
);

test('BTF: parse(encode(types)) gives every type back, in either byte order and at any alignment: kind, name and what it refers to', () => {
  fc.assert(
    fc.property(typeSpecs, btfLayout, (specs, layout) => {
      const btf = parseBtf(encodeBtf(specs, layout));
      assert.equal(btf.types.length, specs.length + 1);
      specs.forEach((spec, i) => {
        const t = btf.types[i + 1];
        assert.equal(t.kind, spec.kind);
        assert.equal(t.name, NAMES[spec.name]);
        if (spec.kind === 'array') assert.deepEqual(t.array, { elemType: spec.ref, indexType: spec.refs[0] ?? 0, nelems: spec.size });
        else if (spec.kind === 'struct' || spec.kind === 'union') assert.deepEqual(t.members?.map((m) => m.type), spec.refs);
        else if (spec.kind === 'func_proto') assert.deepEqual([t.type, t.params?.map((p) => p.type)], [spec.ref, spec.refs]);
        else if (!['int', 'enum', 'fwd'].includes(spec.kind)) assert.equal(t.type, spec.ref);
      });
    }),
    { numRuns: RUNS },
  );
});

/** Chains of types that each refer to the next one several times (no loop, but a deep DAG). */
const typeChains = fc
  .tuple(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom<TypeSpec['kind']>('func_proto', 'struct', 'const', 'array', 'ptr'))
  .map(([n, fanOut, kind]): TypeSpec[] => [
    ...Array.from({ length: n }, (_, i) => ({ kind, name: 0, ref: i + 2, refs: Array<number>(fanOut).fill(i + 2), size: 2 })),
    { kind: 'int', name: 3, ref: 0, refs: [], size: 4 },
  ]);

test('BTF: types that refer in loops, to themselves, to ids that do not exist, or many times down a chain: every query answers or fails with BtfFormatError, each within 500 ms', () => {
  fc.assert(
    fc.property(fc.oneof(typeSpecs, typeChains), btfLayout, (specs, layout) => checkBtf(encodeBtf(specs, layout))),
    { numRuns: RUNS },
  );
});

test('BTF: an encoded BTF whose type section claims fewer bytes than its types need, in either byte order and at any alignment, fails with BtfFormatError', () => {
  fc.assert(
    fc.property(typeSpecs, btfLayout, fc.nat(), (specs, layout, cut) => {
      const bytes = encodeBtf(specs, layout);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const typeLen = view.getUint32(12, !layout.bigEndian);
      view.setUint32(12, cut % typeLen, !layout.bigEndian);
      checkBtf(bytes);
    }),
    { numRuns: RUNS },
  );
});

test('BTF regression: a struct of 1,000 members in a 12-byte type section at an odd offset fails with BtfFormatError (was a RangeError)', () => {
  const bytes = encodeBtf([{ kind: 'struct', name: 0, ref: 0, refs: [], size: 8 }], { pad: 1 });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(24 + 1 + 4, (4 << 24) | 1000, true);
  assert.throws(() => parseBtf(bytes), (error) => error instanceof BtfFormatError && /runs 12000 bytes past the type section/.test(error.message));
});

test('BTF regression: an array whose element is itself has no size: sizeOf fails with BtfFormatError (was a stack overflow)', () => {
  const btf = parseBtf(encodeBtf([{ kind: 'array', name: 0, ref: 1, refs: [], size: 4 }]));
  assert.throws(() => btf.sizeOf(1), (error) => error instanceof BtfFormatError && /contains itself/.test(error.message));
});

test('BTF regression: 40 prototypes each taking the next one three times: typeName fails fast with BtfFormatError (was 3^40 steps)', () => {
  const chain: TypeSpec[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'func_proto', name: 0, ref: i + 2, refs: [i + 2, i + 2, i + 2], size: 0 }));
  const btf = parseBtf(encodeBtf([...chain, { kind: 'int', name: 3, ref: 0, refs: [], size: 4 }]));
  within(500, 'typeName of the chain', () => assert.throws(() => btf.typeName(1), (error) => error instanceof BtfFormatError && /too large to print/.test(error.message)));
  assert.equal(btf.typeName(40), 'u32 (u32, u32 a, u32 task_struct)', 'a prototype of ordinary size still prints');
});

function checkObject(bytes: Uint8Array): void {
  within(2000, 'BpfObject.parse and its lookups', () => {
    let obj;
    try {
      obj = BpfObject.parse(bytes);
    } catch (error) {
      if (error instanceof ElfFormatError || error instanceof BtfFormatError) return;
      throw error;
    }
    for (const s of obj.sections) assert.ok(s.offset >= 0 && s.size >= 0, `section ${s.name} at ${s.offset}+${s.size}`);
    for (const [section, infos] of obj.lineInfo) {
      for (let i = 1; i < infos.length; i++) assert.ok(infos[i - 1].insnOff <= infos[i].insnOff, `line info of ${section} is sorted by instruction`);
    }
    for (const fn of obj.functions) {
      for (const insn of [0, 1, 7, fn.size / 8 - 1, fn.size / 8]) {
        const at = obj.positionOf(fn.name, insn);
        if (at) assert.ok(Number.isInteger(at.line) && at.line > 0, `position of ${fn.name}+${insn}: line ${at.line}`);
      }
      for (const at of obj.linesOf(fn.name)) assert.ok(at.line > 0);
    }
  });
}

test('ELF objects: arbitrary bytes parse or fail with ElfFormatError', () => {
  const elfStart = fc.uint8Array({ minLength: 64, maxLength: 700 }).map((b) => {
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    return b;
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), elfStart), (bytes) => checkObject(bytes)),
    { numRuns: RUNS },
  );
});

test('ELF objects: the fixture objects with bytes overwritten or cut parse or fail with a format error; line info stays sorted and positive', () => {
  fc.assert(
    fc.property(fc.constantFrom(...realObjects), byteEdits, (obj, list) => checkObject(applyByteEdits(obj, list))),
    { numRuns: RUNS },
  );
});

/** A trace_pipe line as the kernel prints it (trace_output.c's column layout). */
interface PrintedLine {
  comm: string;
  pid: number;
  tgid: number | null;
  cpu: number;
  flags: string;
  micros: number;
  event: string;
  message: string;
}
function printTraceLine(l: PrintedLine): string {
  const tgid = l.tgid === null ? '' : ` (${String(l.tgid).padStart(7)})`;
  const ts = `${Math.floor(l.micros / 1e6)}.${String(l.micros % 1e6).padStart(6, '0')}`;
  return `${`${l.comm}-${l.pid}`.padStart(22)}${tgid} [${String(l.cpu).padStart(3, '0')}] ${l.flags} ${ts.padStart(12)}: ${l.event}: ${l.message}`;
}

test('trace lines: parse(print(line)) gives every column back', () => {
  const comm = fc.string({ minLength: 1, maxLength: 16, unit: fc.constantFrom(...'abcXYZ019_- .:/<>[]') })
    .filter((c) => c.trim() === c && c.trim().length > 0);
  const line = fc.record({
    comm,
    pid: fc.integer({ min: 0, max: 4194304 }),
    tgid: fc.option(fc.integer({ min: 0, max: 4194304 })),
    cpu: fc.integer({ min: 0, max: 4095 }),
    flags: fc.string({ minLength: 4, maxLength: 6, unit: fc.constantFrom(...'.dDhHsnNbBzZ0123456789') }),
    micros: fc.integer({ min: 0, max: 9e15 }),
    event: fc.string({ minLength: 1, maxLength: 24, unit: fc.constantFrom(...'abcz_019AZ') }),
    message: fc.string({ maxLength: 80 }).filter((m) => !m.includes('\n')),
  });
  fc.assert(
    fc.property(line, (l) => {
      const parsed = parseTraceLine(printTraceLine(l));
      assert.deepEqual(parsed, {
        comm: l.comm,
        pid: l.pid,
        tgid: l.tgid,
        cpu: l.cpu,
        flags: l.flags,
        timestamp: Number(`${Math.floor(l.micros / 1e6)}.${String(l.micros % 1e6).padStart(6, '0')}`),
        event: l.event,
        message: l.message,
      });
    }),
    { numRuns: RUNS },
  );
});

test('trace lines: any text, and real lines mutated, give null or columns of the right types, within 100 ms', () => {
  const real = '            bash-691     [000] ...21  2585.611676: bpf_trace_printk: execve by pid 691: hello';
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 400, unit: 'binary' }), edits.map((list) => applyEdits(real, list))), (text) => {
      const parsed = within(100, 'parseTraceLine', () => parseTraceLine(text));
      within(100, 'parseLostLine', () => parseLostLine(text));
      if (!parsed) return;
      for (const n of [parsed.pid, parsed.cpu]) assert.ok(Number.isSafeInteger(n) && n >= 0, `column ${n}`);
      assert.ok(parsed.tgid === null || (Number.isSafeInteger(parsed.tgid) && parsed.tgid >= 0));
      assert.ok(Number.isFinite(parsed.timestamp) && parsed.timestamp >= 0);
      assert.match(parsed.event, /^[A-Za-z0-9_]+$/);
    }),
    { numRuns: RUNS },
  );
});

/** Feeds `bytes` to a LineMessageReader in the given chunk sizes; resolves with what it delivered. */
async function readInChunks(bytes: Buffer, cuts: number[]): Promise<{ messages: Message[]; errors: Error[] }> {
  const input = new PassThrough();
  const reader = new LineMessageReader(input);
  const messages: Message[] = [];
  const errors: Error[] = [];
  reader.onError((error) => errors.push(error instanceof Error ? error : new Error(String(error))));
  reader.listen((message) => messages.push(message));
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const at of [...points, bytes.length]) {
    if (at > from) input.write(bytes.subarray(from, at));
    from = Math.max(from, at);
  }
  input.end();
  await new Promise<void>((resolve) => setImmediate(resolve));
  reader.dispose();
  return { messages, errors };
}

const jsonRpcMessage = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.nat(), fc.string()), method: fc.string(), params: fc.jsonValue() }),
  fc.record({ jsonrpc: fc.constant('2.0'), method: fc.string(), params: fc.jsonValue() }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.nat(), result: fc.jsonValue() }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.nat(), error: fc.record({ code: fc.integer(), message: fc.string({ unit: 'grapheme' }) }) }),
);

test('agent messages: what LineMessageWriter writes, cut into chunks anywhere (inside UTF-8 characters too), LineMessageReader reads back equal', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(jsonRpcMessage, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), async (sent, cuts) => {
      const wire = new PassThrough();
      const chunks: Buffer[] = [];
      wire.on('data', (c: Buffer) => chunks.push(c));
      const writer = new LineMessageWriter(wire);
      for (const message of sent) await writer.write(message as Message);
      const { messages, errors } = await readInChunks(Buffer.concat(chunks), cuts);
      assert.deepEqual(errors, []);
      assert.deepEqual(messages, JSON.parse(JSON.stringify(sent)));
    }),
    { numRuns: RUNS },
  );
});

test('agent messages: arbitrary bytes on the wire give messages that are JSON objects, or one error, never an exception', async () => {
  const wireBytes = fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
    fc.array(fc.oneof(fc.json(), fc.string({ unit: 'binary' })), { maxLength: 6 }).map((lines) => Buffer.from(lines.join('\n'), 'utf8')),
  );
  await fc.assert(
    fc.asyncProperty(wireBytes, fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
      const { messages, errors } = await readInChunks(bytes, cuts);
      assert.ok(errors.length <= 1, `at most one error (the reader stops at the first): ${errors.length}`);
      for (const m of messages) assert.ok(typeof m === 'object' && m !== null && !Array.isArray(m));
    }),
    { numRuns: RUNS },
  );
});

test('agent messages: whatever an agent answers a request with (garbage, wrong ids, malformed errors and events), the request settles with a result or an Error and the client closes', async () => {
  const ID = '\u0000id';
  const line = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.json(),
    fc.record({ jsonrpc: fc.constant('2.0'), id: fc.constantFrom<unknown>(ID, 999, null, 'x'), result: fc.jsonValue() }).map((m) => JSON.stringify(m)),
    fc.record({ jsonrpc: fc.constant('2.0'), id: fc.constantFrom<unknown>(ID, null), error: fc.jsonValue() }).map((m) => JSON.stringify(m)),
    fc.record({ jsonrpc: fc.constantFrom('2.0', '1.0'), id: fc.constant(ID), error: fc.record({ code: fc.integer(), message: fc.string(), data: fc.jsonValue() }) }).map((m) => JSON.stringify(m)),
    fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constantFrom('events', 'stream.ended', 'trace', 'nope'), params: fc.jsonValue() }).map((m) => JSON.stringify(m)),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(line, { maxLength: 6 }), async (lines) => {
      const toClient = new PassThrough();
      const fromClient = new PassThrough();
      const client = new AgentClient(toClient, fromClient);
      client.onNotification('events', () => {});
      const outcome = client.request('hello', { clientVersion: 'properties' }).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      const sent = await new Promise<string>((resolve) => fromClient.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8'))));
      const id = JSON.stringify(JSON.parse(sent).id);
      for (const l of lines) toClient.write(`${l.split(JSON.stringify(ID)).join(id)}\n`);
      toClient.end();
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([outcome, new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 2000)))]);
      clearTimeout(timer);
      if (settled === 'hung') assert.fail(`the request never settled after: ${JSON.stringify(lines)}`);
      if ('error' in settled) assert.ok(settled.error instanceof Error, `rejected with a non-Error: ${String(settled.error)}`);
      if ('error' in settled && settled.error instanceof AgentError) assert.equal(typeof settled.error.code, 'number');
      assert.ok((await client.closed) instanceof Error);
    }),
    { numRuns: Math.min(RUNS, 100) },
  );
});
