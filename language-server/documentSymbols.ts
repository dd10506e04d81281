// The document outline: programs (detail: their section), maps (detail: their map type) and the license.
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentModel, Span } from './documentModel';

export function documentSymbols(document: TextDocument, model: DocumentModel): DocumentSymbol[] {
  const range = (span: Span) => ({ start: document.positionAt(span.start), end: document.positionAt(span.end) });
  const symbols: DocumentSymbol[] = [
    ...model.programs.map((p) => ({ name: p.name, detail: p.section!.name, kind: SymbolKind.Function, range: range(p.span), selectionRange: range(p.nameSpan) })),
    ...model.maps.map((m) => ({ name: m.name, detail: m.type ?? '', kind: SymbolKind.Variable, range: range(m.span), selectionRange: range(m.nameSpan) })),
  ];
  const license = model.license;
  if (license !== null) {
    const nameStart = document.getText().indexOf(license.name, license.span.start);
    symbols.push({
      name: license.name,
      detail: license.value ?? '',
      kind: SymbolKind.Constant,
      range: range(license.span),
      selectionRange: range({ start: nameStart, end: nameStart + license.name.length }),
    });
  }
  return symbols.sort((a, b) => a.range.start.line - b.range.start.line);
}
