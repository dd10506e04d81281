/**
 * Quick fixes for verifier rejections whose fix is mechanical: a NULL check after a map lookup (or
 * a ring buffer reservation, a socket lookup), a data_end check before a packet access, a zero
 * initialiser for a stack variable read before it was written, a ring buffer discard on the
 * returns that skip the submit, a GPL license, a mask or clamp on a helper's size argument. Pure
 * functions of the file's text and the diagnostic (its knowledge-base id, line and message), so
 * the editor offers them as code actions and tests apply them with applyTextEdits.
 *
 * The source is read line by line, not parsed as C: a fix is offered only when the lines around
 * the diagnostic have the shape the fix needs (a `v = bpf_map_lookup_elem(` above the access, a
 * `data_end` variable in the function, …); otherwise none — never a guessed edit.
 */
import type { SourceDiagnostic } from './checkReport';

/** 0-based, as LSP and VS Code count. */
export interface TextPosition {
  line: number;
  character: number;
}

export interface TextEdit {
  start: TextPosition;
  end: TextPosition;
  newText: string;
}

export interface VerifierFix {
  title: string;
  /** Non-overlapping edits of the diagnostic's file. */
  edits: TextEdit[];
}

/** The fixes for a verifier diagnostic in `source`, the text of the diagnostic's file; best first. */
export function verifierFixes(source: string, diagnostic: SourceDiagnostic): VerifierFix[] {
  if (diagnostic.source !== 'verifier' || diagnostic.explanation === undefined) return [];
  const lines = source.split('\n').map((l) => l.replace(/\r$/, ''));
  const at = diagnostic.line - 1;
  if (at < 0 || at >= lines.length) return [];
  switch (diagnostic.explanation.id) {
    case 'nullable-map-value':
    case 'nullable-pointer':
      return nullCheckFix(lines, at, diagnostic.explanation.id);
    case 'packet-out-of-bounds':
      return packetBoundsFix(lines, at);
    case 'uninitialized-stack-read':
      return zeroInitFix(lines, at);
    case 'unreleased-reference':
      return ringbufDiscardFix(lines, at);
    case 'gpl-only-function':
      return licenseFix(lines);
    case 'helper-size-unbounded':
      return sizeClampFixes(lines, at, diagnostic.message);
    default:
      return [];
  }
}

/** Applies non-overlapping edits to a text (what an editor does with a fix). */
export function applyTextEdits(source: string, edits: readonly TextEdit[]): string {
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  const offset = (p: TextPosition): number => Math.min((lineStarts[p.line] ?? source.length) + p.character, source.length);
  const sorted = [...edits].sort((a, b) => offset(b.start) - offset(a.start));
  let text = source;
  for (const e of sorted) text = text.slice(0, offset(e.start)) + e.newText + text.slice(offset(e.end));
  return text;
}

// ── The function around a line ────────────────────────────────────────────────────────────────

interface EnclosingFunction {
  /** Lines of the body's opening and closing braces. */
  open: number;
  close: number;
  section: string | undefined;
  returnsVoid: boolean;
  /** The whole signature, parameters included. */
  signatureText: string;
}

