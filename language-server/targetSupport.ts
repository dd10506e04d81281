// Whether the selected target can run a program of a given section at all, from the kernel
// features its agent probed (hello.features). Completion shows it beside attach targets and
// diagnostics warn on the SEC(...) line, before a save or an attach finds out the hard way.
// The hooks advised instead come from the same features: never one the target lacks too.
import type { KernelFeatures } from '../remote-agent/protocol';

type Hook = 'tracepoint' | 'raw_tp' | 'tp_btf' | 'fentry' | 'kprobe';

/** Whether the target can attach a program of the hook's kind. */
const AVAILABLE: Record<Hook, (features: KernelFeatures) => boolean> = {
  tracepoint: (f) => f.programTypes.includes('tracepoint') && f.tracefs !== null,
  raw_tp: (f) => f.programTypes.includes('raw_tracepoint'),
  // A raw tracepoint typed by BTF: it needs no trampoline, so it attaches on kernels whose
  // fentry probe fails (tracingPrograms false) as long as raw tracepoints load.
  tp_btf: (f) => f.programTypes.includes('raw_tracepoint'),
  fentry: (f) => f.tracingPrograms,
  kprobe: (f) => f.kprobeEvents && f.programTypes.includes('kprobe'),
};

/** "; use a tracepoint or raw_tp program instead", naming only hooks the target has; '' when it has none of them. */
function instead(features: KernelFeatures, candidates: Hook[]): string {
  const usable = candidates.filter((hook) => AVAILABLE[hook](features));
  if (usable.length === 0) return '';
  const list = usable.length === 1 ? usable[0] : `${usable.slice(0, -1).join(', ')} or ${usable.at(-1)}`;
  return `; use a ${list} program instead`;
}

/** Why `section` cannot attach on a target with `features`; undefined when it can, or when unknown. */
export function unsupportedHookReason(section: string, features: KernelFeatures | null): string | undefined {
  if (features === null) return undefined;
  const kind = section.replace(/^\?/, '').split('/')[0]!;
  if (/^(kprobe|kretprobe)(\.multi)?$|^k(ret)?syscall$/.test(kind) && !features.kprobeEvents) {
    return `kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set): the program loads but cannot attach${instead(features, ['tracepoint', 'fentry', 'raw_tp'])}`;
  }
  if (/^(uprobe|uretprobe)(\.multi)?(\.s)?$|^usdt$/.test(kind) && !features.uprobeEvents) {
    return 'uprobe events are not enabled in this kernel (CONFIG_UPROBE_EVENTS is not set): the program cannot attach';
  }
  if (/^(fentry|fexit|fmod_ret)(\.s)?$/.test(kind) && !features.tracingPrograms) {
    return `this kernel cannot attach BPF trampolines to kernel functions (no fentry/fexit/fmod_ret)${instead(features, ['kprobe', 'tp_btf', 'tracepoint'])}`;
  }
  if (/^lsm(\.s)?$/.test(kind) && !features.lsm) {
    return 'this kernel does not run BPF LSM programs (CONFIG_BPF_LSM is off, or "bpf" is missing from the lsm= boot list)';
  }
  return undefined;
}
