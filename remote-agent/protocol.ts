/**
 * The agent's wire protocol: JSON-RPC 2.0, one JSON object per line (UTF-8, '\n'-terminated),
 * on the agent's stdin (client → agent) and stdout (agent → client). The agent writes nothing
 * else to stdout; its own diagnostics go to stderr.
 *
 * This file is the one definition of that protocol. `AgentRequests` and `AgentNotifications` are
 * the typed tables (method → params, result, direction, doc) every TypeScript caller derives from;
 * `agentMethods`, `agentNotifications`, `ErrorCode` and `AgentLimits` are the same facts at run
 * time, from which the build generates the C agent's `protocol_generated.h`
 * (scripts/generate-agent-protocol.ts): a method added here fails the agent's build until it has a
 * handler, and `test/unit/protocolDefinition.test.ts` fails until PROTOCOL.md describes it.
 *
 * Wire types only: the client converts them into its own types (diagnostics, verdicts) at the edge.
 */

export const AGENT_PROTOCOL_VERSION = 2;

/**
 * Every request, client → agent, by its wire name. Adding a method: an entry here and in
 * `agentMethods` (the compiler insists on both), a `method_<name>` handler in the agent, a
 * section in PROTOCOL.md.
 */
export interface AgentRequests {
  hello: { params: HelloParams; result: HelloResult };
  compile: { params: CompileParams; result: CompileResult };
  load: { params: LoadParams; result: LoadResult };
  release: { params: ReleaseParams; result: ReleaseResult };
  'probe.helpers': { params: ProbeHelpersParams; result: ProbeHelpersResult };
  attach: { params: AttachParams; result: AttachResult };
  detach: { params: DetachParams; result: DetachResult };
  unpin: { params: UnpinParams; result: UnpinResult };
  'stream.start': { params: StreamStartParams; result: StreamStartResult };
  'stream.stop': { params: StreamStopParams; result: StreamStopResult };
  'trace.start': { params: TraceStartParams; result: TraceStartResult };
  'trace.stop': { params: TraceStopParams; result: TraceStopResult };
  'object.maps': { params: ObjectMapsParams; result: ObjectMapsResult };
  'map.dump': { params: MapDumpParams; result: MapDumpResult };
  'map.lookup': { params: MapLookupParams; result: MapLookupResult };
  'map.update': { params: MapUpdateParams; result: MapUpdateResult };
  'map.delete': { params: MapDeleteParams; result: MapDeleteResult };
  'host.programs': { params: HostProgramsParams; result: HostProgramsResult };
  'host.maps': { params: HostMapsParams; result: HostMapsResult };
  'host.interfaces': { params: HostInterfacesParams; result: HostInterfacesResult };
  'host.tracepoints': { params: HostTracepointsParams; result: HostTracepointsResult };
  'host.executables': { params: HostExecutablesParams; result: HostExecutablesResult };
  'btf.vmlinux': { params: BtfVmlinuxParams; result: BtfVmlinuxResult };
  'btf.put': { params: BtfPutParams; result: BtfPutResult };
  'object.put': { params: ObjectPutParams; result: ObjectPutResult };
  reset: { params: ResetParams; result: ResetResult };
  'session.resume': { params: SessionResumeParams; result: SessionResumeResult };
  'session.end': { params: SessionEndParams; result: SessionEndResult };
}

/** Every notification, agent → client, by its wire name. */
export interface AgentNotifications {
  events: EventsNotification;
  trace: TraceNotification;
  'stream.ended': StreamEndedNotification;
}

export type AgentMethod = keyof AgentRequests;
export type AgentNotification = keyof AgentNotifications;
export type ParamsOf<M extends AgentMethod> = AgentRequests[M]['params'];
export type ResultOf<M extends AgentMethod> = AgentRequests[M]['result'];

/**
 * What a caller needs of an agent connection, narrowed to the methods it uses: checkFile takes an
 * `AgentRequester<'compile' | 'load' | 'release'>`; the AgentClient is an `AgentRequester<AgentMethod>`.
 */
export interface AgentRequester<M extends AgentMethod> {
  request<K extends M>(method: K, params: ParamsOf<K>, signal?: AbortSignal): Promise<ResultOf<K>>;
}

