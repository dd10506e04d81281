// Hover on a BPF helper's name in code: its C signature, documentation and return value.
import { MarkupKind, type Hover } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { findHelper, helperHoverMarkdown } from './helperTable';
import { identifierAt, scanCursorContext } from './cursorContext';

export function hoverHelper(document: TextDocument, offset: number): Hover | null {
  const text = document.getText();
  const word = identifierAt(text, offset);
  if (word === undefined) return null;
  const helper = findHelper(word.name);
  if (helper === undefined || scanCursorContext(text, word.start).region !== 'code') return null;
  return {
    contents: { kind: MarkupKind.Markdown, value: helperHoverMarkdown(helper) },
    range: { start: document.positionAt(word.start), end: document.positionAt(word.end) },
  };
}
