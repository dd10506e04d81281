// Completion of BPF helper names: the helpers of the generated table, offered wherever an
// identifier may be typed in code (not in strings, comments, #include paths or after `.`/`->`);
// inside a program, only those its type may call on the target when the target's probe says so.
import { CompletionItemKind, InsertTextFormat, MarkupKind, type CompletionItem } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { bpfHelpers, findHelper, helperDocumentation, type BpfHelper } from './helperTable';
import { identifierAt, scanCursorContext } from './cursorContext';

export interface CompletionOptions {
  /** The client accepts snippet syntax: insert the call with a placeholder per parameter. */
  snippetSupport: boolean;
}

/** What the resolve request needs to find the item's helper again. */
interface HelperItemData {
  helper: string;
}

function escapeSnippetText(text: string): string {
  return text.replace(/[$}\\]/g, (c) => `\\${c}`);
}

function callSnippet(helper: BpfHelper): string {
  const placeholders = helper.params.map((p, i) => `\${${i + 1}:${escapeSnippetText(p.name)}}`);
  if (helper.variadic) placeholders.push(`\${${helper.params.length + 1}}`);
  return `${helper.name}(${placeholders.join(', ')})`;
}

function isMemberAccess(text: string, identifierStart: number): boolean {
  let i = identifierStart - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return text[i] === '.' || (text[i] === '>' && text[i - 1] === '-');
}

export function completeHelpers(
  document: TextDocument,
  offset: number,
  options: CompletionOptions,
  allowed: ReadonlySet<string> | null = null,
): CompletionItem[] {
  const text = document.getText();
  if (scanCursorContext(text, offset).region !== 'code') return [];

  let start = offset;
  while (start > 0 && /\w/.test(text[start - 1])) start--;
  if (/[0-9]/.test(text[start] ?? '') && start < offset) return []; // inside a number, not a name
  if (isMemberAccess(text, start)) return [];

  const range = { start: document.positionAt(start), end: document.positionAt(offset) };
  // With `(` already after the cursor, inserting another call would double the parentheses.
  const callFollows = text[identifierAt(text, offset)?.end ?? offset] === '(';
  const asSnippet = options.snippetSupport && !callFollows;

  const offered = allowed === null ? bpfHelpers : bpfHelpers.filter((helper) => allowed.has(helper.name));
  return offered.map((helper) => {
    const data: HelperItemData = { helper: helper.name };
    return {
      label: helper.name,
      kind: CompletionItemKind.Function,
      detail: helper.signature,
      textEdit: { range, newText: asSnippet ? callSnippet(helper) : helper.name },
      insertTextFormat: asSnippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
      data,
    };
  });
}

/** Adds the documentation, left out of the list itself to keep it small. */
export function resolveHelperCompletion(item: CompletionItem): CompletionItem {
  const name = (item.data as HelperItemData | undefined)?.helper;
  const helper = name === undefined ? undefined : findHelper(name);
  if (helper === undefined) return item;
  return { ...item, documentation: { kind: MarkupKind.Markdown, value: helperDocumentation(helper) } };
}
