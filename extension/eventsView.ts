/**
 * The Events view: a webview in the panel with the decoded records of every running stream, one
 * stream at a time, as a table. Built to stay responsive at 100k events/s: the extension keeps
 * only the newest MAX_ROWS rows per stream (flattening only those), counts everything, and sends
 * the webview what changed at most 10 times a second, and only once it drew the last rows it got
 * (RowsPacing), so a busy webview gets fewer, newer rows rather than a backlog; the webview draws
 * only the visible rows.
 * The counters of a stream travel in the same message as its rows, so what the view counts always
 * agrees with the rows it shows.
 * Pause freezes the table (counters keep counting), Clear empties it, Export writes the rows that
 * match the filter as JSON or CSV. A value longer than EVENTS_MAX_CELL characters (a 1 MiB string from
 * the target) is held cut, saying its length, so the rows held stay bounded in memory.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { EventBatch } from '../remote-agent/client/programRun';
import { EVENTS_MAX_ROWS, parseFilter, rowMatcher, rowsToCsv, rowsToJson, RowTable, type EventRow, type RecordValue } from './eventRows';
import { parseFromWebview, RowsPacing, type StreamInfo, type ToWebview } from './eventsMessages';
import type { ExtensionLog } from './extensionLog';
import type { AttachedRun, RunningPrograms } from './runningPrograms';
import { errorMessage } from './settings';
import { webviewPage } from './webviewPage';

export const EVENTS_VIEW_ID = 'ebpfStudio.events';
const MAX_ROWS = EVENTS_MAX_ROWS;
const FLUSH_MS = 100;
const RATE_WINDOW_MS = 1000;

class StreamFeed {
  readonly table = new RowTable();
  /** Rows added since the webview last got them (for the selected stream). */
  pending: EventRow[] = [];
  /** The webview must get every row again (columns changed, cleared, selected anew). */
  needsReset = true;
  /** The counters the webview last got with rows (JSON), to send them again only when they change. */
  sentInfo = '';
  ended: string | undefined;
  rate = 0;
  private rateFrom = { at: Date.now(), received: 0 };
  private programs: string[] = [];

  constructor(
    readonly key: string,
    readonly run: AttachedRun,
    readonly map: string,
  ) {}

  get label(): string {
    // Programs come and go in a run; once the run stopped, the label keeps the last ones.
    const programs = this.run.programs;
    if (programs.length > 0) this.programs = programs;
    return `${this.map} · ${this.programs.join(', ')} (${vscode.workspace.asRelativePath(this.run.file)}) on ${this.run.target}`;
  }

  /** Takes a batch: every record counts, only the newest MAX_ROWS are turned into rows. */
  add(batch: EventBatch, paused: boolean): void {
    if (paused) {
      this.table.skip(batch.records.length);
      return;
    }
    const { rows, newColumns } = this.table.add(batch.records as RecordValue[], batch.receivedAt);
    if (newColumns) this.needsReset = true;
    for (const row of rows) this.pending.push(row);
    if (this.pending.length > 2 * MAX_ROWS) this.pending = this.pending.slice(-MAX_ROWS);
  }

  clear(): void {
    this.table.ring.clear();
    this.pending = [];
    this.needsReset = true;
  }

  updateRate(now: number): void {
    const received = this.run.streams.get(this.map)?.counters.received ?? 0;
    const elapsed = now - this.rateFrom.at;
    if (elapsed < RATE_WINDOW_MS) return;
    this.rate = Math.max(0, Math.round(((received - this.rateFrom.received) * 1000) / elapsed));
    this.rateFrom = { at: now, received };
  }

  info(): StreamInfo {
    const state = this.run.streams.get(this.map);
    const counters = state?.counters ?? { received: 0, sent: 0, dropped: 0 };
    const note = this.run.bpfObject.streams.find((s) => s.map === this.map)?.note;
    const ended = this.ended ?? state?.ended;
    return {
      key: this.key,
      label: this.label,
      recordType: state?.recordType ?? 'unknown',
      ...counters,
      rate: this.rate,
      held: this.table.ring.length,
      ...(ended !== undefined && { ended }),
      ...(note !== undefined && { note }),
    };
  }
}

