// The ELF section names libbpf understands in SEC("…"), and what each one means: the program type
// libbpf loads it as, the attach type it sets, what the part after the prefix names, whether the
// program is sleepable. Our own table of the facts in libbpf's section definitions (libbpf.c,
// `section_defs`), used for completion, hover and diagnostics of SEC("…") strings.
//
// libbpf's matching rule, which `matchSection` follows: a definition with a target part ("kprobe+" in
// libbpf) matches its prefix alone or the prefix followed by "/" and anything; every other definition
// matches only its exact name.

export interface SectionTarget {
  /** How the part after "PREFIX/" is written, e.g. `FUNCTION[+OFFSET]`. */
  form: string;
  /** One sentence: what it names and where the names come from. */
  description: string;
  /**
   * What happens without it: 'load' — libbpf cannot even load the program (it resolves the target
   * at load time); 'attach' — it loads, but libbpf's auto-attach (skeleton __attach) skips or fails it;
   * 'never' — it is optional (for readability only).
   */
  neededFor: 'load' | 'attach' | 'never';
  /** Number of '/'-separated parts the target must have (tracepoint: CATEGORY/EVENT = 2). */
  parts: number;
  /**
   * The libbpf call a loader attaches the program with when the section leaves the target out, for
   * targets loaders commonly resolve at run time (a user-space binary's path differs per machine):
   * without the target the program is still correct, so diagnostics only hint.
   */
  loaderAttach?: string;
}

export interface SectionDefinition {
  /** The fixed part: `kprobe`, `tcx/ingress`, `cgroup/connect4`, `license`. */
  prefix: string;
  /** libbpf's name of the program type (libbpf_bpf_prog_type_str), e.g. `sched_cls`; null for data sections. */
  programType: string | null;
  /** The expected attach type (enum bpf_attach_type), e.g. `BPF_TCX_INGRESS`; null when none is set. */
  attachType: string | null;
  /** Null when nothing may follow the prefix. */
  target: SectionTarget | null;
  sleepable: boolean;
  /** A complete, realistic section string. */
  example: string;
  /** What the program does / when it runs. */
  summary: string;
  /** The oldest libbpf that knows the name, when newer than 1.0. */
  sinceLibbpf?: string;
  /** Why not to use it any more, and what instead. */
  deprecated?: string;
}

const FUNCTION_TARGET: SectionTarget = {
  form: 'FUNCTION[+OFFSET]',
  description: 'a kernel function from /proc/kallsyms (not inlined, not marked notrace)',
  neededFor: 'attach',
  parts: 1,
};
const BTF_FUNCTION_TARGET: SectionTarget = {
  form: '[MODULE:]FUNCTION',
  description: "a kernel function with BTF (in /sys/kernel/btf/vmlinux or a module's BTF); libbpf looks it up at load time",
  neededFor: 'load',
  parts: 1,
};
const LSM_TARGET: SectionTarget = {
  form: 'HOOK',
  description: 'an LSM hook name without the bpf_lsm_ prefix, e.g. file_open, bprm_check_security',
  neededFor: 'load',
  parts: 1,
};
const ITER_TARGET: SectionTarget = {
  form: 'ITERATOR',
  description: 'a BPF iterator target, e.g. task, task_file, bpf_map, bpf_map_elem, tcp, udp, cgroup',
  neededFor: 'load',
  parts: 1,
};
const UPROBE_TARGET: SectionTarget = {
  form: 'BINARY:FUNCTION[+OFFSET]',
  description: 'a path to an ELF binary or library and a symbol in it, e.g. /usr/lib/x86_64-linux-gnu/libc.so.6:malloc',
  neededFor: 'attach',
  parts: 1,
  loaderAttach: 'bpf_program__attach_uprobe_opts()',
};
const UPROBE_MULTI_TARGET: SectionTarget = {
  form: 'BINARY:PATTERN',
  description: 'a path to an ELF binary and a glob over its symbols, e.g. /usr/bin/bash:readline*',
  neededFor: 'attach',
  parts: 1,
  loaderAttach: 'bpf_program__attach_uprobe_multi()',
};
const RAW_TP_TARGET: SectionTarget = {
  form: 'EVENT',
  description: 'a raw tracepoint name without category, e.g. sched_switch, sys_enter',
  neededFor: 'attach',
  parts: 1,
};

