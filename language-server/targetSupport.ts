// Whether the selected target can run a program of a given section at all, from the kernel
// features its agent probed (hello.features). Completion shows it beside attach targets and
// diagnostics warn on the SEC(...) line, before a save or an attach finds out the hard way.
import type { KernelFeatures } from '../remote-agent/protocol';

/** Why `section` cannot attach on a target with `features`; undefined when it can, or when unknown. */
export function unsupportedHookReason(section: string, features: KernelFeatures | null): string | undefined {
  if (features === null) return undefined;
  const kind = section.replace(/^\?/, '').split('/')[0]!;
  if (/^(kprobe|kretprobe)(\.multi)?$|^k(ret)?syscall$/.test(kind) && !features.kprobeEvents) {
    return 'kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set): the program loads but cannot attach; use a tracepoint, fentry or raw_tp program instead';
  }
  if (/^(uprobe|uretprobe)(\.multi)?(\.s)?$|^usdt$/.test(kind) && !features.uprobeEvents) {
    return 'uprobe events are not enabled in this kernel (CONFIG_UPROBE_EVENTS is not set): the program cannot attach';
  }
  if (/^(fentry|fexit|fmod_ret)(\.s)?$/.test(kind) && !features.tracingPrograms) {
    return 'this kernel cannot attach BPF trampolines to kernel functions (no fentry/fexit/fmod_ret); use a kprobe, tp_btf or tracepoint program instead';
  }
  if (/^lsm(\.s)?$/.test(kind) && !features.lsm) {
    return 'this kernel does not run BPF LSM programs (CONFIG_BPF_LSM is off, or "bpf" is missing from the lsm= boot list)';
  }
  return undefined;
}
