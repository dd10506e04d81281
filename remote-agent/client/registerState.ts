/**
 * The verifier's register and stack state as its log prints it ("R1=ctx() R6_w=scalar(umax=255)
 * fp-8=mmmm????"), read into name → value pairs, and each value told in words. A pure function of
 * text; the wordings of 6.1 (`ctx(off=0,imm=0)`, `umax=4294967295`) and 6.12+ (`ctx()`,
 * `umax=0xffffffff`, `map=counts`) are both read.
 */

/** Register (R0–R10) or stack slot (fp-8) → its value as printed, write/read marks stripped. */
export type RegisterState = Map<string, string>;

/** A state token: "R1_w=…", "R10=fp0", "fp-8=mmmm????", "fp-16_w=map_value(…)". */
const TOKEN = /^(R\d+|fp-?\d+)(?:_[a-z]+)?=(.*)$/;

/**
 * Splits state text into tokens at spaces outside parentheses (values hold "var_off=(0x0; 0xff)"),
 * and reads the register and stack tokens. Anything else ("frame1:", "refs=2") is skipped.
 */
export function parseRegisterState(text: string): RegisterState {
  const state: RegisterState = new Map();
  for (const token of splitTopLevel(text)) {
    const m = TOKEN.exec(token);
    if (m) state.set(m[1], m[2]);
  }
  return state;
}

function splitTopLevel(text: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if ((c === ' ' && depth === 0) || i === text.length) {
      if (i > start) tokens.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return tokens;
}

/** "R1=ctx() R10=fp0", registers in number order, then stack slots from the frame pointer down. */
export function formatRegisterState(state: RegisterState, names?: Iterable<string>): string {
  const wanted = names ? [...names].filter((n) => state.has(n)) : [...state.keys()];
  return sortStateNames(wanted)
    .map((n) => `${n}=${state.get(n)}`)
    .join(' ');
}

/** Registers in number order, then stack slots from the frame pointer down (fp-8, fp-16, …). */
export function sortStateNames(names: string[]): string[] {
  const rank = (n: string) => (n.startsWith('R') ? Number(n.slice(1)) : 100 - Number(n.slice(2)));
  return [...names].sort((a, b) => rank(a) - rank(b));
}

/**
 * The registers and stack slots an instruction reads, as state names: "r1 = *(u64 *)(r10 -8)" →
 * R10 and fp-8 (R1 is only written); "r0 >>= 32" → R0; a helper or kfunc call reads R1–R5.
 */
export function registersReadBy(instruction: string): string[] {
  if (/^call\b/.test(instruction)) return /\bpc[+-]/.test(instruction) ? [] : ['R1', 'R2', 'R3', 'R4', 'R5'];
  const plainWrite = /^[rw]\d{1,2} = (.*)$/.exec(instruction);
  const read = plainWrite ? plainWrite[1] : instruction;
  const names = new Set<string>();
  for (const m of read.matchAll(/\b[rw](\d{1,2})\b/g)) if (Number(m[1]) <= 10) names.add(`R${Number(m[1])}`);
  // A load from the stack reads its 8-byte slot, which the state names by its lowest offset: -4 → fp-8.
  if (plainWrite) for (const m of read.matchAll(/\(r10 -(\d+)\)/g)) names.add(`fp-${Math.ceil(Number(m[1]) / 8) * 8}`);
  return [...names];
}

/** What a value means, in words: "a pointer to a value of map counts (4-byte keys, 16-byte values)". */
export function describeValue(name: string, value: string): string {
  if (name.startsWith('fp')) return describeStackSlot(name, value);
  if (/^fp-?\d+$/.test(value)) return framePointer(value);
  const call = /^(\*?)([a-z_0-9]+)(?:\((.*)\))?$/.exec(value);
  if (!call) return describeConstant(value) ?? value;
  const [, , kind, argText] = call;
  const args = parseArgs(argText ?? '');
  if (argText === undefined) {
    const constant = describeConstant(value);
    if (constant) return constant;
  }
  const nullable = kind.endsWith('_or_null');
  const base = nullable ? kind.slice(0, -'_or_null'.length) : kind;
  const described = describeKind(base, args);
  if (!described) return value;
  return nullable ? `${described}, or NULL: it must be checked against NULL before use` : described;
}

function describeKind(kind: string, args: Map<string, string>): string | undefined {
  const offset = args.get('off') && args.get('off') !== '0' ? ` at offset ${args.get('off')}` : '';
  const map = args.get('map') ? `map ${args.get('map')}` : 'a map';
  const sizes = args.get('ks') ? ` (${args.get('ks')}-byte keys, ${args.get('vs')}-byte values)` : '';
  switch (kind) {
    case 'scalar':
    case 'inv':
      return describeScalar(args);
    case 'ctx':
      return `the program's context (its argument)${offset}`;
    case 'map_ptr':
      return `${args.get('map') ? `the ${map}` : 'a map'} itself${sizes}, as helpers take it`;
    case 'map_value':
      return `a pointer into a value of ${map}${sizes}${offset}`;
    case 'map_key':
      return `a pointer to a key of ${map}${offset}`;
    case 'pkt': {
      const checked = args.get('r');
      return `a packet pointer${offset}; ${checked && checked !== '0' ? `${checked} bytes from the packet start are proven before data_end` : 'no byte of it is proven before data_end yet'}`;
    }
    case 'pkt_end':
      return 'the end of the packet (data_end): compare packet pointers with it before reading';
    case 'pkt_meta':
      return `a pointer into the packet's metadata${offset}`;
    case 'ringbuf_mem':
      return `ring buffer memory reserved by bpf_ringbuf_reserve${args.get('sz') ? ` (${args.get('sz')} bytes)` : ''}; it must be submitted or discarded on every path`;
    case 'mem':
    case 'rdonly_mem':
    case 'alloc_mem':
      return `a pointer to ${kind === 'rdonly_mem' ? 'read-only ' : ''}memory${args.get('sz') ? ` of ${args.get('sz')} bytes` : ''}${offset}`;
    case 'sock':
    case 'sock_common':
    case 'tcp_sock':
    case 'xdp_sock':
      return `a socket pointer (${kind})${args.get('ref_obj_id') ? ', a reference that must be released with bpf_sk_release' : ''}`;
    case 'func':
      return 'a pointer to a BPF function (a callback)';
    case 'dynptr':
    case 'dynptr_ptr':
      return 'a dynptr';
    default: {
      const btf = /^(?:(trusted|rcu|untrusted|percpu)_)?ptr_(.+)$/.exec(kind);
      if (btf) {
        const how = btf[1] ? ` (${btf[1]})` : '';
        return `a pointer to the kernel's struct ${btf[2]}${how}${offset}`;
      }
      return undefined;
    }
  }
}

function describeScalar(args: Map<string, string>): string {
  const num = (key: string) => (args.has(key) ? BigInt(args.get(key)!) : undefined);
  let min = num('umin') ?? num('umin_value');
  let max = num('umax') ?? num('umax_value');
  const smin = num('smin') ?? num('smin_value');
  const smax = num('smax') ?? num('smax_value');
  // "smin=0,smax=umax=0xffffffff" prints two keys with one value: parseArgs reads "smax" and "umax" alike.
  if (min === undefined && smin !== undefined && smin >= 0n) min = smin;
  if (max === undefined && smax !== undefined && (smin ?? 0n) >= 0n) max = smax;
  if (min === undefined && max === undefined && smin !== undefined && smax !== undefined) {
    return `a number from ${smin} to ${smax}`;
  }
  if (min === undefined && max === undefined) return 'a number the verifier knows nothing about (unbounded)';
  const low = min ?? 0n;
  if (max === undefined) return `a number of at least ${low}, with no upper bound known`;
  return low === max ? `the constant ${low}` : `a number from ${low} to ${max}`;
}

/** Arguments "map=counts,ks=4,vs=8" and chained keys "smax=umax=0xff" (both get the value). */
function parseArgs(text: string): Map<string, string> {
  const args = new Map<string, string>();
  let depth = 0;
  let start = 0;
  const parts: string[] = [];
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' && depth === 0) || i === text.length) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  for (const part of parts) {
    const pieces = part.split('=');
    if (pieces.length < 2) continue;
    const value = pieces[pieces.length - 1];
    for (const key of pieces.slice(0, -1)) args.set(key.trim(), value);
  }
  return args;
}

