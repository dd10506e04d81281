/**
 * What a started agent lacks, told from its hello: no CAP_BPF and no CAP_SYS_ADMIN is an error
 * (with the sysctl when it could be read); CAP_BPF without CAP_PERFMON, no CAP_NET_ADMIN, no tracefs
 * and no bpffs are warnings naming what will not work and the fix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HelloResult } from '../../remote-agent/protocol';
import { missingPrivilege, privilegeWarnings } from '../../remote-agent/client/targetPrivileges';

const features = { tracefs: '/sys/kernel/tracing', bpffs: '/sys/fs/bpf' } as HelloResult['features'];
const privileges = (effectiveCapabilities: string[], unprivilegedBpfDisabled: number | null = 2) => ({ effectiveCapabilities, unprivilegedBpfDisabled });

test('CAP_BPF or CAP_SYS_ADMIN alone is enough to load programs', () => {
  assert.equal(missingPrivilege({ euid: 0, privileges: privileges(['bpf']) }, 'h'), undefined);
  assert.equal(missingPrivilege({ euid: 0, privileges: privileges(['sys_admin']) }, 'h'), undefined);
});

test('neither is a privilege error; an unreadable sysctl is left out, a non-root agent says its uid', () => {
  const error = missingPrivilege({ euid: 1000, privileges: privileges(['net_admin'], null) }, 'dev@box');
  assert.equal(error?.kind, 'privilege');
  assert.equal(
    error?.message,
    'The agent on dev@box runs as uid 1000, without CAP_BPF or CAP_SYS_ADMIN (a container without --privileged, or a capability bounding set that drops them), so it cannot load eBPF programs. ' +
      'Give the target those capabilities (docker run --privileged, or --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN; systemd: AmbientCapabilities=/CapabilityBoundingSet=) or choose another target.',
  );
});

test('a full root agent with tracefs and bpffs gets no warnings', () => {
  assert.deepEqual(privilegeWarnings({ privileges: privileges(['bpf', 'perfmon', 'sys_admin', 'net_admin']), features }, 'h'), []);
});

test('what only partly works is a warning each', () => {
  assert.deepEqual(privilegeWarnings({ privileges: privileges(['bpf']), features: { ...features, tracefs: null, bpffs: null } }, 'h'), [
    'Warning: the agent on h has CAP_BPF but not CAP_PERFMON (nor CAP_SYS_ADMIN): kprobe, tracepoint and perf_event programs will not load; add CAP_PERFMON.',
    'Warning: the agent on h lacks CAP_NET_ADMIN (and CAP_SYS_ADMIN): XDP and tc programs load but cannot be attached.',
    'Warning: tracefs is not mounted on h and the agent could not mount it: tracepoints cannot be attached and bpf_printk output cannot be read (mount -t tracefs tracefs /sys/kernel/tracing).',
    'Warning: bpffs is not mounted on h: attached programs cannot be pinned to outlive the session (mount -t bpf bpf /sys/fs/bpf).',
  ]);
});
