/**
 * What eBPF Studio knows about verifier rejections: one entry per kind of failure, with a title,
 * a plain explanation, the usual fix, and the message wordings every kernel uses for it (6.1,
 * 6.12, 6.18, 7.x; libbpf's own lines where libbpf rewrites the failure). Plain data plus one pure
 * lookup, so the check report, the CLI's `explain` and docs/verifier-errors.md share one table.
 *
 * An unknown message has no entry: callers show the raw text and ask for it to be reported,
 * rather than guessing. Entries are tried in table order, so a specific wording (a nullable *map
 * value*) comes before the general one (any nullable pointer).
 */
import { repository } from '../../package.json';

/** 7.3's report categories where they fit; the last two are ours for what 7.3 does not classify. */
export type VerifierCategory =
  | 'Register Type Safety'
  | 'Memory Safety'
  | 'Resource Lifetime Safety'
  | 'Call Type Safety'
  | 'Execution Context Safety'
  | 'Program Structure'
  | 'Policy'
  | 'Verification Limits'
  | 'Type Information';

export interface VerifierErrorKind {
  /** Stable kebab-case name; also the anchor in docs/verifier-errors.md. */
  id: string;
  title: string;
  category: VerifierCategory;
  /** What the verifier objects to, in plain words. */
  explanation: string;
  /** The usual way out, one or two sentences. */
  fix: string;
  /** Any of these found in the error message (its lines joined by '\n') selects the entry. */
  patterns: RegExp[];
}

/** Where an entry is documented, relative to the repository root. */
export const VERIFIER_ERRORS_DOC = 'docs/verifier-errors.md';

export function docsLinkOf(kind: VerifierErrorKind): string {
  return `${VERIFIER_ERRORS_DOC}#${kind.id}`;
}