/** What a caller needs to hear from an agent connection, narrowed to the notifications it handles. */
export interface AgentListener<N extends AgentNotification> {
  onNotification<K extends N>(method: K, handler: (params: AgentNotifications[K]) => void): { dispose(): void };
}

/** Whether the agent that said `hello` answers `method` (methods added without a version bump are not answered by older agents). */
export function agentOffers(hello: Pick<HelloResult, 'capabilities'>, method: AgentMethod): boolean {
  return hello.capabilities.includes(method);
}

/** Run-time facts of one message: who sends it and what it is for (the first line of its PROTOCOL.md section). */
export interface MessageInfo {
  direction: 'client → agent' | 'agent → client';
  doc: string;
}

/** The requests at run time, in the order PROTOCOL.md and the agent's method table list them. */
export const agentMethods: { readonly [M in AgentMethod]: MessageInfo } = {
  hello: { direction: 'client → agent', doc: 'First request of a session: agent version, kernel, arch, BTF, toolchain and probed kernel features.' },
  compile: { direction: 'client → agent', doc: 'Compile one BPF C file (and the headers sent with it) with clang on the target against its vmlinux.h.' },
  load: { direction: 'client → agent', doc: 'Verify every program of a compiled object, each on its own, with its own log and statistics.' },
  release: { direction: 'client → agent', doc: 'Forget a compiled object: detach and unload what it holds, delete its work directory.' },
  'probe.helpers': { direction: 'client → agent', doc: 'Which helpers each program type may call on this kernel, and which are GPL-only.' },
  attach: { direction: 'client → agent', doc: 'Attach one program of a compiled object, by its section or at an explicit target.' },
  detach: { direction: 'client → agent', doc: 'Destroy a link (and unpin it if it was pinned).' },
  unpin: { direction: 'client → agent', doc: 'Remove a pinned link of ours (under <bpffs>/ebpf-studio/ only).' },
  'stream.start': { direction: 'client → agent', doc: 'Send the records of a ring buffer or perf buffer map of an attached object as `events`.' },
  'stream.stop': { direction: 'client → agent', doc: 'Stop a stream; answers its final counters.' },
  'trace.start': { direction: 'client → agent', doc: 'Follow trace_pipe (bpf_printk output) and send its lines as `trace`.' },
  'trace.stop': { direction: 'client → agent', doc: 'Stop following trace_pipe; answers its counters.' },
  'object.maps': { direction: 'client → agent', doc: 'The maps of a compiled object, with their kernel ids once it is loaded.' },
  'map.dump': { direction: 'client → agent', doc: 'One page of the entries of a map of a loaded object.' },
  'map.lookup': { direction: 'client → agent', doc: 'The value of one key of a map of a loaded object.' },
  'map.update': { direction: 'client → agent', doc: 'Set the value of one key of a map of a loaded object.' },
  'map.delete': { direction: 'client → agent', doc: 'Delete one key of a map of a loaded object.' },
  'host.programs': { direction: 'client → agent', doc: 'Every BPF program loaded on the host, like `bpftool prog list`.' },
  'host.maps': { direction: 'client → agent', doc: 'Every BPF map on the host, like `bpftool map list`.' },
  'host.interfaces': { direction: 'client → agent', doc: "The host's network interfaces, to offer as xdp/tc/socket attach targets." },
  'host.tracepoints': { direction: 'client → agent', doc: "The tracepoints of the host's tracefs (available_events), to offer as attach targets." },
  'host.executables': { direction: 'client → agent', doc: 'Executables in the standard and PATH directories of the host, to offer as uprobe targets.' },
  'btf.vmlinux': { direction: 'client → agent', doc: "The target kernel's BTF, for the language server and for compiling elsewhere." },
  'btf.put': { direction: 'client → agent', doc: "Give a compiling agent another kernel's BTF, so `compile` can build against that kernel's vmlinux.h." },
  'object.put': { direction: 'client → agent', doc: 'Hold an object compiled elsewhere, as `compile` would, for `load` and `attach`.' },
  reset: { direction: 'client → agent', doc: 'Release everything earlier requests created (objects, their links and streams, the trace_pipe follower), so the agent can serve another run.' },
  'session.resume': { direction: 'client → agent', doc: "Sent to a freshly started agent instead of `hello`: reach the agent of a dropped session (by its id and token) and carry on with everything it holds." },
  'session.end': { direction: 'client → agent', doc: 'The client is done on purpose: no grace period, the agent releases everything when its input ends.' },
};