/** "0", "P5" (a precise constant), "-1", "0xff". */
function describeConstant(value: string): string | undefined {
  const m = /^P?(-?(?:0x[0-9a-f]+|\d+))$/i.exec(value);
  return m ? `the constant ${BigInt(m[1])}` : undefined;
}

function framePointer(value: string): string {
  const off = Number(value.slice(2));
  return off === 0 ? 'the frame pointer (top of this function\'s 512-byte stack)' : `a pointer into the stack, ${-off} bytes below the frame pointer`;
}

/**
 * Stack slots print one character per byte, highest address first: m = written data, 0 = zero,
 * ? = never written, d/i = dynptr/iterator; or a spilled register's value.
 */
function describeStackSlot(name: string, value: string): string {
  if (/^[m0?dif]+$/.test(value)) {
    const unwritten = [...value].filter((c) => c === '?').length;
    const parts: string[] = [];
    if (value.includes('m')) parts.push('data');
    if (value.includes('0')) parts.push('zeros');
    if (value.includes('d')) parts.push('a dynptr');
    if (value.includes('i')) parts.push('an iterator');
    const written = parts.length > 0 ? `hold ${parts.join(' and ')}` : 'hold nothing yet';
    return `the stack bytes at ${name} ${written}${unwritten > 0 ? `; ${unwritten} of its ${value.length} bytes were never written (reading them is rejected)` : ''}`;
  }
  return `a register spilled to the stack at ${name}: ${describeValue('R', value)}`;
}
