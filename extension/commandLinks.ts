/**
 * Our command IDs and the `command:` URIs that link to them from diagnostics, hovers and
 * tooltips. Markdown that embeds these links is trusted for exactly these commands and nothing else.
 */
import * as vscode from 'vscode';

export const Commands = {
  selectTarget: 'ebpfStudio.selectTarget',
  verifyCurrentFile: 'ebpfStudio.verifyCurrentFile',
  showVerifierLog: 'ebpfStudio.showVerifierLog',
  reconnect: 'ebpfStudio.reconnect',
} as const;

/** For MarkdownString.isTrusted: links may run these commands only. */
export const trustedCommands = { enabledCommands: Object.values(Commands) };

export function commandUri(command: string, args: unknown[] = []): vscode.Uri {
  return vscode.Uri.parse(`command:${command}?${encodeURIComponent(JSON.stringify(args))}`);
}

/** Arguments of the Show Verifier Log command when a link names one program. */
export function verifierLogArgs(file: vscode.Uri, program: string): [string, string] {
  return [file.toString(), program];
}
