/**
 * The user's edits of open C files, for the check reports that must follow them until the next
 * verify (VS Code does not move published diagnostics): each edit as line edits
 * (textEditShift.ts), which FileVerifier and KernelMatrix apply to the reports they keep; and,
 * for a check running while the user types, a TextReading that reads the editor's text, notes
 * which version of each file it read, and catches the report up with the edits made after that.
 * Keeps the lines of each open C document, since an edit's event carries only the new text.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { CheckReport } from '../remote-agent/client/checkReport';
import type { ReadSource } from '../remote-agent/client/sourceBundle';
import { lineEditsOf, shiftReportPositions, splitLines, type LineEdit } from './textEditShift';

export interface SourceEdit {
  /** Local absolute path, as reports name files. */
  file: string;
  /** The document's version after the edit. */
  version: number;
  edits: LineEdit[];
}

export class SourceEdits implements vscode.Disposable {
  /** Document URI → its lines as of the last event. */
  private readonly lines = new Map<string, string[]>();
  private readonly readings = new Set<TextReading>();
  private readonly emitter = new vscode.EventEmitter<SourceEdit>();
  private readonly subscriptions: vscode.Disposable;
  /** Fires after every edit of an open C file. */
  readonly onDidEdit = this.emitter.event;

  constructor() {
    for (const document of vscode.workspace.textDocuments) this.remember(document);
    this.subscriptions = vscode.Disposable.from(
      vscode.workspace.onDidOpenTextDocument((document) => this.remember(document)),
      vscode.workspace.onDidCloseTextDocument((document) => this.lines.delete(document.uri.toString())),
      vscode.workspace.onDidChangeTextDocument((event) => this.onChange(event)),
    );
  }

  /** A reader for one check: dispose it once the check's reports are stored (or dropped). */
  startReading(): TextReading {
    const reading = new TextReading(() => this.readings.delete(reading));
    this.readings.add(reading);
    return reading;
  }

  dispose(): void {
    this.subscriptions.dispose();
    this.emitter.dispose();
    this.lines.clear();
    this.readings.clear();
  }

  private remember(document: vscode.TextDocument): void {
    // Reports name local C files only: *.bpf.c and the headers it includes, whatever language mode they are in.
    const isC = document.languageId === 'c' || document.languageId === 'cpp' || /\.[ch]$/.test(document.uri.path);
    if (document.uri.scheme !== 'file' || !isC) return;
    this.lines.set(document.uri.toString(), splitLines(document.getText()));
  }

  private onChange(event: vscode.TextDocumentChangeEvent): void {
    const key = event.document.uri.toString();
    const before = this.lines.get(key);
    if (before === undefined || event.contentChanges.length === 0) return;
    this.lines.set(key, splitLines(event.document.getText()));
    const edit: SourceEdit = { file: event.document.uri.fsPath, version: event.document.version, edits: lineEditsOf(before, event.contentChanges) };
    for (const reading of this.readings) reading.record(edit);
    this.emitter.fire(edit);
  }
}

/** What one check read, and the edits made since, to move its report to the text as it is now. */
export class TextReading implements vscode.Disposable {
  /** File → the document version read; absent for files read from disk. */
  private readonly versions = new Map<string, number>();
  private readonly edits: SourceEdit[] = [];

  constructor(private readonly stop: () => void) {}

  /** What the editor shows is what gets checked: open documents' text, unsaved edits included. */
  readonly readFile: ReadSource = async (absPath) => {
    const open = openDocumentAt(absPath);
    if (open === undefined) return readFile(absPath, 'utf8');
    this.versions.set(absPath, open.version);
    return open.getText();
  };

  record(edit: SourceEdit): void {
    this.edits.push(edit);
  }

  /** `report` with its positions moved by the edits made after its files were read. */
  catchUp(report: CheckReport): CheckReport {
    return this.edits.reduce((moved, e) => (e.version > (this.versions.get(e.file) ?? -1) ? shiftReportPositions(moved, e.file, e.edits) : moved), report);
  }

  dispose(): void {
    this.stop();
  }
}

/** The editor's text of a file when it is open, unsaved edits included, else the file on disk. */
export async function readOpenDocumentOrDisk(absPath: string): Promise<string> {
  const open = openDocumentAt(absPath);
  return open ? open.getText() : readFile(absPath, 'utf8');
}

/** The open editor document of a local file, if any. */
function openDocumentAt(absPath: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((doc) => doc.uri.scheme === 'file' && doc.uri.fsPath === absPath);
}
