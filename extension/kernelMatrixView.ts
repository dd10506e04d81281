/**
 * The Kernel Matrix view and its diagnostics. The view is a tree: each checked file, under it one
 * row per program with how its verdicts differ between kernels, under each program one cell per
 * target (✓ insns · states · time, or ✗ the verifier's reason, or why the target was not
 * checked). Problems shows one diagnostic per distinct problem, saying on which kernels it happens
 * (matrixDiagnostics.ts); a click on a cell shows that target's diagnostics alone and goes to the
 * program's problem in the source, until "Show Merged Diagnostics".
 */
import * as vscode from 'vscode';
import type { CheckReport, ProgramReport } from '../remote-agent/client/checkReport';
import type { TargetOutcome } from '../remote-agent/client/kernelMatrix';
import { mergedMessage, mergeTargetDiagnostics } from '../remote-agent/client/matrixDiagnostics';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import { KERNEL_MATRIX_VIEW_ID, type KernelMatrix, type MatrixResult } from './kernelMatrix';
import { diagnosticsOf, type DiagnosticsOverride } from './reportDiagnostics';
import { errorMessage, readSettings } from './settings';

/** The row of a file's programs when it compiled nowhere, so there is no program to name. */
const WHOLE_FILE = '(whole file)';

type Node =
  | { kind: 'file'; result: MatrixResult }
  | { kind: 'program'; result: MatrixResult; program: string }
  | { kind: 'cell'; result: MatrixResult; program: string; outcome: TargetOutcome };

/** The program names of a result, in the order the targets report them; WHOLE_FILE when none compiled. */
function programsOf(result: MatrixResult): string[] {
  const names = new Set<string>();
  for (const o of result.outcomes) for (const r of o.reports ?? []) for (const p of r.programs) names.add(p.name);
  return names.size > 0 ? [...names] : [WHOLE_FILE];
}

interface Cell {
  text: string;
  tooltip: string;
  verdict: 'pass' | 'reject' | 'unknown';
}

function cellOf(outcome: TargetOutcome, program: string): Cell {
  if (outcome.error !== undefined) return { text: `not checked: ${outcome.error}`, tooltip: outcome.error, verdict: 'unknown' };
  const report = outcome.reports?.[0];
  if (report === undefined) return { text: 'not checked', tooltip: 'no report', verdict: 'unknown' };
  const where = `${outcome.target}, kernel ${report.kernelRelease}, compiled on ${report.compiledOn === 'client' ? 'this machine against its BTF' : 'the target'}`;
  if (!report.compiled) {
    const first = report.diagnostics.find((d) => d.severity === 'error');
    return { text: `✗ does not compile${first ? `: ${first.message}` : ''}`, tooltip: where, verdict: 'reject' };
  }
  const p = report.programs.find((q) => q.name === program);
  if (p === undefined) return { text: '— not in the object', tooltip: where, verdict: 'unknown' };
  if (!p.ok) return { text: `✗ ${p.error ?? 'rejected'}`, tooltip: `${where}\n${p.error ?? ''}`, verdict: 'reject' };
  return { text: `✓ ${passText(p)}`, tooltip: where, verdict: 'pass' };
}

function passText(p: ProgramReport): string {
  const parts = [`${p.insnsProcessed === null ? '?' : p.insnsProcessed.toLocaleString('en-US')} insns`];
  if (p.totalStates !== null && p.peakStates !== null) parts.push(`${p.totalStates}/${p.peakStates} states`);
  if (p.verificationTimeUs !== null) parts.push(`${(p.verificationTimeUs / 1000).toFixed(1)} ms`);
  return parts.join(' · ');
}

/** "passes on local; rejected on vm:6.1", or one word when every target agrees. */
function programSummary(result: MatrixResult, program: string): { text: string; icon: string } {
  const passes: string[] = [];
  const rejected: string[] = [];
  const unknown: string[] = [];
  for (const o of result.outcomes) {
    const { verdict } = cellOf(o, program);
    (verdict === 'pass' ? passes : verdict === 'reject' ? rejected : unknown).push(o.target);
  }
  const parts: string[] = [];
  if (rejected.length === 0 && unknown.length === 0) return { text: `passes on all ${passes.length}`, icon: 'pass' };
  if (passes.length === 0 && unknown.length === 0) return { text: `rejected on all ${rejected.length}`, icon: 'error' };
  if (passes.length > 0) parts.push(`passes on ${passes.join(', ')}`);
  if (rejected.length > 0) parts.push(`rejected on ${rejected.join(', ')}`);
  if (unknown.length > 0) parts.push(`not checked on ${unknown.join(', ')}`);
  return { text: parts.join('; '), icon: rejected.length > 0 ? 'error' : 'warning' };
}

class KernelMatrixTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly matrix: KernelMatrix,
    private readonly focusOf: (file: vscode.Uri) => string | undefined,
  ) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const expanded = vscode.TreeItemCollapsibleState.Expanded;
    switch (node.kind) {
      case 'file': {
        const item = new vscode.TreeItem(vscode.workspace.asRelativePath(node.result.file), expanded);
        item.id = `file:${node.result.file.toString()}`;
        const focus = this.focusOf(node.result.file);
        item.description = `${node.result.outcomes.length} targets · ${new Date(node.result.finishedAt).toLocaleTimeString()}${focus ? ` · showing ${focus}` : ''}`;
        item.resourceUri = node.result.file;
        item.iconPath = vscode.ThemeIcon.File;
        return item;
      }
      case 'program': {
        const summary = programSummary(node.result, node.program);
        const item = new vscode.TreeItem(node.program, expanded);
        item.id = `program:${node.result.file.toString()}:${node.program}`;
        item.description = summary.text;
        item.iconPath = new vscode.ThemeIcon(summary.icon);
        return item;
      }
      case 'cell': {
        const cell = cellOf(node.outcome, node.program);
        const kernel = node.outcome.reports?.[0]?.kernelRelease;
        const item = new vscode.TreeItem(kernel ? `${node.outcome.target} (${kernel})` : node.outcome.target, vscode.TreeItemCollapsibleState.None);
        item.id = `cell:${node.result.file.toString()}:${node.program}:${node.outcome.target}`;
        item.description = cell.text;
        // The side bar is narrow: the tooltip carries the whole cell.
        item.tooltip = `${cell.text}\n${cell.tooltip}\nClick to show this target's diagnostics on the source.`;
        item.iconPath = new vscode.ThemeIcon(cell.verdict === 'pass' ? 'pass' : cell.verdict === 'reject' ? 'error' : 'question');
        item.contextValue = 'matrixCell';
        item.command = { title: 'Show Diagnostics of This Target', command: Commands.showMatrixTargetDiagnostics, arguments: [node.result.file.toString(), node.outcome.target, node.program] };
        return item;
      }
    }
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.matrix.allResults().map((result) => ({ kind: 'file', result }));
    switch (node.kind) {
      case 'file':
        return programsOf(node.result).map((program) => ({ kind: 'program', result: node.result, program }));
      case 'program':
        return node.result.outcomes.map((outcome) => ({ kind: 'cell', result: node.result, program: node.program, outcome }));
      case 'cell':
        return [];
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The matrix's diagnostics: merged over every target, or one target's alone after a click on its cell. */
class MatrixDiagnostics implements DiagnosticsOverride, vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('ebpf-matrix');
  /** report file → diagnosed files, to clear what a file's previous result put on its headers. */
  private readonly published = new Map<string, string[]>();
  private readonly focus = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly matrix: KernelMatrix,
    private readonly log: ExtensionLog,
  ) {}

  covers(reportFile: vscode.Uri): boolean {
    return this.matrix.resultFor(reportFile) !== undefined;
  }

  focusOf(file: vscode.Uri): string | undefined {
    return this.focus.get(file.toString());
  }

  setFocus(file: vscode.Uri, target: string | undefined): Promise<void> {
    if (target === undefined) this.focus.delete(file.toString());
    else this.focus.set(file.toString(), target);
    return this.publish(file);
  }

  async publish(file: vscode.Uri): Promise<void> {
    const key = file.toString();
    const result = this.matrix.resultFor(file);
    const focus = this.focus.get(key);
    if (focus !== undefined && !result?.outcomes.some((o) => o.target === focus)) this.focus.delete(key);
    const outcomes = result?.outcomes.filter((o) => this.focus.get(key) === undefined || o.target === this.focus.get(key)) ?? [];
    const merged = mergeTargetDiagnostics(outcomes);
    const perFile = await diagnosticsOf({ diagnostics: merged.map((m) => ({ ...m.diagnostic, message: mergedMessage(m) })) }, file);
    if (this.matrix.resultFor(file) !== result) return; // a newer result is being published
    for (const list of perFile.values()) {
      // The program name without a link: Show Verifier Log knows the current target's logs only.
      for (const d of list) if (typeof d.code === 'object') d.code = d.code.value;
    }
    for (const stale of this.published.get(key) ?? []) if (!perFile.has(stale)) this.collection.delete(vscode.Uri.parse(stale));
    for (const [diagnosed, list] of perFile) this.collection.set(vscode.Uri.parse(diagnosed), list);
    this.published.set(key, [...perFile.keys()]);
    this.changed.fire(file);
  }

  /** The line of `program`'s first problem among `target`'s diagnostics, else where the program starts. */
  locate(file: vscode.Uri, target: string, program: string): vscode.Position | undefined {
    const report: CheckReport | undefined = this.matrix.resultFor(file)?.outcomes.find((o) => o.target === target)?.reports?.[0];
    if (report === undefined) return undefined;
    const problem = report.diagnostics.find((d) => d.file === file.fsPath && (d.program === program || (!report.compiled && d.severity === 'error')));
    if (problem) return new vscode.Position(problem.line - 1, 0);
    const line = report.programs.find((p) => p.name === program)?.line;
    return line === undefined ? undefined : new vscode.Position(line - 1, 0);
  }

  dispose(): void {
    this.collection.dispose();
    this.changed.dispose();
  }

  report(error: unknown): void {
    this.log.info(`cannot show the kernel matrix's diagnostics: ${errorMessage(error)}`);
  }
}