/** The notifications at run time. */
export const agentNotifications: { readonly [N in AgentNotification]: MessageInfo } = {
  events: { direction: 'agent → client', doc: 'A batch of raw ring buffer or perf buffer records of one stream.' },
  trace: { direction: 'agent → client', doc: 'A batch of trace_pipe lines.' },
  'stream.ended': { direction: 'agent → client', doc: 'A stream stopped on its own (object released, read error), with its final counters.' },
};

/**
 * Cancellation, client → agent: the notification `$/cancelRequest` with `{ id }` (as in LSP).
 * vscode-jsonrpc sends it when a request's token is cancelled; the agent stops a running clang for
 * that request (or drops it from its queue) and answers it with RequestCancelled.
 */
export const CANCEL_NOTIFICATION = '$/cancelRequest';

/** Limits both ends enforce; the agent refuses a request past them with InvalidParams. */
export const AgentLimits = {
  /** Longest request line the agent reads; a longer one is discarded and answered with InvalidRequest. */
  maxRequestLineBytes: 32 * 1024 * 1024,
  /** compile: files per request (the main file and the headers it includes). */
  compileMaxFiles: 64,
  /** compile: bytes of all files' content together. */
  compileMaxBytes: 16 * 1024 * 1024,
  /** compile: bytes of one file's relative path. */
  compileMaxPathBytes: 4096,
  /** object.put: bytes of the object; btf.put: bytes of the BTF (in base64 they must fit one request line). */
  objectMaxBytes: 24 * 1024 * 1024,
  btfMaxBytes: 24 * 1024 * 1024,
  /** compile: -D definitions per request, and bytes of each. */
  compileMaxDefines: 64,
  compileMaxDefineBytes: 4096,
  /** compile: include directories (`includeDirs`) per request. */
  compileMaxIncludeDirs: 32,
  /** map.dump: entries per page when `limit` is absent, and the most a page may ask. */
  mapDumpDefaultLimit: 256,
  mapDumpMaxLimit: 4096,
  /** stream.start defaults: records per batch, oldest record's wait, unsent bytes kept before dropping. */
  streamDefaultBatchRecords: 4096,
  streamDefaultLatencyMs: 50,
  streamDefaultQueueLimitBytes: 16 * 1024 * 1024,
  /** load/attach presets: entries of each kind (globals, mapSizes, attachTargets), bytes of a name or value, largest map size. */
  presetMaxEntries: 64,
  presetMaxNameBytes: 128,
  presetMaxMapSize: 1024 * 1024 * 1024,
  /** host.tracepoints / host.executables: names per answer when `limit` is absent, and the most `limit` may ask. */
  hostListDefaultLimit: 5000,
  hostListMaxLimit: 20000,
  /** hello.graceSeconds: the longest grace period a client may ask for. */
  sessionMaxGraceSeconds: 3600,
} as const;

// ---------------------------------------------------------------------------------------------
// hello — client → agent. First request of every session: what agent and what kernel is this?

export interface HelloParams {
  /** Version of the client (the extension or the CLI), for the agent's stderr log only. */
  clientVersion: string;
  /**
   * Keep what this session attached running this many seconds after its link drops (0 or absent:
   * release everything at once, as without it; at most AgentLimits.sessionMaxGraceSeconds), so a
   * client that reconnects in time resumes it with `session.resume`.
   */
  graceSeconds?: number;
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
  /** What the kernel can do, probed for real at agent start (cheap probes only; see probe.helpers). */
  features: KernelFeatures;
  /** What the agent itself may do to the kernel: without CAP_BPF or CAP_SYS_ADMIN it can load nothing. */
  privileges: AgentPrivileges;
  /**
   * How to resume this session after its link drops; null when hello asked no grace period, or the
   * agent could not make its private socket (its stderr says why). Only the client that said hello
   * gets it: keep it in memory, never log or store it.
   */
  resume: ResumeTicket | null;
}

/** What `session.resume` needs to reach an agent whose client went away. */
export interface ResumeTicket {
  /** The agent's process id on the target (not secret: it names the agent's socket). */
  agentId: number;
  /** 64 hex digits from getrandom(2); the agent compares it in constant time. */
  token: string;
  /** The grace period granted, in seconds: after the link drops, the agent waits this long, then releases everything. */
  graceSeconds: number;
}

