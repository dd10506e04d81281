// kfuncs — kernel functions BPF programs may call — offered like helpers: completion (with the
// `extern … __ksym;` declaration a program needs, added when missing) and signature help.
// The list is the target's BTF FUNCs tagged `bpf_kfunc`. Which program types may call one, and its
// flags (acquires or releases a reference, may return NULL, sleepable only), live in the kernel's
// kfunc id sets, which /sys/kernel/btf does not export: the verifier is the judge of those.
import { CompletionItemKind, InsertTextFormat, MarkupKind, type CompletionItem, type SignatureHelp, type TextEdit } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { BtfType } from '../remote-agent/client/btf';
import { identifierAt, scanCursorContext } from './cursorContext';
import type { KernelTypeIndex } from './kernelTypes';

/** What the verifier reads from a kfunc parameter's name suffix. */
const PARAMETER_SUFFIXES: [string, string][] = [
  ['__szk', 'a constant size of the memory passed in the previous parameter'],
  ['__sz', 'the size of the memory passed in the previous parameter'],
  ['__k', 'must be a constant scalar'],
  ['__ign', 'not checked by the verifier'],
  ['__opt', 'a buffer that may be NULL'],
  ['__nullable', 'may be NULL'],
  ['__str', 'a constant string (in read-only data)'],
  ['__uninit', 'may point to uninitialized memory, which the kfunc initializes'],
  ['__map', 'a map (pass `&map`)'],
  ['__alloc', 'memory allocated by bpf_obj_new'],
  ['__refcounted_kptr', 'a refcounted kptr'],
  ['__irq_flag', 'saved IRQ flags (an unsigned long on the stack)'],
  ['__prog', 'filled in by the verifier with the calling program; pass NULL'],
];

const KFUNC_LIMITS =
  'Listed because the target’s BTF tags it `bpf_kfunc`. Which program types may call it, and whether it acquires or releases a reference, may return NULL or needs a sleepable program, is recorded in the kernel’s kfunc sets, which BTF does not carry: verify the program to find out.';

export interface KfuncSignature {
  label: string;
  /** [start, end) of each parameter in `label`. */
  parameters: [number, number][];
  parameterNames: string[];
}

const signatures = new WeakMap<BtfType, KfuncSignature>();

/** The kfunc's C prototype with the offset of each parameter (for highlighting). */
export function kfuncSignature(kernel: KernelTypeIndex, func: BtfType): KfuncSignature {
  let signature = signatures.get(func);
  if (signature === undefined) {
    signature = buildSignature(kernel, func);
    signatures.set(func, signature);
  }
  return signature;
}

function buildSignature(kernel: KernelTypeIndex, func: BtfType): KfuncSignature {
  const btf = kernel.btf;
  const proto = btf.types[func.type!];
  const returnType = btf.typeName(proto.type!);
  let label = `${returnType}${returnType.endsWith('*') ? '' : ' '}${func.name}(`;
  const parameters: [number, number][] = [];
  const parameterNames: string[] = [];
  proto.params!.forEach((param, i) => {
    if (i > 0) label += ', ';
    const type = btf.typeName(param.type);
    const text = param.type === 0 ? '...' : `${type}${type.endsWith('*') ? '' : ' '}${param.name}`.trim();
    parameters.push([label.length, label.length + text.length]);
    parameterNames.push(param.name);
    label += text;
  });
  if (proto.params!.length === 0) label += 'void';
  return { label: `${label})`, parameters, parameterNames };
}

/** Markdown: what the parameter suffixes mean, and what BTF cannot tell. */
export function kfuncDocumentation(kernel: KernelTypeIndex, func: BtfType): string {
  const notes: string[] = [];
  for (const param of kernel.btf.types[func.type!].params!) {
    const suffix = PARAMETER_SUFFIXES.find(([s]) => param.name.endsWith(s));
    if (suffix) notes.push(`- \`${param.name}\`: ${suffix[1]}`);
  }
  return [`kfunc from the BTF of \`${kernel.source}\``, notes.join('\n'), KFUNC_LIMITS].filter((s) => s !== '').join('\n\n');
}

