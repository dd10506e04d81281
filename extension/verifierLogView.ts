/**
 * The verifier log view: a webview panel per program, beside its source. The extension host keeps
 * the log indexed (verifierLogRows.ts) and answers the webview's requests for the rows in view,
 * searches and register filters, so even a log of a million lines never crosses to the webview as
 * a whole. A click on a row reveals its source line in the editor beside; a new check of the file
 * refreshes the panel. "Open as Text" puts the raw log in an editor, to copy or save.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckReport, ProgramReport } from '../remote-agent/client/checkReport';
import type { ExtensionLog } from './extensionLog';
import type { FileVerifier } from './fileVerifier';
import { parseFromWebview, type ToWebview } from './verifierLogMessages';
import { verifierLogPage } from './verifierLogPage';
import { clip, IndexedLog, LogView, LogViewSession, programStats, type LogHeading } from './verifierLogRows';

const VIEW_TYPE = 'ebpfStudio.verifierLog';

export class VerifierLogPanels implements vscode.Disposable {
  private readonly panels = new Map<string, LogPanel>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly verifier: FileVerifier,
    private readonly log: ExtensionLog,
  ) {
    this.subscription = verifier.onDidChangeReport((uri) => this.reportChanged(uri));
  }

  /** Opens (or brings forward) the log view of `program`, with the report's latest log. */
  show(report: CheckReport, program: ProgramReport): void {
    const key = `${report.file}\n${program.name}`;
    const open = this.panels.get(key);
    if (open) {
      open.update(report, program);
      open.panel.reveal(undefined, false);
      return;
    }
    const panel = new LogPanel(this.extensionUri, report, program, this.log);
    this.panels.set(key, panel);
    panel.panel.onDidDispose(() => this.panels.delete(key));
  }

  dispose(): void {
    this.subscription.dispose();
    for (const panel of this.panels.values()) panel.panel.dispose();
  }

  private reportChanged(uri: vscode.Uri): void {
    const report = this.verifier.reportFor(uri);
    // A file closed (report forgotten) keeps its views as they were.
    if (!report) return;
    for (const panel of this.panels.values()) {
      if (panel.file !== report.file) continue;
      const program = report.programs.find((p) => p.name === panel.programName);
      if (program) panel.update(report, program);
      else panel.post({ type: 'notice', text: `${panel.programName} is not in the latest check of ${path.basename(report.file)}: this is the log of an earlier check.` });
    }
  }
}

class LogPanel {
  readonly panel: vscode.WebviewPanel;
  readonly file: string;
  readonly programName: string;
  private program: ProgramReport;
  private readonly session: LogViewSession;
  /** The editor group the source was in when the view opened: where rows are revealed. */
  private readonly sourceColumn: vscode.ViewColumn;

