// Completion of struct and union fields after `->` and `.`: the expression's type comes from
// expressionTypes.ts, kernel layouts from the target's BTF (with each field's offset and size, as
// the verifier and CO-RE see them), the document's own structs from the document.
import { CompletionItemKind, type CompletionItem } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { isIdentifierChar, scanCursorContext } from './cursorContext';
import { documentTypes, TypeResolver, type Field } from './expressionTypes';
import type { KernelTypeIndex } from './kernelTypes';

export interface MemberAccess {
  operator: '->' | '.';
  /** Where the operator starts: the expression ends here. */
  operatorStart: number;
  /** Where the (partly typed) field name starts. */
  nameStart: number;
  /** The field name as typed so far, '' right after the operator. */
  typed: string;
}

/** The `->` or `.` the cursor's identifier follows, if any. */
export function memberAccessAt(text: string, offset: number): MemberAccess | undefined {
  let nameStart = offset;
  while (nameStart > 0 && isIdentifierChar(text[nameStart - 1])) nameStart--;
  let i = nameStart;
  while (i > 0 && /\s/.test(text[i - 1])) i--;
  if (text[i - 1] === '>' && text[i - 2] === '-') return { operator: '->', operatorStart: i - 2, nameStart, typed: text.slice(nameStart, offset) };
  // `1.5` is a number, not a member access.
  if (text[i - 1] === '.' && !/[0-9]/.test(text[i - 2] ?? '') && text[i - 2] !== '.') {
    return { operator: '.', operatorStart: i - 1, nameStart, typed: text.slice(nameStart, offset) };
  }
  return undefined;
}

/** `offset 2416, size 4`, or for a bitfield `offset 1380 bit 3, 1 bit`; '' when the layout is unknown. */
export function fieldLayout(field: Field): string {
  if (field.bitOffset === undefined) return '';
  const byte = Math.floor(field.bitOffset / 8);
  if (field.bitSize !== undefined && field.bitSize > 0) {
    return `offset ${byte} bit ${field.bitOffset % 8}, ${field.bitSize} bit${field.bitSize === 1 ? '' : 's'}`;
  }
  return `offset ${byte}, size ${field.size}`;
}

/**
 * Fields for the member access at `offset`; undefined when the cursor is not after `->` or `.`
 * (other completions apply), [] when it is but the expression's type is not known.
 */
export function completeMembers(document: TextDocument, offset: number, kernel: KernelTypeIndex | undefined): CompletionItem[] | undefined {
  const text = document.getText();
  const access = memberAccessAt(text, offset);
  if (access === undefined) return undefined;
  if (scanCursorContext(text, access.operatorStart).region !== 'code') return undefined;
  const types = new TypeResolver(kernel?.btf, documentTypes(document));
  const type = types.expressionType(access.operatorStart);
  const record = type === undefined ? undefined : access.operator === '->' ? types.deref(type) : type;
  const fields = record === undefined ? undefined : types.fields(record);
  if (fields === undefined) return [];

  const range = { start: document.positionAt(access.nameStart), end: document.positionAt(offset) };
  return fields.map((field, index) => {
    const layout = fieldLayout(field);
    return {
      label: field.name,
      kind: CompletionItemKind.Field,
      detail: layout === '' ? field.typeName : `${field.typeName} · ${layout}`,
      // Declaration order, which is the layout order: what someone reading a struct expects.
      sortText: String(index).padStart(5, '0'),
      textEdit: { range, newText: field.name },
    };
  });
}