/**
 * The agent's own privileges, read with capget(2) on itself and from /proc/sys, so a client can say
 * what is missing before any load fails with a bare EPERM.
 */
export interface AgentPrivileges {
  /**
   * The capabilities BPF work needs that are in the agent's effective set, lower-case without
   * "cap_": of "bpf", "perfmon", "sys_admin", "net_admin". A root agent normally holds all four; a
   * container without --privileged, or a bounding set that dropped them, leaves some out.
   */
  effectiveCapabilities: string[];
  /**
   * The sysctl kernel.unprivileged_bpf_disabled: 0 (loading without CAP_BPF allowed for socket
   * filters), 1 (disabled until reboot), 2 (disabled, an admin may re-enable); null when unreadable.
   */
  unprivilegedBpfDisabled: number | null;
}

/**
 * Kernel facts that decide what can be attached and how. Each is probed (a real load, a map
 * create, a file under tracefs), not guessed from the version.
 */
export interface KernelFeatures {
  /** tracefs has kprobe_events (CONFIG_KPROBE_EVENTS): kprobe/kretprobe attach works. */
  kprobeEvents: boolean;
  /** tracefs has uprobe_events (CONFIG_UPROBE_EVENTS): uprobe/uretprobe/usdt attach works. */
  uprobeEvents: boolean;
  /** fentry/fexit/fmod_ret programs load (BPF trampolines). A kernel without them may still load other
   *  tracing programs (iter, tp_btf): programTypes then lists "tracing" and this is false. */
  tracingPrograms: boolean;
  /** BPF_PROG_TYPE_LSM loads and "bpf" is in /sys/kernel/security/lsm. */
  lsm: boolean;
  /** BPF_MAP_TYPE_RINGBUF can be created. */
  ringbuf: boolean;
  /** tcx links (BPF_TCX_INGRESS/EGRESS, Linux 6.6+); else tc attaches through a clsact qdisc. */
  tcx: boolean;
  /** bpf_get_attach_cookie is available (BPF cookies on kprobe/uprobe/tracepoint links). */
  bpfCookie: boolean;
  /** Where tracefs is mounted ("/sys/kernel/tracing" or "/sys/kernel/debug/tracing"); null when not mounted. */
  tracefs: string | null;
  /** Where bpffs is mounted (normally "/sys/fs/bpf"); null when not mounted (pinning impossible). */
  bpffs: string | null;
  /** Program types (libbpf names, e.g. "xdp") that load on this kernel. */
  programTypes: string[];
  /** Map types (libbpf names, e.g. "ringbuf") that can be created on this kernel. */
  mapTypes: string[];
}

// ---------------------------------------------------------------------------------------------
// probe.helpers — client → agent. Which helpers each program type may call on this kernel, and which
// are GPL-only. Kept out of `hello` because it costs a few thousand probe loads (~1 s); the agent
// caches the answer per kernel (by btfId) in its cache dir, and the client per btfId too.

export type ProbeHelpersParams = Record<string, never>;

export interface ProbeHelpersResult {
  /** Program type (libbpf name) → names of the helpers it may call, e.g. { "xdp": ["bpf_map_lookup_elem", …] }. */
  helpersByProgramType: Record<string, string[]>;
  /** Helpers a non-GPL program may not call ("cannot call GPL-restricted function"). */
  gplOnly: string[];
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
  /**
   * The project's include directories, in search order, as paths relative to the work directory
   * ('/'-separated, no '..' segment; "." is the work directory itself): each becomes `-I DIR`, in
   * place of the default `-I.`, ahead of vmlinux.h's directory and the system's headers, so headers
   * sent in them win over the target's. At most 32. Absent → `-I.` alone.
   */
  includeDirs?: string[];
  /**
   * Compile for another kernel: the btfId (16 hex digits) of a BTF given earlier with `btf.put`.
   * vmlinux.h then comes from that BTF; absent → this host's kernel. Unknown → UnknownBtf.
   */
  btfId?: string;
  /** `uname -m` of the kernel the object is for (sets -D__TARGET_ARCH_*); absent → this host's. */
  arch?: string;
}

