// Signature help inside a call to a BPF helper: the signature with the argument under the cursor
// highlighted, counted from the commas of the call itself (nested calls, brackets, strings and
// comments do not count).
import { MarkupKind, type SignatureHelp } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { findHelper, helperDocumentation, parameterOffsets } from './helperTable';
import { scanCursorContext } from './cursorContext';

export function helperSignatureHelp(document: TextDocument, offset: number): SignatureHelp | null {
  const context = scanCursorContext(document.getText(), offset);
  if (context.region !== 'code') return null;
  // The innermost helper call: inside `bpf_probe_read_kernel(dst, sizeof(|` that is still the helper.
  for (let i = context.openBrackets.length - 1; i >= 0; i--) {
    const bracket = context.openBrackets[i];
    const helper = bracket.bracket === '(' && bracket.callee !== null ? findHelper(bracket.callee) : undefined;
    if (helper === undefined) continue;
    const offsets = parameterOffsets(helper);
    // Extra arguments of a variadic helper all belong to its trailing `...`; past the last parameter
    // of any other helper, the index stays out of range so that no parameter is highlighted.
    const activeParameter = helper.variadic ? Math.min(bracket.commas, offsets.length - 1) : bracket.commas;
    return {
      signatures: [
        {
          label: helper.signature,
          documentation: { kind: MarkupKind.Markdown, value: helperDocumentation(helper) },
          parameters: offsets.map((label) => ({ label })),
          activeParameter,
        },
      ],
      activeSignature: 0,
      activeParameter,
    };
  }
  return null;
}
