/**
 * Entry point of the eBPF Studio extension: creates the shared pieces (Output channel, agent
 * sessions, file verifier) and wires each feature to them. Features live in their own modules.
 */
import * as vscode from 'vscode';
import { AgentSessions } from './agentSessions';
import { activateCredentialPrompts } from './credentialPrompts';
import { registerAttachCommands } from './attachCommands';
import { registerAttachedStatusBar } from './attachedStatusBar';
import { registerEventsView } from './eventsView';
import { registerExplorerTree } from './explorerTree';
import { Commands } from './commandIds';
import { ExtensionLog } from './extensionLog';
import { FileVerifier } from './fileVerifier';
import { KernelMatrix, registerKernelMatrixCommands } from './kernelMatrix';
import { registerKernelMatrixView } from './kernelMatrixView';
import { KernelVms, registerKernelVmCommands } from './kernelVms';
import { startLanguageClient } from './languageClient';
import { registerTargetInfoSync } from './targetInfoSync';
import { registerClangdConfigOffer } from './clangdConfigOffer';
import { registerCompareCostCommand } from './compareCostCommand';
import { registerMapsView } from './mapsView';
import { registerNewProgramCommand } from './newProgramCommand';
import { registerProgramCodeLens } from './programCodeLens';
import { activateStaleResults } from './staleResults';
import { registerReportDiagnostics } from './reportDiagnostics';
import { RunningPrograms } from './runningPrograms';
import { registerSelectTargetCommand } from './selectTargetCommand';
import { errorMessage } from './settings';
import { SourceEdits } from './sourceEdits';
import { registerTraceOutput } from './traceOutput';
import { registerVerdictStatusBar } from './verdictStatusBar';
import { registerVerifierLogCommand } from './verifierLogCommand';
import { registerVerifierCoverage } from './verifierCoverage';
import { registerVerifierStateHover } from './verifierStateHover';
import { registerLoadPresetQuickFixes } from './loadPresetSetting';
import { registerVerifierQuickFixes } from './verifierQuickFixes';
import { registerMcpServerProvider } from './mcpServerProvider';
import { registerVerifyTriggers } from './verifyTriggers';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = new ExtensionLog('eBPF Studio');
  const version = String((context.extension.packageJSON as { version?: unknown }).version ?? 'unknown');
  const sessions = new AgentSessions({
    agentSourceDir: context.asAbsolutePath('out/agent-src'),
    agentBinaryDir: context.asAbsolutePath('out/agent-bin'),
    clientVersion: `ebpf-studio ${version}`,
    log,
    credentials: activateCredentialPrompts(context.secrets, log),
    // The bundled CLI, run by the extension host's Electron as a plain Node.
    sessionProcess: { cliEntry: context.asAbsolutePath('out/cli.js'), execPath: process.execPath, execArgv: [], env: { ELECTRON_RUN_AS_NODE: '1' } },
  });
  const edits = new SourceEdits();
  const verifier = new FileVerifier(sessions, log, edits);
  const statusBar = registerVerdictStatusBar(verifier, sessions);
  const running = new RunningPrograms(sessions, log);
  const events = registerEventsView(context.extensionUri, running, log);
  const vms = new KernelVms(log);
  const matrix = new KernelMatrix(sessions, log, edits);
  const matrixView = registerKernelMatrixView(matrix, log);
  context.subscriptions.push(
    log,
    sessions,
    edits,
    verifier,
    statusBar,
    running,
    events,
    vms,
    matrix,
    matrixView,
    registerKernelVmCommands(vms, sessions, log),
    registerKernelMatrixCommands(matrix, vms, log),
    registerCompareCostCommand(sessions, matrix, log),
    vscode.commands.registerCommand(Commands.showEvents, (runId?: unknown) => events.show(typeof runId === 'string' ? runId : undefined)),
    registerAttachCommands(verifier, running, sessions, log),
    registerAttachedStatusBar(running),
    registerTraceOutput(running),
    registerMapsView(running, log),
    registerExplorerTree(sessions, running, vms),
    registerReportDiagnostics(verifier, sessions, log, matrixView.diagnostics),
    registerProgramCodeLens(verifier, running, sessions),
    activateStaleResults(sessions),
    registerVerifierLogCommand(context.extensionUri, verifier, log),
    registerVerifierStateHover(verifier),
    registerVerifierCoverage(verifier),
    registerVerifierQuickFixes(verifier),
    registerLoadPresetQuickFixes(verifier),
    registerSelectTargetCommand(vms, sessions),
    registerNewProgramCommand(context, sessions, verifier, log),
    registerVerifyTriggers(verifier, sessions, statusBar, log),
    registerMcpServerProvider(context, sessions, version, log),
  );
  try {
    const client = await startLanguageClient(context);
    context.subscriptions.push(
      client,
      registerTargetInfoSync(client, sessions, context.globalStorageUri, log),
      registerClangdConfigOffer(client, context, log),
    );
  } catch (error) {
    // Verification works without the language server; say why completion and hover are missing.
    log.info(`the eBPF language server did not start: ${errorMessage(error)}`);
  }
}
