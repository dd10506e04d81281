/**
 * The causal chain of a rejection, derived from the verifier log on kernels that do not print one
 * (everything before 7.3, and 7.3 reports without a causal path): where the register named in the error got the state the verifier
 * objects to — the lookup that returned a nullable pointer, the reservation whose reference
 * leaked and the branch that skipped its release, the comparison that last bounded a packet
 * pointer, the instruction that produced an unbounded value. A pure function of the log text
 * (level 1 or 2: each walked instruction followed by `; <register state>`). Steps are instruction
 * indexes in causal order; the caller maps them to source lines.
 */
import { splitLogLines, type ParsedVerifierLog } from './verifierLog';

export interface CausalStep {
  insn: number;
  /** 0-based log line of the instruction, so the caller can find the annotation above it. */
  logLine: number;
  message: string;
}

/** One walked instruction and the register state the verifier printed with it. */
interface WalkedInsn {
  insn: number;
  logLine: number;
  /** The disassembly, e.g. "call bpf_map_lookup_elem#1", "r1 += r0", "if r3 > r2 goto pc+8". */
  text: string;
  /** Register states printed after `;` (or after a taken branch), keyed by register number. */
  regs: Map<number, string>;
}

const INSN = /^(\d+): \([0-9a-f]{2}\) (.*)$/;
/** A whole-state line: "7: R0=… refs=3", "6: frame1: R1=…". */
const STATE_LINE = /^\d+: ((?:frame\d+: )?R\d+.*)$/;
/** `R0_w=map_value_or_null(id=1,...)`: a register, its liveness suffix, and its state up to the next top-level space. */
const REG_STATE = /(?:^|\s)(?:frame\d+: )?R(\d+)(?:_\w+)?=/g;

function stateValue(text: string, start: number): string {
  let depth = 0;
  let i = start;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ' ' && depth === 0) break;
  }
  return text.slice(start, i);
}

function registerStates(state: string): Map<number, string> {
  const regs = new Map<number, string>();
  for (const m of state.matchAll(REG_STATE)) {
    regs.set(Number(m[1]), stateValue(state, m.index + m[0].length));
  }
  return regs;
}

/**
 * The walked instructions in log order. Level 2 also prints whole-state lines ("7: R0=… refs=3",
 * the state before instruction 7): their registers belong to the instruction walked before them.
 */
function walkedInsns(lines: readonly string[]): WalkedInsn[] {
  const walked: WalkedInsn[] = [];
  lines.forEach((line, i) => {
    const stateLine = STATE_LINE.exec(line);
    if (stateLine) {
      const previous = walked[walked.length - 1];
      if (previous) for (const [reg, state] of registerStates(stateLine[1])) if (!previous.regs.has(reg)) previous.regs.set(reg, state);
      return;
    }
    const m = INSN.exec(line);
    if (!m) return;
    const body = m[2];
    // State after `;`, or, on a conditional jump, the taken branch's state after "goto pc+N M:".
    const semicolon = body.indexOf(';');
    const branch = /(goto pc[+-]\d+) \d+: /.exec(body);
    let text = body;
    let state = '';
    if (semicolon >= 0) {
      text = body.slice(0, semicolon);
      state = body.slice(semicolon + 1);
    } else if (branch) {
      text = body.slice(0, branch.index + branch[1].length);
      state = body.slice(branch.index + branch[0].length);
    }
    walked.push({ insn: Number(m[1]), logLine: i, text: text.trim(), regs: registerStates(state) });
  });
  return walked;
}

/** The source annotation printed nearest above a log line (compiler-generated `; @ file:0` ones skipped). */
function sourceLineOf(lines: readonly string[], logLine: number): string | undefined {
  for (let i = logLine - 1; i >= 0; i--) {
    if (lines[i].startsWith(';') && !/^;\s*(@ \S+:0)?$/.test(lines[i])) return lines[i];
  }
  return undefined;
}

