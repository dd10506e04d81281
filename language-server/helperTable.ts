// The BPF helpers declared by libbpf's bpf_helper_defs.h, as generated at build time by
// scripts/generate-helper-table.mjs, and the Markdown the editor features show for them.
// The JSON is imported so that esbuild bundles it into out/server.js: the server reads no files.
import generated from './generated/bpfHelpers.json';

export interface HelperParameter {
  /** C type as written in the header, e.g. `const void *`. */
  type: string;
  name: string;
}

export interface BpfHelper {
  name: string;
  /** The helper's number in the kernel's `enum bpf_func_id` (`BPF_FUNC_<name without bpf_>`). */
  id: number;
  returnType: string;
  params: HelperParameter[];
  /** True when further arguments follow `params` (`...`), as for bpf_trace_printk. */
  variadic: boolean;
  /** The declaration as C text, e.g. `void *bpf_map_lookup_elem(void *map, const void *key)`. */
  signature: string;
  /** Markdown, converted from the kernel's reStructuredText documentation. */
  description: string;
  /** Markdown: what the helper returns. */
  returns: string;
}

interface GeneratedHelperTable {
  source: string;
  helpers: BpfHelper[];
}

const table: GeneratedHelperTable = generated;

export const bpfHelpers: readonly BpfHelper[] = table.helpers;

const helpersByName = new Map(bpfHelpers.map((helper) => [helper.name, helper]));

export function findHelper(name: string): BpfHelper | undefined {
  return helpersByName.get(name);
}

/** The kernel's name for the helper's number, e.g. `BPF_FUNC_map_lookup_elem`. */
export function helperFuncIdName(helper: BpfHelper): string {
  return `BPF_FUNC_${helper.name.replace(/^bpf_/, '')}`;
}

/** Description, return value and helper number, without the signature. */
export function helperDocumentation(helper: BpfHelper): string {
  const sections = [helper.description];
  if (helper.returns !== '') sections.push(`**Returns**\n\n${helper.returns}`);
  sections.push(`Helper \`${helperFuncIdName(helper)}\` = ${helper.id} (libbpf \`bpf_helper_defs.h\`)`);
  return sections.filter((s) => s !== '').join('\n\n');
}

/** The signature in a C code block, followed by the documentation. */
export function helperHoverMarkdown(helper: BpfHelper): string {
  return `\`\`\`c\n${helper.signature}\n\`\`\`\n\n${helperDocumentation(helper)}`;
}

/**
 * Where each parameter (and a trailing `...`) sits in `helper.signature`, as [start, end) offsets:
 * signature help highlights the active one.
 */
export function parameterOffsets(helper: BpfHelper): [number, number][] {
  const offsets: [number, number][] = [];
  let cursor = helper.signature.indexOf('(') + 1;
  const texts = helper.params.map((p) => `${p.type.endsWith('*') ? p.type : `${p.type} `}${p.name}`);
  if (helper.variadic) texts.push('...');
  for (const text of texts) {
    const start = helper.signature.indexOf(text, cursor);
    if (start === -1) throw new Error(`parameter '${text}' not found in the signature of ${helper.name}; regenerate the helper table`);
    offsets.push([start, start + text.length]);
    cursor = start + text.length;
  }
  return offsets;
}
