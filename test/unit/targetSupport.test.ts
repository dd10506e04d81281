/**
 * Which hooks a target can attach, and what the language server advises instead, decided by the
 * kernel features the target's agent probed: the advice never names a hook the target lacks too.
 * The feature sets are those of the kernels the project is tested on (docs: ENVIRONMENT notes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unsupportedHookReason } from '../../language-server/targetSupport';
import type { KernelFeatures } from '../../remote-agent/protocol';

const PROGRAM_TYPES = ['socket_filter', 'kprobe', 'sched_cls', 'tracepoint', 'xdp', 'perf_event', 'raw_tracepoint', 'cgroup_skb', 'tracing', 'lsm', 'syscall'];

/** Debian's 6.1 in QEMU: kprobe events, trampolines and BPF LSM. */
const debian61: KernelFeatures = {
  kprobeEvents: true, uprobeEvents: true, tracingPrograms: true, lsm: true, ringbuf: true, tcx: false, bpfCookie: true,
  tracefs: '/sys/kernel/tracing', bpffs: '/sys/fs/bpf', programTypes: PROGRAM_TYPES, mapTypes: ['hash', 'array', 'ringbuf'],
};
/** The 6.18 build machine: no CONFIG_KPROBE_EVENTS, no trampolines, no BPF LSM; uprobes work. */
const noKprobesNoTrampolines: KernelFeatures = {
  ...debian61, kprobeEvents: false, tracingPrograms: false, lsm: false, tcx: true,
  programTypes: PROGRAM_TYPES.filter((t) => t !== 'tracing' && t !== 'lsm'),
};

test('a kprobe on a kernel without kprobe events: the advice names only the hooks that kernel has', () => {
  const without = 'kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set): the program loads but cannot attach';
  assert.equal(unsupportedHookReason('kprobe/do_unlinkat', noKprobesNoTrampolines), `${without}; use a tracepoint or raw_tp program instead`);
  assert.equal(unsupportedHookReason('kprobe/do_unlinkat', { ...debian61, kprobeEvents: false }), `${without}; use a tracepoint, fentry or raw_tp program instead`);
  // Every kprobe flavour is the same hook for the kernel.
  for (const section of ['kretprobe/do_unlinkat', 'ksyscall/unlinkat', 'kretsyscall/unlinkat', 'kprobe.multi/do_*', '?kprobe/do_unlinkat']) {
    assert.equal(unsupportedHookReason(section, noKprobesNoTrampolines), `${without}; use a tracepoint or raw_tp program instead`, section);
  }
  // Without tracefs, tracepoints cannot attach either; without raw tracepoints, nothing is left to advise.
  assert.equal(unsupportedHookReason('kprobe/do_unlinkat', { ...noKprobesNoTrampolines, tracefs: null }), `${without}; use a raw_tp program instead`);
  assert.equal(unsupportedHookReason('kprobe/do_unlinkat', { ...noKprobesNoTrampolines, tracefs: null, programTypes: ['kprobe', 'xdp'] }), without);
});

test('an fentry on a kernel without trampolines: kprobe is advised only where kprobe events exist; tp_btf needs no trampoline', () => {
  const without = 'this kernel cannot attach BPF trampolines to kernel functions (no fentry/fexit/fmod_ret)';
  assert.equal(unsupportedHookReason('fentry/do_unlinkat', noKprobesNoTrampolines), `${without}; use a tp_btf or tracepoint program instead`);
  assert.equal(unsupportedHookReason('fexit/do_unlinkat', { ...noKprobesNoTrampolines, kprobeEvents: true }), `${without}; use a kprobe, tp_btf or tracepoint program instead`);
  assert.equal(unsupportedHookReason('fmod_ret.s/do_unlinkat', { ...noKprobesNoTrampolines, tracefs: null }), `${without}; use a tp_btf program instead`);
});

test('uprobes, USDTs and LSM programs are judged by their own features; with every feature, or none known, nothing is said', () => {
  const noUprobes = { ...debian61, uprobeEvents: false };
  for (const section of ['uprobe', 'uretprobe/bash:readline', 'usdt', 'uprobe.s//usr/bin/python3:main']) {
    assert.equal(unsupportedHookReason(section, noUprobes), 'uprobe events are not enabled in this kernel (CONFIG_UPROBE_EVENTS is not set): the program cannot attach', section);
    assert.equal(unsupportedHookReason(section, noKprobesNoTrampolines), undefined, `${section}: this kernel has uprobe events`);
  }
  assert.equal(unsupportedHookReason('lsm/file_open', noKprobesNoTrampolines), 'this kernel does not run BPF LSM programs (CONFIG_BPF_LSM is off, or "bpf" is missing from the lsm= boot list)');
  for (const section of ['kprobe/do_unlinkat', 'fentry/do_unlinkat', 'lsm/file_open', 'usdt', 'tracepoint/syscalls/sys_enter_openat', 'xdp']) {
    assert.equal(unsupportedHookReason(section, debian61), undefined, section);
    assert.equal(unsupportedHookReason(section, null), undefined, `${section}: features unknown`);
  }
  assert.equal(unsupportedHookReason('tp_btf/sched_switch', noKprobesNoTrampolines), undefined, 'tp_btf attaches without trampolines');
});