/** Code of a line without its // comment (block comments on one line too), for pattern tests. */
function code(line: string): string {
  return line.replace(/\/\*.*?\*\//g, '').replace(/\/\/.*$/, '');
}

function indentOf(line: string): string {
  return /^\s*/.exec(line)![0];
}

/**
 * The function definition around line `at`: the nearest line above starting at column 0 with a
 * `(` (BPF programs are written in kernel style), its body delimited by brace depth.
 */
function enclosingFunction(lines: string[], at: number): EnclosingFunction | undefined {
  let signature = -1;
  for (let i = at; i >= 0; i--) {
    const c = code(lines[i]!);
    if (/^[A-Za-z_]/.test(c) && c.includes('(') && !/^(SEC|#|struct\s*\{|typedef)/.test(c)) {
      signature = i;
      break;
    }
  }
  if (signature < 0) return undefined;
  let depth = 0;
  let open = -1;
  let signatureText = '';
  for (let i = signature; i < lines.length; i++) {
    const c = code(lines[i]!);
    if (open < 0) signatureText += (signatureText ? ' ' : '') + c.split('{')[0]!.trim();
    for (const ch of c) {
      if (ch === '{') {
        if (open < 0) open = i;
        depth++;
      } else if (ch === '}') {
        depth--;
        if (depth === 0 && open >= 0) {
          if (at > i) return undefined;
          const sectionLine = [lines[signature - 1] ?? '', lines[signature]!].join(' ');
          return {
            open,
            close: i,
            section: /SEC\("([^"]*)"\)/.exec(sectionLine)?.[1],
            returnsVoid: /^(static\s+)?(__always_inline\s+|inline\s+)*void\s+\w+\s*\(/.test(signatureText),
            signatureText,
          };
        }
      }
    }
  }
  return undefined;
}

/** What a program returns to let things pass, by its section (libbpf names). */
function passValue(fn: EnclosingFunction, source: string[]): string {
  const section = fn.section ?? '';
  if (/^xdp/.test(section)) return 'XDP_PASS';
  if (/^(tc|tcx\/|classifier|action)/.test(section)) return source.some((l) => /\bTC_ACT_OK\b/.test(l)) ? 'TC_ACT_OK' : '0';
  // Cgroup programs allow with 1; 0 would deny every packet, socket or syscall they see.
  if (/^cgroup/.test(section)) return '1';
  return '0';
}

function returnStatement(fn: EnclosingFunction, lines: string[]): string {
  return fn.returnsVoid ? 'return;' : `return ${passValue(fn, lines)};`;
}

/** The line where the statement starting on `from` ends (its `;` at parenthesis depth 0). */
function statementEnd(lines: string[], from: number, limit: number): number | undefined {
  let depth = 0;
  for (let i = from; i <= limit; i++) {
    for (const ch of code(lines[i]!)) {
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (ch === ';' && depth === 0) return i;
    }
  }
  return undefined;
}

/** True when a new statement may go right before line `at`: the code above ends a statement or opens a block. */
function startsStatement(lines: string[], at: number, fn: EnclosingFunction): boolean {
  for (let i = at - 1; i >= fn.open; i--) {
    const c = code(lines[i]!).trim();
    if (c === '' || c.startsWith('*') || c.startsWith('/*')) continue;
    return /[;{}]$/.test(c);
  }
  return false;
}

function insertLineBefore(line: number, text: string): TextEdit {
  return { start: { line, character: 0 }, end: { line, character: 0 }, newText: `${text}\n` };
}

// ── The fixes ─────────────────────────────────────────────────────────────────────────────────

/**
 * Helpers whose result may be NULL and whose NULL needs no release: a map lookup (with its map
 * storage relatives), a ring buffer reservation, a socket lookup.
 */
const NULLABLE_RESULT = {
  'nullable-map-value': /bpf_map_lookup(?:_percpu)?_elem/,
  'nullable-pointer': /bpf_map_lookup(?:_percpu)?_elem|bpf_ringbuf_reserve|bpf_(?:sk|task|inode|cgrp)_storage_get|bpf_skc?_lookup_(?:tcp|udp)/,
};

/** `if (!v) return 0;` after the nearest `v = bpf_map_lookup_elem(…);` (or reservation, …) above the access that uses v. */
function nullCheckFix(lines: string[], at: number, kind: keyof typeof NULLABLE_RESULT): VerifierFix[] {
  const fn = enclosingFunction(lines, at);
  if (!fn) return [];
  const assignment = new RegExp(`\\b([A-Za-z_]\\w*)\\s*=\\s*(?:\\([^()]*\\)\\s*)?(${NULLABLE_RESULT[kind].source})\\s*\\(`);
  for (let i = at; i > fn.open; i--) {
    const call = assignment.exec(code(lines[i]!));
    if (!call) continue;
    const v = call[1]!;
    if (!new RegExp(`\\b${v}\\b`).test(code(lines[at]!))) return [];
    const end = statementEnd(lines, i, at);
    if (end === undefined || end >= at) return [];
    const after = call[2]!.startsWith('bpf_map_lookup') ? 'the lookup' : call[2]!;
    return [{ title: `Add a NULL check of '${v}' after ${after}`, edits: [insertLineBefore(end + 1, `${indentOf(lines[i]!)}if (!${v}) ${returnStatement(fn, lines)}`)] }];
  }
  return [];
}

/** `if ((void *)(p + 1) > data_end) return XDP_PASS;` before the line that reads through p. */
function packetBoundsFix(lines: string[], at: number): VerifierFix[] {
  const fn = enclosingFunction(lines, at);
  if (!fn || !startsStatement(lines, at, fn)) return [];
  let dataEnd: string | undefined;
  for (let i = fn.open; i < at; i++) dataEnd ??= /\b([A-Za-z_]\w*)\s*=\s*[^;=]*->\s*data_end\b/.exec(code(lines[i]!))?.[1];
  if (dataEnd === undefined) return [];
  const params = new Set([...fn.signatureText.matchAll(/([A-Za-z_]\w*)\s*[,)]/g)].map((m) => m[1]!));
  const body = lines.slice(fn.open, at).map(code).join('\n');
  for (const m of code(lines[at]!).matchAll(/\b([A-Za-z_]\w*)\s*->/g)) {
    const p = m[1]!;
    // Only a pointer this function declares: the context and other parameters are not packet data.
    if (params.has(p) || !new RegExp(`\\*\\s*${p}\\b\\s*[;=,]`).test(body)) continue;
    return [{
      title: `Check '${p}' against ${dataEnd} before the access`,
      edits: [insertLineBefore(at, `${indentOf(lines[at]!)}if ((void *)(${p} + 1) > ${dataEnd}) ${returnStatement(fn, lines)}`)],
    }];
  }
  return [];
}

/** `= {}` (or `= 0` for a scalar) on the declarations of the `&var`s the failing line hands over. */
function zeroInitFix(lines: string[], at: number): VerifierFix[] {
  const fn = enclosingFunction(lines, at);
  if (!fn) return [];
  const names = [...new Set([...code(lines[at]!).matchAll(/&\s*([A-Za-z_]\w*)\b(?!\s*(\.|->|\[))/g)].map((m) => m[1]!))];
  const edits: TextEdit[] = [];
  const zeroed: string[] = [];
  for (const name of names) {
    for (let i = at - 1; i > fn.open; i--) {
      const c = code(lines[i]!);
      const declaration = new RegExp(`^(\\s*(?:(?:const|volatile|struct|union|enum|unsigned|signed)\\s+)*[A-Za-z_]\\w*\\s+\\**\\s*)${name}((?:\\s*\\[[^\\]]*\\])*)\\s*;`).exec(c);
      if (!declaration) continue;
      const aggregate = /\b(struct|union)\b/.test(declaration[1]!) || declaration[2] !== '';
      const semicolon = lines[i]!.indexOf(';', declaration[0].length - 1);
      edits.push({ start: { line: i, character: semicolon }, end: { line: i, character: semicolon }, newText: aggregate ? ' = {}' : ' = 0' });
      zeroed.push(name);
      break;
    }
  }
  if (edits.length === 0) return [];
  return [{ title: `Zero-initialise ${zeroed.map((n) => `'${n}'`).join(' and ')} where declared`, edits }];
}

/**
 * `bpf_ringbuf_discard(e, 0);` before each return after `e = bpf_ringbuf_reserve(…)` that is not
 * the reservation's NULL check and does not follow a submit or discard: the paths that leak it.
 */
function ringbufDiscardFix(lines: string[], at: number): VerifierFix[] {
  const fn = enclosingFunction(lines, at);
  if (!fn) return [];
  let reserved: { name: string; line: number } | undefined;
  for (let i = fn.open; i <= fn.close && reserved === undefined; i++) {
    const m = /\b([A-Za-z_]\w*)\s*=\s*(?:\([^()]*\)\s*)?bpf_ringbuf_reserve\s*\(/.exec(code(lines[i]!));
    if (m) reserved = { name: m[1]!, line: i };
  }
  if (reserved === undefined) return [];
  const e = reserved.name;
  const releases = new RegExp(`\\bbpf_ringbuf_(submit|discard)\\s*\\(\\s*${e}\\b`);
  const nullCheck = new RegExp(`\\bif\\s*\\(\\s*(!\\s*${e}|${e}\\s*==\\s*NULL|NULL\\s*==\\s*${e})\\s*\\)`);
  const discard = `bpf_ringbuf_discard(${e}, 0);`;
  const edits: TextEdit[] = [];
  let previous = -1;
  for (let i = reserved.line + 1; i < fn.close; i++) {
    const c = code(lines[i]!).trim();
    if (c === '') continue;
    const before = previous < 0 ? '' : code(lines[previous]!).trim();
    const inline = /^(if\s*\(.*\))\s*(return\b[^;]*;)$/.exec(c);
    if (inline && !nullCheck.test(inline[1]!)) {
      // `if (cond) return 0;` becomes a block that discards first.
      const indent = indentOf(lines[i]!);
      edits.push({ start: { line: i, character: 0 }, end: { line: i, character: lines[i]!.length }, newText: `${indent}${inline[1]} {\n${indent}\t${discard}\n${indent}\t${inline[2]}\n${indent}}` });
    } else if (/^return\b/.test(c) && !releases.test(before) && !nullCheck.test(before)) {
      const indent = indentOf(lines[i]!);
      if (/^(if|for|while)\b.*\)$|^else$/.test(before)) {
        // The brace-less body of an if (or else, loop) becomes a block: discard, then return.
        const end = code(lines[previous]!).trimEnd().length;
        const outer = indentOf(lines[previous]!);
        edits.push({ start: { line: previous, character: end }, end: { line: previous, character: end }, newText: ' {' });
        edits.push({ start: { line: i, character: 0 }, end: { line: i, character: lines[i]!.length }, newText: `${indent}${discard}\n${lines[i]}\n${outer}}` });
      } else {
        edits.push(insertLineBefore(i, `${indent}${discard}`));
      }
    }
    previous = i;
  }
  if (edits.length === 0) return [];
  const returns = edits.filter((x) => x.newText.includes(discard)).length;
  return [{ title: `Discard the ring buffer record '${e}' on the ${returns === 1 ? 'return that skips' : 'returns that skip'} bpf_ringbuf_submit`, edits }];
}

/** The GPL license section: added after the includes, or the existing license string made "GPL". */
function licenseFix(lines: string[]): VerifierFix[] {
  for (let i = 0; i < lines.length; i++) {
    const m = /SEC\(\s*"license"\s*\)\s*=\s*("[^"]*")/.exec(lines[i]!);
    if (!m) continue;
    const start = m.index + m[0].length - m[1]!.length;
    return [{ title: `Make the license GPL (${m[1]} is not GPL-compatible)`, edits: [{ start: { line: i, character: start }, end: { line: i, character: start + m[1]!.length }, newText: '"GPL"' }] }];
  }
  let lastInclude = -1;
  lines.forEach((l, i) => {
    if (/^\s*#\s*include\b/.test(l)) lastInclude = i;
  });
  return [{ title: 'Add a GPL license: char LICENSE[] SEC("license") = "GPL";', edits: [insertLineBefore(lastInclude + 1, `${lastInclude >= 0 ? '\n' : ''}char LICENSE[] SEC("license") = "GPL";`)] }];
}

/**
 * A bound on the size argument the message names (`R2` is the call's second argument) when it is
 * a plain variable and the buffer before it is a local array or `&variable`: the mask
 * `len &= sizeof(buf) - 1` when the array's length is a power of two, and
 * `if (len > sizeof(buf)) len = sizeof(buf);` when len is a 64-bit unsigned. Only then: a 32-bit
 * size reaches the helper in a 64-bit register whose upper half a 32-bit comparison does not bound
 * (the mask, done in 32 bits, clears it).
 */
function sizeClampFixes(lines: string[], at: number, message: string): VerifierFix[] {
  const fn = enclosingFunction(lines, at);
  const register = /^R([1-5]) /.exec(message);
  if (!fn || !register || !startsStatement(lines, at, fn)) return [];
  const args = callArguments(code(lines[at]!));
  const index = Number(register[1]) - 1;
  const size = args?.[index];
  const buffer = args?.[index - 1];
  if (size === undefined || buffer === undefined || !/^[A-Za-z_]\w*$/.test(size)) return [];
  const bufferName = /^&?\s*([A-Za-z_]\w*)$/.exec(buffer)?.[1];
  if (bufferName === undefined) return [];
  const body = lines.slice(fn.open, at).map(code);
  const declaredBuffer = body.map((l) => new RegExp(`\\b${bufferName}\\s*(\\[\\s*(\\d+)\\s*\\])?\\s*[;=]`).exec(l)).find((m) => m !== null);
  if (!declaredBuffer || (!buffer.startsWith('&') && declaredBuffer[1] === undefined)) return [];
  const sizeType = body.map((l) => new RegExp(`^\\s*([A-Za-z_][\\w\\s]*?)\\s+${size}\\s*[;=]`).exec(l)?.[1]).find((t) => t !== undefined);
  const indent = indentOf(lines[at]!);
  const bound = `sizeof(${bufferName})`;
  const fixes: VerifierFix[] = [];
  const length = declaredBuffer[2] === undefined ? undefined : Number(declaredBuffer[2]);
  if (length !== undefined && length > 0 && (length & (length - 1)) === 0) {
    fixes.push({ title: `Mask '${size}' with ${bound} - 1 before the call`, edits: [insertLineBefore(at, `${indent}${size} &= ${bound} - 1;`)] });
  }
  if (sizeType !== undefined && /^(const\s+)?(__u64|u64|size_t|unsigned long|unsigned long long)$/.test(sizeType)) {
    fixes.push({ title: `Clamp '${size}' to ${bound} before the call`, edits: [insertLineBefore(at, `${indent}if (${size} > ${bound}) ${size} = ${bound};`)] });
  }
  return fixes;
}

/** The top-level arguments of the first call on a line, trimmed; undefined without one. */
function callArguments(line: string): string[] | undefined {
  const open = /\b[A-Za-z_]\w*\s*\(/.exec(line);
  if (!open) return undefined;
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of line.slice(open.index + open[0].length)) {
    if (depth === 0 && (ch === ',' || ch === ')')) {
      args.push(current.trim());
      current = '';
      if (ch === ')') return args;
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    current += ch;
  }
  return undefined;
}
