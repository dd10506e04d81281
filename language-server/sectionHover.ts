// Hover on a SEC("…") string: what the section means to libbpf — program type, attach type, the
// target it names, the context the program receives and what its return value does.
import { MarkupKind, type Hover } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentModel } from './documentModel';
import { preferredContextType } from './programTypes';
import { sectionDocumentation } from './sectionCompletion';
import { matchSection } from './sectionTable';

export function hoverSection(document: TextDocument, model: DocumentModel, offset: number): Hover | null {
  const section = model.sections.find((s) => offset >= s.span.start && offset <= s.span.end);
  if (section === undefined) return null;
  const name = section.name.replace(/^\?/, '');
  const match = matchSection(name);
  const range = { start: document.positionAt(section.span.start), end: document.positionAt(section.span.end) };
  if (match === undefined) {
    return { contents: { kind: MarkupKind.Markdown, value: `\`SEC("${name}")\`: not a section name libbpf knows.` }, range };
  }
  const lines = [`\`SEC("${section.name}")\``];
  if (section.name.startsWith('?')) lines.push('', 'The leading `?` turns autoload off: libbpf loads it only after bpf_program__set_autoload(prog, true).');
  if (match.target !== '' && match.definition.target) lines.push('', `Target: \`${match.target}\``);
  const context = match.definition.programType ? preferredContextType(match.definition.programType, match.target) : undefined;
  if (context !== undefined && match.definition.programType === 'tracepoint') lines.push('', `Context for this event: \`${context}\``);
  lines.push('', sectionDocumentation(match.definition));
  return { contents: { kind: MarkupKind.Markdown, value: lines.join('\n') }, range };
}