export class EventsView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly feeds = new Map<string, StreamFeed>();
  private selected: string | null = null;
  private paused = false;
  private readonly pacing = new RowsPacing();
  private readonly timer: NodeJS.Timeout;
  /** The editor to give the focus back to when the webview is ready. */
  private refocus: vscode.TextEditor | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly running: RunningPrograms,
    private readonly log: ExtensionLog,
  ) {
    this.disposables.push(
      running.onEvents(({ run, batch }) => this.feedOf(run, batch.map).add(batch, this.paused)),
      running.onDidChange(() => this.runsChanged()),
    );
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const assets = vscode.Uri.joinPath(this.extensionUri, 'out', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [assets] };
    view.webview.html = this.html(view.webview, assets);
    this.disposables.push(
      view.webview.onDidReceiveMessage((message: unknown) => this.receive(message)),
      view.onDidChangeVisibility(() => {
        // A hidden webview draws nothing, so it may not answer what it got before.
        this.pacing.forget();
        if (view.visible) this.resend();
      }),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
        this.pacing.forget();
      }),
    );
  }

  /**
   * Shows the view, on the first stream of `runId` when given, leaving the focus where it was
   * (the editor keeps it: code lenses only refresh in a focused editor).
   */
  async show(runId?: string): Promise<void> {
    if (typeof runId === 'string') {
      const feed = [...this.feeds.values()].find((f) => f.run.id === runId) ?? this.firstFeedOf(runId);
      if (feed) this.select(feed.key);
    }
    if (this.view) {
      this.view.show(true);
      return;
    }
    // Never shown yet: only the focus command creates it; the focus goes back to the editor once
    // the webview has loaded (it takes the focus when its content arrives).
    this.refocus = vscode.window.activeTextEditor;
    await vscode.commands.executeCommand(`${EVENTS_VIEW_ID}.focus`);
  }

  private async returnFocus(): Promise<void> {
    const editor = this.refocus;
    this.refocus = undefined;
    if (editor) await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, preserveFocus: false });
  }

  dispose(): void {
    clearInterval(this.timer);
    for (const d of this.disposables) d.dispose();
  }

  private firstFeedOf(runId: string): StreamFeed | undefined {
    const run = this.running.get(runId);
    const map = run?.bpfObject.streams[0]?.map;
    return run && map ? this.feedOf(run, map) : undefined;
  }

  private feedOf(run: AttachedRun, map: string): StreamFeed {
    const key = `${run.id}/${map}`;
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = new StreamFeed(key, run, map);
      this.feeds.set(key, feed);
      if (this.selected === null || this.feeds.get(this.selected)?.ended !== undefined) this.select(key);
    }
    return feed;
  }

  private runsChanged(): void {
    const live = new Set(this.running.runs().map((r) => r.id));
    for (const run of this.running.runs()) for (const stream of run.bpfObject.streams) this.feedOf(run, stream.map);
    for (const feed of this.feeds.values()) {
      // Rows of a detached run stay until cleared or replaced, so the last events can still be read and exported.
      if (!live.has(feed.run.id) && feed.ended === undefined) feed.ended = 'detached';
    }
    // Keep at most the live streams plus the few most recent ended ones.
    const ended = [...this.feeds.values()].filter((f) => f.ended !== undefined);
    for (const feed of ended.slice(0, Math.max(0, ended.length - 4))) {
      this.feeds.delete(feed.key);
      if (this.selected === feed.key) this.selected = null;
    }
    if (this.selected === null) {
      const next = [...this.feeds.values()].reverse().find((f) => f.ended === undefined) ?? [...this.feeds.values()].pop();
      if (next) this.select(next.key);
    }
    this.sendStreams();
  }

  private select(key: string): void {
    if (!this.feeds.has(key)) return;
    this.selected = key;
    const feed = this.feeds.get(key)!;
    feed.needsReset = true;
  }

  private receive(raw: unknown): void {
    const message = parseFromWebview(raw);
    if (!message) {
      this.log.info('Events view: ignored a malformed message from the webview');
      return;
    }
    switch (message.type) {
      case 'ready':
        this.pacing.forget();
        this.resend();
        void this.returnFocus();
        return;
      case 'drawn':
        this.pacing.drawn(message.seq);
        return;
      case 'select':
        this.select(message.key);
        this.sendStreams();
        return;
      case 'pause':
        this.paused = message.paused;
        this.sendStreams();
        return;
      case 'clear':
        for (const feed of this.feeds.values()) feed.clear();
        this.sendStreams();
        return;
      case 'export':
        void this.export(message.format, message.filter);
        return;
    }
  }

  private resend(): void {
    for (const feed of this.feeds.values()) feed.needsReset = true;
    this.sendStreams();
  }

  private flush(): void {
    const now = Date.now();
    for (const feed of this.feeds.values()) feed.updateRate(now);
    if (!this.view?.visible || !this.pacing.mayPost()) return;
    this.flushRows();
  }

  /**
   * Sends the selected stream's new rows together with its counters, when either changed. The
   * caller decides whether the webview's pacing allows it (a user's action and a run's change
   * always go at once).
   */
  private flushRows(): void {
    const feed = this.selected === null ? undefined : this.feeds.get(this.selected);
    if (!feed || !this.view) return;
    const stream = feed.info();
    const info = JSON.stringify(stream);
    if (feed.needsReset) {
      feed.needsReset = false;
      feed.pending = [];
      this.post({ type: 'rows', seq: this.pacing.posting(), key: feed.key, reset: true, columns: feed.table.columns, rows: feed.table.ring.toArray(), stream });
    } else if (feed.pending.length > 0 || info !== feed.sentInfo) {
      const rows = feed.pending.length > MAX_ROWS ? feed.pending.slice(-MAX_ROWS) : feed.pending;
      feed.pending = [];
      this.post({ type: 'rows', seq: this.pacing.posting(), key: feed.key, reset: false, columns: feed.table.columns, rows, stream });
    }
    feed.sentInfo = info;
  }

  /**
   * Sends the list of streams. The selected stream's rows go first, so the counters in the list
   * never count rows the webview has not got yet.
   */
  private sendStreams(): void {
    this.flushRows();
    this.post({ type: 'streams', streams: [...this.feeds.values()].map((f) => f.info()), selected: this.selected, paused: this.paused, maxRows: MAX_ROWS });
  }

  private post(message: ToWebview): void {
    // Serialisable by construction (strings and numbers); a hidden or disposed view just misses it.
    void this.view?.webview.postMessage(message);
  }

  private async export(format: 'json' | 'csv', filterText: string): Promise<void> {
    const feed = this.selected === null ? undefined : this.feeds.get(this.selected);
    if (!feed) {
      void vscode.window.showInformationMessage('There are no events to export: attach a program that writes to a ring buffer or perf buffer first.');
      return;
    }
    const filter = parseFilter(filterText);
    if (!filter.ok) {
      void vscode.window.showErrorMessage(`The filter is not valid, so nothing was exported: ${filter.error}`);
      return;
    }
    const matches = rowMatcher(filter.terms, feed.table.columns);
    const rows = feed.table.ring.toArray().filter(matches);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `${feed.map}-events.${format}`;
    const uri = await vscode.window.showSaveDialog({
      title: `Export ${rows.length} ${feed.map} events`,
      ...(folder && { defaultUri: vscode.Uri.joinPath(folder, name) }),
      filters: format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
    });
    if (!uri) return;
    try {
      const text = format === 'csv' ? rowsToCsv(feed.table.columns, rows) : rowsToJson(feed.table.columns, rows);
      await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
      vscode.window.setStatusBarMessage(`$(export) eBPF: exported ${rows.length} events to ${vscode.workspace.asRelativePath(uri)}`, 5000);
    } catch (error) {
      void vscode.window.showErrorMessage(`Exporting the events to ${uri.fsPath} failed: ${errorMessage(error)}`);
    }
  }

  private html(webview: vscode.Webview, assets: vscode.Uri): string {
    const uri = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(assets, name)).toString();
    const sources = { nonce: randomBytes(16).toString('base64'), cspSource: webview.cspSource, script: uri('events.js'), styles: [uri('controls.css'), uri('events.css')] };
    return webviewPage(
      sources,
      'eBPF Events',
      `
<div class="toolbar">
  <select id="stream" title="Stream (event map of an attached run)" aria-label="Stream"></select>
  <input id="filter" type="text" spellcheck="false" placeholder="Filter: pid=4242 comm~bash cpu>=2" aria-label="Filter" title="Terms separated by spaces, all must hold: field=value, field!=value, field~text (contains), field&gt;N, field&lt;N, or a bare word (any field contains)">
  <button id="pause" type="button" title="Freeze the table; counters keep counting">Pause</button>
  <button id="clear" type="button" title="Forget the rows shown">Clear</button>
  <button id="export-json" type="button" title="Save the rows that match the filter as JSON">Export JSON</button>
  <button id="export-csv" type="button" title="Save the rows that match the filter as CSV">Export CSV</button>
</div>
<div id="stats" class="stats"></div>
<div id="message" class="message" hidden></div>
<div id="scroller" class="scroller" tabindex="0">
  <table id="table"><thead><tr id="header"></tr></thead><tbody id="body"></tbody></table>
</div>
`,
    );
  }
}

export function registerEventsView(extensionUri: vscode.Uri, running: RunningPrograms, log: ExtensionLog): vscode.Disposable & { show(runId?: string): Promise<void> } {
  const view = new EventsView(extensionUri, running, log);
  const registration = vscode.window.registerWebviewViewProvider(EVENTS_VIEW_ID, view, { webviewOptions: { retainContextWhenHidden: true } });
  return {
    show: (runId) => view.show(runId),
    dispose: () => {
      registration.dispose();
      view.dispose();
    },
  };
}
