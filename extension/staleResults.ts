/**
 * A target that went away for good: once AgentSessions has given up its automatic tries, the
 * editor says so once (a warning with Reconnect and Select Target), and the results last checked
 * there stay visible, marked stale (code lenses, Problems, the status bar use `staleNote`), until
 * the target answers again.
 */
import * as vscode from 'vscode';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';

/** "stale: unreachable since 14:02:11" for results checked on a target given up on, else undefined. */
export function staleNote(sessions: AgentSessions, target: string): string | undefined {
  const since = sessions.unreachableSince(target);
  return since === undefined ? undefined : `stale: unreachable since ${new Date(since).toLocaleTimeString('en-GB')}`;
}

export function activateStaleResults(sessions: AgentSessions): vscode.Disposable {
  return sessions.onDidChangeState((state) => {
    if (state.state !== 'unreachable') return;
    const message =
      `eBPF Studio: ${state.description === state.where ? state.where : `${state.description} (${state.where})`} cannot be reached: ${state.reason} ${state.attempts} automatic tries failed. ` +
      `Its last results stay shown, marked stale.`;
    void vscode.window.showWarningMessage(message, 'Reconnect', 'Select Target').then((choice) => {
      if (choice === 'Reconnect') void vscode.commands.executeCommand(Commands.reconnect);
      if (choice === 'Select Target') void vscode.commands.executeCommand(Commands.selectTarget);
    });
  });
}
