// Completion for maps: the document's map names where a helper expects a map pointer (the helper
// table's `void *map` / `ringbuf` / `prog_array_map` parameters), and inside a BTF map definition the
// keys (`__uint(max_entries, …)` …) and the map types after `__uint(type, `.
import { CompletionItemKind, MarkupKind, type CompletionItem } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { scanCursorContext } from './cursorContext';
import type { DocumentModel } from './documentModel';
import { bpfHelpers } from './helperTable';
import { mapDefinitionKeys, mapTypes } from './mapDefinitions';
import { mapHoverMarkdown } from './mapHover';

const MAP_PARAMETER_NAMES = new Set(['map', 'ringbuf', 'prog_array_map']);

/** Helper name → index of its map-pointer argument. */
const mapArgumentIndex = new Map(
  bpfHelpers.flatMap((helper) => {
    const index = helper.params.findIndex((p) => p.type === 'void *' && MAP_PARAMETER_NAMES.has(p.name));
    return index === -1 ? [] : [[helper.name, index] as const];
  }),
);

function typedWordStart(text: string, offset: number): number {
  let start = offset;
  while (start > 0 && /\w/.test(text[start - 1])) start--;
  return start;
}

function mapNameItems(document: TextDocument, model: DocumentModel, offset: number): CompletionItem[] {
  const text = document.getText();
  const start = typedWordStart(text, offset);
  let before = start - 1;
  while (before >= 0 && /\s/.test(text[before])) before--;
  const ampersand = text[before] === '&';
  const range = { start: document.positionAt(start), end: document.positionAt(offset) };
  return model.maps.map((map) => ({
    label: map.name,
    kind: CompletionItemKind.Variable,
    detail: map.type ?? 'map',
    documentation: { kind: MarkupKind.Markdown, value: mapHoverMarkdown(model, map) },
    textEdit: { range, newText: ampersand ? map.name : `&${map.name}` },
    filterText: map.name,
  }));
}

function mapDefinitionItems(document: TextDocument, offset: number, callee: string | null, commas: number, key: string | undefined): CompletionItem[] {
  const text = document.getText();
  const range = { start: document.positionAt(typedWordStart(text, offset)), end: document.positionAt(offset) };
  if (callee === '__uint' && commas === 1 && key === 'type') {
    return mapTypes.map((t) => ({
      label: t.name,
      kind: CompletionItemKind.EnumMember,
      detail: t.summary,
      documentation: t.notes ? { kind: MarkupKind.Markdown, value: t.notes } : undefined,
      textEdit: { range, newText: t.name },
    }));
  }
  if ((callee === '__uint' || callee === '__type' || callee === '__array' || callee === '__ulong') && commas === 0) {
    return mapDefinitionKeys
      .filter((k) => k.macro === callee || (callee === '__ulong' && k.macro === '__uint'))
      .map((k) => ({ label: k.name, kind: CompletionItemKind.Property, detail: k.example, documentation: k.description, textEdit: { range, newText: k.name } }));
  }
  if (callee !== null) return [];
  return mapDefinitionKeys.map((k) => ({
    label: k.name,
    kind: CompletionItemKind.Property,
    detail: k.example,
    documentation: k.description,
    filterText: k.name,
    textEdit: { range, newText: k.example },
  }));
}

/** Map completions at `offset`, or undefined when the cursor is not where a map or map key goes. */
export function completeMaps(document: TextDocument, model: DocumentModel, offset: number): CompletionItem[] | undefined {
  const text = document.getText();
  const context = scanCursorContext(text, offset);
  if (context.region !== 'code') return undefined;
  const innermost = context.openBrackets.at(-1);

  const definition = model.maps.find((m) => offset > m.body.start && offset < m.body.end);
  if (definition !== undefined) {
    const inField = innermost?.bracket === '(' ? innermost : undefined;
    const fieldKey = inField ? /(\w+)\s*,[^,]*$/.exec(text.slice(text.lastIndexOf('(', offset - 1) + 1, offset))?.[1] : undefined;
    return mapDefinitionItems(document, offset, inField?.callee ?? null, inField?.commas ?? 0, fieldKey);
  }

  if (innermost?.bracket === '(' && innermost.callee !== null && mapArgumentIndex.get(innermost.callee) === innermost.commas) {
    return mapNameItems(document, model, offset);
  }
  return undefined;
}