function kprobeLike(prefix: string, summary: string, extra: Partial<SectionDefinition> = {}): SectionDefinition {
  return {
    prefix,
    programType: 'kprobe',
    attachType: null,
    target: FUNCTION_TARGET,
    sleepable: false,
    example: `${prefix}/do_unlinkat`,
    summary,
    ...extra,
  };
}

function tracing(prefix: string, attachType: string, summary: string, sleepable = false): SectionDefinition {
  return {
    prefix,
    programType: 'tracing',
    attachType,
    target: BTF_FUNCTION_TARGET,
    sleepable,
    example: `${prefix}/do_unlinkat`,
    summary,
  };
}

function plain(prefix: string, programType: string, attachType: string | null, summary: string, extra: Partial<SectionDefinition> = {}): SectionDefinition {
  return { prefix, programType, attachType, target: null, sleepable: false, example: prefix, summary, ...extra };
}

function cgroupAddr(prefix: string, attachType: string, summary: string, sinceLibbpf?: string): SectionDefinition {
  return plain(prefix, 'cgroup_sock_addr', attachType, summary, sinceLibbpf ? { sinceLibbpf } : {});
}

export const sectionDefinitions: readonly SectionDefinition[] = [
  plain('socket', 'socket_filter', null, 'Socket filter: runs on each packet received on a socket it is attached to (SO_ATTACH_BPF).'),
  plain('sk_reuseport/migrate', 'sk_reuseport', 'BPF_SK_REUSEPORT_SELECT_OR_MIGRATE', 'Selects a socket of a SO_REUSEPORT group, also when a request migrates off a closed listener.'),
  plain('sk_reuseport', 'sk_reuseport', 'BPF_SK_REUSEPORT_SELECT', 'Selects which socket of a SO_REUSEPORT group gets an incoming packet.'),

  kprobeLike('kprobe', 'Kprobe: runs at the entry of (or an offset into) a kernel function.'),
  kprobeLike('kretprobe', 'Kretprobe: runs when a kernel function returns.'),
  kprobeLike('uprobe', 'Uprobe: runs at a function (or offset) in a user-space binary.', { target: UPROBE_TARGET, example: 'uprobe//usr/lib/x86_64-linux-gnu/libc.so.6:malloc' }),
  kprobeLike('uprobe.s', 'Sleepable uprobe: may fault in user memory (bpf_copy_from_user).', { target: UPROBE_TARGET, sleepable: true, example: 'uprobe.s//usr/bin/bash:readline' }),
  kprobeLike('uretprobe', 'Uretprobe: runs when a user-space function returns.', { target: UPROBE_TARGET, example: 'uretprobe//usr/bin/bash:readline' }),
  kprobeLike('uretprobe.s', 'Sleepable uretprobe.', { target: UPROBE_TARGET, sleepable: true, example: 'uretprobe.s//usr/bin/bash:readline' }),
  kprobeLike('kprobe.multi', 'Multi-kprobe: one program on many kernel functions, selected by a glob (one link).', {
    attachType: 'BPF_TRACE_KPROBE_MULTI',
    target: { ...FUNCTION_TARGET, form: 'PATTERN', description: 'a glob over kernel function names, e.g. tcp_*' },
    example: 'kprobe.multi/tcp_v4_*',
  }),
  kprobeLike('kretprobe.multi', 'Multi-kretprobe: runs when any of the matched kernel functions returns.', {
    attachType: 'BPF_TRACE_KPROBE_MULTI',
    target: { ...FUNCTION_TARGET, form: 'PATTERN', description: 'a glob over kernel function names, e.g. tcp_*' },
    example: 'kretprobe.multi/tcp_v4_*',
  }),
  kprobeLike('uprobe.multi', 'Multi-uprobe: one program on many user-space functions of a binary.', {
    attachType: 'BPF_TRACE_UPROBE_MULTI',
    target: UPROBE_MULTI_TARGET,
    example: 'uprobe.multi//usr/bin/bash:readline*',
    sinceLibbpf: '1.3',
  }),
  kprobeLike('uretprobe.multi', 'Multi-uretprobe: runs when any of the matched user-space functions returns.', {
    attachType: 'BPF_TRACE_UPROBE_MULTI',
    target: UPROBE_MULTI_TARGET,
    example: 'uretprobe.multi//usr/bin/bash:readline*',
    sinceLibbpf: '1.3',
  }),
  kprobeLike('ksyscall', "Kprobe on a system call's kernel entry point, with the arch prefix (__x64_sys_…) chosen by libbpf.", {
    target: { form: 'SYSCALL', description: 'a system call name without prefix, e.g. execve, openat', neededFor: 'attach', parts: 1 },
    example: 'ksyscall/execve',
  }),
  kprobeLike('kretsyscall', 'Kretprobe on a system call: runs when it returns.', {
    target: { form: 'SYSCALL', description: 'a system call name without prefix, e.g. execve, openat', neededFor: 'attach', parts: 1 },
    example: 'kretsyscall/execve',
  }),
  kprobeLike('usdt', 'USDT probe: runs at a statically defined tracepoint of a user-space program.', {
    target: {
      form: 'BINARY:PROVIDER:NAME',
      description: 'a binary or library path, the probe provider and the probe name, e.g. /usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp',
      neededFor: 'attach',
      parts: 1,
      loaderAttach: 'bpf_program__attach_usdt()',
    },
    example: 'usdt//usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp',
  }),

  plain('tc/ingress', 'sched_cls', 'BPF_TCX_INGRESS', 'Traffic control (tcx) on ingress; an alias of tcx/ingress.', { sinceLibbpf: '1.3' }),
  plain('tc/egress', 'sched_cls', 'BPF_TCX_EGRESS', 'Traffic control (tcx) on egress; an alias of tcx/egress.', { sinceLibbpf: '1.3' }),
  plain('tcx/ingress', 'sched_cls', 'BPF_TCX_INGRESS', 'Traffic control through a tcx link (Linux 6.6+) on ingress: no qdisc needed.', { sinceLibbpf: '1.3' }),
  plain('tcx/egress', 'sched_cls', 'BPF_TCX_EGRESS', 'Traffic control through a tcx link (Linux 6.6+) on egress.', { sinceLibbpf: '1.3' }),
  plain('tc', 'sched_cls', null, 'Traffic control classifier, attached through a clsact qdisc (bpf_tc_attach or `tc filter`); on Linux 6.6+ tcx/ingress and tcx/egress attach as links, without a qdisc.'),
  plain('classifier', 'sched_cls', null, 'Traffic control classifier (the old name of SEC("tc")).', { deprecated: 'use SEC("tc") or tcx/ingress, tcx/egress' }),
  plain('action', 'sched_act', null, 'Traffic control action (`tc action bpf`).'),
  plain('netkit/primary', 'sched_cls', 'BPF_NETKIT_PRIMARY', 'netkit device program on the primary device.', { sinceLibbpf: '1.3' }),
  plain('netkit/peer', 'sched_cls', 'BPF_NETKIT_PEER', 'netkit device program on the peer device.', { sinceLibbpf: '1.3' }),

  {
    prefix: 'tracepoint',
    programType: 'tracepoint',
    attachType: null,
    target: {
      form: 'CATEGORY/EVENT',
      description: 'a tracepoint from tracefs (available_events lists them as CATEGORY:EVENT), e.g. syscalls/sys_enter_execve',
      neededFor: 'attach',
      parts: 2,
    },
    sleepable: false,
    example: 'tracepoint/syscalls/sys_enter_execve',
    summary: 'Tracepoint: runs at a static kernel tracepoint; the context is the event record.',
  },
  {
    prefix: 'tp',
    programType: 'tracepoint',
    attachType: null,
    target: {
      form: 'CATEGORY/EVENT',
      description: 'a tracepoint from tracefs (available_events lists them as CATEGORY:EVENT), e.g. sched/sched_switch',
      neededFor: 'attach',
      parts: 2,
    },
    sleepable: false,
    example: 'tp/sched/sched_switch',
    summary: 'Tracepoint (short form of tracepoint/).',
  },
  { prefix: 'raw_tracepoint', programType: 'raw_tracepoint', attachType: null, target: RAW_TP_TARGET, sleepable: false, example: 'raw_tracepoint/sched_switch', summary: 'Raw tracepoint: the tracepoint\'s raw arguments, without the event record.' },
  { prefix: 'raw_tp', programType: 'raw_tracepoint', attachType: null, target: RAW_TP_TARGET, sleepable: false, example: 'raw_tp/sched_switch', summary: 'Raw tracepoint (short form of raw_tracepoint/).' },
  { prefix: 'raw_tracepoint.w', programType: 'raw_tracepoint_writable', attachType: null, target: RAW_TP_TARGET, sleepable: false, example: 'raw_tracepoint.w/bpf_testmod_test_writable_bare', summary: 'Writable raw tracepoint: may write into the tracepoint\'s buffer argument.' },
  { prefix: 'raw_tp.w', programType: 'raw_tracepoint_writable', attachType: null, target: RAW_TP_TARGET, sleepable: false, example: 'raw_tp.w/bpf_testmod_test_writable_bare', summary: 'Writable raw tracepoint (short form).' },
  {
    prefix: 'tp_btf',
    programType: 'tracing',
    attachType: 'BPF_TRACE_RAW_TP',
    target: { form: 'EVENT', description: 'a raw tracepoint with BTF, e.g. sched_switch; its arguments are typed (BPF_PROG)', neededFor: 'load', parts: 1 },
    sleepable: false,
    example: 'tp_btf/sched_switch',
    summary: 'BTF-enabled raw tracepoint: typed arguments read directly, no bpf_probe_read needed.',
  },
  tracing('fentry', 'BPF_TRACE_FENTRY', 'fentry: runs at the entry of a kernel function through a BPF trampoline, with typed arguments (BPF_PROG).'),
  tracing('fmod_ret', 'BPF_MODIFY_RETURN', "fmod_ret: runs before a kernel function and may replace its return value (only on functions marked for error injection)."),
  tracing('fexit', 'BPF_TRACE_FEXIT', "fexit: runs when a kernel function returns, with its arguments and return value (BPF_PROG)."),
  tracing('fentry.s', 'BPF_TRACE_FENTRY', 'Sleepable fentry.', true),
  tracing('fmod_ret.s', 'BPF_MODIFY_RETURN', 'Sleepable fmod_ret.', true),
  tracing('fexit.s', 'BPF_TRACE_FEXIT', 'Sleepable fexit.', true),
  {
    prefix: 'freplace',
    programType: 'ext',
    attachType: null,
    target: {
      form: 'FUNCTION',
      description: "a global function of another, already loaded BPF program (set it with bpf_program__set_attach_target)",
      neededFor: 'load',
      parts: 1,
    },
    sleepable: false,
    example: 'freplace/xdp_pass_func',
    summary: 'Extension: replaces a global function of a loaded BPF program.',
  },
  { prefix: 'lsm', programType: 'lsm', attachType: 'BPF_LSM_MAC', target: LSM_TARGET, sleepable: false, example: 'lsm/file_open', summary: 'BPF LSM: runs at a security hook; returning -EPERM (or another -errno) denies the operation.' },
  { prefix: 'lsm.s', programType: 'lsm', attachType: 'BPF_LSM_MAC', target: LSM_TARGET, sleepable: true, example: 'lsm.s/bprm_committed_creds', summary: 'Sleepable BPF LSM program.' },
  { prefix: 'lsm_cgroup', programType: 'lsm', attachType: 'BPF_LSM_CGROUP', target: LSM_TARGET, sleepable: false, example: 'lsm_cgroup/socket_bind', summary: 'BPF LSM program attached to a cgroup: the hook applies to its tasks only.' },
  { prefix: 'iter', programType: 'tracing', attachType: 'BPF_TRACE_ITER', target: ITER_TARGET, sleepable: false, example: 'iter/task', summary: 'BPF iterator: walks kernel objects, output read from a file (bpftool iter pin).' },
  { prefix: 'iter.s', programType: 'tracing', attachType: 'BPF_TRACE_ITER', target: ITER_TARGET, sleepable: true, example: 'iter.s/task', summary: 'Sleepable BPF iterator.' },
  plain('syscall', 'syscall', null, 'Syscall program: run from user space with BPF_PROG_RUN (e.g. to create maps and load programs from BPF).', { sleepable: true }),

  plain('xdp.frags/devmap', 'xdp', 'BPF_XDP_DEVMAP', 'XDP program run by a devmap on redirect, multi-buffer (frags) aware.'),
  plain('xdp/devmap', 'xdp', 'BPF_XDP_DEVMAP', 'XDP program run by a devmap entry after bpf_redirect_map.'),
  plain('xdp.frags/cpumap', 'xdp', 'BPF_XDP_CPUMAP', 'XDP program run by a cpumap on the target CPU, multi-buffer aware.'),
  plain('xdp/cpumap', 'xdp', 'BPF_XDP_CPUMAP', 'XDP program run by a cpumap entry on the target CPU.'),
  plain('xdp.frags', 'xdp', 'BPF_XDP', 'XDP program that accepts multi-buffer (jumbo, GRO) packets: use bpf_xdp_load_bytes for data past the first buffer.'),
  plain('xdp', 'xdp', 'BPF_XDP', 'XDP: runs in the driver on every received packet, before the kernel allocates an skb.'),
  plain('perf_event', 'perf_event', null, 'Runs on a perf event (sampling timer, hardware counter overflow).'),
  plain('lwt_in', 'lwt_in', null, 'Lightweight tunnel, input path of routes with `encap bpf in`.'),
  plain('lwt_out', 'lwt_out', null, 'Lightweight tunnel, output path of routes with `encap bpf out`.'),
  plain('lwt_xmit', 'lwt_xmit', null, 'Lightweight tunnel, transmit path: may push encapsulation headers.'),
  plain('lwt_seg6local', 'lwt_seg6local', null, 'SRv6 local segment action (`encap seg6local action End.BPF`).'),
  plain('sockops', 'sock_ops', 'BPF_CGROUP_SOCK_OPS', 'Socket operations of a cgroup: TCP events (connect, established, RTO…) and socket options.'),
  plain('sk_skb/stream_parser', 'sk_skb', 'BPF_SK_SKB_STREAM_PARSER', 'sockmap stream parser: returns the length of the next message.'),
  plain('sk_skb/stream_verdict', 'sk_skb', 'BPF_SK_SKB_STREAM_VERDICT', 'sockmap stream verdict: pass, drop or redirect each message.'),
  plain('sk_skb/verdict', 'sk_skb', 'BPF_SK_SKB_VERDICT', 'sockmap verdict without a parser (also for UDP and unix sockets).'),
  plain('sk_skb', 'sk_skb', null, 'sockmap skb program; the attach type is chosen at attach time.'),
  plain('sk_msg', 'sk_msg', 'BPF_SK_MSG_VERDICT', 'sockmap message verdict on sendmsg/sendfile: pass, drop or redirect.'),
  plain('lirc_mode2', 'lirc_mode2', 'BPF_LIRC_MODE2', 'Decodes infrared remote-control signals from a lirc device.'),
  plain('flow_dissector', 'flow_dissector', 'BPF_FLOW_DISSECTOR', "Replaces the kernel's flow dissector in a network namespace."),
  plain('cgroup_skb/ingress', 'cgroup_skb', 'BPF_CGROUP_INET_INGRESS', 'Packets received by sockets of a cgroup.'),
  plain('cgroup_skb/egress', 'cgroup_skb', 'BPF_CGROUP_INET_EGRESS', 'Packets sent by sockets of a cgroup.'),
  plain('cgroup/skb', 'cgroup_skb', null, 'cgroup skb program; the direction is chosen at attach time.'),
  plain('cgroup/sock_create', 'cgroup_sock', 'BPF_CGROUP_INET_SOCK_CREATE', 'Socket creation in a cgroup (may deny it or set sk fields).'),
  plain('cgroup/sock_release', 'cgroup_sock', 'BPF_CGROUP_INET_SOCK_RELEASE', 'Socket release in a cgroup.'),
  plain('cgroup/sock', 'cgroup_sock', 'BPF_CGROUP_INET_SOCK_CREATE', 'Socket creation in a cgroup (older name of cgroup/sock_create).'),
  plain('cgroup/post_bind4', 'cgroup_sock', 'BPF_CGROUP_INET4_POST_BIND', 'After an IPv4 bind() in a cgroup.'),
  plain('cgroup/post_bind6', 'cgroup_sock', 'BPF_CGROUP_INET6_POST_BIND', 'After an IPv6 bind() in a cgroup.'),
  plain('cgroup/dev', 'cgroup_device', 'BPF_CGROUP_DEVICE', 'Device access control for a cgroup (open/mknod of device nodes).'),
  cgroupAddr('cgroup/bind4', 'BPF_CGROUP_INET4_BIND', 'IPv4 bind() in a cgroup: may rewrite or deny the address.'),
  cgroupAddr('cgroup/bind6', 'BPF_CGROUP_INET6_BIND', 'IPv6 bind() in a cgroup.'),
  cgroupAddr('cgroup/connect4', 'BPF_CGROUP_INET4_CONNECT', 'IPv4 connect() in a cgroup: may rewrite or deny the destination.'),
  cgroupAddr('cgroup/connect6', 'BPF_CGROUP_INET6_CONNECT', 'IPv6 connect() in a cgroup.'),
  cgroupAddr('cgroup/connect_unix', 'BPF_CGROUP_UNIX_CONNECT', 'connect() of a unix socket in a cgroup.', '1.3'),
  cgroupAddr('cgroup/sendmsg4', 'BPF_CGROUP_UDP4_SENDMSG', 'UDP sendmsg() over IPv4 in a cgroup.'),
  cgroupAddr('cgroup/sendmsg6', 'BPF_CGROUP_UDP6_SENDMSG', 'UDP sendmsg() over IPv6 in a cgroup.'),
  cgroupAddr('cgroup/sendmsg_unix', 'BPF_CGROUP_UNIX_SENDMSG', 'sendmsg() on a unix socket in a cgroup.', '1.3'),
  cgroupAddr('cgroup/recvmsg4', 'BPF_CGROUP_UDP4_RECVMSG', 'UDP recvmsg() over IPv4 in a cgroup: may rewrite the source address.'),
  cgroupAddr('cgroup/recvmsg6', 'BPF_CGROUP_UDP6_RECVMSG', 'UDP recvmsg() over IPv6 in a cgroup.'),
  cgroupAddr('cgroup/recvmsg_unix', 'BPF_CGROUP_UNIX_RECVMSG', 'recvmsg() on a unix socket in a cgroup.', '1.3'),
  cgroupAddr('cgroup/getpeername4', 'BPF_CGROUP_INET4_GETPEERNAME', 'getpeername() on an IPv4 socket in a cgroup.'),
  cgroupAddr('cgroup/getpeername6', 'BPF_CGROUP_INET6_GETPEERNAME', 'getpeername() on an IPv6 socket in a cgroup.'),
  cgroupAddr('cgroup/getpeername_unix', 'BPF_CGROUP_UNIX_GETPEERNAME', 'getpeername() on a unix socket in a cgroup.', '1.3'),
  cgroupAddr('cgroup/getsockname4', 'BPF_CGROUP_INET4_GETSOCKNAME', 'getsockname() on an IPv4 socket in a cgroup.'),
  cgroupAddr('cgroup/getsockname6', 'BPF_CGROUP_INET6_GETSOCKNAME', 'getsockname() on an IPv6 socket in a cgroup.'),
  cgroupAddr('cgroup/getsockname_unix', 'BPF_CGROUP_UNIX_GETSOCKNAME', 'getsockname() on a unix socket in a cgroup.', '1.3'),
  plain('cgroup/sysctl', 'cgroup_sysctl', 'BPF_CGROUP_SYSCTL', 'Access to /proc/sys from a cgroup: may read, rewrite or deny it.'),
  plain('cgroup/getsockopt', 'cgroup_sockopt', 'BPF_CGROUP_GETSOCKOPT', 'getsockopt() in a cgroup.'),
  plain('cgroup/setsockopt', 'cgroup_sockopt', 'BPF_CGROUP_SETSOCKOPT', 'setsockopt() in a cgroup.'),
  {
    prefix: 'struct_ops',
    programType: 'struct_ops',
    attachType: null,
    target: { form: 'MEMBER', description: 'the callback it implements, e.g. init or cong_avoid (for reading only: the .struct_ops map binds it)', neededFor: 'never', parts: 1 },
    sleepable: false,
    example: 'struct_ops/dctcp_init',
    summary: 'One callback of a kernel struct of function pointers (e.g. tcp_congestion_ops, sched_ext_ops).',
  },
  {
    prefix: 'struct_ops.s',
    programType: 'struct_ops',
    attachType: null,
    target: { form: 'MEMBER', description: 'the callback it implements (for reading only)', neededFor: 'never', parts: 1 },
    sleepable: true,
    example: 'struct_ops.s/init',
    summary: 'Sleepable struct_ops callback.',
  },
  plain('sk_lookup', 'sk_lookup', 'BPF_SK_LOOKUP', 'Chooses the listening socket for an incoming connection in a network namespace.'),
  plain('netfilter', 'netfilter', 'BPF_NETFILTER', 'Netfilter hook (Linux 6.4+): NF_ACCEPT or NF_DROP per packet.', { sinceLibbpf: '1.2' }),

  // Data sections: not programs.
  { prefix: 'license', programType: null, attachType: null, target: null, sleepable: false, example: 'license', summary: 'The license string the kernel checks: GPL-only helpers need a GPL-compatible one.' },
  { prefix: '.maps', programType: null, attachType: null, target: null, sleepable: false, example: '.maps', summary: 'BTF-defined maps: `struct { __uint(type, …); … } name SEC(".maps");`.' },
  { prefix: '.rodata', programType: null, attachType: null, target: null, sleepable: false, example: '.rodata', summary: 'Read-only globals (`const volatile` config set from user space before load).' },
  { prefix: '.data', programType: null, attachType: null, target: null, sleepable: false, example: '.data', summary: 'Initialised global variables, shared with user space through the skeleton.' },
  { prefix: '.bss', programType: null, attachType: null, target: null, sleepable: false, example: '.bss', summary: 'Zero-initialised global variables.' },
];

