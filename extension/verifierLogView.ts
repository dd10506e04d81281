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
import { parseFromWebview, type FromWebview, type ToWebview } from './verifierLogMessages';
import { clip, IndexedLog, LogView, programStats } from './verifierLogRows';

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
  private report: CheckReport;
  private program: ProgramReport;
  private view: LogView;
  private generation = 0;
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
    this.report = report;
    this.program = program;
    this.view = new LogView(indexLog(report, program));
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

  /** Shows the program's log of a newer check (the same one again changes nothing). */
  update(report: CheckReport, program: ProgramReport): void {
    const changed = program.log !== this.program.log;
    this.report = report;
    this.program = program;
    if (!changed) return;
    // The new log is shown as the old one was: the same filter and search.
    const { filter } = this.view;
    const { query } = this.view.searchState();
    this.view = new LogView(indexLog(report, program));
    if (filter !== null) this.view.setFilter(filter);
    this.view.search(query, 0);
    this.sendLog(this.focusOnOpen(), null);
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
    this.handle(message);
  }

  private handle(message: FromWebview): void {
    switch (message.type) {
      case 'ready':
        this.sendLog(this.focusOnOpen(), null);
        return;
      case 'rows':
        if (message.generation === this.generation) this.post({ type: 'rows', generation: this.generation, from: message.from, rows: this.view.rows(message.from, message.count) });
        return;
      case 'filter':
        this.view.setFilter(message.register);
        this.sendLog(this.shownPosition(message.line), message.register !== null && this.view.total === 0 ? `No line mentions ${message.register}.` : null);
        return;
      case 'search':
        this.post({ type: 'search', generation: this.generation, search: this.view.search(message.query, message.from) });
        return;
      case 'step':
        this.post({ type: 'search', generation: this.generation, search: this.view.step(message.direction) });
        return;
      case 'reveal':
        void this.reveal(message.line);
        return;
      case 'openText':
        void this.openAsText();
        return;
    }
  }

  /** Where the view opens: the failing instruction, else the top. */
  private focusOnOpen(): number | null {
    const failing = this.view.log.failingLine;
    return failing === null ? null : this.shownPosition(failing);
  }

  /** The position of a line, or of the next line shown; null when nothing is shown. */
  private shownPosition(line: number): number | null {
    return this.view.total === 0 ? null : this.view.positionOf(line);
  }

  private sendLog(focus: number | null, notice: string | null): void {
    const { report, program } = this;
    const failing = this.view.log.failingLine;
    const failingPosition = failing === null ? null : this.shownPosition(failing);
    this.post({
      type: 'log',
      generation: ++this.generation,
      title: clip(`${program.name} (${program.section}, ${program.type})`, 400),
      subtitle: clip(`${vscode.workspace.asRelativePath(report.file)} on ${report.target}, kernel ${report.kernelRelease}${program.ok ? '' : ` · rejected: ${program.error ?? 'see the log'}`}`, 400),
      stats: programStats(program, this.view.log.lineCount),
      total: this.view.total,
      lineCount: this.view.log.lineCount,
      filter: this.view.filter,
      // Only when the filter shows it.
      failing: failingPosition !== null && this.view.lineAt(failingPosition) === failing ? failingPosition : null,
      focus,
      search: this.view.searchState(),
      notice: notice ?? (program.log.trim() === '' ? 'The kernel wrote no log for this program.' : null),
    });
  }

  /** Shows the source line of a log line in the editor beside, the cursor on its code; the focus stays here. */
  private async reveal(line: number): Promise<void> {
    const source = line < this.view.log.lineCount ? this.view.log.sourceOf(line) : undefined;
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
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(assets, 'verifierLog.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(assets, 'verifierLog.css'));
  const csp = [`default-src 'none'`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`, `font-src ${webview.cspSource}`].join('; ');
  const registers = Array.from({ length: 11 }, (_, i) => `<option value="R${i}">R${i}</option>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>Verifier Log</title>
</head>
<body>
<div class="toolbar">
  <input id="search" type="text" spellcheck="false" placeholder="Search the log" aria-label="Search the log" title="Enter: next match, Shift+Enter: previous">
  <span id="count" class="count" aria-live="polite"></span>
  <button id="previous" type="button" title="Previous match (Shift+Enter)" aria-label="Previous match">↑</button>
  <button id="next" type="button" title="Next match (Enter)" aria-label="Next match">↓</button>
  <select id="register" aria-label="Filter by register" title="Show only the lines whose instruction or state mentions this register, under their source lines"><option value="">All registers</option>${registers}</select>
  <button id="failing" type="button" title="Scroll to the instruction the verifier rejected">Failing Instruction</button>
  <button id="open-text" type="button" title="Open the raw log in an editor, to copy or save it">Open as Text</button>
</div>
<div class="heading"><span id="title" class="title"></span> <span id="subtitle" class="subtitle"></span></div>
<div id="stats" class="stats"></div>
<div id="notice" class="notice" hidden></div>
<div id="scroller" class="scroller" tabindex="0" role="listbox" aria-label="Verifier log">
  <div id="viewport" class="viewport"><div id="rows" class="rows"></div></div>
  <div id="spacer"></div>
</div>
<div id="detail" class="detail"></div>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}