export interface CompileResult {
  /** True when clang exited 0 and wrote the object. */
  ok: boolean;
  /** Handle of the object held by the agent, for `load` and `release`; null when !ok. */
  objectId: string | null;
  /**
   * The compiled ELF object, base64; null when !ok. The client reads its BTF and BTF.ext line
   * info. Its DWARF sections are emptied (SHT_NOBITS, every section index kept): nothing reads
   * them, and they are most of the object. The agent loads its own full copy.
   */
  object: string | null;
  /** clang's stderr (warnings and errors), as is. */
  stderr: string;
  /** clang's exit status (-1 when it was killed). */
  exitCode: number;
  /** Wall time of the clang run, milliseconds. */
  durationMs: number;
  /**
   * True when the agent's warm clang ran it (a clang kept started between compiles, which skips
   * clang's startup); false when clang was started for it (the first compile, or a clang the
   * agent cannot keep warm). Same arguments and output either way.
   */
  warmCompiler: boolean;
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
  /** What a loader would set before load; applied to every program's load. */
  presets?: LoadPresets;
  /**
   * Log the verifier's whole walk (level 2|4: every path it explored; level 1 keeps only the path
   * that failed) for accepted programs too, in one load per program, so the
   * client can show coverage, cost per source line and register state. Logs grow with the
   * instructions processed; a walk longer than the agent's log limit is dropped (the program is
   * then judged from a stats-only load, and `libbpfLog` says so). Default false.
   */
  walk?: boolean;
}

/**
 * Values a program's own loader sets between open and load (veristat's -G), so a file written for
 * a loader verifies as it would run. Names are C identifiers (at most 128 bytes), at most 64 of each
 * kind; a name the object lacks, or a value that does not fit its variable, is InvalidParams.
 */
export interface LoadPresets {
  /**
   * Global variables of .rodata/.data/.bss (`const volatile pid_t targ_pid`) → value: a decimal or
   * 0x integer (negative for signed types), `true`/`false` for bool, or an enumerator's name for an
   * enum. Written into the variable's initial value at its BTF offset; must fit its size. A
   * `CONFIG_*` `__kconfig` extern takes y/n/m or an integer, given to libbpf at open instead of the
   * kernel's config.
   */
  globals?: Record<string, string>;
  /** Map name → max_entries (1 – 2^30), as bpf_map__set_max_entries. */
  mapSizes?: Record<string, number>;
  /**
   * Program name → kernel function it attaches to (fentry/fexit/fmod_ret/lsm/tp_btf programs whose
   * section names a placeholder), as bpf_program__set_attach_target. A function this kernel's BTF
   * lacks fails that program's load with an `ebpf-agent:` line in libbpfLog, not the request.
   */
  attachTargets?: Record<string, string>;
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
  /** The verifier log: with `walk`, level 2|4 (every path explored, then the statistics); else level 1|4 (the failing path) when the load failed, stats only (level 4) when it passed. */
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
// attach — client → agent. Attach one program of a compiled object. The first attach of an object
// loads the whole object (every program, its maps) into the kernel and keeps it until `release`
// or the agent exits; later attaches of the same object reuse that instance, so programs share
// their maps. Links belong to the agent: they go away when it exits, unless pinned.

export interface AttachParams {
  objectId: string;
  /** Function name of the program. */
  program: string;
  /** Where to attach when the section does not say it all (e.g. SEC("xdp") needs an interface). Absent: libbpf's auto-attach by section. */
  target?: AttachTarget;
  /** Pin the link under <bpffs>/ebpf-studio/ so it outlives the agent (until `unpin`). */
  pin?: boolean;
  /** Applied when this attach loads the object (its first); later attaches reuse that instance. */
  presets?: LoadPresets;
}

export type AttachTarget =
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'raw_tracepoint'; name: string }
  | { kind: 'kprobe'; function: string; offset?: number; retprobe?: boolean }
  | { kind: 'uprobe'; binary: string; symbol?: string; offset?: number; pid?: number; retprobe?: boolean }
  | { kind: 'usdt'; binary: string; provider: string; name: string; pid?: number }
  /** mode: "native" (driver), "generic" (skb), "offload"; default: native, falling back to generic. */
  | { kind: 'xdp'; interface: string; mode?: 'native' | 'generic' | 'offload' }
  /** tcx when the kernel has it, else a clsact qdisc + tc filter. */
  | { kind: 'tc'; interface: string; direction: 'ingress' | 'egress' }
  | { kind: 'cgroup'; path: string }
  /** A packet socket bound to the interface, with the program as its SO_ATTACH_BPF filter. */
  | { kind: 'socket_filter'; interface: string }
  /** event: a perf software/hardware event; one of period or frequency; every CPU unless cpu is given. */
  | { kind: 'perf_event'; event: 'cpu-clock' | 'task-clock' | 'cpu-cycles' | 'instructions'; period?: number; frequency?: number; cpu?: number };

