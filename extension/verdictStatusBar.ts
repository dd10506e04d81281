/**
 * The status bar item: the verdict of the active *.bpf.c file and the target it was checked on
 * ("eBPF ✓ 2/2 programs · local"), a spinner while connecting or checking, and why the target
 * cannot be reached when a background check failed. The tooltip carries the details and links.
 */
import * as vscode from 'vscode';
import type { CheckReport } from '../remote-agent/client/checkReport';
import type { AgentSessions, ConnectionState } from './agentSessions';
import { Commands } from './commandIds';
import { commandUri, trustedCommands } from './commandLinks';
import { isBpfSource, type FileVerifier } from './fileVerifier';

export interface VerdictStatusBar extends vscode.Disposable {
  /** Shows a background failure (connection or check) until the next successful check. */
  showProblem(message: string): void;
}

export function registerVerdictStatusBar(verifier: FileVerifier, sessions: AgentSessions): VerdictStatusBar {
  const item = vscode.window.createStatusBarItem('ebpfStudio.verdict', vscode.StatusBarAlignment.Left, 10);
  item.name = 'eBPF Studio';
  let connection: ConnectionState | undefined;
  let problem: string | undefined;

  const render = (): void => {
    const editor = vscode.window.activeTextEditor;
    const file = editor && isBpfSource(editor.document) ? editor.document.uri : undefined;
    const running = verifier.running();
    if (!file && running.length === 0 && !problem) {
      item.hide();
      return;
    }
    const target = sessions.currentTarget();
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.isTrusted = trustedCommands;
    item.backgroundColor = undefined;
    item.command = Commands.showVerifierLog;

    const report = file ? verifier.reportFor(file) : undefined;
    const runningHere = running.find((r) => file && r.file.toString() === file.toString()) ?? running[0];
    if (connection?.state === 'reconnecting') {
      item.text = `$(sync~spin) eBPF: reconnecting to ${connection.description}…`;
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      item.command = Commands.reconnect;
      tooltip.appendText(
        `The connection to ${connection.description} was lost: ${connection.reason}. Try ${connection.attempt} of ${connection.attempts} in ${connection.inMs / 1000} s; click to reconnect now.`,
      );
    } else if (connection?.state === 'connecting') {
      item.text = `$(sync~spin) eBPF: connecting to ${connection.description}…`;
      tooltip.appendText(`Starting the eBPF agent on ${connection.description}.`);
    } else if (runningHere) {
      item.text = `$(sync~spin) eBPF: verifying on ${runningHere.target}…`;
      tooltip.appendText(`Compiling ${vscode.workspace.asRelativePath(runningHere.file)} and loading its programs on ${runningHere.target}.`);
    } else if (!target.ok) {
      item.text = '$(warning) eBPF: no target';
      item.command = Commands.selectTarget;
      tooltip.appendText(target.reason);
    } else if (connection?.state === 'unreachable' && target.ok && target.description === connection.description) {
      item.text = `$(debug-disconnect) eBPF: ${connection.description} unreachable`;
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      item.command = Commands.reconnect;
      tooltip.appendText(
        `The connection to ${connection.description} was lost at ${new Date(connection.since).toLocaleTimeString('en-GB')} and ${connection.attempts} automatic tries failed: ${connection.reason}. ` +
          `The results shown are from before, marked stale. Click to try again.`,
      );
      if (report) {
        tooltip.appendMarkdown('\n\n');
        appendReportTooltip(tooltip, report);
      }
    } else if (problem) {
      item.text = `$(warning) eBPF: ${target.description} unavailable`;
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      item.command = Commands.reconnect;
      tooltip.appendText(problem);
    } else if (report) {
      item.text = `${verdictText(report)} · ${report.target}`;
      if (report.programs.some((p) => !p.ok) || !report.compiled) item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      appendReportTooltip(tooltip, report);
    } else {
      item.text = `eBPF: ${target.description}`;
      item.command = Commands.selectTarget;
      tooltip.appendText(`Verifies *.bpf.c files on ${target.description} when saved.`);
    }
    tooltip.appendMarkdown(
      `\n\n---\n\n[Select Target](${commandUri(Commands.selectTarget)}) · [Reconnect](${commandUri(Commands.reconnect)}) · [Show Verifier Log](${commandUri(Commands.showVerifierLog)})`,
    );
    item.tooltip = tooltip;
    item.show();
  };

  const disposables = vscode.Disposable.from(
    item,
    vscode.window.onDidChangeActiveTextEditor(render),
    verifier.onDidChangeRunning(render),
    verifier.onDidChangeReport(() => {
      problem = undefined;
      render();
    }),
    sessions.onDidChangeState((state) => {
      connection = state;
      if (state.state === 'closed') problem = `The session with ${state.description} closed: ${state.reason}`;
      if (state.state === 'failed') problem = `Cannot connect to ${state.description}: ${state.reason}`;
      if (state.state === 'connected' || state.state === 'reconnecting') problem = undefined;
      render();
    }),
    sessions.onDidChangeTarget(() => {
      problem = undefined;
      render();
    }),
  );
  render();
  return {
    showProblem(message: string) {
      problem = message;
      render();
    },
    dispose: () => disposables.dispose(),
  };
}

/** "eBPF ✓ 2/2 programs", "eBPF ✗ 1 of 2 rejected", "eBPF ✗ does not compile". */
export function verdictText(report: CheckReport): string {
  if (!report.compiled) return 'eBPF ✗ does not compile';
  const total = report.programs.length;
  const rejected = report.programs.filter((p) => !p.ok).length;
  if (total === 0) return 'eBPF: no programs';
  if (rejected === 0) return `eBPF ✓ ${total}/${total} program${total === 1 ? '' : 's'}`;
  return `eBPF ✗ ${rejected} of ${total} rejected`;
}

function appendReportTooltip(tooltip: vscode.MarkdownString, report: CheckReport): void {
  tooltip.appendText(`${vscode.workspace.asRelativePath(report.file)} on ${report.target}, kernel ${report.kernelRelease}`);
  tooltip.appendMarkdown('\n\n');
  if (!report.compiled) {
    const first = report.diagnostics.find((d) => d.severity === 'error');
    tooltip.appendText(first ? `clang: ${first.message} (line ${first.line})` : 'clang failed');
    return;
  }
  for (const program of report.programs) {
    tooltip.appendMarkdown('- ');
    tooltip.appendText(
      program.ok
        ? `✓ ${program.name} (${program.section}): ${program.insnCount.toLocaleString('en-US')} insns, ${program.insnsProcessed?.toLocaleString('en-US') ?? '?'} processed`
        : `✗ ${program.name} (${program.section}): ${program.error ?? 'rejected'}`,
    );
    tooltip.appendMarkdown('\n');
  }
  tooltip.appendMarkdown('\n');
  tooltip.appendText(`compile ${milliseconds(report.compileMs)} · load ${milliseconds(report.loadMs)}`);
}

function milliseconds(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
