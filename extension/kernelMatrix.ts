/**
 * The Kernel Matrix in the editor: a *.bpf.c file checked on every target of
 * `ebpfStudio.matrixTargets` at once (remote-agent/client/kernelMatrix.ts: concurrently, kernel VMs
 * and targets without clang compiled here), on save and by "eBPF: Verify on All Targets", with the
 * latest outcome per file kept for the Kernel Matrix view and its diagnostics. "eBPF: Choose Kernel
 * Matrix Targets" edits the setting. One run per file: a new save cancels the one in flight.
 * Until the next run, the kept reports' positions follow the user's edits (sourceEdits.ts).
 */
import type { NamedTarget } from '../remote-agent/client/namedTargets';
import * as vscode from 'vscode';
import { checkFilesOnSession, checkOnTargets, type TargetOutcome } from '../remote-agent/client/kernelMatrix';
import { listSshConfigHosts } from '../remote-agent/client/sshConfigHosts';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import { isBpfSource } from './fileVerifier';
import type { KernelVms } from './kernelVms';
import { loadPresetsFor } from './loadPresetSetting';
import { projectLookupFor } from './projectFlagsLookup';
import { errorMessage, readSettings, storeMatrixTargets } from './settings';
import type { SourceEdit, SourceEdits, TextReading } from './sourceEdits';
import { shiftReportPositions } from './textEditShift';

export const KERNEL_MATRIX_VIEW_ID = 'ebpfStudio.kernelMatrix';

export interface MatrixResult {
  file: vscode.Uri;
  /** In the order of the setting, one per target. */
  outcomes: TargetOutcome[];
  finishedAt: number;
}

export class KernelMatrix implements vscode.Disposable {
  private readonly results = new Map<string, MatrixResult>();
  private readonly runs = new Map<string, AbortController>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly shifted = new vscode.EventEmitter<vscode.Uri>();
  private readonly following: vscode.Disposable;
  /** Fires with the file whose matrix result changed (new, or forgotten). */
  readonly onDidChange = this.changed.event;
  /** Fires with the file whose result's source positions moved with the user's edits (same verdicts). */
  readonly onDidShift = this.shifted.event;

  constructor(
    private readonly sessions: AgentSessions,
    private readonly log: ExtensionLog,
    private readonly edits: SourceEdits,
  ) {
    this.following = edits.onDidEdit((edit) => this.followEdit(edit));
  }

  resultFor(file: vscode.Uri): MatrixResult | undefined {
    return this.results.get(file.toString());
  }

  /** The named targets the matrix can be given (agentSessions.ts keeps them). */
  namedTargets(): readonly NamedTarget[] {
    return this.sessions.namedTargets();
  }

  allResults(): MatrixResult[] {
    return [...this.results.values()];
  }

  /** Every file with a result or a run in flight: what a change of the matrix targets checks again. */
  filesInMatrix(): vscode.Uri[] {
    const keys = new Set([...this.results.keys(), ...this.runs.keys()]);
    return [...keys].map((key) => vscode.Uri.parse(key));
  }

  /** Checks `document` on every matrix target; undefined when a newer run of the same file superseded it. */
  async check(document: vscode.TextDocument, targets: string[]): Promise<MatrixResult | undefined> {
    const key = document.uri.toString();
    this.runs.get(key)?.abort(new DOMException('superseded by a newer check of the same file', 'AbortError'));
    const controller = new AbortController();
    this.runs.set(key, controller);
    const { signal } = controller;
    const started = Date.now();
    // Each target reads the text when its check starts; its reports catch up from there.
    const readings = new Map<string, TextReading>(targets.map((target) => [target, this.edits.startReading()]));
    try {
      const presets = loadPresetsFor(document.uri);
      const outcomes = await checkOnTargets(
        targets,
        async (target) => {
          const resolved = this.sessions.resolve(target, 'ebpfStudio.matrixTargets');
          if (!resolved.ok) throw new Error(resolved.reason);
          const session = await this.sessions.get(resolved.spec, resolved.description);
          const readFile = readings.get(target)!.readFile;
          return checkFilesOnSession(session, [document.uri.fsPath], { compileOn: 'auto', compiler: this.sessions.compiler, target, readFile, project: () => projectLookupFor(document.uri), ...(presets && { presets }), signal });
        },
        signal,
      );
      if (signal.aborted) return undefined;
      const current = outcomes.map((o) => (o.reports ? { ...o, reports: o.reports.map((report) => readings.get(o.target)!.catchUp(report)) } : o));
      const result: MatrixResult = { file: document.uri, outcomes: current, finishedAt: Date.now() };
      this.results.set(key, result);
      this.log.info(`${vscode.workspace.asRelativePath(document.uri)} on ${targets.length} targets in ${Date.now() - started} ms: ${outcomes.map(summarize).join('; ')}`);
      this.changed.fire(document.uri);
      return result;
    } catch (error) {
      if (signal.aborted) return undefined;
      throw error;
    } finally {
      for (const reading of readings.values()) reading.dispose();
      if (this.runs.get(key) === controller) this.runs.delete(key);
    }
  }

  forget(file: vscode.Uri): void {
    const key = file.toString();
    this.runs.get(key)?.abort(new DOMException('the file was closed', 'AbortError'));
    if (this.results.delete(key)) this.changed.fire(file);
  }

  dispose(): void {
    for (const run of this.runs.values()) run.abort(new DOMException('eBPF Studio is shutting down', 'AbortError'));
    this.runs.clear();
    this.following.dispose();
    this.changed.dispose();
    this.shifted.dispose();
  }

