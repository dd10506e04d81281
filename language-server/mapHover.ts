// Hover on a map's name, wherever it is used: its definition summarised (type, key, value,
// max_entries) with what the map type is for.
import { MarkupKind, type Hover } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { identifierAt } from './cursorContext';
import type { DocumentModel, MapDefinition } from './documentModel';
import { findMapType } from './mapDefinitions';

function fieldValue(map: MapDefinition, key: string): string | undefined {
  return map.fields.find((f) => f.key === key)?.value;
}

export function mapHoverMarkdown(model: DocumentModel, map: MapDefinition): string {
  const info = map.type ? findMapType(map.type) : undefined;
  const key = fieldValue(map, 'key') ?? (fieldValue(map, 'key_size') ? `${fieldValue(map, 'key_size')} bytes` : undefined);
  const value = fieldValue(map, 'value') ?? fieldValue(map, 'values') ?? (fieldValue(map, 'value_size') ? `${fieldValue(map, 'value_size')} bytes` : undefined);
  const lines = [`\`\`\`c\n${model.text.slice(map.span.start, map.span.end)}\n\`\`\``, ''];
  lines.push(`**${map.name}**: \`${map.type ?? 'no __uint(type, …)'}\``);
  if (key !== undefined) lines.push(`- key: \`${key}\``);
  if (value !== undefined) lines.push(`- value: \`${value}\``);
  const maxEntries = fieldValue(map, 'max_entries');
  if (maxEntries !== undefined) lines.push(`- max_entries: \`${maxEntries}\``);
  if (info) lines.push('', info.summary + (info.notes ? ` ${info.notes}` : ''));
  return lines.join('\n');
}

export function hoverMap(document: TextDocument, model: DocumentModel, offset: number): Hover | null {
  const word = identifierAt(model.text, offset);
  if (word === undefined || model.code.slice(word.start, word.end) !== word.name) return null; // in a comment or string
  const map = model.maps.find((m) => m.name === word.name);
  if (map === undefined) return null;
  return {
    contents: { kind: MarkupKind.Markdown, value: mapHoverMarkdown(model, map) },
    range: { start: document.positionAt(word.start), end: document.positionAt(word.end) },
  };
}