function externDeclaration(kernel: KernelTypeIndex, func: BtfType): string {
  return `extern ${kernel.btf.typeName(func.id)} __ksym;`;
}

/** After the last #include, where declarations usually go; else the top of the file. */
function declarationEdit(text: string, declaration: string): TextEdit {
  let line = 0;
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (/^\s*#\s*include\b/.test(l)) line = i + 1;
  });
  return { range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: `${declaration}\n` };
}

export function completeKfuncs(document: TextDocument, offset: number, kernel: KernelTypeIndex | undefined, snippetSupport: boolean): CompletionItem[] {
  if (kernel === undefined) return [];
  const text = document.getText();
  if (scanCursorContext(text, offset).region !== 'code') return [];
  let start = offset;
  while (start > 0 && /\w/.test(text[start - 1])) start--;
  if (/[0-9]/.test(text[start] ?? '') && start < offset) return [];
  const range = { start: document.positionAt(start), end: document.positionAt(offset) };
  const callFollows = text[identifierAt(text, offset)?.end ?? offset] === '(';
  const asSnippet = snippetSupport && !callFollows;

  // One pass over the document for every `extern … name(…) __ksym;` it already has.
  const declared = new Set([...text.matchAll(/\bextern\b[^;]*?\b(\w+)\s*\([^;]*\b__ksym\b/g)].map((m) => m[1]));
  return kernel.kfuncs().map((func) => {
    const signature = kfuncSignature(kernel, func);
    const data: KfuncItemData = { kfunc: func.name };
    const snippet = `${func.name}(${signature.parameterNames.map((name, i) => `\${${i + 1}:${name.replace(/[$}\\]/g, (c) => `\\${c}`)}}`).join(', ')})`;
    return {
      label: func.name,
      labelDetails: { description: 'kfunc' },
      kind: CompletionItemKind.Function,
      detail: signature.label,
      textEdit: { range, newText: asSnippet ? snippet : func.name },
      insertTextFormat: asSnippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
      additionalTextEdits: declared.has(func.name) ? [] : [declarationEdit(text, externDeclaration(kernel, func))],
      data,
    };
  });
}

/** What the resolve request needs to find the item's kfunc again. */
interface KfuncItemData {
  kfunc: string;
}

export function isKfuncItem(item: CompletionItem): boolean {
  return typeof (item.data as Partial<KfuncItemData> | undefined)?.kfunc === 'string';
}

/** Adds the documentation, left out of the list itself to keep it small. */
export function resolveKfuncCompletion(item: CompletionItem, kernel: KernelTypeIndex | undefined): CompletionItem {
  const func = kernel?.kfunc((item.data as KfuncItemData).kfunc);
  if (kernel === undefined || func === undefined) return item;
  return { ...item, documentation: { kind: MarkupKind.Markdown, value: kfuncDocumentation(kernel, func) } };
}

export function kfuncSignatureHelp(document: TextDocument, offset: number, kernel: KernelTypeIndex | undefined): SignatureHelp | null {
  if (kernel === undefined) return null;
  const context = scanCursorContext(document.getText(), offset);
  if (context.region !== 'code') return null;
  for (let i = context.openBrackets.length - 1; i >= 0; i--) {
    const bracket = context.openBrackets[i];
    const func = bracket.bracket === '(' && bracket.callee !== null ? kernel.kfunc(bracket.callee) : undefined;
    if (func === undefined) continue;
    const signature = kfuncSignature(kernel, func);
    return {
      signatures: [
        {
          label: signature.label,
          documentation: { kind: MarkupKind.Markdown, value: kfuncDocumentation(kernel, func) },
          parameters: signature.parameters.map((label) => ({ label })),
          activeParameter: bracket.commas,
        },
      ],
      activeSignature: 0,
      activeParameter: bracket.commas,
    };
  }
  return null;
}
