/**
 * The attach points a kernel's BTF names, by kind: every function (kprobe, fentry/fexit), the
 * syscalls behind the architecture's `__<arch>_sys_<name>` wrappers (ksyscall), the
 * `btf_trace_<name>` typedefs (tp_btf, raw_tp) and the `bpf_lsm_<hook>` functions (lsm). Pure: the
 * language server completes section names from it, the editor's New Program wizard suggests
 * template parameters from it.
 */
import type { Btf } from './btf';

export type BtfAttachPointKind = 'function' | 'syscall' | 'tracepoint' | 'lsm';

/** Each attach name of `kind` → the id of the BTF type that describes it. */
export function btfAttachPoints(btf: Btf, kind: BtfAttachPointKind): Map<string, number> {
  const ids = new Map<string, number>();
  for (const t of btf.types) {
    if (kind === 'function' && t.kind === 'func') ids.set(t.name, t.id);
    else if (kind === 'tracepoint' && t.kind === 'typedef' && t.name.startsWith('btf_trace_')) ids.set(t.name.slice('btf_trace_'.length), t.id);
    else if (kind === 'lsm' && t.kind === 'func' && t.name.startsWith('bpf_lsm_')) ids.set(t.name.slice('bpf_lsm_'.length), t.id);
    else if (kind === 'syscall' && t.kind === 'func') {
      // The architecture's syscall wrappers: __x64_sys_openat, __arm64_sys_openat, …
      const wrapper = /^__(?!ia32_)[a-z0-9]+_sys_(\w+)$/.exec(t.name);
      if (wrapper) ids.set(wrapper[1], t.id);
    }
  }
  return ids;
}