/** The last "from X to Y:" line before `beforeLogLine`: the branch whose other side is being walked. */
function lastBranchTaken(lines: readonly string[], afterLogLine: number, beforeLogLine: number): { insn: number; logLine: number } | null {
  for (let i = beforeLogLine - 1; i > afterLogLine; i--) {
    const m = /^from (\d+) to \d+:/.exec(lines[i]);
    if (m) return { insn: Number(m[1]), logLine: i };
  }
  return null;
}

/** The register an instruction writes: `rN = …`, `rN op= …`, `wN …`; R0 for calls. */
function writtenRegister(text: string): number | null {
  if (/^call /.test(text)) return 0;
  const m = /^[rw](\d+) [^=]*=/.exec(text);
  return m && !text.startsWith('*') ? Number(m[1]) : null;
}

/** The source register of `rD = rS` / `rD op= rS`, when the instruction reads one. */
function sourceRegister(text: string): number | null {
  const m = /^[rw]\d+ \S*= [rw](\d+)$/.exec(text);
  return m ? Number(m[1]) : null;
}

function helperName(text: string): string | null {
  const m = /^call (\w+?)(?:#\d+)?$/.exec(text.trim());
  return m ? m[1] : null;
}

function idOf(state: string): number | null {
  const m = /\bid=(\d+)/.exec(state);
  return m ? Number(m[1]) : null;
}

/** How a register state reads in a sentence. */
function describeNullable(state: string): string {
  if (state.startsWith('map_value_or_null')) return 'a nullable map value';
  if (state.startsWith('ringbuf_mem_or_null')) return 'a nullable ring buffer record';
  if (/^sock\w*_or_null/.test(state)) return 'a nullable socket';
  return 'a pointer that may be NULL';
}

/** Latest walked instruction (before `before`) that printed a state for `reg`. */
function lastStateOf(walked: WalkedInsn[], reg: number, before: number): { at: WalkedInsn; state: string } | null {
  for (let i = before - 1; i >= 0; i--) {
    const state = walked[i].regs.get(reg);
    if (state !== undefined) return { at: walked[i], state };
  }
  return null;
}

/** Latest walked instruction (before `before`) that wrote `reg`. */
function lastWriteOf(walked: WalkedInsn[], reg: number, before: number): number {
  for (let i = before - 1; i >= 0; i--) {
    if (writtenRegister(walked[i].text) === reg) return i;
  }
  return -1;
}

/**
 * Where `reg`'s value was made: like lastWriteOf, but looks through plain copies (`r6 = r0`) and
 * the shift pairs compilers emit to zero- or sign-extend a value.
 */
function definitionOf(walked: WalkedInsn[], reg: number, before: number): { index: number; reg: number } {
  let current = reg;
  let i = lastWriteOf(walked, current, before);
  while (i >= 0) {
    const copy = /^[rw]\d+ = [rw](\d+)$/.exec(walked[i].text);
    if (copy) current = Number(copy[1]);
    else if (!/^[rw]\d+ (<<|>>|s>>)= \d+$/.test(walked[i].text)) break;
    const earlier = lastWriteOf(walked, current, i);
    if (earlier < 0) break;
    i = earlier;
  }
  return { index: i, reg: current };
}

/** First walked instruction whose printed state gives some register `<type>(id=N…)` matching `typePattern`. */
function firstWithId(walked: WalkedInsn[], id: number, typePattern: RegExp, before: number): WalkedInsn | null {
  for (let i = 0; i < before; i++) {
    for (const state of walked[i].regs.values()) {
      if (typePattern.test(state) && idOf(state) === id) return walked[i];
    }
  }
  return null;
}

function step(at: WalkedInsn, message: string): CausalStep {
  return { insn: at.insn, logLine: at.logLine, message };
}

export function deriveCausalChain(logText: string, parsed: ParsedVerifierLog): CausalStep[] {
  if (parsed.message.length === 0) return [];
  const lines = splitLogLines(logText);
  const walked = walkedInsns(lines);
  if (walked.length === 0) return [];
  const message = parsed.message.join('\n');
  // The failing instruction is the last one walked (its state is never printed).
  const failing = walked.length - 1;

  return chainFor(message, lines, walked, failing).sort((a, b) => a.logLine - b.logLine);
}

function chainFor(message: string, lines: readonly string[], walked: WalkedInsn[], failing: number): CausalStep[] {
  let m: RegExpExecArray | null;
  if ((m = /R(\d+) invalid mem access '(\w*_or_null\w*)'/.exec(message))) {
    return nullableChain(walked, Number(m[1]), failing);
  }
  if (/^R0 !read_ok/m.test(message)) {
    const call = lastUnresolvedKfuncCall(walked, failing);
    return call ? [step(call, 'this kfunc was not found in the kernel, so libbpf left the call unresolved (a call to BTF id 0); R0 holds no value after it')] : [];
  }
  if ((m = /Unreleased reference id=(\d+) alloc_insn=(\d+)/.exec(message))) {
    return leakChain(lines, walked, Number(m[1]), Number(m[2]), failing);
  }
  if ((m = /invalid access to packet, off=(-?\d+) size=(\d+), R(\d+)\(id=\d+,off=-?\d+,r=(\d+)\)/.exec(message))) {
    return packetChain(walked, Number(m[3]), Number(m[4]), Number(m[1]), Number(m[2]), failing);
  }
  if ((m = /\bR(\d+) (min value is negative|unbounded memory access|min value is outside|max value is outside|invalid zero-sized read|invalid mem access 'scalar')/.exec(message))) {
    return valueOriginChain(walked, Number(m[1]), failing);
  }
  if ((m = /variable-offset (?:write to |read from |indirect access to )?stack R(\d+)/.exec(message))) {
    return valueOriginChain(walked, Number(m[1]), failing);
  }
  // Any other message about a register (a wrong argument type, a bad return value, a pointer
  // operation): where that register got its value, when that is not the failing instruction itself.
  if ((m = /\bR(\d+)\b/.exec(message)) && !/!read_ok/.test(message)) {
    const origin = definitionOf(walked, Number(m[1]), failing);
    if (origin.index >= 0 && sourceLineOf(lines, walked[origin.index].logLine) !== sourceLineOf(lines, walked[failing].logLine)) {
      const at = walked[origin.index];
      return [step(at, `R${origin.reg} gets its value here${returnedBy(at)}${describeState(at.regs.get(origin.reg))}`)];
    }
  }
  return [];
}

/** libbpf leaves a call to a missing `__weak` kfunc as a call to BTF id 0, which returns nothing: 6.18 prints `call #0`, 7.3 `call <error>#0`. */
const UNRESOLVED_KFUNC_CALL = /^call (<error>)?#0$/;

function lastUnresolvedKfuncCall(walked: WalkedInsn[], before: number): WalkedInsn | undefined {
  for (let i = before - 1; i >= 0; i--) if (UNRESOLVED_KFUNC_CALL.test(walked[i].text)) return walked[i];
  return undefined;
}

/** True when the walk went through a call libbpf left unresolved (a missing weak kfunc). */
export function walkedUnresolvedKfuncCall(logText: string): boolean {
  const lines = splitLogLines(logText);
  const walked = walkedInsns(lines);
  return lastUnresolvedKfuncCall(walked, walked.length) !== undefined;
}

function nullableChain(walked: WalkedInsn[], reg: number, failing: number): CausalStep[] {
  const last = lastStateOf(walked, reg, failing);
  if (!last) return [];
  const id = idOf(last.state);
  const origin = id === null ? last.at : firstWithId(walked, id, /_or_null/, failing) ?? last.at;
  const helper = helperName(origin.text);
  const what = describeNullable(last.state);
  return [step(origin, `R${helper ? 0 : reg} becomes ${what} here${helper ? ` (${helper} may return NULL)` : ''}`)];
}

/**
 * Where the reference was acquired, and the branch that sent the walk down the path to this exit:
 * the last "from X to Y" before it, else (level 1 prints the taken branch inline) the last
 * conditional jump. The exit itself is the diagnostic's own position.
 */
function leakChain(lines: readonly string[], walked: WalkedInsn[], id: number, allocInsn: number, failing: number): CausalStep[] {
  const acquireIndex = walked.findIndex((w) => w.insn === allocInsn);
  const steps: CausalStep[] = [];
  if (acquireIndex >= 0) {
    const acquire = walked[acquireIndex];
    const helper = helperName(acquire.text);
    steps.push({ insn: acquire.insn, logLine: acquire.logLine, message: `reference id=${id} is acquired here${helper ? ` (${helper})` : ''}` });
  }
  const branchMessage = `this branch leads to the exit with reference id=${id} still held`;
  const from = lastBranchTaken(lines, acquireIndex >= 0 ? walked[acquireIndex].logLine : -1, walked[failing].logLine);
  if (from) {
    const jump = walked.find((w) => w.insn === from.insn);
    steps.push({ insn: from.insn, logLine: jump?.logLine ?? from.logLine, message: branchMessage });
    return steps;
  }
  for (let i = failing - 1; i >= 0 && walked[i].insn > allocInsn; i--) {
    if (/^if .* goto /.test(walked[i].text)) {
      steps.push(step(walked[i], branchMessage));
      break;
    }
  }
  return steps;
}

function packetChain(walked: WalkedInsn[], reg: number, range: number, off: number, size: number, failing: number): CausalStep[] {
  const steps: CausalStep[] = [];
  const isPacket = (s: string) => s.startsWith('pkt(');
  // The comparison against data_end that proved `range` bytes: a jump after which a pkt state shows r=range.
  const proof = walked
    .slice(0, failing)
    .find((w) => /^if .* goto /.test(w.text) && [...w.regs.values()].some((s) => isPacket(s) && new RegExp(`\\br=${range}\\b`).test(s)));
  if (proof) {
    steps.push(step(proof, `this data_end check proves ${range} byte${range === 1 ? '' : 's'} of the packet; the access needs ${off + size}`));
  } else {
    const load = walked.slice(0, failing).find((w) => [...w.regs.values()].some(isPacket));
    if (load) steps.push(step(load, `packet pointer taken here; no data_end check before the access proves more than ${range} bytes`));
  }
  const moved = lastWriteOf(walked, reg, failing);
  const movedState = moved >= 0 ? walked[moved].regs.get(reg) : undefined;
  const movedOff = movedState && isPacket(movedState) ? /\boff=(-?\d+)/.exec(movedState) : null;
  if (movedOff && walked[moved] !== proof && /\+=|-=/.test(walked[moved].text)) {
    steps.push(step(walked[moved], `R${reg} now points ${movedOff[1]} bytes into the packet; the access adds ${off - Number(movedOff[1])} more`));
  }
  return steps;
}

/** Where the offending register got its value, and, for `rD += rS`, where the added value came from. */
function valueOriginChain(walked: WalkedInsn[], reg: number, failing: number): CausalStep[] {
  const write = lastWriteOf(walked, reg, failing);
  if (write < 0) return [];
  const at = walked[write];
  const source = sourceRegister(at.text);
  if (source !== null && /\+=|-=/.test(at.text)) {
    const origin = definitionOf(walked, source, write);
    const steps: CausalStep[] = [];
    if (origin.index >= 0) {
      const s = walked[origin.index];
      steps.push(step(s, `R${origin.reg} gets its value here${returnedBy(s)}${describeState(s.regs.get(origin.reg))}`));
    }
    steps.push(step(at, `R${source} is added to R${reg} here, so R${reg}'s offset is only as bounded as R${source}`));
    return steps;
  }
  const origin = definitionOf(walked, reg, failing);
  const s = walked[origin.index];
  return [step(s, `R${origin.reg} gets its value here${returnedBy(s)}${describeState(s.regs.get(origin.reg))}`)];
}

function returnedBy(at: WalkedInsn): string {
  const helper = helperName(at.text);
  return helper ? ` (returned by ${helper})` : '';
}

/** A register's state as the verifier printed it; an unknown number reads as such. */
function describeState(state: string | undefined): string {
  if (state === undefined) return '';
  if (state === 'scalar()') return ': any number, unbounded';
  return `: ${state}`;
}