export const VERIFIER_ERROR_KINDS: readonly VerifierErrorKind[] = [
  // ── Pointers that may be NULL ──────────────────────────────────────────────────────────────
  {
    id: 'nullable-map-value',
    title: 'Map value used without a NULL check',
    category: 'Register Type Safety',
    explanation:
      'bpf_map_lookup_elem() (and other lookups into a map) return NULL when the key is absent, so the verifier types the result as "map value or NULL". Reading or writing through it, or doing arithmetic on it, is refused until a branch has ruled NULL out on that path.',
    fix: 'Test the pointer right after the lookup (`if (!value) return 0;`) and use it only on the non-NULL side.',
    patterns: [/invalid mem access 'map_value_or_null'/, /pointer arithmetic on map_value_or_null prohibited/],
  },
  {
    id: 'nullable-pointer',
    title: 'Pointer that may be NULL is used',
    category: 'Register Type Safety',
    explanation:
      'The register holds a pointer the verifier knows can be NULL: a ring buffer reservation, a socket lookup, an acquired task or cgroup, a kptr, or a nullable helper/kfunc argument. Dereferencing it, doing arithmetic on it, or passing it where a non-NULL pointer is required is refused until the program has checked it.',
    fix: 'Compare the pointer with NULL first and keep the use (and the matching release) on the non-NULL branch.',
    patterns: [
      /invalid mem access '\w*_or_null\w*'/,
      /pointer arithmetic on \w*_or_null\w* prohibited/,
      /Possibly NULL pointer passed to (helper|trusted)/,
      /is expected to be non-NULL/,
    ],
  },
  {
    id: 'scalar-dereference',
    title: 'Memory access through a plain number',
    category: 'Register Type Safety',
    explanation:
      'The register used as an address holds a number (a "scalar"), not a pointer the verifier tracks. Typical causes: a kernel pointer read out of a tracepoint or kprobe argument and dereferenced directly, a pointer invalidated by a helper call (R1–R5 are clobbered by every call) or by releasing the object it pointed to, or a pointer rebuilt from an integer.',
    fix: 'Read kernel memory with bpf_probe_read_kernel() or BPF_CORE_READ(), or use a BTF-typed program (fentry, tp_btf) whose arguments are typed pointers; keep pointers in callee-saved registers (locals) across calls.',
    patterns: [/invalid mem access '(scalar|inv)'/],
  },
  // ── Memory bounds ──────────────────────────────────────────────────────────────────────────
  {
    id: 'packet-out-of-bounds',
    title: 'Packet access not proven to be before data_end',
    category: 'Memory Safety',
    explanation:
      'Packet data may only be read up to the end the program has checked against data_end. The verifier remembers how many bytes past `data` each comparison proved safe; this access reaches further than that on this path (often a header read before its size was checked, or an offset computed after the check).',
    fix: 'Before the access, compare the end of what you read with data_end (`if ((void *)(hdr + 1) > data_end) return XDP_PASS;`) and access the header only through that checked pointer.',
    patterns: [/invalid access to packet/, /offset is outside of the packet/],
  },
  {
    id: 'map-value-out-of-range',
    title: 'Access outside the map value or key',
    category: 'Memory Safety',
    explanation:
      'A map value (or key) is exactly value_size (key_size) bytes long. This load or store, at the offset and size shown, falls partly or wholly outside that range, e.g. indexing an array inside the value with an index that is not bounded, or reading a field past the value\'s struct.',
    fix: 'Check the index against the array length (`if (i >= ARRAY_SIZE(v->slots)) return 0;`) before the access, or make the value type large enough for what is read.',
    patterns: [/invalid access to map (value|key), (value|key)_size=/],
  },
  {
    id: 'memory-range-out-of-bounds',
    title: 'Access may fall outside the object',
    category: 'Memory Safety',
    explanation:
      'The verifier tracks the smallest and largest value the offset can have. Either bound lets this access start before the object or end past it (a map value, a ring buffer record, a packet, a helper-provided buffer). Signed offsets and values narrowed in one variable but used through another are common causes.',
    fix: 'Bound the offset on the path to the access with an unsigned comparison against the object size (or mask it, `off &= SIZE - 1`), and use the same variable you checked.',
    patterns: [
      /(min|max) value is outside of the allowed memory range/,
      /invalid access to memory, mem_size=/,
      /the (minimal|maximal) bound for a memory access/,
      /R\d+ invalid \w+ buffer access: off=/,
      /invalid (negative \w+ )?variable buffer offset/,
      /R\d+ is (?!ptr_)\w+ invalid negative access/,
    ],
  },
  {
    id: 'unbounded-offset',
    title: 'Offset into memory is not bounded',
    category: 'Memory Safety',
    explanation:
      'A pointer is moved by a value whose range the verifier does not know (it could be negative or huge), so it cannot prove that any access through the result stays inside the object.',
    fix: 'Clamp the value before adding it to the pointer: an unsigned `if (idx >= N) return 0;` or a mask such as `idx &= N - 1`, applied to the register that is then used.',
    patterns: [
      /unbounded memory access, make sure to bounds check/,
      /math between \w+ pointer and register with unbounded min value/,
      /min value is negative, either use unsigned index/,
    ],
  },
  {
    id: 'helper-size-unbounded',
    title: 'Size argument of a helper is not bounded',
    category: 'Call Type Safety',
    explanation:
      'Helpers that take a buffer and a length (bpf_probe_read_*, bpf_perf_event_output, bpf_ringbuf_output, bpf_skb_load_bytes, …) need the verifier to prove the length is non-negative, non-zero where required, and no larger than the buffer. Here the length register may be negative, zero or larger than allowed.',
    fix: 'Bound the length just before the call, e.g. `if (len > sizeof(buf)) len = sizeof(buf);` or `len &= sizeof(buf) - 1`, with an unsigned type, and pass that same variable.',
    patterns: [
      /min value is negative, either use unsigned or 'var &= const'/,
      /unbounded memory access, use 'var &= const' or 'if \(var < const\)'/,
      /invalid zero-sized read/,
      /memory, len pair leads to invalid memory access/,
    ],
  },
  {
    id: 'btf-pointer-out-of-range',
    title: 'Access outside a kernel object',
    category: 'Memory Safety',
    explanation:
      'The pointer is a typed kernel object (from BTF). The access reads before its start, at a variable offset, past the end of its struct, or into user or per-CPU memory, none of which the verifier allows for direct loads.',
    fix: 'Access only fields of the struct the pointer has (use the right type, or bpf_core_cast()), and read anything else with bpf_probe_read_kernel().',
    patterns: [
      /is ptr_\w+ invalid (negative access|variable offset)/,
      /is ptr_\w+ access (user|percpu) memory/,
      /access beyond struct/,
    ],
  },
  // ── Stack ──────────────────────────────────────────────────────────────────────────────────
  {
    id: 'uninitialized-stack-read',
    title: 'Read of stack memory that was never written',
    category: 'Memory Safety',
    explanation:
      'Part of the stack range being read, or handed to a helper as input, has not been written on this path. Struct padding, a partially filled key, or a variable set only in one branch are the usual causes. Recent kernels let loaders with CAP_PERFMON read such bytes, so the same code can pass as root and fail without it.',
    fix: 'Zero the variable when declaring it (`struct key k = {};` or `__builtin_memset(&k, 0, sizeof(k))`) and set it on every path before use.',
    patterns: [/invalid (indirect )?read from stack/, /slot poisoned by dead code elimination/],
  },
  {
    id: 'variable-stack-offset',
    title: 'Stack accessed at an unbounded variable offset',
    category: 'Memory Safety',
    explanation:
      'An array on the stack is indexed with a value whose range is unknown or too wide, so the access could land anywhere in (or outside) the 512-byte frame. Helpers also need stack buffers at a fixed offset.',
    fix: 'Bound the index before use (`if (i >= ARRAY_SIZE(arr)) return 0;` or `i &= ARRAY_SIZE(arr) - 1` for power-of-two sizes), or move the array into a map value (a per-CPU array makes a good scratch buffer).',
    patterns: [
      /invalid (unbounded )?variable-offset (write to |read from |indirect access to )?stack/,
      /variable offset stack pointer cannot be passed into helper/,
      /variable (offset )?stack access prohibited/,
    ],
  },
  {
    id: 'stack-out-of-bounds',
    title: 'Stack access outside the frame',
    category: 'Memory Safety',
    explanation:
      'A BPF program\'s stack is 512 bytes below the frame pointer (R10). This access, at the constant offset shown, starts above the frame pointer or reaches beyond 512 bytes below it.',
    fix: 'Keep stack variables small (large buffers belong in a per-CPU array map) and make sure pointer arithmetic on stack addresses stays inside the variable.',
    patterns: [/invalid( write to| read from| indirect access to)? stack (R\d+ )?off=/, /invalid stack off=/],
  },
  {
    id: 'stack-too-large',
    title: 'Combined stack of the call chain is too large',
    category: 'Verification Limits',
    explanation:
      'Each function may use up to 512 bytes of stack, but the frames of a whole chain of BPF-to-BPF calls (and tail calls from subprograms) together must also fit in 512 bytes. Recent x86 kernels give tracing programs a private stack with more room, so the same code may pass there.',
    fix: 'Move large locals into a per-CPU array map, or let the compiler inline small helpers (`static __always_inline`) so frames are not stacked.',
    patterns: [/combined stack size of \d+ calls is \d+\. Too large/, /stack size of subprog \d+ is \d+\. Too large/, /stack size -?\d+\(extra \d+\) is too large/, /tail_calls are not allowed when call stack of previous frames is/],
  },
  {
    id: 'call-stack-too-deep',
    title: 'Too many nested function calls',
    category: 'Verification Limits',
    explanation: 'BPF-to-BPF calls may only nest a limited number of frames deep (8 on the kernels we test, 7.3 allows more); this call would go deeper.',
    fix: 'Flatten the call chain: inline small functions with `static __always_inline`, or restructure the recursion-like code into a loop.',
    patterns: [/the call stack of \d+ frames is too deep/],
  },
  // ── Registers ──────────────────────────────────────────────────────────────────────────────
  {
    id: 'missing-return-value',
    title: 'Program exits without setting a return value',
    category: 'Register Type Safety',
    explanation:
      'At `exit`, R0 is the program\'s return value, and on this path nothing was written to it. This happens with functions that fall off their end, or with inline assembly that forgets R0.',
    fix: 'Return a value on every path of the program function (`return 0;`).',
    patterns: [/^R0 !read_ok/m],
  },
  {
    id: 'uninitialized-register',
    title: 'Register read before it was written',
    category: 'Register Type Safety',
    explanation:
      'An instruction reads a register that holds no value on this path: never set, or clobbered by a helper or function call (R1–R5 do not survive calls). Usually inline assembly or a miscompiled variable is behind it.',
    fix: 'Set the register on every path before the instruction; after a call, reload arguments from locals instead of reusing R1–R5.',
    patterns: [/^R([1-9]|10) !read_ok/m, /R\d+ is not readable here/, /R\d+ has never been initialized on this path/],
  },
  {
    id: 'frame-pointer-write',
    title: 'Write to the frame pointer R10',
    category: 'Register Type Safety',
    explanation: 'R10 is the read-only frame pointer of the BPF stack; instructions may compute addresses from it but never change it.',
    fix: 'Copy R10 into another register before arithmetic (compilers do this; check inline assembly).',
    patterns: [/frame pointer is read only/],
  },
  {
    id: 'global-function-arguments',
    title: 'Call to a global function with arguments it cannot accept',
    category: 'Call Type Safety',
    explanation:
      'Global (non-static) functions are verified once, on their own, from their BTF signature. A caller must pass arguments that fit that signature: a plain number for scalars, a non-NULL pointer to enough memory for pointer arguments, the context for a ctx argument.',
    fix: 'Pass arguments matching the declared types, or make the function `static` so it is verified with each caller\'s actual values.',
    patterns: [/Caller passes invalid args into func#\d+/, /^R\d+ is not a scalar$/m],
  },
  {
    id: 'invalid-helper-argument',
    title: 'Helper or kfunc argument of the wrong type',
    category: 'Call Type Safety',
    explanation:
      'Each argument of a helper or kfunc accepts only some kinds of value (a map pointer, a pointer to stack or map memory, the context, a trusted kernel object, a constant, …). The register shown holds a different kind here, e.g. a scalar where a pointer is needed, a packet pointer where stack memory is needed, or an untrusted pointer where a trusted one is required.',
    fix: 'Pass what the signature asks for: copy data into a stack or map buffer first, pass the original ctx pointer, or obtain the kernel object through an acquire kfunc or a trusted argument.',
    patterns: [
      /R\d+ type=\S+ expected=/,
      /R\d+ is of type \S+ but \S+ is expected/,
      /expected pointer to ctx, but got/,
      /arg#\d+ expects? pointer to ctx/,
      /R\d+ must be referenced or trusted/,
      /R\d+ must be a rcu pointer/,
      /kernel function \S+ args#\d+ expected pointer to/,
      /R\d+ (must be a known constant|is not a known constant|is not a const\b)/,
      /R\d+ must point to kernel BTF/,
      /R\d+ has no valid kptr/,
    ],
  },
  {
    id: 'pointer-arithmetic-prohibited',
    title: 'Arithmetic not allowed on this pointer',
    category: 'Register Type Safety',
    explanation:
      'The verifier tracks pointers only through additions and subtractions of bounded numbers on pointer kinds that allow it. Bitwise operations, 32-bit arithmetic, pointer minus pointer, or any arithmetic on pointers such as the context, a map pointer or a socket, would lose track of where the pointer points. Without CAP_BPF/CAP_PERFMON the rules are stricter still (a Spectre mitigation): a pointer may not even temporarily leave its object, and offsets must have a known sign.',
    fix: 'Compute offsets on plain integers and add them to the pointer once; read context fields directly (`ctx->field`) instead of moving the ctx pointer.',
    patterns: [
      /R\d+ pointer arithmetic on \w+ prohibited$/m,
      /R\d+ pointer arithmetic prohibited/,
      /R\d+ 32-bit pointer arithmetic prohibited/,
      /R\d+ bitwise operator \S+ on pointer prohibited/,
      /R\d+ pointer arithmetic with \S+ operator prohibited/,
      /R\d+ pointer \S+ pointer prohibited/,
      /R\d+ tried to subtract pointer from scalar/,
      /R\d+ subtraction from stack pointer prohibited/,
      /math between \w+ pointer and -?\d+ is not allowed/,
      /value -?\d+ makes \w+ pointer be out of bounds/,
      /\w+ pointer offset -?\d+ is not allowed/,
      /R\d+ sign-extension part of pointer/,
      /R\d+ (pointer arithmetic of map value|stack pointer arithmetic) goes out of range/,
      /R\d+ tried to \w+ (beyond pointer bounds|from different maps)/,
      /R\d+ has pointer with unsupported alu operation/,
      /R\d+ has unknown scalar with mixed signed bounds/,
    ],
  },
  {
    id: 'pointer-comparison',
    title: 'Comparison of pointers not allowed',
    category: 'Register Type Safety',
    explanation:
      'Only some pointers may be compared: packet pointers with data_end, and nullable pointers with zero. Comparing other pointers (or comparing a pointer with a number) would let the program learn kernel addresses, so the verifier refuses it for these types.',
    fix: 'Compare the values the pointers point to, or indexes, rather than the addresses themselves.',
    patterns: [/R\d+ pointer comparison prohibited/],
  },
  {
    id: 'pointer-leak',
    title: 'Kernel address would leak',
    category: 'Register Type Safety',
    explanation:
      'A register holding a kernel pointer is being stored where user space could read it (a map value, a ring buffer record, the packet, the context) or returned, or a spilled pointer on the stack is partially overwritten. The verifier forbids exposing kernel addresses this way.',
    fix: 'Store an identifier or a field read through the pointer instead of the pointer itself; if you really need an address, convert it explicitly with bpf_probe_read_kernel() into a u64 in a tracing program.',
    patterns: [
      /R\d+ leaks addr (into|as)/,
      /leaking pointer from stack off/,
      /R\d+ partial copy of pointer/,
      /attempt to corrupt spilled pointer on stack/,
    ],
  },
  {
    id: 'mixed-pointer-types',
    title: 'One instruction used with different pointer types',
    category: 'Register Type Safety',
    explanation:
      'The same load or store instruction is reached with, say, a context pointer on one path and a stack or map pointer on another. Context accesses are rewritten per instruction at load time, so each such instruction must always see one pointer type.',
    fix: 'Keep the two accesses in separate statements (for example by copying the context field into a local first), so the compiler does not merge them into one instruction.',
    patterns: [/same insn cannot be used with different pointers/, /same insn cannot be used with and without arena pointer/],
  },
  // ── Context ────────────────────────────────────────────────────────────────────────────────
  {
    id: 'invalid-ctx-access',
    title: 'Invalid access to the program context',
    category: 'Memory Safety',
    explanation:
      'Each program type exposes a fixed context struct (struct xdp_md, struct __sk_buff, tracepoint records, …), and only some of its fields can be read, and fewer written, with some sizes. This offset and size are not a permitted access for this program type, for instance a field of the wrong struct, a write to a read-only field, or a narrow read the type does not support.',
    fix: 'Use the context type of this program\'s section (or the tracepoint\'s own trace_event_raw_* struct), access whole fields, and copy fields you need to change into locals.',
    patterns: [/invalid bpf_context access off=-?\d+ size=/, /invalid access to context, ctx_size=/],
  },
  {
    id: 'modified-ctx-access',
    title: 'Context pointer used after it was moved',
    category: 'Memory Safety',
    explanation:
      'Context fields are rewritten by the kernel into real loads at fixed offsets, so the context pointer must be used exactly as the program received it. Here it was moved by a constant or variable amount before the access.',
    fix: 'Access context fields directly through the original pointer (`ctx->field`), and pass the unmodified ctx to helpers; do not index into the context with a variable.',
    patterns: [/dereference of modified ctx ptr/, /variable ctx access var_off=.* disallowed/, /negative offset ctx ptr/],
  },
  {
    id: 'invalid-socket-access',
    title: 'Invalid access to a socket structure',
    category: 'Memory Safety',
    explanation:
      'Socket pointers the verifier hands out (struct bpf_sock, bpf_tcp_sock, bpf_xdp_sock, flow keys) expose only certain fields at certain sizes; this access is not one of them.',
    fix: 'Read only the documented fields of the UAPI socket struct, at their full size, or use bpf_skc_to_*() casts to reach the kernel socket.',
    patterns: [/R\d+ invalid (sock|sock_common|tcp_sock|xdp_sock) access off=/, /invalid access to flow keys off=/],
  },
  {
    id: 'write-to-read-only',
    title: 'Write to read-only memory',
    category: 'Memory Safety',
    explanation:
      'The destination cannot be written from this program: a read-only map (such as .rodata, or a map frozen or created with BPF_F_RDONLY_PROG), packet data in a program type that may only read it, memory a helper returned as read-only, or a context field that is read-only.',
    fix: 'Write into a writable copy instead (a stack variable, a per-CPU array, .bss/.data globals rather than `const volatile`), or use the helper meant for changing that data (e.g. bpf_skb_store_bytes).',
    patterns: [
      /write into map forbidden/,
      /cannot write into packet/,
      /the prog does not allow writes to packet data/,
      /R\d+ cannot write into \w+/,
      /only read (from \w+ )?is supported/,
      /BPF_(ST|ATOMIC) stores into R\d+ \w+ is not allowed/,
    ],
  },
  // ── Helpers, kfuncs, licence ───────────────────────────────────────────────────────────────
  {
    id: 'program-kind-missing',
    title: 'This kernel cannot load this kind of program',
    category: 'Policy',
    explanation:
      'The program is of a kind the target kernel does not offer at all, as its agent probed it: BPF LSM not enabled (CONFIG_BPF_LSM or "bpf" missing from the lsm= boot parameter), no BPF trampolines for fentry/fexit/fmod_ret (no CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, or an architecture without them), or a program type the kernel predates. The kernel itself only answers with a bare error and an empty log, so nothing in the program is at fault.',
    fix: 'Run it on a kernel that has the feature (a kernel VM of another version shows which do), or observe the same event with a hook this kernel has: a tracepoint, raw_tracepoint or tp_btf program, or a kprobe where kprobe events exist.',
    patterns: [/^ebpf-agent: \w+ is an? .+ program, and this kernel (does not have|cannot attach|does not load)/m],
  },
  {
    id: 'helper-not-allowed',
    title: 'Helper not available to this program type',
    category: 'Policy',
    explanation:
      'Each program type may call only its own set of helpers (a tracepoint cannot call bpf_skb_load_bytes, for instance), and a kernel older than the helper does not know it at all. Kernel 6.1 reports both as "unknown func"; later kernels say the program type cannot use the helper.',
    fix: 'Use a helper allowed for this program type (tracing programs read memory with bpf_probe_read_kernel()), or move the logic into a program type that has the helper.',
    patterns: [
      /unknown func \w+#\d+/,
      /program of this type cannot use helper/,
      /func \w+#\d+ not supported for program type/,
      /func \w+#\d+ supported only for fentry/,
      /helper call is not allowed in probe/,
      /invalid func (?!unknown#(195896080|200[12]\d{6})\b)\w+#\d+/,
    ],
  },
  {
    id: 'gpl-only-function',
    title: 'GPL-only helper or kfunc in a non-GPL program',
    category: 'Policy',
    explanation:
      'Some helpers (bpf_probe_read_kernel, bpf_trace_printk, bpf_get_stack, …), all kfuncs and struct_ops programs are available only to programs whose license section declares a GPL-compatible license.',
    fix: 'Declare a GPL-compatible license: `char LICENSE[] SEC("license") = "Dual BSD/GPL";` (or "GPL").',
    patterns: [
      /cannot call GPL-restricted function from non-GPL compatible program/,
      /cannot call kernel function from non-GPL compatible program/,
      /must have a GPL compatible license/,
      /Cannot access kernel 'struct \w+' from non-GPL compatible program/,
    ],
  },
  {
    id: 'kfunc-not-allowed',
    title: 'Kfunc not allowed here',
    category: 'Policy',
    explanation:
      'The kernel function exists, but it is registered only for other program types or attach points, needs a capability the loader lacks, or needs a JIT.',
    fix: 'Call the kfunc from a program type that may use it (see the kernel\'s kfunc sets), or use an equivalent helper.',
    patterns: [/calling kernel function \S+ is not allowed/, /destructive kfunc calls require CAP_SYS_BOOT/, /calling kernel functions are not allowed in non-JITed/, /JIT (is required for|does not support) calling (kernel function|kfunc)/],
  },
  {
    id: 'kfunc-unknown',
    title: 'Kfunc or kernel symbol not found in this kernel',
    category: 'Type Information',
    explanation:
      'The program declares a kernel function or variable (`extern ... __ksym`) that this kernel\'s BTF does not have: it is newer than this kernel, lives in a module that is not loaded, or is misspelled. libbpf replaces calls to an unresolved weak kfunc with an invalid call: newer libbpf versions with a poisoned call the verifier rejects, libbpf 1.1 with a call to BTF id 0 (`call #0`, on 7.3 `call <error>#0`), after which the verifier reports R0 as never set.',
    fix: 'Check that the target kernel provides the kfunc, mark optional ones `__weak` and guard them with `bpf_ksym_exists()`, or load the module that provides it.',
    patterns: [
      /invalid func unknown#2002\d{6}/,
      /kfunc '\S+' is referenced but wasn't resolved/,
      /extern \(func ksym\) '\S+': not found in kernel or module BTFs/,
      /extern \(var ksym\) '\S+': not found in kernel BTF/,
      /extern '(?!CONFIG_)\w+' \(strong\): not resolved/,
      /failed to find BTF for kernel function/,
      /kernel btf_id \d+ is not a function/,
      /invalid kernel function( btf_id \d+| call not eliminated)/,
    ],
  },
  {
    id: 'core-relocation-failed',
    title: 'CO-RE relocation found no match in the kernel',
    category: 'Type Information',
    explanation:
      'A field, type or enum value the program reads through CO-RE (BPF_CORE_READ, preserve_access_index) does not exist in this kernel\'s BTF, so libbpf could not patch the instruction and replaced it with a poisoned call the verifier rejects. The field may have been renamed or moved between kernel versions.',
    fix: 'Guard the access with `bpf_core_field_exists()` / `bpf_core_type_exists()` and read a fallback field on kernels that lack it (a `___v2` flavour struct helps), or regenerate vmlinux.h for the target kernel.',
    patterns: [/invalid func unknown#195896080/, /failed to resolve CO-RE relocation/, /<invalid CO-RE relocation>/],
  },
  {
    id: 'map-not-created',
    title: 'Program uses a map that was not created',
    category: 'Type Information',
    explanation:
      'The program refers to a map that libbpf did not create (it was disabled with bpf_map__set_autocreate(false), or creating it failed), so libbpf replaced the reference with an invalid instruction.',
    fix: 'Create the map, or make sure code that uses an optional map is not reached (guard it with a `const volatile` flag set before load).',
    patterns: [/invalid func unknown#2001\d{6}/, /BPF map '\S+' is referenced but wasn't created/],
  },
  {
    id: 'map-size-unset',
    title: 'Map has no size until its loader sets one',
    category: 'Type Information',
    explanation:
      'The map is defined without max_entries (or with 0), because the program\'s own loader picks the size at run time (from the CPU count, a command-line option, …) with bpf_map__set_max_entries() before loading. The kernel creates no map of size 0, so loaded as it is, the whole object fails before any program reaches the verifier.',
    fix: 'Give the check the size the loader would set: a map-size preset (`--map-size MAP=N`, or `ebpfStudio.loadPresets`), or put a default `__uint(max_entries, N)` in the definition.',
    patterns: [/has max_entries 0/],
  },
  {
    id: 'map-type-unsupported',
    title: 'Map type this kernel cannot create',
    category: 'Type Information',
    explanation:
      'The map\'s type is newer than the target kernel (ring buffers need 5.8, bloom filters 5.16, user ring buffers 6.1, arenas 6.9, …) or was left out of its configuration, so creating it fails with a bare "Invalid argument" and the object does not load.',
    fix: 'Use a type the kernel has (a perf event array instead of a ring buffer on old kernels), or create the map only where it exists (`bpf_map__set_autocreate(map, false)` in the loader, with its uses guarded by a `const volatile` flag).',
    patterns: [/map '\S+' is an? \w+ map, and this kernel cannot create/],
  },
  {
    id: 'map-create-failed',
    title: 'Map cannot be created',
    category: 'Type Information',
    explanation:
      'The kernel refused to create one of the object\'s maps, so nothing in the object was loaded. Common reasons: a size of zero or one too large for memory (E2BIG, ENOMEM), a key or value size the map type does not allow (arrays need 4-byte keys; stack trace maps a value that is a multiple of 8), flags the type does not take, or the memory limit (RLIMIT_MEMLOCK) on kernels before 5.11.',
    fix: 'Check the definition against the map type\'s rules (key_size, value_size, max_entries, map_flags); for a size the loader sets at run time, give the check a map-size preset.',
    patterns: [/map '\S+': failed to create/],
  },
  {
    id: 'map-type-not-allowed',
    title: 'Map type not accepted by this helper',
    category: 'Call Type Safety',
    explanation:
      'The helper works only with some map types: bpf_tail_call needs a program array, bpf_ringbuf_* a ring buffer, bpf_perf_event_output a perf event array, bpf_redirect_map a devmap/cpumap/xskmap, and so on. The map passed here is of another type.',
    fix: 'Declare the map with the type the helper expects (`__uint(type, BPF_MAP_TYPE_RINGBUF)`, …), or call the helper meant for this map type.',
    patterns: [/cannot pass map_type \d+ into func/, /expected prog array map for tail call/, /callback function not allowed for map/],
  },
  {
    id: 'kconfig-value-missing',
    title: 'Kconfig option not set in this kernel',
    category: 'Type Information',
    explanation:
      'A `__kconfig` extern reads a kernel configuration option at load: libbpf looks it up in the kernel\'s config (/proc/config.gz, else /boot/config-<release>). Either the option is not set on this kernel and the extern is not `__weak`, or the kernel\'s config is in neither place (kernels built without CONFIG_IKCONFIG_PROC, containers and VMs without /boot), which fails every CONFIG_ extern, weak or not. libbpf then stops before loading anything.',
    fix: 'Declare the extern `__weak` so a missing option reads as 0 (false), and handle that value in the program. To check the program as it would load on a kernel that has the option, give its value as a preset (`--set CONFIG_NAME=y`, or `ebpfStudio.loadPresets`); libbpf then takes it instead of the kernel\'s config. Where the config itself is missing, provide /boot/config-<release> on the target, or test kernel features with CO-RE (`bpf_core_enum_value_exists()`, `bpf_core_type_exists()`) instead of Kconfig.',
    patterns: [/extern 'CONFIG_\w+' \(strong\): not resolved/, /extern \(kcfg\) 'CONFIG_\w+'/, /failed to open system Kconfig/],
  },
  {
    id: 'kernel-version-unknown',
    title: 'libbpf cannot tell the kernel version',
    category: 'Type Information',
    explanation:
      'LINUX_KERNEL_VERSION (a `__kconfig` extern, also what old kprobe programs report as their version) is computed by libbpf from the kernel release string, which it expects to begin with three numbers, major.minor.patch. Some release strings have only two (Debian\'s release candidates: "7.3-amd64"), and then libbpf gives up before loading the object.',
    fix: 'Declare the extern `__weak` and handle 0, or compare against values taken from the kernel\'s BTF (`bpf_core_type_exists()`, `bpf_core_field_exists()`) instead of a version number.',
    patterns: [/failed to get kernel version/],
  },
  {
    id: 'btf-rejected',
    title: 'The kernel refused the object\'s BTF',
    category: 'Type Information',
    explanation:
      'Every object carries BTF describing its types, and libbpf hands it to the kernel before the programs. The kernel checks it and refused it: usually a type kind newer than the kernel (type tags, 64-bit enums, declaration tags from a newer clang), which libbpf removes only for kinds it knows the kernel lacks. Programs that need BTF (global functions, kfuncs, fentry and friends, maps with special fields) then cannot load.',
    fix: 'Compile with a clang whose BTF the kernel understands, or remove the constructs that produce the newer kinds (btf_type_tag / btf_decl_tag attributes, enums with 64-bit values).',
    patterns: [/Error loading (\.BTF into kernel|BTF)/],
  },
  {
    id: 'attach-target-not-found',
    title: 'Attach target not found in the kernel',
    category: 'Type Information',
    explanation:
      'fentry/fexit, fmod_ret, LSM, tp_btf and freplace programs are verified against the BTF of the function they attach to. The function named in the section (or set by the loader) does not exist in this kernel, is not traceable, or is not in BTF.',
    fix: 'When the program\'s loader retargets it (the section names a placeholder such as dummy_file_read), give the check the real function with an attach-target preset (`--attach-target PROG=FUNC`, or `ebpfStudio.loadPresets`). Otherwise check the name against this kernel (`bpftool btf dump file /sys/kernel/btf/vmlinux | grep`), pick a traceable function, or use a kprobe when the function is not in BTF.',
    patterns: [
      /failed to find kernel BTF type ID of '\S+'/,
      /attach target '\S+' \(a preset\) is not a function/,
      /attach_btf_id \d+ is invalid/,
      /The address of function \S+ cannot be found/,
      /Tracing programs must provide btf_id/,
      /Attaching tracing programs to function '\S+' is rejected/,
    ],
  },
  // ── References (acquire/release) ───────────────────────────────────────────────────────────
  {
    id: 'unreleased-reference',
    title: 'Acquired reference not released on every path',
    category: 'Resource Lifetime Safety',
    explanation:
      'Some helpers and kfuncs hand out a reference the program must give back: bpf_ringbuf_reserve (submit or discard), bpf_sk_lookup_* (bpf_sk_release), bpf_task_acquire (bpf_task_release), dynptr reservations, and so on. On the path shown, the program reaches exit (or a tail call) while still holding one. 6.1 and 6.18 print "Unreleased reference id=N alloc_insn=M"; newer kernels also say the exit "would lead to reference leak".',
    fix: 'Release the reference on every path after acquiring it, including early returns (e.g. call bpf_ringbuf_discard(e, 0) before returning on an error path).',
    patterns: [/Unreleased reference id=\d+/, /would lead to reference leak/, /owned resource \(id=\d+\) still needs release/, /Leaking reference id=\d+/],
  },
  {
    id: 'released-reference',
    title: 'Release of a reference that is not held',
    category: 'Resource Lifetime Safety',
    explanation:
      'A release helper or kfunc (bpf_ringbuf_submit/discard, bpf_sk_release, bpf_task_release, …) is called with a pointer that does not own a live reference on this path: it was already released or submitted, was never acquired (a pointer from a non-acquiring lookup), or was moved by arithmetic.',
    fix: 'Release each reference exactly once, with the pointer the acquire call returned, and stop using the pointer after releasing it.',
    patterns: [
      /reference has not been acquired before/,
      /arg \d+ is an unacquired reference/,
      /R\d+ must be referenced when passed to release function/,
      /release (kernel function|helper|kfunc) \S+ expects ref/,
      /must have zero offset when passed to release func/,
      /Reference may already be released/,
    ],
  },
  // ── Control flow and size ──────────────────────────────────────────────────────────────────
  {
    id: 'back-edge',
    title: 'Loop not allowed (back-edge)',
    category: 'Program Structure',
    explanation:
      'The program jumps backwards. Loops are accepted since 5.3 only for loaders with CAP_BPF/CAP_SYS_ADMIN; without them (or on older kernels) any backward jump is refused before verification starts.',
    fix: 'Load with CAP_BPF (or as root), unroll the loop (`#pragma unroll` with a constant bound), or use bpf_loop() / bpf_for().',
    patterns: [/back-edge from insn -?\d+ to -?\d+/, /branches back to instruction \d+/],
  },
  {
    id: 'infinite-loop',
    title: 'Loop the verifier sees making no progress',
    category: 'Verification Limits',
    explanation:
      'The verifier reached the same instruction twice with an identical state, so as far as it can tell the loop never changes anything that would make it end: typically the loop condition depends on a value the loop body does not change, or the change is invisible to the verifier (e.g. a helper result).',
    fix: 'Give the loop a bounded counter (`for (int i = 0; i < MAX && cond; i++)`), or use bpf_loop() / bpf_for().',
    patterns: [/infinite loop detected at insn \d+/],
  },
  {
    id: 'program-too-large',
    title: 'Verification explored too many instructions',
    category: 'Verification Limits',
    explanation:
      'The verifier walks every path separately and stops after one million instructions in total. Long loops with many branches inside, or code unrolled many times, multiply the paths until the limit is hit.',
    fix: 'Reduce the paths: use bpf_loop() or bpf_for() instead of large unrolled loops, move loop bodies into global (non-static) functions which are verified once, and reduce branching inside loops.',
    patterns: [/BPF program is too large\. Processed \d+ insn/],
  },
  {
    id: 'too-complex',
    title: 'Too many branches pending verification',
    category: 'Verification Limits',
    explanation:
      'The verifier keeps a stack of branches still to explore, and this program has too many pending at once (8192 jumps in a sequence). Deep nesting of conditions, or loops whose every iteration branches, cause it.',
    fix: 'Simplify the control flow: split the logic into global functions, replace hand-unrolled loops with bpf_loop(), and bound loops tightly.',
    patterns: [/The sequence of \d+ jumps is too complex/, /liveness analysis exceeded complexity limit/],
  },
  {
    id: 'invalid-return-value',
    title: 'Return value outside the range this program type allows',
    category: 'Program Structure',
    explanation:
      'Some program types only accept certain return values: LSM hooks return 0 or a negative errno, cgroup programs return small ranges such as 0 or 1, some struct_ops callbacks are fixed. On this path R0 may hold a value outside that range, or is not a plain number at all.',
    fix: 'Return only allowed constants (for BPF LSM: `return 0;` to allow, `return -EPERM;` to deny), and make sure R0 is not a pointer or an unbounded value at exit.',
    patterns: [/the register R0 (has|is not a (known|scalar) value)/, /register R0 is not a known value/, /At subprogram exit the register R\d+ is not a scalar value/],
  },
  {
    id: 'misaligned-access',
    title: 'Misaligned memory access',
    category: 'Memory Safety',
    explanation:
      'The load or store is not aligned to its size at this offset. The verifier is strict about alignment for the stack, context and some pointers, and for packets on architectures without efficient unaligned access, or when the loader asks for strict alignment.',
    fix: 'Access fields at their natural alignment (copy a packed or unaligned field into a local with __builtin_memcpy), and keep stack variables aligned.',
    patterns: [/misaligned (packet |stack |value |context |\w+ )?access off/],
  },
  {
    id: 'ld-abs-not-allowed',
    title: 'Legacy packet load (LD_ABS/LD_IND) not allowed here',
    category: 'Program Structure',
    explanation:
      'The classic BPF packet loads (load_byte/load_half/load_word, LD_ABS/LD_IND) work only in socket-filter and tc programs with the skb in R6, outside spin-locked or RCU sections and not mixed with socket references.',
    fix: 'Use direct packet access with a data_end check, or bpf_skb_load_bytes().',
    patterns: [/BPF_LD_\[ABS\|IND\] (instructions not allowed|cannot be)/, /at the time of BPF_LD_ABS\|IND R6 != pointer to skb/, /LD_ABS is not allowed in subprogs without BTF/],
  },
  // ── Locks, RCU, sleeping ───────────────────────────────────────────────────────────────────
  {
    id: 'special-field-access',
    title: 'Special map field (lock, timer, kptr) accessed directly',
    category: 'Memory Safety',
    explanation:
      'Fields the kernel manages inside a map value (struct bpf_spin_lock, bpf_timer, bpf_wq, kptrs, list and rbtree heads) may only be used through their helpers and kfuncs, at a constant offset, with the exact size and alignment, in a map whose BTF describes them. Plain loads and stores, variable offsets, or a map without BTF are refused.',
    fix: 'Declare the field in the map value struct (with `__type` so the map has BTF), and use it only through its API: bpf_spin_lock(&v->lock), bpf_timer_init(&v->t, …), bpf_kptr_xchg(&v->ptr, …).',
    patterns: [
      /cannot be accessed directly by load\/store/,
      /(kptr|bpf_\w+) access cannot have variable offset/,
      /(kptr|bpf_\w+) access misaligned expected=/,
      /(kptr|bpf_\w+) access size must be BPF_DW/,
      /kptr in map can only be accessed using/,
      /store to referenced kptr disallowed/,
      /invalid kptr access/,
      /has to have BTF in order to use/,
      /doesn't have constant offset\. \S+ has to be at the constant offset/,
      /off -?\d+ doesn't point to 'struct (bpf_timer|bpf_wq)'/,
      /map '\S+' (has more than one|doesn't have) 'struct bpf_timer'/,
    ],
  },
  {
    id: 'spin-lock-misuse',
    title: 'bpf_spin_lock used incorrectly',
    category: 'Execution Context Safety',
    explanation:
      'While a bpf_spin_lock is held the program may not call helpers or functions (other than the unlock), take a second lock, exit, or tail-call; every lock needs its unlock on the same lock, and the lock must live in a map value whose BTF describes it.',
    fix: 'Keep the critical section to plain loads and stores, unlock on every path before returning or calling anything, and declare the lock as a `struct bpf_spin_lock` field of a map value with BTF.',
    patterns: [
      /bpf_spin_lock-ed region/,
      /function calls are not allowed while holding a lock/,
      /global function calls are not allowed while holding a lock/,
      /Locking two bpf_spin_locks are not allowed/,
      /bpf_spin_unlock without taking a lock/,
      /bpf_spin_unlock of different lock/,
      /bpf_spin_unlock is missing/,
      /bpf_spin_lock has to be at the constant offset/,
      /'struct bpf_spin_lock'/,
      /progs cannot use bpf_spin_lock yet/,
      /(spin_lock|res_spin)_unlock (without taking a lock|of different lock|cannot be out of order)/,
    ],
  },
  {
    id: 'rcu-or-preempt-section-misuse',
    title: 'RCU, non-preemptible or IRQ-disabled section misused',
    category: 'Execution Context Safety',
    explanation:
      'bpf_rcu_read_lock()/unlock(), bpf_preempt_disable()/enable() and bpf_local_irq_save()/restore() must pair up on every path (IRQ flags restored in reverse order, from the stack slot they were saved in), and inside such a section the program may not sleep, call global functions, exit or tail-call. Some kfuncs and iterators also require being inside an RCU section.',
    fix: 'Leave the section (unlock, re-enable preemption, restore IRQs) on every path before returning, keep sleeping and global-function calls outside it, and wrap RCU-requiring kfuncs in bpf_rcu_read_lock()/bpf_rcu_read_unlock().',
    patterns: [
      /bpf_rcu_read_lock-ed region/,
      /bpf_rcu_read_unlock is missing/,
      /unmatched rcu read unlock/,
      /nested rcu read lock/,
      /bpf_preempt_disable-ed region/,
      /bpf_preempt_enable\S* missing/,
      /unmatched attempt to enable preemption/,
      /expected an RCU CS when using/,
      /requires RCU critical section protection/,
      /sleepable helper \S+ in (rcu_read_lock|non-preemptible) region/,
      /kernel func \S+ is sleepable within (rcu_read_lock|non-preemptible) region/,
      /global function calls are not allowed with preemption disabled/,
      /sleepable global function \S+ called in/,
      /bpf_local_irq_save-ed region/,
      /(expected (an initialized|uninitialized) irq flag|cannot restore irq state out of order|IRQ flag is already initialized)/,
    ],
  },
  {
    id: 'sleepable-call-not-allowed',
    title: 'Sleeping call in a program that may not sleep',
    category: 'Execution Context Safety',
    explanation:
      'Helpers and kfuncs that may sleep (bpf_copy_from_user, bpf_d_path in some hooks, sleepable kfuncs) are only allowed in sleepable programs: SEC("fentry.s/…"), "lsm.s/…", "uprobe.s/…", "iter.s/…" and syscall programs. Sleepable programs in turn can only use some map types and program kinds.',
    fix: 'Use the sleepable form of the section (e.g. `SEC("lsm.s/file_open")`), or replace the call with a non-sleeping variant (bpf_probe_read_user instead of bpf_copy_from_user).',
    patterns: [
      /helper call might sleep in a non-sleepable prog/,
      /program must be sleepable to call sleepable kfunc/,
      /Only fentry\/fexit\/fmod_ret, lsm, .*can be sleepable/,
      /Program of this type cannot be sleepable/,
      /Sleepable programs can only use/,
      /Sleepable program cannot attach to non-faultable tracepoint/,
      /sleepable progs cannot use/,
    ],
  },
  // ── Dynptrs, iterators, tail calls ─────────────────────────────────────────────────────────
  {
    id: 'dynptr-misuse',
    title: 'Dynptr used incorrectly',
    category: 'Resource Lifetime Safety',
    explanation:
      'A struct bpf_dynptr must live on the stack at a fixed offset, be initialised by a constructor (bpf_ringbuf_reserve_dynptr, bpf_dynptr_from_mem, …) before use, not be initialised twice, match the type the operation expects, and a referenced one must not be overwritten before it is submitted or discarded.',
    fix: 'Declare the dynptr as a local `struct bpf_dynptr ptr;`, initialise it on every path before use, pass `&ptr` directly, and release it (submit/discard) before reusing the slot.',
    patterns: [
      /cannot pass in dynptr at an offset/,
      /Dynptr has to be an uninitialized dynptr/,
      /Expected an initialized dynptr as/,
      /Expected a dynptr of type \S+ as/,
      /dynptr has to be at a constant offset/,
      /cannot overwrite referenced dynptr/,
      /potential write to dynptr at off=/,
      /expected pointer to stack or const struct bpf_dynptr/,
      /const bpf_dynptr/,
      /CONST_PTR_TO_DYNPTR cannot be released/,
      /Unsupported reg type \S+ for bpf_dynptr_from_mem data/,
    ],
  },
  {
    id: 'iterator-misuse',
    title: 'Open-coded iterator used incorrectly',
    category: 'Resource Lifetime Safety',
    explanation:
      'Open-coded iterators (bpf_iter_num, bpf_iter_task, … and bpf_for/bpf_repeat built on them) keep their state in a stack object that must be created with _new, advanced with _next and ended with _destroy on every path, in that order, and passed by its stack address.',
    fix: 'Prefer the bpf_for()/bpf_for_each()/bpf_repeat() macros, which pair new/next/destroy for you; otherwise call _destroy on every path that leaves the loop.',
    patterns: [
      /expected (an initialized|uninitialized) iter_\w+ as/,
      /expected pointer to an iterator on stack/,
      /expected valid iter pointer as/,
      /iterator is already initialized/,
      /uninitialized iterator use/,
      /css_task_iter is only allowed in/,
    ],
  },
  {
    id: 'tail-call-misuse',
    title: 'Tail call not allowed here',
    category: 'Program Structure',
    explanation:
      'bpf_tail_call has restrictions: mixed with BPF-to-BPF calls it needs the JIT and a small stack in the calling frames, it is not allowed inside callbacks, exception callbacks or locked/RCU sections, and subprograms using it need BTF and an int return type.',
    fix: 'Make the tail call from the main program (or a small subprogram) outside any lock or callback, and keep stack usage of the calling frames low.',
    patterns: [
      /tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls/,
      /mixing of tail_calls and bpf-to-bpf calls is not supported/,
      /tail_call is not allowed in subprogs without BTF/,
      /tail_call is only allowed in functions that return 'int'/,
      /cannot tail call within (callback|exception cb)/,
      /program with __ref argument cannot tail call/,
      /tail_calls are not allowed in programs with stack args/,
    ],
  },
  // ── Malformed programs ─────────────────────────────────────────────────────────────────────
  {
    id: 'stack-pointer-escapes',
    title: 'Pointer to a local variable escapes its function',
    category: 'Memory Safety',
    explanation:
      'A pointer into a function\'s stack frame is returned to its caller, or stored into the caller\'s frame. The frame is gone once the function returns, so the verifier refuses to let its address outlive it.',
    fix: 'Let the caller own the memory and pass a pointer to it down as an argument, or return the value itself instead of its address.',
    patterns: [/cannot return stack pointer to the caller/, /cannot spill pointers to stack into stack frame of the caller/],
  },
  {
    id: 'recursive-call',
    title: 'Recursive function call',
    category: 'Program Structure',
    explanation:
      'BPF-to-BPF calls must form an acyclic graph so the verifier can bound the stack and the work: a function may not call itself, directly or through others. Kernels before 7.x report the cycle as a back-edge of the call graph.',
    fix: 'Rewrite the recursion as a bounded loop (bpf_loop() or a `for` with a constant bound), keeping an explicit stack in a map if needed.',
    patterns: [/recursive call from \S+ to \S+/],
  },
  {
    id: 'capability-required',
    title: 'Needs CAP_BPF / CAP_PERFMON (or root)',
    category: 'Policy',
    explanation:
      'Without CAP_BPF and CAP_PERFMON the verifier refuses features that could leak kernel memory or addresses: BPF-to-BPF calls, kfuncs, reads of kernel structs through BTF pointers, pointer arithmetic that leaves its object, variable stack offsets.',
    fix: 'Load the program with CAP_BPF and CAP_PERFMON (or as root; eBPF Studio\'s agent does), or avoid the feature.',
    patterns: [
      /loading\/calling other bpf or kernel functions are allowed for CAP_BPF/,
      /loading or calling other BPF functions requires CAP_BPF/,
      /calling kernel functions requires CAP_BPF/,
      /access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN/,
      /pointer arithmetic with it prohibited for !root/,
      /the access requires CAP_PERFMON/,
    ],
  },
  {
    id: 'jump-out-of-range',
    title: 'Jump outside the program or function',
    category: 'Program Structure',
    explanation:
      'A jump instruction targets an instruction that does not exist, lies in another function, or falls into the middle of a 64-bit immediate load. Compiled C does not do this; hand-written assembly or a broken object does.',
    fix: 'Check hand-written assembly or the loader that patched the program; recompile the object with a current clang.',
    patterns: [/jump out of range from insn -?\d+ to -?\d+/, /jumps to instruction -?\d+, but/, /jump into the middle of ldimm64 insn/],
  },
  {
    id: 'unreachable-instruction',
    title: 'Instruction that can never be reached',
    category: 'Program Structure',
    explanation:
      'The verifier requires every instruction to be reachable from the entry point; this one is not. It appears with inline assembly or with objects patched after compilation.',
    fix: 'Remove the dead instructions (for inline assembly) or recompile; clang does not emit unreachable code at -O2.',
    patterns: [/unreachable insn \d+/, /Instruction \d+ is not reachable from the program entry point/],
  },
  {
    id: 'last-insn-not-exit',
    title: 'Function does not end with exit or jump',
    category: 'Program Structure',
    explanation:
      'Execution could run off the end of the program (or of a subprogram into the next one) because its last instruction is neither an exit nor an unconditional jump. Usually a function that is noreturn-like, or a broken object.',
    fix: 'Make sure every function returns; recompile the object, and check inline assembly for a missing `exit`.',
    patterns: [/last insn is not an exit or jmp/, /reaches its last instruction \d+ without an exit or jump/],
  },
  {
    id: 'invalid-call-destination',
    title: 'Call to an invalid destination',
    category: 'Program Structure',
    explanation:
      'A BPF-to-BPF call points outside the program. This typically means the object was not linked properly: a function declared but defined in another object, or a relocation libbpf did not resolve.',
    fix: 'Define the called function in the same object (or link the objects with `bpftool gen object`), and mark shared functions `static` or `__noinline` consistently.',
    patterns: [/call to invalid destination/],
  },
  {
    id: 'unknown-instruction',
    title: 'Instruction this kernel does not know',
    category: 'Program Structure',
    explanation:
      'The object contains an opcode, or reserved fields, this kernel does not accept. Objects built with `-mcpu=v4` (sign-extending loads, 32-bit jumps and so on) need kernel 6.6 or newer, and some atomics need newer kernels still.',
    fix: 'Compile for an instruction set the target supports (`-mcpu=v3` or `-mcpu=v2` for older kernels).',
    patterns: [/unknown opcode [0-9a-f]{2}/, /invalid BPF_\w+ opcode/, /BPF_\w+(\/\w+)? uses reserved fields/, /invalid BPF_LD_IMM insn/, /BPF_ATOMIC uses invalid atomic opcode/],
  },
  {
    id: 'btf-info-mismatch',
    title: 'BTF function or line info does not match the program',
    category: 'Type Information',
    explanation:
      'The BTF that describes the program\'s functions and source lines does not fit its instructions: a function without func_info, line info pointing at wrong offsets, or a subprogram that global functions need BTF for. Objects rewritten or concatenated by tools other than clang/libbpf cause this.',
    fix: 'Compile with `-g` using clang and load through libbpf without stripping BTF (`llvm-strip -g` removes it).',
    patterns: [
      /missing btf func_info/,
      /number of funcs in func_info doesn't match number of subprogs/,
      /invalid type id \d+ in func info/,
      /func_info BTF section doesn't match subprog layout/,
      /missing bpf_line_info for/,
      /Invalid line_info\[/,
    ],
  },
];

/** The entry explaining a verifier (or libbpf) error message, or undefined when we don't know it. */
export function explainVerifierMessage(message: string | readonly string[]): VerifierErrorKind | undefined {
  const text = typeof message === 'string' ? message : message.join('\n');
  if (text.trim() === '') return undefined;
  return VERIFIER_ERROR_KINDS.find((kind) => kind.patterns.some((p) => p.test(text)));
}

/** Where to report a message the table does not know: a new issue titled with the message. */
export function reportMessageUrl(message: string): string {
  const title = `Unexplained verifier message: ${message.split('\n')[0]}`;
  return `${repository.url.replace(/\.git$/, '')}/issues/new?title=${encodeURIComponent(title)}`;
}

export function verifierErrorKind(id: string): VerifierErrorKind | undefined {
  return VERIFIER_ERROR_KINDS.find((kind) => kind.id === id);
}
