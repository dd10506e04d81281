// Quick fixes: the edits our diagnostics point at (a NULL check after a map lookup, a license, the
// right context type, the section name meant), and the libbpf #include that declares a helper or
// macro the code uses. Fixes read what they need from the diagnostic's `data`.
import { CodeActionKind, type CodeAction, type Diagnostic, type Range, type TextEdit } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { identifierAt } from './cursorContext';
import { functionAt, type DocumentModel } from './documentModel';
import { DIAGNOSTIC_SOURCE, type DiagnosticData } from './diagnostics';
import { findHelper } from './helperTable';

/** Which libbpf header declares a name, for names not declared by bpf_helper_defs.h. */
const HEADER_OF: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    ['SEC', '__uint', '__type', '__array', '__ulong', 'bpf_printk', '__always_inline', '__noinline', '__weak', '__hidden', '__ksym', '__kconfig', 'LIBBPF_PIN_BY_NAME', 'bpf_tail_call_static', 'BPF_SEQ_PRINTF', 'BPF_SNPRINTF'].map(
      (n) => [n, 'bpf/bpf_helpers.h'],
    ),
  ),
  ...Object.fromEntries(
    ['BPF_KPROBE', 'BPF_KRETPROBE', 'BPF_KSYSCALL', 'BPF_KPROBE_SYSCALL', 'BPF_UPROBE', 'BPF_URETPROBE', 'BPF_PROG', 'BPF_PROG2', 'PT_REGS_PARM1', 'PT_REGS_PARM2', 'PT_REGS_PARM3', 'PT_REGS_PARM4', 'PT_REGS_PARM5', 'PT_REGS_RC', 'PT_REGS_IP', 'PT_REGS_SP', 'PT_REGS_FP', 'PT_REGS_PARM1_CORE', 'PT_REGS_PARM2_CORE', 'PT_REGS_RC_CORE'].map(
      (n) => [n, 'bpf/bpf_tracing.h'],
    ),
  ),
  ...Object.fromEntries(
    ['BPF_CORE_READ', 'BPF_CORE_READ_INTO', 'BPF_CORE_READ_STR_INTO', 'BPF_CORE_READ_USER', 'BPF_CORE_READ_BITFIELD', 'BPF_CORE_READ_BITFIELD_PROBED', 'BPF_PROBE_READ', 'bpf_core_read', 'bpf_core_read_str', 'bpf_core_read_user', 'bpf_core_field_exists', 'bpf_core_field_size', 'bpf_core_field_offset', 'bpf_core_type_exists', 'bpf_core_type_size', 'bpf_core_enum_value', 'bpf_core_enum_value_exists'].map(
      (n) => [n, 'bpf/bpf_core_read.h'],
    ),
  ),
  ...Object.fromEntries(['bpf_htons', 'bpf_ntohs', 'bpf_htonl', 'bpf_ntohl', 'bpf_cpu_to_be64', 'bpf_be64_to_cpu'].map((n) => [n, 'bpf/bpf_endian.h'])),
  ...Object.fromEntries(['BPF_USDT', 'bpf_usdt_arg', 'bpf_usdt_arg_cnt', 'bpf_usdt_cookie'].map((n) => [n, 'bpf/usdt.bpf.h'])),
};

/** The header that declares `name`: the table above, else bpf_helpers.h for every helper. */
export function declaringHeader(name: string): string | undefined {
  return HEADER_OF[name] ?? (findHelper(name) ? 'bpf/bpf_helpers.h' : undefined);
}

function lineIndent(document: TextDocument, offset: number): string {
  const line = document.positionAt(offset).line;
  const text = document.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } });
  return /^[ \t]*/.exec(text)![0];
}

/** One level of indentation as the function around `offset` writes it: its first body line's indent. */
function indentUnit(document: TextDocument, model: DocumentModel, offset: number): string {
  const fn = functionAt(model, offset);
  const body = fn === undefined ? '' : document.getText().slice(fn.body.start + 1, fn.body.end);
  return /\n([ \t]+)\S/.exec(body)?.[1] ?? '\t';
}

function fix(title: string, uri: string, edits: TextEdit[], diagnostic?: Diagnostic, preferred = true): CodeAction {
  return {
    title,
    kind: CodeActionKind.QuickFix,
    ...(diagnostic ? { diagnostics: [diagnostic] } : {}),
    isPreferred: preferred,
    edit: { changes: { [uri]: edits } },
  };
}

function endOfDocumentInsertion(document: TextDocument, text: string): TextEdit {
  const content = document.getText();
  const end = document.positionAt(content.length);
  return { range: { start: end, end }, newText: `${content.endsWith('\n') || content === '' ? '' : '\n'}\n${text}\n` };
}

function fixDiagnostic(document: TextDocument, model: DocumentModel, diagnostic: Diagnostic): CodeAction[] {
  const data = diagnostic.data as DiagnosticData | undefined;
  if (diagnostic.source !== DIAGNOSTIC_SOURCE || data === undefined) return [];
  const uri = document.uri;
  switch (data.fix) {
    case 'replace':
      return [fix(`Change to "${data.newText}"`, uri, [{ range: diagnostic.range, newText: data.newText }], diagnostic)];
    case 'null-check': {
      const indent = lineIndent(document, data.statementEnd - 1);
      const at = document.positionAt(data.statementEnd);
      return [
        fix(`Return ${data.returnValue} when ${data.variable} is NULL`, uri, [
          { range: { start: at, end: at }, newText: `\n${indent}if (!${data.variable})\n${indent}${indentUnit(document, model, data.statementEnd)}return ${data.returnValue};` },
        ], diagnostic),
      ];
    }
    case 'add-license':
      return [fix('Add char LICENSE[] SEC("license") = "GPL";', uri, [endOfDocumentInsertion(document, 'char LICENSE[] SEC("license") = "GPL";')], diagnostic)];
    case 'gpl-license': {
      const license = model.license;
      if (license === null || license.value === null) return [];
      const valueStart = document.getText().indexOf(`"${license.value}"`, license.span.start) + 1;
      const range: Range = { start: document.positionAt(valueStart), end: document.positionAt(valueStart + license.value.length) };
      return [fix('Change the license to "Dual BSD/GPL"', uri, [{ range, newText: 'Dual BSD/GPL' }], diagnostic, false)];
    }
    case 'context-type':
      return [fix(`Change the parameter type to ${data.newType}`, uri, [{ range: diagnostic.range, newText: data.newType }], diagnostic)];
  }
}

/** Where a new #include goes: after the last one, else after the leading comment block. */
function includeInsertion(document: TextDocument, model: DocumentModel, header: string): TextEdit {
  const last = model.includes.at(-1);
  let line: number;
  if (last !== undefined) line = document.positionAt(last.span.end).line + 1;
  else {
    const lines = document.getText().split('\n');
    line = 0;
    while (line < lines.length && /^\s*(\/\/|\/\*|\*)/.test(lines[line])) line++;
  }
  const at = { line, character: 0 };
  return { range: { start: at, end: at }, newText: `#include <${header}>\n` };
}

export function codeActions(document: TextDocument, model: DocumentModel, range: Range, diagnostics: Diagnostic[]): CodeAction[] {
  const actions = diagnostics.flatMap((d) => fixDiagnostic(document, model, d));
  const word = identifierAt(document.getText(), document.offsetAt(range.start));
  const header = word && declaringHeader(word.name);
  if (header && !model.includes.some((i) => i.path === header)) {
    actions.push(fix(`Add #include <${header}> (declares ${word.name})`, document.uri, [includeInsertion(document, model, header)], undefined, false));
  }
  return actions;
}
