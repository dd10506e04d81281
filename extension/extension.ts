/**
 * Entry point of the eBPF Studio extension: creates the shared pieces (Output channel, agent
 * sessions, file verifier) and wires each feature to them. Features live in their own modules.
 */
import * as vscode from 'vscode';
import { AgentSessions } from './agentSessions';
import { ExtensionLog } from './extensionLog';
import { FileVerifier } from './fileVerifier';
import { startLanguageClient } from './languageClient';
import { registerProgramCodeLens } from './programCodeLens';
import { registerReportDiagnostics } from './reportDiagnostics';
import { registerSelectTargetCommand } from './selectTargetCommand';
import { errorMessage } from './settings';
import { registerVerdictStatusBar } from './verdictStatusBar';
import { registerVerifierLogCommand } from './verifierLogCommand';
import { registerVerifyTriggers } from './verifyTriggers';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = new ExtensionLog('eBPF Studio');
  const version = String((context.extension.packageJSON as { version?: unknown }).version ?? 'unknown');
  const sessions = new AgentSessions({ agentSourceDir: context.asAbsolutePath('out/agent-src'), clientVersion: `ebpf-studio ${version}`, log });
  const verifier = new FileVerifier(sessions, log);
  const statusBar = registerVerdictStatusBar(verifier, sessions);
  context.subscriptions.push(
    log,
    sessions,
    verifier,
    statusBar,
    registerReportDiagnostics(verifier, log),
    registerProgramCodeLens(verifier),
    registerVerifierLogCommand(verifier, log),
    registerSelectTargetCommand(),
    registerVerifyTriggers(verifier, sessions, statusBar, log),
  );
  try {
    context.subscriptions.push(await startLanguageClient(context));
  } catch (error) {
    // Verification works without the language server; say why completion and hover are missing.
    log.info(`the eBPF language server did not start: ${errorMessage(error)}`);
  }
}
