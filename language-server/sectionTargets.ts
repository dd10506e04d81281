// Completion of attach targets inside `SEC("<kind>/…")`, from the target kernel's BTF:
// functions for kprobe/kretprobe/fentry/fexit/fmod_ret, syscalls for ksyscall, the `btf_trace_<name>`
// typedefs for tp_btf/raw_tp, and the `bpf_lsm_<hook>` functions for lsm.
// A kernel has ~60k functions: the list is filtered by what was typed and capped, marked incomplete
// so that the editor asks again as the name grows.
import { CompletionItemKind, type CompletionItem, type CompletionList } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { btfAttachPoints, type BtfAttachPointKind } from '../remote-agent/client/btfAttachPoints';
import type { KernelFeatures } from '../remote-agent/protocol';
import { scanCursorContext } from './cursorContext';
import type { KernelTypeIndex } from './kernelTypes';
import { unsupportedHookReason } from './targetSupport';

const MAX_ITEMS = 1000;

type TargetKind = BtfAttachPointKind;

const SECTION_TARGETS: Record<string, TargetKind> = {
  kprobe: 'function',
  kretprobe: 'function',
  'kprobe.multi': 'function',
  'kretprobe.multi': 'function',
  fentry: 'function',
  fexit: 'function',
  fmod_ret: 'function',
  'fentry.s': 'function',
  'fexit.s': 'function',
  'fmod_ret.s': 'function',
  ksyscall: 'syscall',
  kretsyscall: 'syscall',
  tp_btf: 'tracepoint',
  raw_tp: 'tracepoint',
  raw_tracepoint: 'tracepoint',
  'raw_tp.w': 'tracepoint',
  'raw_tracepoint.w': 'tracepoint',
  lsm: 'lsm',
  'lsm.s': 'lsm',
  lsm_cgroup: 'lsm',
};

/** Per kernel: sorted attach names of each kind, and the BTF id that describes each. */
const targetLists = new WeakMap<KernelTypeIndex, Map<TargetKind, { names: string[]; ids: Map<string, number> }>>();

function targets(kernel: KernelTypeIndex, kind: TargetKind): { names: string[]; ids: Map<string, number> } {
  let lists = targetLists.get(kernel);
  if (lists === undefined) {
    lists = new Map();
    targetLists.set(kernel, lists);
  }
  let list = lists.get(kind);
  if (list === undefined) {
    const ids = btfAttachPoints(kernel.btf, kind);
    list = { names: [...ids.keys()].sort(), ids };
    lists.set(kind, list);
  }
  return list;
}

/** Inside `SEC("kind/partial`: the section kind and the part typed after the slash. */
export function sectionTargetAt(text: string, offset: number): { section: string; typed: string; typedStart: number } | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const m = /\bSEC\(\s*"([\w.]+)\/([\w.]*)$/.exec(text.slice(lineStart, offset));
  if (!m || SECTION_TARGETS[m[1]] === undefined) return undefined;
  // `// SEC("kprobe/…` in a comment is prose, not a section.
  if (scanCursorContext(text, offset).region !== 'string') return undefined;
  return { section: m[1], typed: m[2], typedStart: offset - m[2].length };
}

/** Undefined when the cursor is not in such a section name (other completions apply). */
export function completeSectionTargets(
  document: TextDocument,
  offset: number,
  kernel: KernelTypeIndex | undefined,
  features: KernelFeatures | null,
): CompletionList | undefined {
  const text = document.getText();
  const at = sectionTargetAt(text, offset);
  if (at === undefined) return undefined;
  if (kernel === undefined) return { isIncomplete: false, items: [] };
  const kind = SECTION_TARGETS[at.section];
  const { names, ids } = targets(kernel, kind);
  // Binary search for the first name with the typed prefix.
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid] < at.typed) lo = mid + 1;
    else hi = mid;
  }
  const matching: string[] = [];
  for (let i = lo; i < names.length && names[i].startsWith(at.typed) && matching.length <= MAX_ITEMS; i++) matching.push(names[i]);
  const isIncomplete = matching.length > MAX_ITEMS;
  if (isIncomplete) matching.length = MAX_ITEMS;

  const range = { start: document.positionAt(at.typedStart), end: document.positionAt(offset) };
  const unsupported = unsupportedHookReason(at.section, features);
  const warning = unsupported && `This target: ${unsupported}.`;
  const btf = kernel.btf;
  const items: CompletionItem[] = matching.map((name) => {
    const id = ids.get(name)!;
    // A tracepoint's typedef is a pointer to `void (*)(void *, args…)`: the first argument is libbpf's context.
    const detail = kind === 'tracepoint' ? btf.typeName(btf.types[id].type!).replace(/^void \(\*\)\(void \*(, )?/, '(') : btf.typeName(id);
    return {
      label: name,
      kind: kind === 'tracepoint' ? CompletionItemKind.Event : CompletionItemKind.Function,
      detail,
      textEdit: { range, newText: name },
      ...(warning === undefined ? {} : { documentation: warning }),
    };
  });
  return { isIncomplete, items };
}