  /** Moves the positions of every kept report that points into the edited file. */
  private followEdit(edit: SourceEdit): void {
    for (const [key, result] of this.results) {
      let moved = false;
      const outcomes = result.outcomes.map((outcome) => {
        const reports = outcome.reports?.map((report) => shiftReportPositions(report, edit.file, edit.edits));
        if (!reports?.some((report, i) => report !== outcome.reports![i])) return outcome;
        moved = true;
        return { ...outcome, reports };
      });
      if (!moved) continue;
      this.results.set(key, { ...result, outcomes });
      this.shifted.fire(result.file);
    }
  }
}

function summarize(o: TargetOutcome): string {
  if (o.error !== undefined) return `${o.target} not checked (${o.error})`;
  const programs = (o.reports ?? []).flatMap((r) => (r.compiled ? r.programs.map((p) => `${p.name} ${p.ok ? '✓' : '✗'}`) : ['does not compile']));
  return `${o.target} ${programs.join(' ') || 'no programs'}`;
}

type TargetChoice = vscode.QuickPickItem & { target: string };

/** A multi-select of named targets, this machine, running kernel VMs, ~/.ssh/config hosts and whatever the setting already names. */
async function chooseTargets(vms: KernelVms, named: readonly NamedTarget[]): Promise<string[] | undefined> {
  const current = readSettings().matrixTargets;
  const items: TargetChoice[] = named.map((t) => ({ label: t.name, description: `named target: ${t.destination}`, target: t.name }));
  items.push({ label: 'local', description: 'this machine', target: 'local' });
  for (const vm of vms.running()) items.push({ label: vm.target, description: `kernel VM, ${vm.kernel}`, target: vm.target });
  let hosts: string[] = [];
  try {
    hosts = listSshConfigHosts();
  } catch {
    // An unreadable ~/.ssh/config only means no hosts from it are offered; Select Target says why.
  }
  for (const host of hosts) items.push({ label: host, description: 'SSH host from ~/.ssh/config', target: host });
  for (const target of current) if (!items.some((i) => i.target === target)) items.push({ label: target, description: 'in the setting', target });
  for (const item of items) item.picked = current.includes(item.target);
  const picked = await vscode.window.showQuickPick(items, {
    canPickMany: true,
    title: 'Kernel Matrix targets',
    placeHolder: 'Targets each *.bpf.c file is verified on together (start more kernels with "eBPF: Start Kernel VM…")',
  });
  if (picked === undefined) return undefined;
  const targets = picked.map((p) => p.target);
  await storeMatrixTargets(targets);
  return targets;
}

export function registerKernelMatrixCommands(matrix: KernelMatrix, vms: KernelVms, log: ExtensionLog): vscode.Disposable {
  const inBackground = (document: vscode.TextDocument): void => {
    const targets = readSettings().matrixTargets;
    if (targets.length === 0) return;
    matrix.check(document, targets).catch((error: unknown) => log.info(`${vscode.workspace.asRelativePath(document.uri)} (kernel matrix): ${errorMessage(error)}`));
  };

  const verifyOnAllTargets = async (): Promise<void> => {
    const document = vscode.window.activeTextEditor?.document;
    if (!document || !isBpfSource(document)) {
      void vscode.window.showWarningMessage('Open a *.bpf.c file to verify it on all targets.');
      return;
    }
    let targets = readSettings().matrixTargets;
    if (targets.length === 0) targets = (await chooseTargets(vms, matrix.namedTargets())) ?? [];
    if (targets.length === 0) return;
    await vscode.commands.executeCommand(`${KERNEL_MATRIX_VIEW_ID}.focus`);
    try {
      const result = await vscode.window.withProgress(
        { location: { viewId: KERNEL_MATRIX_VIEW_ID }, title: `Verifying on ${targets.length} targets` },
        () => matrix.check(document, targets),
      );
      const unreachable = result?.outcomes.filter((o) => o.error !== undefined) ?? [];
      if (unreachable.length > 0) {
        const choice = await vscode.window.showWarningMessage(
          `Not verified on ${unreachable.map((o) => `${o.target} (${o.error})`).join('; ')}`,
          'Show Output',
        );
        if (choice === 'Show Output') log.show();
      }
    } catch (error) {
      log.info(`kernel matrix: ${errorMessage(error)}`);
      void vscode.window.showErrorMessage(`Cannot verify on all targets: ${errorMessage(error)}`);
    }
  };

  return vscode.Disposable.from(
    vscode.commands.registerCommand(Commands.verifyOnAllTargets, verifyOnAllTargets),
    vscode.commands.registerCommand(Commands.chooseMatrixTargets, () => chooseTargets(vms, matrix.namedTargets())),
    vscode.workspace.onDidSaveTextDocument((document) => {
      if (isBpfSource(document) && readSettings().verifyOnSave) inBackground(document);
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      if (isBpfSource(document)) matrix.forget(document.uri);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // New targets: the files already in the matrix, or being checked on the old targets (a
      // "Verify on All Targets" that read the setting just before the change landed), are checked
      // again on them.
      if (!e.affectsConfiguration('ebpfStudio.matrixTargets')) return;
      const none = readSettings().matrixTargets.length === 0;
      for (const file of matrix.filesInMatrix()) {
        if (none) {
          matrix.forget(file);
          continue;
        }
        const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
        if (document) inBackground(document);
      }
    }),
  );
}
