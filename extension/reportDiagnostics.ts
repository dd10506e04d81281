/**
 * Turns check reports into editor diagnostics: clang's errors and the verifier's rejections on
 * their source lines, in Problems, with what a verifier message means (title, explanation, fix,
 * docs link) after it, the causal chain and the path the verifier walked as related information, and
 * the program name linking to its full log. A report may put diagnostics on included headers
 * too, so each file's diagnostics are the union over every report that mentions it. A file the
 * Kernel Matrix has checked shows the matrix's merged diagnostics instead (kernelMatrixView.ts),
 * so the current target's problems are not listed twice. While the user edits, the diagnostics
 * are derived again from the report whose positions followed the edit (FileVerifier).
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { CheckReport, Severity, SourceDiagnostic } from '../remote-agent/client/checkReport';
import { docsUrl } from '../remote-agent/client/docsUrl';
import { Commands } from './commandIds';
import { commandUri, verifierLogArgs } from './commandLinks';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { staleNote } from './staleResults';
import type { FileVerifier } from './fileVerifier';

/** Report files whose diagnostics another source publishes instead, and when that changes. */
export interface DiagnosticsOverride {
  covers(reportFile: vscode.Uri): boolean;
  readonly onDidChange: vscode.Event<vscode.Uri>;
}

export function registerReportDiagnostics(verifier: FileVerifier, sessions: AgentSessions, log: ExtensionLog, override: DiagnosticsOverride): vscode.Disposable {
  const collection = vscode.languages.createDiagnosticCollection('ebpf');
  /** report file → (diagnosed file → diagnostics) */
  const byReport = new Map<string, Map<string, vscode.Diagnostic[]>>();

  const republish = (files: Iterable<string>): void => {
    for (const file of files) {
      const all = [...byReport].flatMap(([reportFile, perFile]) => {
        const uri = vscode.Uri.parse(reportFile);
        if (override.covers(uri)) return [];
        const diagnostics = perFile.get(file) ?? [];
        const target = verifier.reportFor(uri)?.target;
        const stale = target === undefined ? undefined : staleNote(sessions, target);
        return stale === undefined ? diagnostics : diagnostics.map((d) => markedStale(d, stale));
      });
      collection.set(vscode.Uri.parse(file), all);
    }
  };

  const onReport = async (reportFile: vscode.Uri): Promise<void> => {
    const key = reportFile.toString();
    const before = new Set(byReport.get(key)?.keys() ?? []);
    const report = verifier.reportFor(reportFile);
    if (report) {
      const converted = await diagnosticsOf(report, reportFile);
      if (verifier.reportFor(reportFile) !== report) return; // a newer report arrived meanwhile
      byReport.set(key, converted);
    } else {
      byReport.delete(key);
    }
    republish(new Set([...before, ...(byReport.get(key)?.keys() ?? [])]));
  };
  const show = (file: vscode.Uri): void => {
    onReport(file).catch((error: unknown) => log.info(`cannot show the diagnostics of ${file.fsPath}: ${String(error)}`));
  };

  return vscode.Disposable.from(
    collection,
    override.onDidChange((reportFile) => republish(byReport.get(reportFile.toString())?.keys() ?? [])),
    verifier.onDidChangeReport(show),
    verifier.onDidShiftReport(show),
    sessions.onDidChangeState((state) => {
      if (state.state === 'unreachable' || state.state === 'connected') republish(new Set([...byReport.values()].flatMap((perFile) => [...perFile.keys()])));
    }),
  );
}

/** A copy of `d` whose source says the target it came from is gone (Problems shows the source beside the message). */
function markedStale(d: vscode.Diagnostic, stale: string): vscode.Diagnostic {
  const copy = new vscode.Diagnostic(d.range, d.message, d.severity);
  copy.source = `${d.source ?? 'eBPF'} · ${stale}`;
  copy.code = d.code;
  copy.relatedInformation = d.relatedInformation;
  copy.tags = d.tags;
  return copy;
}

export async function diagnosticsOf(report: Pick<CheckReport, 'diagnostics'>, reportFile: vscode.Uri): Promise<Map<string, vscode.Diagnostic[]>> {
  const texts = new Map<string, string[] | undefined>();
  for (const file of new Set(report.diagnostics.flatMap((d) => [d.file, ...(d.related ?? []).map((r) => r.file)]))) {
    texts.set(file, await linesOf(file));
  }
  const result = new Map<string, vscode.Diagnostic[]>();
  for (const d of report.diagnostics) {
    const uri = vscode.Uri.file(d.file);
    // The verifier's column comes from line info and points into the statement (often at an
    // operator), so its diagnostics underline the statement; clang's column is exact.
    const column = d.source === 'verifier' ? 0 : d.column;
    const diagnostic = new vscode.Diagnostic(rangeOf(texts.get(d.file), d.line, column), messageOf(d), severityOf(d.severity));
    diagnostic.source = d.source === 'clang' ? 'clang' : 'eBPF verifier';
    if (d.program) {
      diagnostic.code = { value: d.program, target: commandUri(Commands.showVerifierLog, verifierLogArgs(reportFile, d.program)) };
    }
    if (d.related?.length) {
      diagnostic.relatedInformation = d.related.map(
        (r) => new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(r.file), rangeOf(texts.get(r.file), r.line, d.source === 'verifier' ? 0 : r.column)), r.message),
      );
    }
    const list = result.get(uri.toString()) ?? [];
    list.push(diagnostic);
    result.set(uri.toString(), list);
  }
  return result;
}

/**
 * The range a diagnostic underlines: from its column to the end of the identifier or number that
 * starts there, or the whole line (without indentation) when there is no column or no token.
 */
export function rangeOf(lines: string[] | undefined, line: number, column: number): vscode.Range {
  const lineIndex = Math.max(0, line - 1);
  const text = lines?.[lineIndex];
  if (text === undefined) return new vscode.Range(lineIndex, 0, lineIndex, Number.MAX_SAFE_INTEGER);
  const lineStart = text.length - text.trimStart().length;
  const lineEnd = text.trimEnd().length;
  if (column < 1 || column - 1 >= lineEnd) return new vscode.Range(lineIndex, lineStart, lineIndex, Math.max(lineStart, lineEnd));
  const start = column - 1;
  const token = /^[A-Za-z0-9_]+/.exec(text.slice(start));
  const end = token ? start + token[0].length : lineEnd;
  return new vscode.Range(lineIndex, start, lineIndex, end);
}

/** The message, then what it means, the usual fix and where it is documented (Problems and hover show it). */
function messageOf(d: SourceDiagnostic): string {
  const e = d.explanation;
  return e ? `${d.message}\n${e.title}: ${e.text}\nFix: ${e.fix}\n${docsUrl(e.docs)}` : d.message;
}

function severityOf(severity: Severity): vscode.DiagnosticSeverity {
  switch (severity) {
    case 'error':
      return vscode.DiagnosticSeverity.Error;
    case 'warning':
      return vscode.DiagnosticSeverity.Warning;
    case 'note':
      return vscode.DiagnosticSeverity.Information;
  }
}

async function linesOf(file: string): Promise<string[] | undefined> {
  const open = vscode.workspace.textDocuments.find((doc) => doc.uri.scheme === 'file' && doc.uri.fsPath === file);
  if (open) return open.getText().split(/\r?\n/);
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/);
  } catch {
    return undefined; // a file we cannot read still gets its diagnostic, on the whole line
  }
}