export interface KernelMatrixView extends vscode.Disposable {
  /** For reportDiagnostics.ts: files whose diagnostics the matrix shows instead. */
  readonly diagnostics: DiagnosticsOverride;
}

export function registerKernelMatrixView(matrix: KernelMatrix, log: ExtensionLog): KernelMatrixView {
  const diagnostics = new MatrixDiagnostics(matrix, log);
  const tree = new KernelMatrixTree(matrix, (file) => diagnostics.focusOf(file));
  const view = vscode.window.createTreeView(KERNEL_MATRIX_VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  const describeView = (): void => {
    view.message = readSettings().matrixTargets.length === 0 ? 'No targets chosen yet: run "eBPF: Choose Kernel Matrix Targets".' : undefined;
  };
  describeView();

  const showTarget = async (file: string, target: string, program: string): Promise<void> => {
    const uri = vscode.Uri.parse(file);
    await diagnostics.setFocus(uri, target);
    tree.refresh();
    const editor = await vscode.window.showTextDocument(uri, { preserveFocus: false, preview: false });
    const at = diagnostics.locate(uri, target, program);
    if (at) {
      editor.selection = new vscode.Selection(at, at);
      editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
  };

  const showMerged = async (): Promise<void> => {
    for (const result of matrix.allResults()) await diagnostics.setFocus(result.file, undefined);
    tree.refresh();
  };

  const registrations = vscode.Disposable.from(
    diagnostics,
    tree,
    view,
    matrix.onDidChange((file) => {
      tree.refresh();
      diagnostics.publish(file).catch((error: unknown) => diagnostics.report(error));
    }),
    matrix.onDidShift((file) => diagnostics.publish(file).catch((error: unknown) => diagnostics.report(error))),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('ebpfStudio.matrixTargets')) describeView();
    }),
    vscode.commands.registerCommand(Commands.showMatrixTargetDiagnostics, (file: string, target: string, program: string) =>
      showTarget(file, target, program).catch((error: unknown) => void vscode.window.showErrorMessage(`Cannot show the diagnostics of ${target}: ${errorMessage(error)}`)),
    ),
    vscode.commands.registerCommand(Commands.showMergedMatrixDiagnostics, showMerged),
  );
  return { diagnostics, dispose: () => registrations.dispose() };
}