export interface SectionMatch {
  definition: SectionDefinition;
  /** The part after "PREFIX/", '' when absent. */
  target: string;
}

/** Custom data sections libbpf also maps: `.data.NAME`, `.rodata.NAME`, `.bss.NAME`. */
const CUSTOM_DATA_SECTION = /^\.(data|rodata|bss)\.[\w.]+$/;

/** libbpf's lookup: exact names first-class, prefixes of target-taking sections with a '/'. */
export function matchSection(name: string): SectionMatch | undefined {
  for (const definition of sectionDefinitions) {
    if (name === definition.prefix) return { definition, target: '' };
    if (definition.target !== null && name.startsWith(`${definition.prefix}/`)) {
      return { definition, target: name.slice(definition.prefix.length + 1) };
    }
  }
  const custom = CUSTOM_DATA_SECTION.exec(name);
  if (custom) return { definition: sectionDefinitions.find((d) => d.prefix === `.${custom[1]}`)!, target: '' };
  return undefined;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * The section name the author most likely meant, keeping what they wrote after the prefix:
 * `kprobes/do_exit` → `kprobe/do_exit`, `tracepoints/sched/sched_switch` → `tracepoint/sched/sched_switch`.
 */
export function suggestSection(name: string): string | undefined {
  let best: { text: string; cost: number } | undefined;
  const slash = name.indexOf('/');
  for (const definition of sectionDefinitions) {
    const candidates: { text: string; compared: string; against: string }[] = [
      { text: definition.prefix, compared: name, against: definition.prefix },
    ];
    if (definition.target !== null && slash !== -1) {
      const head = name.slice(0, slash);
      candidates.push({ text: `${definition.prefix}${name.slice(slash)}`, compared: head, against: definition.prefix });
    }
    for (const c of candidates) {
      const cost = distance(c.compared, c.against);
      const limit = Math.max(1, Math.floor(c.against.length / 3));
      if (cost <= limit && (best === undefined || cost < best.cost)) best = { text: c.text, cost };
    }
  }
  return best?.text;
}
