/**
 * What a started agent lacks to load programs at all, from its `hello.privileges` and
 * `hello.features`: said once, when the session opens, with what to do, rather than as a bare
 * EPERM from the first load or a verifier error that has nothing to do with the program. Pure.
 */
import type { HelloResult } from '../protocol';
import { AgentSessionError } from './sessionError';

/** The 'privilege' error of an agent that can load no program (neither CAP_BPF nor CAP_SYS_ADMIN); undefined when it can. */
export function missingPrivilege(hello: Pick<HelloResult, 'euid' | 'privileges'>, where: string): AgentSessionError | undefined {
  const caps = hello.privileges.effectiveCapabilities;
  if (caps.includes('bpf') || caps.includes('sys_admin')) return undefined;
  const who = hello.euid === 0 ? 'runs as root but' : `runs as uid ${hello.euid},`;
  const sysctl = hello.privileges.unprivilegedBpfDisabled;
  const unprivileged =
    sysctl === null ? '' : sysctl === 0 ? ' (kernel.unprivileged_bpf_disabled is 0, which allows socket filters only)' : ` (kernel.unprivileged_bpf_disabled is ${sysctl})`;
  return new AgentSessionError(
    'privilege',
    `The agent on ${where} ${who} without CAP_BPF or CAP_SYS_ADMIN (a container without --privileged, or a capability bounding set that drops them), ` +
      `so it cannot load eBPF programs${unprivileged}. ` +
      `Give the target those capabilities (docker run --privileged, or --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN; systemd: AmbientCapabilities=/CapabilityBoundingSet=) or choose another target.`,
  );
}

/** Lines for the log about what works only partly: tracing without CAP_PERFMON, no tracefs, no bpffs. */
export function privilegeWarnings(hello: Pick<HelloResult, 'privileges' | 'features'>, where: string): string[] {
  const caps = hello.privileges.effectiveCapabilities;
  const warnings: string[] = [];
  if (!caps.includes('sys_admin') && !caps.includes('perfmon')) {
    warnings.push(`Warning: the agent on ${where} has CAP_BPF but not CAP_PERFMON (nor CAP_SYS_ADMIN): kprobe, tracepoint and perf_event programs will not load; add CAP_PERFMON.`);
  }
  if (!caps.includes('sys_admin') && !caps.includes('net_admin')) {
    warnings.push(`Warning: the agent on ${where} lacks CAP_NET_ADMIN (and CAP_SYS_ADMIN): XDP and tc programs load but cannot be attached.`);
  }
  if (hello.features.tracefs === null) {
    warnings.push(`Warning: tracefs is not mounted on ${where} and the agent could not mount it: tracepoints cannot be attached and bpf_printk output cannot be read (mount -t tracefs tracefs /sys/kernel/tracing).`);
  }
  if (hello.features.bpffs === null) {
    warnings.push(`Warning: bpffs is not mounted on ${where}: attached programs cannot be pinned to outlive the session (mount -t bpf bpf /sys/fs/bpf).`);
  }
  return warnings;
}
