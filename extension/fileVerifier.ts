/**
 * Checks a *.bpf.c document on the current target (compile with clang, load every program in the
 * target's kernel) and keeps the latest report of each file. One run per file at a time: a new
 * save cancels the run still in flight for the same file. Unsaved editor text is what gets
 * checked, for the file itself and for the headers it includes. Until the next check, a report's
 * positions follow the user's edits (sourceEdits.ts), including edits made while it ran.
 */
import * as vscode from 'vscode';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { checkFilesOnSession } from '../remote-agent/client/kernelMatrix';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { loadPresetsFor } from './loadPresetSetting';
import { projectLookupFor } from './projectFlagsLookup';
import { SETTINGS_SECTION } from './settings';
import type { SourceEdit, SourceEdits } from './sourceEdits';
import { shiftReportPositions } from './textEditShift';

export type VerifyTrigger = 'save' | 'open' | 'command';

export interface RunningCheck {
  file: vscode.Uri;
  target: string;
}

/** Thrown for problems the user must fix before anything can be verified (no usable target). */
export class NoTargetError extends Error {
  override readonly name = 'NoTargetError';
}

export function isBpfSource(document: vscode.TextDocument): boolean {
  return document.uri.scheme === 'file' && document.uri.path.endsWith('.bpf.c');
}

export class FileVerifier implements vscode.Disposable {
  private readonly reports = new Map<string, CheckReport>();
  private readonly runs = new Map<string, { controller: AbortController; check: RunningCheck }>();
  private readonly reportsEmitter = new vscode.EventEmitter<vscode.Uri>();
  private readonly runningEmitter = new vscode.EventEmitter<void>();
  private readonly shiftEmitter = new vscode.EventEmitter<vscode.Uri>();
  private readonly following: vscode.Disposable;
  /** Fires with the file whose report changed (new verdict, or cleared). */
  readonly onDidChangeReport = this.reportsEmitter.event;
  /** Fires when a run starts or ends. */
  readonly onDidChangeRunning = this.runningEmitter.event;
  /** Fires with the file whose report's source positions moved with the user's edits (same verdicts). */
  readonly onDidShiftReport = this.shiftEmitter.event;

  constructor(
    private readonly sessions: AgentSessions,
    private readonly log: ExtensionLog,
    private readonly edits: SourceEdits,
  ) {
    this.following = edits.onDidEdit((edit) => this.followEdit(edit));
  }

  reportFor(file: vscode.Uri): CheckReport | undefined {
    return this.reports.get(file.toString());
  }

  allReports(): CheckReport[] {
    return [...this.reports.values()];
  }

  running(): RunningCheck[] {
    return [...this.runs.values()].map((run) => run.check);
  }

  isRunning(file: vscode.Uri): boolean {
    return this.runs.has(file.toString());
  }

  /**
   * Checks `document` and publishes the report. Resolves with undefined when a newer run for the
   * same file superseded this one. Rejects with NoTargetError, AgentSessionError (connection) or
   * another Error (the check itself failed); the caller decides whether that is worth a popup.
   */
  async verify(document: vscode.TextDocument, trigger: VerifyTrigger): Promise<CheckReport | undefined> {
    const target = this.sessions.currentTarget();
    if (!target.ok) throw new NoTargetError(target.reason);
    const presets = loadPresetsFor(document.uri);

    const key = document.uri.toString();
    this.runs.get(key)?.controller.abort(new DOMException('superseded by a newer check of the same file', 'AbortError'));
    const controller = new AbortController();
    const run = { controller, check: { file: document.uri, target: target.description } };
    this.runs.set(key, run);
    this.runningEmitter.fire();

    const name = vscode.workspace.asRelativePath(document.uri);
    const started = Date.now();
    const reading = this.edits.startReading();
    try {
      const session = await this.sessions.get(target.spec, target.description);
      if (controller.signal.aborted) return undefined;
      // Kernel VMs and targets without clang get the file compiled here against their BTF.
      const [report] = await checkFilesOnSession(session, [document.uri.fsPath], {
        compileOn: 'auto',
        compiler: this.sessions.compiler,
        readFile: reading.readFile,
        project: () => projectLookupFor(document.uri),
        ...(presets && { presets }),
        // The walk feeds the state on hover, coverage and the heat map (verifierStateHover.ts, verifierCoverage.ts).
        walk: vscode.workspace.getConfiguration(SETTINGS_SECTION).get<boolean>('verifierWalk', true),
        signal: controller.signal,
      });
      if (report === undefined) throw new Error(`checking ${name} gave no report`);
      if (controller.signal.aborted) return undefined;
      const current = reading.catchUp(report);
      this.reports.set(key, current);
      this.log.info(`${name} (${trigger}): ${summarize(current)} — ${Date.now() - started} ms`);
      this.reportsEmitter.fire(document.uri);
      return current;
    } catch (error) {
      if (controller.signal.aborted) return undefined;
      throw error;
    } finally {
      reading.dispose();
      if (this.runs.get(key) === run) {
        this.runs.delete(key);
        this.runningEmitter.fire();
      }
    }
  }

  /** Forgets the report of a file (its diagnostics and lenses go away with it). */
  forget(file: vscode.Uri): void {
    const key = file.toString();
    this.runs.get(key)?.controller.abort(new DOMException('the file was closed', 'AbortError'));
    if (this.reports.delete(key)) this.reportsEmitter.fire(file);
  }

  dispose(): void {
    for (const run of this.runs.values()) run.controller.abort(new DOMException('eBPF Studio is shutting down', 'AbortError'));
    this.runs.clear();
    this.following.dispose();
    this.reportsEmitter.dispose();
    this.runningEmitter.dispose();
    this.shiftEmitter.dispose();
  }

  /** Moves the positions of every report that points into the edited file (a report's diagnostics may sit in headers). */
  private followEdit(edit: SourceEdit): void {
    for (const [key, report] of this.reports) {
      const shifted = shiftReportPositions(report, edit.file, edit.edits);
      if (shifted === report) continue;
      this.reports.set(key, shifted);
      this.shiftEmitter.fire(vscode.Uri.parse(key));
    }
  }
}

/** One line for the Output channel: "compile error" or each program's verdict. */
export function summarize(report: CheckReport): string {
  const where = `on ${report.target} (${report.kernelRelease})`;
  if (!report.compiled) {
    const errors = report.diagnostics.filter((d) => d.severity === 'error').length;
    return `does not compile (${errors} error${errors === 1 ? '' : 's'}) ${where}`;
  }
  const verdicts = report.programs.map((p) =>
    p.ok ? `${p.name} ✓ ${p.insnsProcessed === null ? 'verified' : `${p.insnsProcessed.toLocaleString('en-US')} insns processed`}` : `${p.name} ✗ ${p.error ?? 'rejected'}`,
  );
  return `${verdicts.join('; ') || 'no programs'} ${where} (compile ${Math.round(report.compileMs)} ms, load ${Math.round(report.loadMs)} ms)`;
}
