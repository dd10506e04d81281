// The built-in list of GPL-only BPF helpers, used when the target's own probe (targetInfo.helpers.gplOnly)
// has not arrived. Every name here was measured, not recalled: scripts/probe-gpl-only-helpers.mjs
// loaded one program per helper with license "Proprietary" on Linux 6.18 (x86_64) and the verifier
// answered "cannot call GPL-restricted function from non-GPL compatible program" for exactly these.
// Helpers no probed program type could call on that kernel (e.g. bpf_probe_write_user, bpf_d_path,
// bpf_override_return) are absent: unverified, so not claimed. Run the script on a newer kernel to refresh.

export const DEFAULT_GPL_ONLY_SOURCE = 'built-in list measured on Linux 6.18 (scripts/probe-gpl-only-helpers.mjs)';

export const defaultGplOnlyHelpers: ReadonlySet<string> = new Set([
  'bpf_probe_read', 'bpf_trace_printk', 'bpf_perf_event_read', 'bpf_perf_event_output', 'bpf_get_stackid',
  'bpf_get_current_task', 'bpf_probe_read_str', 'bpf_perf_event_read_value', 'bpf_perf_prog_read_value',
  'bpf_get_stack', 'bpf_fib_lookup', 'bpf_tcp_check_syncookie', 'bpf_tcp_gen_syncookie', 'bpf_skb_output',
  'bpf_probe_read_user', 'bpf_probe_read_kernel', 'bpf_probe_read_user_str', 'bpf_probe_read_kernel_str',
  'bpf_read_branch_records', 'bpf_xdp_output', 'bpf_get_current_task_btf', 'bpf_check_mtu', 'bpf_snprintf',
  'bpf_timer_init', 'bpf_timer_set_callback', 'bpf_timer_start', 'bpf_timer_cancel', 'bpf_get_func_ip',
  'bpf_task_pt_regs', 'bpf_get_branch_snapshot', 'bpf_trace_vprintk', 'bpf_copy_from_user_task',
  'bpf_tcp_raw_gen_syncookie_ipv4', 'bpf_tcp_raw_gen_syncookie_ipv6', 'bpf_tcp_raw_check_syncookie_ipv4',
  'bpf_tcp_raw_check_syncookie_ipv6',
]);

/** The kernel's license_is_gpl_compatible(): exactly these strings (case-sensitive) unlock GPL-only helpers. */
export const GPL_COMPATIBLE_LICENSES: readonly string[] = [
  'GPL',
  'GPL v2',
  'GPL and additional rights',
  'Dual BSD/GPL',
  'Dual MIT/GPL',
  'Dual MPL/GPL',
];

/** libbpf macros that expand to a helper call, so using one is using that helper. */
export const HELPER_MACROS: Readonly<Record<string, string>> = {
  bpf_printk: 'bpf_trace_printk',
  BPF_SEQ_PRINTF: 'bpf_seq_printf',
  BPF_SNPRINTF: 'bpf_snprintf',
  BPF_CORE_READ: 'bpf_probe_read_kernel',
  BPF_CORE_READ_INTO: 'bpf_probe_read_kernel',
  BPF_CORE_READ_STR_INTO: 'bpf_probe_read_kernel_str',
  BPF_CORE_READ_USER: 'bpf_probe_read_user',
  BPF_PROBE_READ: 'bpf_probe_read_kernel',
  bpf_core_read: 'bpf_probe_read_kernel',
  bpf_core_read_str: 'bpf_probe_read_kernel_str',
  bpf_core_read_user: 'bpf_probe_read_user',
};