export interface AttachResult {
  linkId: string;
  /** What was attached where, for people: "tracepoint syscalls/sys_enter_execve", "xdp on veth0 (generic)". */
  description: string;
  /** Kernel id of the loaded program (bpftool prog show id N). */
  programId: number;
  pinnedPath: string | null;
}

// detach — client → agent. Destroys a link (and unpins it if it was pinned).
export interface DetachParams {
  linkId: string;
}
export type DetachResult = Record<string, never>;

// unpin — client → agent. Removes a pinned link of ours (a path under <bpffs>/ebpf-studio/ only).
export interface UnpinParams {
  path: string;
}
export type UnpinResult = Record<string, never>;

// ---------------------------------------------------------------------------------------------
// stream.start / stream.stop — client → agent. Read a BPF_MAP_TYPE_RINGBUF or
// BPF_MAP_TYPE_PERF_EVENT_ARRAY map of an attached object and send its records as `events`
// notifications, batched. Backpressure: the agent keeps at most `queueLimitBytes` of unsent
// records; beyond that it drops records and counts them, it never grows without bound.

export interface StreamStartParams {
  objectId: string;
  /** Map name as in the object. */
  map: string;
  /** A batch is sent when it holds this many records … (default 4096) */
  maxBatchRecords?: number;
  /** … or its oldest record waited this long (default 50 ms). */
  maxLatencyMs?: number;
  /** Default 16 MiB. */
  queueLimitBytes?: number;
}

export interface StreamStartResult {
  streamId: string;
  kind: 'ringbuf' | 'perf';
}

export interface StreamCounters {
  /** Records read from the kernel. */
  received: number;
  /** Records written to the client. */
  sent: number;
  /** Records dropped by the agent (client too slow) plus those the kernel reported lost (perf). */
  dropped: number;
}

export interface StreamStopParams {
  streamId: string;
}
export type StreamStopResult = StreamCounters;

/** Notification `events`, agent → client: a batch of raw records of one stream. */
export interface EventsNotification {
  streamId: string;
  /** The records back to back, base64. */
  data: string;
  /** Byte length of each record, in order. */
  sizes: number[];
  /** Cumulative counters of the stream at the time of this batch. */
  counters: StreamCounters;
}

/** Notification `stream.ended`, agent → client: a stream stopped on its own (object released, read error). */
export interface StreamEndedNotification {
  streamId: string;
  reason: string;
  counters: StreamCounters;
}

// ---------------------------------------------------------------------------------------------
// trace.start / trace.stop — client → agent. Follow tracefs trace_pipe (bpf_printk output) and send
// its lines as `trace` notifications, batched like events, dropping (and counting) when the
// client is slow. One trace follower per agent.

export type TraceStartParams = Record<string, never>;
export type TraceStartResult = Record<string, never>;
export type TraceStopParams = Record<string, never>;
export interface TraceStopResult {
  received: number;
  sent: number;
  dropped: number;
}

/** Notification `trace`, agent → client: raw trace_pipe lines, without the trailing newline. */
export interface TraceNotification {
  lines: string[];
  dropped: number;
}

// ---------------------------------------------------------------------------------------------
// Maps of an attached (loaded) object, and of the whole host. Keys and values travel as base64 of
// the raw bytes; per-CPU maps give one value per possible CPU.

export interface ObjectMapsParams {
  objectId: string;
}

export interface MapInfo {
  name: string;
  /** libbpf's name of the map type, e.g. "hash", "ringbuf". */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Type ids in the object's BTF (0 when unknown); the client decodes keys and values with them. */
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** Kernel map id; null before the object is loaded (no attach yet). */
  mapId: number | null;
}

