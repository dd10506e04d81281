/**
 * The agent's wire protocol: JSON-RPC 2.0, one JSON object per line (UTF-8, '\n'-terminated),
 * on the agent's stdin (client → agent) and stdout (agent → client). The agent writes nothing
 * else to stdout; its own diagnostics go to stderr.
 *
 * This file is the single definition of that protocol for TypeScript. The C agent
 * (remote-agent/agent/) implements the same shapes; remote-agent/PROTOCOL.md describes them
 * for humans. Change all three together and bump AGENT_PROTOCOL_VERSION.
 *
 * Wire types only: the client converts them into its own types (diagnostics, verdicts) at the edge.
 */

export const AGENT_PROTOCOL_VERSION = 1;

/** Method names, client → agent requests. */
export const Method = {
  hello: 'hello',
  compile: 'compile',
  load: 'load',
  release: 'release',
} as const;

// ---------------------------------------------------------------------------------------------
// hello — client → agent. First request of every session: what agent and what kernel is this?

export interface HelloParams {
  /** Version of the client (the extension or the CLI), for the agent's stderr log only. */
  clientVersion: string;
}

export interface HelloResult {
  agentVersion: string;
  protocolVersion: number;
  /** `uname -r`, e.g. "6.18.44". */
  kernelRelease: string;
  /** `uname -m`, e.g. "x86_64", "aarch64". */
  arch: string;
  /** True when /sys/kernel/btf/vmlinux is readable: CO-RE and vmlinux.h work. */
  btf: boolean;
  /** Content hash of /sys/kernel/btf/vmlinux (hex), the cache key of the generated vmlinux.h; null without BTF. */
  btfId: string | null;
  /** First line of `clang --version` on the target; null when clang is not installed there. */
  clang: string | null;
  /** libbpf version the agent is linked with, e.g. "1.1". */
  libbpfVersion: string;
  /** Effective uid of the agent; loading programs needs 0 (or CAP_BPF + CAP_PERFMON). */
  euid: number;
  /** Methods this agent answers, e.g. ["hello","compile","load","release"]. */
  capabilities: string[];
}

// ---------------------------------------------------------------------------------------------
// compile — client → agent. Compile one BPF C file with clang on the target.
//
// The agent writes `files` into a fresh private work directory, then runs, with that directory as
// the current directory:
//   clang -g -O2 -target bpf -D__TARGET_ARCH_<arch> -I. -I<vmlinux cache dir> [-include-pch ...]
//         -idirafter /usr/include/<clang -print-multiarch> -fno-color-diagnostics -c <main> -o <object>
// (-idirafter because `-target bpf` does not search the multiarch dir, where Debian keeps asm/types.h)
// so clang's diagnostics and the object's line info name files by the same relative paths the
// client sent. vmlinux.h is generated from the target's /sys/kernel/btf/vmlinux and cached.

export interface SourceFile {
  /** Relative path, '/'-separated; no leading '/', no '..' segment, at most 4096 bytes. */
  path: string;
  /** File content, UTF-8. */
  content: string;
}

export interface CompileParams {
  /** The main file and every workspace header it includes. At most 64 files, 16 MiB in all. */
  files: SourceFile[];
  /** Path (as in `files`) of the translation unit to compile. */
  main: string;
  /** Extra -D definitions, each "NAME" or "NAME=VALUE" (NAME is a C identifier). */
  defines?: string[];
}

export interface CompileResult {
  /** True when clang exited 0 and wrote the object. */
  ok: boolean;
  /** Handle of the object held by the agent, for `load` and `release`; null when !ok. */
  objectId: string | null;
  /** The compiled ELF object, base64; null when !ok. The client reads its BTF.ext line info. */
  object: string | null;
  /** clang's stderr (warnings and errors), as is. */
  stderr: string;
  /** clang's exit status (-1 when it was killed). */
  exitCode: number;
  /** Wall time of the clang run, milliseconds. */
  durationMs: number;
  /** How vmlinux.h was provided: generated now, taken from the cache, or not available (no BTF). */
  vmlinuxH: 'generated' | 'cached' | 'unavailable';
}

// ---------------------------------------------------------------------------------------------
// load — client → agent. Verify every program of a compiled object, each on its own (as veristat
// does: one bpf_object__load per program with only that program's autoload on), so each gets its
// own verdict, log and statistics. Loaded programs are closed again at once; `load` attaches nothing.

export interface LoadParams {
  objectId: string;
  /** Verify only these programs (by function name); all when absent. */
  programs?: string[];
}

export interface ProgramVerdict {
  /** Function name of the program (libbpf's bpf_program__name). */
  name: string;
  /** ELF section name, e.g. "tracepoint/syscalls/sys_enter_execve". */
  section: string;
  /** Program type as libbpf names it, e.g. "tracepoint", "xdp"; "unknown" if libbpf cannot tell. */
  type: string;
  /** True when the kernel accepted the program. */
  ok: boolean;
  /** Negative errno of the failed load (e.g. -13 for EACCES); 0 when ok. */
  errno: number;
  /** The verifier log: at level 1 (every instruction of the failing path) when the load failed, stats only (level 4) when it passed. */
  log: string;
  /** libbpf's own messages for this program's load (relocation failures, unsupported section, …). */
  libbpfLog: string;
  /** Number of BPF instructions in the program as loaded. */
  insnCount: number;
  /** From the log's "processed N insns" line; null when absent. */
  insnsProcessed: number | null;
  /** From the log's statistics line; null when absent. */
  totalStates: number | null;
  peakStates: number | null;
  /** From "verification time N usec"; null when absent. */
  verificationTimeUs: number | null;
  /** Wall time of this program's bpf_object__load, milliseconds. */
  loadMs: number;
}

export interface LoadResult {
  programs: ProgramVerdict[];
}

// ---------------------------------------------------------------------------------------------
// release — client → agent. Forget a compiled object and delete its work directory.

export interface ReleaseParams {
  objectId: string;
}

export type ReleaseResult = Record<string, never>;

// ---------------------------------------------------------------------------------------------
// Errors. Standard JSON-RPC codes, plus the agent's own in the -32000..-32099 range. Every error's
// `message` is a full sentence a user can act on.

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The request was cancelled by `$/cancelRequest` (as in LSP). */
  RequestCancelled: -32800,
  /** clang is not installed (or not runnable) on the target. */
  ClangMissing: -32001,
  /** The target kernel has no BTF (/sys/kernel/btf/vmlinux): no vmlinux.h, no CO-RE. */
  NoBtf: -32002,
  /** `objectId` is not (or no longer) held by the agent. */
  UnknownObject: -32003,
  /** libbpf could not open the object (not BPF ELF, bad BTF, …); data.libbpfLog says why. */
  ObjectOpenFailed: -32004,
  /** The agent lacks the privileges to load programs (not root, no CAP_BPF). */
  PermissionDenied: -32005,
} as const;

/**
 * Cancellation: the client may send the notification `$/cancelRequest` with `{ id }`. The agent
 * stops a running clang for that request and answers it with RequestCancelled.
 */
export const CancelNotification = '$/cancelRequest';
