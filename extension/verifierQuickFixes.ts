/**
 * Quick fixes on verifier rejections: for an eBPF verifier diagnostic in a *.bpf.c file, the edits
 * remote-agent/client/verifierFixes.ts computes from the file's text and the check report's
 * diagnostic (a NULL check, a data_end check, a zero initialiser, a ring buffer discard, a GPL
 * license, a size clamp), and an action that opens the rejection's explanation in the docs.
 */
import * as vscode from 'vscode';
import type { SourceDiagnostic } from '../remote-agent/client/checkReport';
import { docsUrl } from '../remote-agent/client/docsUrl';
import { verifierFixes } from '../remote-agent/client/verifierFixes';
import type { FileVerifier } from './fileVerifier';

/** reportDiagnostics.ts names the verifier's diagnostics so. */
const VERIFIER_SOURCE = 'eBPF verifier';

export function registerVerifierQuickFixes(verifier: FileVerifier): vscode.Disposable {
  const provider: vscode.CodeActionProvider = {
    provideCodeActions(document, _range, context) {
      const report = verifier.reportFor(document.uri);
      if (!report) return [];
      const actions: vscode.CodeAction[] = [];
      for (const shown of context.diagnostics) {
        if (shown.source !== VERIFIER_SOURCE) continue;
        const diagnostic = reportDiagnosticOf(report.diagnostics, document, shown);
        if (!diagnostic) continue;
        verifierFixes(document.getText(), diagnostic).forEach((fix, i) => {
          const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
          action.diagnostics = [shown];
          action.isPreferred = i === 0;
          action.edit = new vscode.WorkspaceEdit();
          for (const e of fix.edits) action.edit.replace(document.uri, new vscode.Range(e.start.line, e.start.character, e.end.line, e.end.character), e.newText);
          actions.push(action);
        });
        if (diagnostic.explanation) {
          const explain = new vscode.CodeAction(`Explain: ${diagnostic.explanation.title}`, vscode.CodeActionKind.Empty);
          explain.command = { title: explain.title, command: 'vscode.open', arguments: [vscode.Uri.parse(docsUrl(diagnostic.explanation.docs))] };
          actions.push(explain);
        }
      }
      return actions;
    },
  };
  return vscode.languages.registerCodeActionsProvider({ scheme: 'file', pattern: '**/*.bpf.c' }, provider, {
    providedCodeActionKinds: [vscode.CodeActionKind.QuickFix, vscode.CodeActionKind.Empty],
  });
}

/**
 * The report's diagnostic behind one shown in the editor: same file and line, and the shown
 * message starts with the verifier's (reportDiagnostics.ts appends the explanation).
 */
function reportDiagnosticOf(diagnostics: readonly SourceDiagnostic[], document: vscode.TextDocument, shown: vscode.Diagnostic): SourceDiagnostic | undefined {
  const line = shown.range.start.line + 1;
  return diagnostics.find((d) => d.source === 'verifier' && d.file === document.uri.fsPath && d.line === line && shown.message.startsWith(d.message));
}
