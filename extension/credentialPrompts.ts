/**
 * Passphrases and passwords asked in the editor: an input box that hides what is typed, worded with
 * the server's or sudo's own prompt, kept open when focus moves. A key passphrase or sudo password
 * that worked can be kept in VS Code's secret storage (the user picks "Remember" once it worked); a
 * kept one that fails is deleted and the user is asked again (rememberedSecrets.ts). Secrets go from
 * here to the session in memory only: never to the Output channel, a setting or a file of ours.
 */
import * as vscode from 'vscode';
import { describeCredential, oneAtATime, type CredentialPrompter, type CredentialRequest } from '../remote-agent/client/credentialPrompt';
import type { ExtensionLog } from './extensionLog';
import { rememberingPrompter } from './rememberedSecrets';

/** The prompter every session of this window uses. */
export function activateCredentialPrompts(secrets: vscode.SecretStorage, log: ExtensionLog): CredentialPrompter {
  return rememberingPrompter({
    store: secrets,
    // A second input box would dismiss the first (a declined prompt): targets opened at once take turns.
    askPerson: oneAtATime(showPrompt),
    offerToKeep: async (request) => {
      const remember = 'Remember';
      const choice = await vscode.window.showInformationMessage(`Remember ${describeCredential(request)} in VS Code's secret storage?`, remember, 'Not Now');
      return choice === remember;
    },
    log: (line) => log.info(line),
    showError: (message) => void vscode.window.showErrorMessage(message),
  });
}

/** The input box, dismissed when the connection attempt ends (`signal`). */
async function showPrompt(request: CredentialRequest, signal: AbortSignal): Promise<string | undefined> {
  const cancel = new vscode.CancellationTokenSource();
  const onAbort = (): void => cancel.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const answer = await vscode.window.showInputBox(
      {
        title: `eBPF Studio: ${request.target}`,
        prompt: inputPrompt(request),
        password: !request.echo,
        ignoreFocusOut: true,
      },
      cancel.token,
    );
    return signal.aborted ? undefined : answer;
  } finally {
    signal.removeEventListener('abort', onAbort);
    cancel.dispose();
  }
}

function inputPrompt(request: CredentialRequest): string {
  const parts: string[] = [];
  if (request.attempt > 1) parts.push(request.kind === 'key-passphrase' ? 'Wrong passphrase, try again.' : 'Sorry, try again.');
  if (request.instructions !== undefined) parts.push(request.instructions);
  parts.push(request.prompt.trim());
  return parts.join(' ');
}
