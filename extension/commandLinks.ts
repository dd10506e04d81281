/**
 * The `command:` URIs that link to our commands from diagnostics, hovers and tooltips. Markdown
 * that embeds these links is trusted for the few commands a link may run and nothing else.
 */
import * as vscode from 'vscode';
import { Commands } from './commandIds';

/** For MarkdownString.isTrusted: links may run these commands only. */
export const trustedCommands = { enabledCommands: [Commands.selectTarget, Commands.verifyCurrentFile, Commands.showVerifierLog, Commands.reconnect] };

export function commandUri(command: string, args: unknown[] = []): vscode.Uri {
  return vscode.Uri.parse(`command:${command}?${encodeURIComponent(JSON.stringify(args))}`);
}

/** Arguments of the Show Verifier Log command when a link names one program. */
export function verifierLogArgs(file: vscode.Uri, program: string): [string, string] {
  return [file.toString(), program];
}