  constructor(
    extensionUri: vscode.Uri,
    report: CheckReport,
    program: ProgramReport,
    private readonly log: ExtensionLog,
  ) {
    this.file = report.file;
    this.programName = program.name;
    this.program = program;
    const indexed = indexLog(report, program);
    this.session = new LogViewSession(new LogView(indexed), heading(report, program, indexed));
    this.sourceColumn = editorOf(report.file)?.viewColumn ?? vscode.window.activeTextEditor?.viewColumn ?? vscode.ViewColumn.One;
    const assets = vscode.Uri.joinPath(extensionUri, 'out', 'webview');
    this.panel = vscode.window.createWebviewPanel(
      VIEW_TYPE,
      `Verifier Log: ${program.name}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: true, localResourceRoots: [assets], retainContextWhenHidden: true },
    );
    this.panel.webview.html = html(this.panel.webview, assets);
    this.panel.webview.onDidReceiveMessage((message: unknown) => this.receive(message));
  }

  /** Shows the program's log of a newer check (the same log again changes nothing). */
  update(report: CheckReport, program: ProgramReport): void {
    const changed = program.log !== this.program.log;
    this.program = program;
    if (!changed) return;
    const indexed = indexLog(report, program);
    this.post(this.session.replace(indexed, heading(report, program, indexed)));
  }

  post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private receive(raw: unknown): void {
    const message = parseFromWebview(raw);
    if (!message) {
      this.log.info('Verifier log view: ignored a malformed message from the webview');
      return;
    }
    if (message.type === 'reveal') void this.reveal(message.line);
    else if (message.type === 'openText') void this.openAsText();
    else {
      const answer = this.session.answer(message);
      if (answer) this.post(answer);
    }
  }

  /** Shows the source line of a log line in the editor beside, the cursor on its code; the focus stays here. */
  private async reveal(line: number): Promise<void> {
    const source = line < this.session.log.lineCount ? this.session.log.sourceOf(line) : undefined;
    if (!source) {
      vscode.window.setStatusBarMessage(`eBPF: log line ${line + 1} comes before the first instruction placed on a source line`, 4000);
      return;
    }
    try {
      const document = await vscode.workspace.openTextDocument(vscode.Uri.file(source.file));
      const lineIndex = Math.min(Math.max(source.line - 1, 0), document.lineCount - 1);
      const text = document.lineAt(lineIndex);
      const code = new vscode.Range(lineIndex, text.firstNonWhitespaceCharacterIndex, lineIndex, text.range.end.character);
      const column = editorOf(source.file)?.viewColumn ?? this.sourceColumn;
      const editor = await vscode.window.showTextDocument(document, { viewColumn: column, preserveFocus: true, preview: false });
      editor.selection = new vscode.Selection(code.end, code.start);
      editor.revealRange(code, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    } catch (error) {
      void vscode.window.showWarningMessage(`Cannot show ${source.file}:${source.line}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async openAsText(): Promise<void> {
    const document = await vscode.workspace.openTextDocument({ content: this.program.log, language: 'log' });
    await vscode.window.showTextDocument(document, { viewColumn: this.panel.viewColumn ?? vscode.ViewColumn.Beside, preview: false });
  }
}

/** Whose log it is, on which kernel, and the verifier's figures. */
function heading(report: CheckReport, program: ProgramReport, indexed: IndexedLog): LogHeading {
  return {
    title: clip(`${program.name} (${program.section}, ${program.type})`, 400),
    subtitle: clip(`${vscode.workspace.asRelativePath(report.file)} on ${report.target}, kernel ${report.kernelRelease}${program.ok ? '' : ` · rejected: ${program.error ?? 'see the log'}`}`, 400),
    stats: programStats(program, indexed.lineCount),
    notice: program.log.trim() === '' ? 'The kernel wrote no log for this program.' : null,
  };
}

/** The program's log indexed, placed on source lines by its walk, else by the annotations' file names. */
function indexLog(report: CheckReport, program: ProgramReport): IndexedLog {
  const diagnostic = report.diagnostics.find((d) => d.source === 'verifier' && d.program === program.name);
  const known = [report.file, ...report.diagnostics.flatMap((d) => [d.file, ...(d.related ?? []).map((r) => r.file)])];
  return new IndexedLog({
    log: program.log,
    ...(program.walk ? { logSources: program.walk.logSources } : {}),
    rejected: !program.ok,
    ...(diagnostic?.related ? { related: diagnostic.related } : {}),
    resolveFile: (name) => {
      const base = path.basename(name);
      const candidate = known.find((f) => path.basename(f) === base) ?? path.join(path.dirname(report.file), name);
      return existsSync(candidate) ? candidate : undefined;
    },
  });
}

function editorOf(file: string): vscode.TextEditor | undefined {
  return vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'file' && e.document.uri.fsPath === file);
}

function html(webview: vscode.Webview, assets: vscode.Uri): string {
  return verifierLogPage({
    nonce: randomBytes(16).toString('base64'),
    cspSource: webview.cspSource,
    script: webview.asWebviewUri(vscode.Uri.joinPath(assets, 'verifierLog.js')).toString(),
    styles: ['controls.css', 'verifierLog.css'].map((name) => webview.asWebviewUri(vscode.Uri.joinPath(assets, name)).toString()),
  });
}
