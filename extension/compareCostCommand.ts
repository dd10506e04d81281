/**
 * "eBPF: Compare Verifier Cost…": what verifying each program of the current *.bpf.c costs, like
 * `veristat -C` (remote-agent/client/verifierCostComparison.ts), as a read-only text document
 * beside the source. Either the file as of the last commit against the editor's text, both
 * checked now on the current target — the committed text goes through the same check as the
 * editor's (same path, headers, project flags and load presets; only the file's own text differs)
 * — or two targets of the Kernel Matrix's last result for the file, as they judged it then.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AgentSessionError } from '../remote-agent/client/agentSession';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { fileAtRevision, GitRevisionError, type FileAtRevision } from '../remote-agent/client/gitRevision';
import { checkFilesOnSession, type CheckOnSessionOptions } from '../remote-agent/client/kernelMatrix';
import { describeTarget, parseTarget } from '../remote-agent/client/targetSpec';
import { compareVerifierCost, costSideOf, formatCostComparison, type CostComparison } from '../remote-agent/client/verifierCostComparison';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import { isBpfSource } from './fileVerifier';
import type { KernelMatrix } from './kernelMatrix';
import { loadPresetsFor } from './loadPresetSetting';
import { projectLookupFor } from './projectFlagsLookup';
import { errorMessage } from './settings';
import { readOpenDocumentOrDisk } from './sourceEdits';

/** The read-only documents' URI scheme. */
const SCHEME = 'ebpf-verifier-cost';

type Choice = vscode.QuickPickItem & { way: 'commit' | 'matrix' };