export interface ObjectMapsResult {
  maps: MapInfo[];
}

export interface MapDumpParams {
  objectId: string;
  map: string;
  /** Continue after this key (base64), from a previous page's nextCursor. */
  cursor?: string;
  /** Entries per page, default 256, at most 4096. */
  limit?: number;
}

export interface MapEntry {
  key: string;
  /** One value; for per-CPU maps, one per possible CPU. */
  values: string[];
}

export interface MapDumpResult {
  entries: MapEntry[];
  /** null when this page is the last. */
  nextCursor: string | null;
}

export interface MapLookupParams {
  objectId: string;
  map: string;
  key: string;
}
export interface MapLookupResult {
  /** null when the key is absent. */
  values: string[] | null;
}

export interface MapUpdateParams {
  objectId: string;
  map: string;
  key: string;
  /** One value, or one per possible CPU for per-CPU maps. */
  values: string[];
  /** BPF_ANY (default), BPF_NOEXIST, BPF_EXIST. */
  flags?: 'any' | 'noexist' | 'exist';
}
export type MapUpdateResult = Record<string, never>;

export interface MapDeleteParams {
  objectId: string;
  map: string;
  key: string;
}
export interface MapDeleteResult {
  /** false when the key was absent. */
  deleted: boolean;
}

/** host.programs — every BPF program loaded on the host, like `bpftool prog list`. */
export type HostProgramsParams = Record<string, never>;
export interface HostProgram {
  id: number;
  name: string;
  type: string;
  tag: string;
  /** Loaded by this agent's session. */
  ours: boolean;
  mapIds: number[];
  /** Seconds since the epoch. */
  loadTime: number;
  uid: number;
  runCount: number | null;
  runTimeNs: number | null;
}
export interface HostProgramsResult {
  programs: HostProgram[];
}

/** host.maps — every BPF map on the host, like `bpftool map list`. */
export type HostMapsParams = Record<string, never>;
export interface HostMap {
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  ours: boolean;
}
export interface HostMapsResult {
  maps: HostMap[];
}

/**
 * host.interfaces — client → agent: the target's network interfaces (in the agent's network
 * namespace), to offer as xdp/tc/socket attach targets. Only agents whose hello.capabilities
 * include it answer it (added without a protocol version bump).
 */
export type HostInterfacesParams = Record<string, never>;
export interface HostInterface {
  name: string;
  ifindex: number;
  /** IFF_UP: administratively up (`ip link set NAME up`), whether or not a carrier is present. */
  up: boolean;
  /** Whether an XDP program is attached (any mode); null when the agent could not tell (netlink failed, or past the 64th interface). */
  xdpAttached: boolean | null;
}
export interface HostInterfacesResult {
  interfaces: HostInterface[];
}

/**
 * host.tracepoints — client → agent: the tracepoints tracefs lists in `available_events`, as
 * "category/name" (the form SEC("tracepoint/…") takes), in the file's order. Only agents whose
 * hello.capabilities include it answer it (added without a protocol version bump). No tracefs:
 * KernelFeatureMissing.
 */
export interface HostTracepointsParams {
  /** At most this many names (1..AgentLimits.hostListMaxLimit; default hostListDefaultLimit). */
  limit?: number;
}
export interface HostTracepointsResult {
  tracepoints: string[];
  /** More were listed than `limit`. */
  truncated: boolean;
}

/**
 * host.executables — client → agent: absolute paths of executable regular files directly in
 * /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin and the agent's PATH
 * directories (each real directory once: the standard ones under their own names, PATH ones under
 * their real paths), to offer as uprobe targets. Only
 * agents whose hello.capabilities include it answer it.
 */
export interface HostExecutablesParams {
  /** At most this many paths (1..AgentLimits.hostListMaxLimit; default hostListDefaultLimit). */
  limit?: number;
}
export interface HostExecutablesResult {
  executables: string[];
  /** More were found than `limit`. */
  truncated: boolean;
}

/** btf.vmlinux — the target kernel's BTF (/sys/kernel/btf/vmlinux) for the language server. */
export type BtfVmlinuxParams = Record<string, never>;
export interface BtfVmlinuxResult {
  btfId: string;
  /** The raw BTF, base64 (a few MiB). */
  data: string;
}

