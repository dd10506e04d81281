// Completion inside SEC("…"): libbpf's section names with their program type and what follows them,
// then, after `tracepoint/` or `tp/`, the categories and events of this machine's tracefs. Targets
// that the kernel's BTF names (kprobe/, fentry/, tp_btf/, lsm/, …) are sectionTargets.ts's, which
// server.ts asks first; other targets (uprobe paths, usdt, …) get no list.
import { readFileSync } from 'node:fs';
import { CompletionItemKind, MarkupKind, type CompletionItem } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { scanCursorContext } from './cursorContext';
import { programTypes } from './programTypes';
import { sectionDefinitions, type SectionDefinition } from './sectionTable';

let localTracepoints: readonly string[] | undefined;

/** `CATEGORY/EVENT` for every tracepoint of this machine's tracefs; empty when tracefs is not readable. */
function tracepointsOfThisMachine(): readonly string[] {
  if (localTracepoints === undefined) {
    let listing = '';
    for (const path of ['/sys/kernel/tracing/available_events', '/sys/kernel/debug/tracing/available_events']) {
      try {
        listing = readFileSync(path, 'utf8');
        break;
      } catch {
        // Not mounted or not readable (unprivileged): try the other mount point; none gives no names.
      }
    }
    localTracepoints = listing.split('\n').filter((l) => l.includes(':')).map((l) => l.replace(':', '/'));
  }
  return localTracepoints;
}

function programTypeDetail(definition: SectionDefinition): string {
  if (definition.programType === null) return 'data section';
  const type = `BPF_PROG_TYPE_${definition.programType.toUpperCase()}`;
  return definition.attachType ? `${type} · ${definition.attachType}` : type;
}

/** Markdown describing a section: shared with hover. */
export function sectionDocumentation(definition: SectionDefinition): string {
  const lines = [definition.summary, ''];
  if (definition.programType !== null) {
    const info = programTypes[definition.programType];
    lines.push(`**Program type** \`${definition.programType}\`${definition.attachType ? ` · attach type \`${definition.attachType}\`` : ''}${definition.sleepable ? ' · sleepable' : ''}`);
    if (definition.target) {
      lines.push('', `**Target** \`${definition.prefix}/${definition.target.form}\`: ${definition.target.description}.`);
    }
    if (info) {
      const macros = info.macros.length > 0 ? ` (or declare it with ${info.macros.map((m) => `\`${m}\``).join(', ')})` : '';
      if (info.contextTypes.length > 0) lines.push('', `**Context** ${info.contextTypes.map((t) => `\`${t}\``).join(' or ')}${macros}`);
      lines.push('', `**Returns** ${info.returns}`);
    }
  }
  lines.push('', `Example: \`SEC("${definition.example}")\``);
  if (definition.sinceLibbpf) lines.push('', `Needs libbpf ${definition.sinceLibbpf} or newer.`);
  if (definition.deprecated) lines.push('', `Deprecated: ${definition.deprecated}.`);
  return lines.join('\n');
}

/** The section string's content before the cursor, when the cursor is inside SEC("…"). */
export function sectionStringAt(document: TextDocument, offset: number): { start: number; typed: string } | undefined {
  const text = document.getText();
  const context = scanCursorContext(text, offset);
  if (context.region !== 'string' || context.openBrackets.at(-1)?.callee !== 'SEC') return undefined;
  const start = text.lastIndexOf('"', offset - 1) + 1;
  return { start, typed: text.slice(start, offset) };
}

export function completeSection(document: TextDocument, offset: number): CompletionItem[] | undefined {
  const section = sectionStringAt(document, offset);
  if (section === undefined) return undefined;
  const typed = section.typed.replace(/^\?/, '');
  const start = section.start + (section.typed.length - typed.length);

  // After a target-taking prefix and '/': complete the target.
  const owner = sectionDefinitions.find((d) => d.target !== null && typed.startsWith(`${d.prefix}/`));
  if (owner !== undefined) {
    if (owner.programType !== 'tracepoint') return [];
    return targetItems(document, offset, owner, typed.slice(owner.prefix.length + 1), tracepointsOfThisMachine());
  }

  const range = { start: document.positionAt(start), end: document.positionAt(offset) };
  return sectionDefinitions.map((definition) => {
    const label = definition.target === null ? definition.prefix : `${definition.prefix}/`;
    return {
      label,
      kind: definition.programType === null ? CompletionItemKind.Constant : CompletionItemKind.Event,
      detail: programTypeDetail(definition),
      documentation: { kind: MarkupKind.Markdown, value: sectionDocumentation(definition) },
      textEdit: { range, newText: label },
      ...(definition.deprecated ? { tags: [1 /* CompletionItemTag.Deprecated */] } : {}),
    };
  });
}

/**
 * Tracepoints complete one level at a time (`syscalls/`, then `sys_enter_execve`); other targets
 * are offered whole.
 */
function targetItems(document: TextDocument, offset: number, owner: SectionDefinition, typed: string, names: readonly string[]): CompletionItem[] {
  const levels = owner.target!.parts;
  const slash = typed.lastIndexOf('/');
  const level = slash === -1 ? 0 : typed.split('/').length - 1;
  const segmentStart = offset - (typed.length - slash - 1);
  const range = { start: document.positionAt(segmentStart), end: document.positionAt(offset) };
  const parent = slash === -1 ? '' : typed.slice(0, slash + 1);
  const seen = new Set<string>();
  const items: CompletionItem[] = [];
  for (const name of names) {
    if (!name.startsWith(parent)) continue;
    const parts = name.slice(parent.length).split('/');
    const isLast = level >= levels - 1 || parts.length === 1;
    const label = isLast ? parts.join('/') : `${parts[0]}/`;
    if (seen.has(label)) continue;
    seen.add(label);
    items.push({
      label,
      kind: isLast ? CompletionItemKind.Event : CompletionItemKind.Folder,
      detail: isLast ? `${owner.prefix}/${parent}${label}` : `tracepoint category`,
      textEdit: { range, newText: label },
    });
  }
  return items;
}
