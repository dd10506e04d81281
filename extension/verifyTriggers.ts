/**
 * When files get verified: on save and when a *.bpf.c is first shown (if ebpfStudio.verifyOnSave),
 * and on "eBPF: Verify Current File" / "eBPF: Reconnect". The difference between the two kinds is
 * how failures are told: what the user started gets a message with a way out; what happened in
 * the background goes to the Output channel and the status bar only, never a stream of popups.
 */
import * as vscode from 'vscode';
import { AgentSessionError } from '../remote-agent/client/agentSession';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import { isBpfSource, NoTargetError, type FileVerifier, type VerifyTrigger } from './fileVerifier';
import { errorMessage, readSettings } from './settings';
import type { VerdictStatusBar } from './verdictStatusBar';

export function registerVerifyTriggers(verifier: FileVerifier, sessions: AgentSessions, statusBar: VerdictStatusBar, log: ExtensionLog): vscode.Disposable {
  let lastBackgroundProblem: string | undefined;

  const inBackground = (document: vscode.TextDocument, trigger: VerifyTrigger): void => {
    verifier.verify(document, trigger).then(
      () => {
        lastBackgroundProblem = undefined;
      },
      (error: unknown) => {
        const message = errorMessage(error);
        // The same failure on every save is logged once (connection failures already were, by
        // AgentSessions); the status bar keeps showing it.
        if (message !== lastBackgroundProblem && !(error instanceof AgentSessionError)) log.info(`${vscode.workspace.asRelativePath(document.uri)} (${trigger}): ${message}`);
        lastBackgroundProblem = message;
        statusBar.showProblem(message);
      },
    );
  };

  /** Documents verified when first shown: once per opening, so a failing target is not retried on every tab switch. */
  const verifiedWhenShown = new Set<string>();
  const verifyShown = (editor: vscode.TextEditor | undefined): void => {
    if (!editor || !isBpfSource(editor.document) || !readSettings().verifyOnSave) return;
    const key = editor.document.uri.toString();
    if (verifiedWhenShown.has(key) || verifier.reportFor(editor.document.uri) || verifier.isRunning(editor.document.uri)) return;
    verifiedWhenShown.add(key);
    inBackground(editor.document, 'open');
  };

  const verifyCurrentFile = async (): Promise<void> => {
    const document = vscode.window.activeTextEditor?.document;
    if (!document || !isBpfSource(document)) {
      void vscode.window.showWarningMessage('Open a *.bpf.c file to verify it: eBPF Studio checks files named NAME.bpf.c.');
      return;
    }
    try {
      await verifier.verify(document, 'command');
    } catch (error) {
      await explain(error, log);
    }
  };

  const reconnect = async (): Promise<void> => {
    const target = sessions.currentTarget();
    if (!target.ok) {
      await explain(new NoTargetError(target.reason), log);
      return;
    }
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `eBPF: connecting to ${target.description}…` },
        () => sessions.reconnect(target.spec, target.description),
      );
    } catch (error) {
      await explain(error, log);
      return;
    }
    const editor = vscode.window.activeTextEditor;
    if (editor && isBpfSource(editor.document)) inBackground(editor.document, 'command');
  };

  const registrations = vscode.Disposable.from(
    vscode.commands.registerCommand(Commands.verifyCurrentFile, verifyCurrentFile),
    vscode.commands.registerCommand(Commands.reconnect, reconnect),
    vscode.workspace.onDidSaveTextDocument((document) => {
      if (isBpfSource(document) && readSettings().verifyOnSave) inBackground(document, 'save');
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      if (!isBpfSource(document)) return;
      verifiedWhenShown.delete(document.uri.toString());
      verifier.forget(document.uri);
    }),
    vscode.window.onDidChangeActiveTextEditor(verifyShown),
    sessions.onDidChangeTarget(() => {
      lastBackgroundProblem = undefined;
      const editor = vscode.window.activeTextEditor;
      if (editor && isBpfSource(editor.document)) inBackground(editor.document, 'command');
    }),
  );
  // The file already shown when the extension activates is verified like one opened later.
  verifyShown(vscode.window.activeTextEditor);
  return registrations;
}

/** A popup for a failure the user caused by a command, with the action most likely to fix it. */
async function explain(error: unknown, log: ExtensionLog): Promise<void> {
  const message = errorMessage(error);
  log.info(message);
  const actions: string[] = [];
  if (error instanceof NoTargetError) actions.push('Select Target');
  else if (error instanceof AgentSessionError) {
    if (error.kind === 'changed-host-key') return; // already reported, once, by AgentSessions
    // 'agent-integrity': a changed agent was moved aside, so reconnecting installs a fresh one.
    if (error.kind === 'unknown-host-key' || error.kind === 'closed' || error.kind === 'credentials-declined' || error.kind === 'sudo-password' || error.kind === 'agent-integrity') {
      actions.push('Reconnect');
    }
    if (error.kind === 'connect' || error.kind === 'auth') actions.push('Select Target', 'Open Settings');
    actions.push('Show Output');
  } else actions.push('Show Output');
  const choice = await vscode.window.showErrorMessage(message, ...actions);
  if (choice === 'Select Target') await vscode.commands.executeCommand(Commands.selectTarget);
  else if (choice === 'Reconnect') await vscode.commands.executeCommand(Commands.reconnect);
  else if (choice === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'ebpfStudio');
  else if (choice === 'Show Output') log.show();
}
