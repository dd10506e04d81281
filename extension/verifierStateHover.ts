/**
 * Hovering a source line after a verify shows what the verifier knew there: the register and
 * stack state before the line's first instruction (the first time the walk came to it), each
 * register the line reads told in words, and what the line cost (instruction visits, entries).
 * Read from the programs' walks in the file's report (remote-agent/client/verifierWalk.ts).
 */
import * as vscode from 'vscode';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { describeValue, parseRegisterState } from '../remote-agent/client/registerState';
import type { WalkedLine } from '../remote-agent/client/verifierWalk';
import type { FileVerifier } from './fileVerifier';

/** Registers and slots shown in words at most; the state line above lists all of them. */
const MAX_EXPLAINED = 8;

export function registerVerifierStateHover(verifier: FileVerifier): vscode.Disposable {
  return vscode.languages.registerHoverProvider(
    { scheme: 'file', pattern: '**/*.{c,h}' },
    {
      provideHover(document, position) {
        const file = document.uri.fsPath;
        const line = position.line + 1;
        const sections = verifier
          .allReports()
          .flatMap((report) => walkedHere(report, file, line).map(({ program, walked }) => stateMarkdown(report, program, walked)));
        if (sections.length === 0) return undefined;
        const markdown = new vscode.MarkdownString(sections.join('\n\n---\n\n'));
        return new vscode.Hover(markdown, document.lineAt(position.line).range);
      },
    },
  );
}

function walkedHere(report: CheckReport, file: string, line: number): Array<{ program: string; walked: WalkedLine }> {
  return report.programs.flatMap((p) => {
    const walked = p.walk?.lines.find((l) => l.line === line && l.file === file);
    return walked ? [{ program: p.name, walked }] : [];
  });
}

/** Markdown of one program's state on one line; everything from the log goes in code spans or fences. */
export function stateMarkdown(report: CheckReport, program: string, walked: WalkedLine): string {
  const state = parseRegisterState(walked.stateBefore);
  const visits = `${walked.insnsProcessed.toLocaleString('en-US')} instruction visit${walked.insnsProcessed === 1 ? '' : 's'}`;
  const entries = walked.entries > 1 ? ` over ${walked.entries.toLocaleString('en-US')} entries` : '';
  const lines = [
    `**Verifier state before this line** — \`${program}\` on ${plain(report.target)} (${plain(report.kernelRelease)}), first walk; ${visits}${entries}`,
    '```text',
    walked.stateBefore === '' ? '(no register state printed yet)' : walked.stateBefore.replace(/`/g, "'"),
    '```',
  ];
  const explained = walked.registers.filter((r) => state.has(r)).slice(0, MAX_EXPLAINED);
  for (const name of explained) lines.push(`- \`${name}\`: ${plain(describeValue(name, state.get(name)!))}`);
  return lines.join('\n');
}

/** Plain text safe inside markdown: no markup, no links, no HTML. */
function plain(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`);
}