/** The comparison tables, one document per source file and way of comparing, shown until closed. */
class CostTables implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? 'This comparison is no longer kept: run "eBPF: Compare Verifier Cost…" again.\n';
  }

  async show(title: string, source: vscode.Uri, comparison: CostComparison): Promise<void> {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${title}`, query: source.toString() });
    this.texts.set(uri.toString(), formatCostComparison(comparison));
    this.changed.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
  }

  forget(uri: vscode.Uri): void {
    this.texts.delete(uri.toString());
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export function registerCompareCostCommand(sessions: AgentSessions, matrix: KernelMatrix, log: ExtensionLog): vscode.Disposable {
  const tables = new CostTables();

  const compare = async (): Promise<void> => {
    const document = vscode.window.activeTextEditor?.document;
    if (!document || !isBpfSource(document)) {
      void vscode.window.showWarningMessage('Open a *.bpf.c file to compare what verifying its programs costs.');
      return;
    }
    const target = sessions.currentTarget();
    const checkedTargets = (matrix.resultFor(document.uri)?.outcomes ?? []).filter((o) => o.reports !== undefined);
    const choices: Choice[] = [
      { way: 'commit', label: '$(git-commit) Last commit → current text', description: target.ok ? `both checked on ${target.description}` : 'no target selected' },
      { way: 'matrix', label: '$(checklist) Two Kernel Matrix targets', description: checkedTargets.length >= 2 ? `from the last verify on ${checkedTargets.length} targets` : 'needs a verify on two or more targets' },
    ];
    const choice = await vscode.window.showQuickPick(choices, { title: `Compare the verifier's cost of ${path.basename(document.uri.fsPath)}` });
    try {
      if (choice?.way === 'commit') await compareWithLastCommit(document);
      else if (choice?.way === 'matrix') await compareMatrixTargets(document);
    } catch (error) {
      log.info(`compare verifier cost: ${errorMessage(error)}`);
      const actions = error instanceof AgentSessionError ? ['Reconnect', 'Show Output'] : ['Show Output'];
      const picked = await vscode.window.showErrorMessage(`Cannot compare the verifier's cost: ${errorMessage(error)}`, ...actions);
      if (picked === 'Reconnect') await vscode.commands.executeCommand(Commands.reconnect);
      else if (picked === 'Show Output') log.show();
    }
  };

  const compareWithLastCommit = async (document: vscode.TextDocument): Promise<void> => {
    const target = sessions.currentTarget();
    if (!target.ok) {
      if ((await vscode.window.showErrorMessage(target.reason, 'Select Target')) === 'Select Target') await vscode.commands.executeCommand(Commands.selectTarget);
      return;
    }
    const file = document.uri.fsPath;
    const name = vscode.workspace.asRelativePath(document.uri);
    let committed: FileAtRevision;
    try {
      committed = await fileAtRevision(file, 'HEAD');
    } catch (error) {
      if (!(error instanceof GitRevisionError)) throw error;
      void vscode.window.showWarningMessage(error.message);
      return;
    }
    const comparison = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Checking ${name} as of HEAD and as edited on ${target.description}`, cancellable: true },
      async (_progress, token) => {
        const controller = new AbortController();
        const cancelled = token.onCancellationRequested(() => controller.abort(new DOMException('cancelled', 'AbortError')));
        try {
          const session = await sessions.get(target.spec, target.description);
          const presets = loadPresetsFor(document.uri);
          const options: CheckOnSessionOptions = {
            compileOn: 'auto',
            compiler: sessions.compiler,
            project: () => projectLookupFor(document.uri),
            ...(presets && { presets }),
            signal: controller.signal,
          };
          const base = await checkFilesOnSession(session, [file], { ...options, readFile: async (p) => (p === file ? committed.text : readOpenDocumentOrDisk(p)) });
          const current = await checkFilesOnSession(session, [file], { ...options, readFile: readOpenDocumentOrDisk });
          const where = `on ${target.description} (${session.hello.kernelRelease})`;
          return compareVerifierCost(costSideOf(`${name} at HEAD (${committed.commit}) ${where}`, base, shown), costSideOf(`${name} as edited ${where}`, current, shown));
        } catch (error) {
          if (controller.signal.aborted) return undefined;
          throw error;
        } finally {
          cancelled.dispose();
        }
      },
    );
    if (comparison) await tables.show(`${path.basename(file)} verifier cost (HEAD vs edited)`, document.uri, comparison);
  };

  const compareMatrixTargets = async (document: vscode.TextDocument): Promise<void> => {
    const result = matrix.resultFor(document.uri);
    const checked = (result?.outcomes ?? []).flatMap((o) => (o.reports?.[0] ? [{ target: o.target, report: o.reports[0] }] : []));
    if (result === undefined || checked.length < 2) {
      const verify = 'Verify on All Targets';
      const why = checked.length === 0 ? 'the Kernel Matrix has not verified this file yet' : 'the Kernel Matrix verified this file on one target only';
      if ((await vscode.window.showInformationMessage(`Nothing to compare: ${why}. Choose two or more targets and verify the file on them first.`, verify)) === verify) {
        await vscode.commands.executeCommand(Commands.verifyOnAllTargets);
      }
      return;
    }
    const item = (c: { target: string; report: CheckReport }): vscode.QuickPickItem & { target: string; report: CheckReport } => ({ label: c.target, description: c.report.kernelRelease, ...c });
    const when = new Date(result.finishedAt).toLocaleTimeString();
    const a = checked.length === 2 ? item(checked[0]!) : await vscode.window.showQuickPick(checked.map(item), { title: `Side A: the target to compare from (verified at ${when})` });
    if (a === undefined) return;
    const rest = checked.filter((c) => c.target !== a.target);
    const b = rest.length === 1 ? item(rest[0]!) : await vscode.window.showQuickPick(rest.map(item), { title: `Side B: the target to compare ${a.target} with` });
    if (b === undefined) return;
    const name = vscode.workspace.asRelativePath(document.uri);
    const side = (c: { target: string; report: CheckReport }): string => `${name} on ${c.target} (${c.report.kernelRelease}), verified at ${when}`;
    const comparison = compareVerifierCost(costSideOf(side(a), [a.report], shown), costSideOf(side(b), [b.report], shown));
    await tables.show(`${path.basename(document.uri.fsPath)} verifier cost (${shortName(a.target)} vs ${shortName(b.target)})`, document.uri, comparison);
  };

  return vscode.Disposable.from(
    tables,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, tables),
    vscode.workspace.onDidCloseTextDocument((document) => {
      if (document.uri.scheme === SCHEME) tables.forget(document.uri);
    }),
    vscode.commands.registerCommand(Commands.compareVerifierCost, compare),
  );
}

/** Files as the workspace names them. */
function shown(file: string): string {
  return vscode.workspace.asRelativePath(file);
}

/** A target as a document title can hold it: no slashes ("ssh://root@host" → "root@host"). */
function shortName(target: string): string {
  try {
    return describeTarget(parseTarget(target));
  } catch {
    return target.replace(/\//g, '_');
  }
}