/**
 * btf.put — client → agent. Stores a kernel's raw BTF (what its /sys/kernel/btf/vmlinux holds) in
 * the agent's cache under its btfId, so `compile { btfId }` builds against it. The agent checks that
 * `btfId` is the FNV-1a 64 hash of the bytes (the same id `hello` gives) and that libbpf parses them.
 */
export interface BtfPutParams {
  btfId: string;
  /** The raw BTF, base64. */
  data: string;
}
export type BtfPutResult = Record<string, never>;

/**
 * object.put — client → agent. Holds a BPF ELF object compiled elsewhere (on the client, for a
 * target without clang) exactly as a successful `compile` would: `load`, `attach`, `object.maps` and
 * `release` take its objectId.
 */
export interface ObjectPutParams {
  /** The object's name for libbpf (its maps are named after it), e.g. "probe" for probe.bpf.c: [A-Za-z0-9_.-], 1–64 bytes. */
  name: string;
  /** The ELF object (EM_BPF), base64. */
  object: string;
}
export interface ObjectPutResult {
  objectId: string;
}

// ---------------------------------------------------------------------------------------------
// reset — client → agent. Releases everything the requests before it created: every held object
// (as `release` does: its streams end, its links go, its work directory is deleted) and the
// trace_pipe follower. Links pinned on request stay pinned, as they do when the agent exits. The
// agent runs requests one at a time, so a reset sent after a client's last request runs after it:
// a client can start afresh on the agent it has. Through the session process's shared agent
// (cli/sharedAgent.ts) a client's reset releases that client's things only.

export type ResetParams = Record<string, never>;

export interface ResetResult {
  /** How many held objects were released. */
  releasedObjects: number;
  /** Whether trace_pipe was being followed (and now is not). */
  traceStopped: boolean;
}

// ---------------------------------------------------------------------------------------------
// session.resume — client → agent, the first and only request to a freshly started agent of the
// same user, instead of `hello`. That agent connects to the socket of the agent named by `agentId`
// (<cache dir>/sessions/agent-<id>.sock, in a directory only that user can open; each end checks
// the other's uid with SO_PEERCRED), hands it this request and then only relays bytes both ways:
// the answer, and everything after it, comes from the surviving agent, which serves this client
// as it served the one that dropped (same objects, links, streams, maps). Records that arrived
// meanwhile were queued (up to each stream's queueLimitBytes, the rest dropped and counted); the
// records sent before the drop that this client never got are counted as dropped too, from
// `streams[].decoded`. A token that does not match: SessionRefused. No such agent (its grace
// period ended, or it was stopped): SessionExpired.

export interface SessionResumeParams {
  agentId: number;
  token: string;
  /** For each stream of the dropped session: how many of its records this client received. */
  streams?: { streamId: string; decoded: number }[];
}

export interface SessionResumeResult {
  /** The surviving agent's hello (its `resume` ticket is null: the client has it). */
  hello: HelloResult;
  /** The streams still running, with their counters after the adjustment above. */
  streams: { streamId: string; counters: StreamCounters }[];
  /** Held object ids, so a client knows which of its runs survived. */
  objects: string[];
}

// session.end — client → agent. The client ends the session on purpose (closing a run, the editor
// closing): the grace period is off, so when the input ends the agent releases everything at once.
export type SessionEndParams = Record<string, never>;
export type SessionEndResult = Record<string, never>;

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
  /**
   * The target kernel lacks what this attach (or stream) needs; `message` names the kernel
   * feature ("kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS)").
   */
  KernelFeatureMissing: -32006,
  /** The kernel refused to attach (bad interface, no such function or tracepoint, busy, …). */
  AttachFailed: -32007,
  /** linkId, streamId or map name unknown to the agent. */
  UnknownHandle: -32008,
  /** The whole object failed to load for attaching; data.programs says which program and why. */
  ObjectLoadFailed: -32009,
  /** compile's btfId names a BTF this agent was never given: send it with `btf.put`, then compile again. */
  UnknownBtf: -32010,
  /** session.resume: no agent of that id is waiting (its grace period ended, or it was stopped); what it held was released. */
  SessionExpired: -32011,
  /** session.resume: the token is not that agent's (or the socket is not this user's); nothing was resumed. */
  SessionRefused: -32012,
} as const;
