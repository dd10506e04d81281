// What a program of each type receives and returns: its context type(s), the macro libbpf offers to
// declare typed arguments, the meaning of its return values, and the value that lets things pass
// (what a generated early `return` uses). Keyed by libbpf's program type names, as in sectionTable.ts.

export interface ProgramTypeInfo {
  /** Context types the verifier accepts for the first parameter, preferred first; `void *` is always accepted too. */
  contextTypes: string[];
  /** Parameter name conventionally used, e.g. `ctx`, `skb`. */
  contextName: string;
  /** libbpf macros (bpf_tracing.h) that declare the function with typed arguments instead of a context. */
  macros: string[];
  /** The meaning of the return value. */
  returns: string;
  /** The value a program returns to let the event continue unchanged (used by generated early returns). */
  passValue: string;
}

const TRACING_RETURN = 'Ignored by the kernel (return 0).';

export const programTypes: Record<string, ProgramTypeInfo> = {
  socket_filter: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'How many bytes of the packet to keep: 0 drops it, a large value (e.g. skb->len) keeps all.', passValue: 'skb->len' },
  sk_reuseport: { contextTypes: ['struct sk_reuseport_md *'], contextName: 'reuse', macros: [], returns: 'SK_PASS (use the selected socket, or the kernel\'s choice) or SK_DROP.', passValue: 'SK_PASS' },
  kprobe: { contextTypes: ['struct pt_regs *'], contextName: 'ctx', macros: ['BPF_KPROBE', 'BPF_KRETPROBE', 'BPF_KSYSCALL', 'BPF_KPROBE_SYSCALL', 'BPF_UPROBE', 'BPF_URETPROBE', 'BPF_USDT'], returns: `${TRACING_RETURN} (bpf_override_return changes the probed function's result.)`, passValue: '0' },
  sched_cls: {
    contextTypes: ['struct __sk_buff *'],
    contextName: 'skb',
    macros: [],
    returns: 'tc: TC_ACT_OK (0, pass), TC_ACT_SHOT (2, drop), TC_ACT_REDIRECT (7), TC_ACT_UNSPEC (-1, next filter). tcx: TCX_PASS, TCX_DROP, TCX_REDIRECT, TCX_NEXT.',
    passValue: 'TC_ACT_OK',
  },
  sched_act: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'A TC_ACT_* verdict: TC_ACT_OK, TC_ACT_SHOT, TC_ACT_PIPE, TC_ACT_RECLASSIFY, TC_ACT_REDIRECT.', passValue: 'TC_ACT_OK' },
  tracepoint: { contextTypes: ['struct trace_event_raw_<EVENT> *'], contextName: 'ctx', macros: [], returns: TRACING_RETURN, passValue: '0' },
  raw_tracepoint: { contextTypes: ['struct bpf_raw_tracepoint_args *'], contextName: 'ctx', macros: ['BPF_PROG'], returns: TRACING_RETURN, passValue: '0' },
  raw_tracepoint_writable: { contextTypes: ['struct bpf_raw_tracepoint_args *'], contextName: 'ctx', macros: ['BPF_PROG'], returns: TRACING_RETURN, passValue: '0' },
  tracing: {
    contextTypes: ['u64 *', '__u64 *', 'unsigned long long *'],
    contextName: 'ctx',
    macros: ['BPF_PROG', 'BPF_PROG2'],
    returns: 'fentry/fexit/tp_btf: ignored (return 0). fmod_ret: 0 runs the function, non-zero skips it and becomes its return value. iter: 0 continues.',
    passValue: '0',
  },
  ext: { contextTypes: [], contextName: 'ctx', macros: [], returns: 'What the replaced function returns.', passValue: '0' },
  lsm: { contextTypes: ['u64 *', '__u64 *', 'unsigned long long *'], contextName: 'ctx', macros: ['BPF_PROG'], returns: '0 allows the operation; a negative errno (e.g. -EPERM) denies it.', passValue: '0' },
  syscall: { contextTypes: [], contextName: 'ctx', macros: [], returns: 'Returned to the BPF_PROG_RUN caller.', passValue: '0' },
  xdp: { contextTypes: ['struct xdp_md *'], contextName: 'ctx', macros: [], returns: 'XDP_PASS (to the stack), XDP_DROP, XDP_TX (back out the same NIC), XDP_REDIRECT (bpf_redirect*), XDP_ABORTED (drop + trace).', passValue: 'XDP_PASS' },
  perf_event: { contextTypes: ['struct bpf_perf_event_data *'], contextName: 'ctx', macros: [], returns: TRACING_RETURN, passValue: '0' },
  lwt_in: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'BPF_OK (continue), BPF_DROP, BPF_REDIRECT.', passValue: 'BPF_OK' },
  lwt_out: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'BPF_OK (continue) or BPF_DROP.', passValue: 'BPF_OK' },
  lwt_xmit: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'BPF_OK, BPF_DROP, BPF_REDIRECT or BPF_LWT_REROUTE.', passValue: 'BPF_OK' },
  lwt_seg6local: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'BPF_OK, BPF_DROP or BPF_REDIRECT.', passValue: 'BPF_OK' },
  sock_ops: { contextTypes: ['struct bpf_sock_ops *'], contextName: 'skops', macros: [], returns: 'Usually 1; for some ops the value is the answer (skops->reply).', passValue: '1' },
  sk_skb: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'stream_verdict/verdict: SK_PASS or SK_DROP (bpf_sk_redirect_map redirects); stream_parser: the message length.', passValue: 'SK_PASS' },
  sk_msg: { contextTypes: ['struct sk_msg_md *'], contextName: 'msg', macros: [], returns: 'SK_PASS or SK_DROP (bpf_msg_redirect_map redirects).', passValue: 'SK_PASS' },
  lirc_mode2: { contextTypes: ['unsigned int *'], contextName: 'sample', macros: [], returns: 'Ignored (return 0).', passValue: '0' },
  flow_dissector: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: 'BPF_OK (dissected), BPF_DROP, or BPF_FLOW_DISSECTOR_CONTINUE (let the kernel dissect).', passValue: 'BPF_OK' },
  cgroup_skb: { contextTypes: ['struct __sk_buff *'], contextName: 'skb', macros: [], returns: '1 allows the packet, 0 drops it (egress: 2 and 3 also ask for congestion notification).', passValue: '1' },
  cgroup_sock: { contextTypes: ['struct bpf_sock *'], contextName: 'sk', macros: [], returns: '1 allows, 0 rejects with EPERM.', passValue: '1' },
  cgroup_device: { contextTypes: ['struct bpf_cgroup_dev_ctx *'], contextName: 'ctx', macros: [], returns: '1 allows the device access, 0 denies it.', passValue: '1' },
  cgroup_sock_addr: { contextTypes: ['struct bpf_sock_addr *'], contextName: 'ctx', macros: [], returns: '1 allows the call (with any address rewrite), 0 rejects it with EPERM.', passValue: '1' },
  cgroup_sysctl: { contextTypes: ['struct bpf_sysctl *'], contextName: 'ctx', macros: [], returns: '1 allows the sysctl access, 0 rejects it with EPERM.', passValue: '1' },
  cgroup_sockopt: { contextTypes: ['struct bpf_sockopt *'], contextName: 'ctx', macros: [], returns: '1 proceeds (with the kernel or the program\'s value), 0 rejects with EPERM.', passValue: '1' },
  struct_ops: { contextTypes: ['u64 *', '__u64 *', 'unsigned long long *'], contextName: 'ctx', macros: ['BPF_PROG', 'BPF_STRUCT_OPS', 'BPF_STRUCT_OPS_SLEEPABLE'], returns: 'What the implemented callback returns.', passValue: '0' },
  sk_lookup: { contextTypes: ['struct bpf_sk_lookup *'], contextName: 'ctx', macros: [], returns: 'SK_PASS (with bpf_sk_assign, or let the kernel look up) or SK_DROP.', passValue: 'SK_PASS' },
  netfilter: { contextTypes: ['struct bpf_nf_ctx *'], contextName: 'ctx', macros: [], returns: 'NF_ACCEPT (1) or NF_DROP (0).', passValue: 'NF_ACCEPT' },
};

/**
 * Struct types that are the context of some program type: a parameter declared as a pointer to one
 * of these in a program of another type is a mistake the verifier punishes with
 * "invalid bpf_context access". Other structs (trace_event_raw_*, the author's own) are never flagged.
 */
export const contextStructs: ReadonlySet<string> = new Set(
  Object.values(programTypes)
    .flatMap((t) => t.contextTypes)
    .map((type) => /^struct (\w+) \*$/.exec(type)?.[1])
    .filter((name): name is string => name !== undefined),
);

/** The context type the author should write for `programType`, given the section's target. */
export function preferredContextType(programType: string, sectionTarget: string): string | undefined {
  const info = programTypes[programType];
  if (info === undefined || info.contextTypes.length === 0) return undefined;
  if (programType === 'tracepoint') {
    const event = sectionTarget.split('/')[1];
    // syscalls' enter/exit events share two records in vmlinux.h.
    if (event?.startsWith('sys_enter_')) return 'struct trace_event_raw_sys_enter *';
    if (event?.startsWith('sys_exit_')) return 'struct trace_event_raw_sys_exit *';
    return event ? `struct trace_event_raw_${event} *` : 'void *';
  }
  return info.contextTypes[0];
}
