// Go to definition for what the document defines itself: maps, `struct NAME` and functions.
// Everything else (vmlinux.h types, helpers) is left to clangd, which reads the includes.
import type { Location } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { identifierAt } from './cursorContext';
import type { DocumentModel, Span } from './documentModel';

export function findDefinition(document: TextDocument, model: DocumentModel, offset: number): Location | null {
  const word = identifierAt(model.text, offset);
  if (word === undefined || model.code.slice(word.start, word.end) !== word.name) return null;
  const location = (span: Span): Location => ({
    uri: document.uri,
    range: { start: document.positionAt(span.start), end: document.positionAt(span.end) },
  });
  const afterStruct = /\b(struct|union)\s+$/.test(model.code.slice(Math.max(0, word.start - 16), word.start));
  if (afterStruct) {
    const struct = model.structs.find((s) => s.name === word.name);
    return struct ? location(struct.nameSpan) : null;
  }
  const map = model.maps.find((m) => m.name === word.name);
  if (map) return location(map.nameSpan);
  const fn = model.functions.find((f) => f.name === word.name);
  return fn ? location(fn.nameSpan) : null;
}
