/**
 * Passphrases and passwords asked in the editor: an input box that hides what is typed, worded with
 * the server's or sudo's own prompt. A key passphrase or sudo password that worked can be kept in
 * VS Code's secret storage (the user picks "Remember" once it worked), keyed by target, kind and
 * key file; a kept one that fails is deleted and the user is asked again. Secrets go from here to
 * the session in memory only: never to the Output channel, a setting or a file of ours.
 */
import * as vscode from 'vscode';
import { describeCredential, type CredentialPrompter, type CredentialRequest } from '../remote-agent/client/credentialPrompt';
import type { ExtensionLog } from './extensionLog';

/** Only these may be remembered: a password for sshd itself is better replaced by a key. */
const REMEMBERED_KINDS: ReadonlySet<CredentialRequest['kind']> = new Set(['key-passphrase', 'sudo-password']);

/** The prompter every session of this window uses. */
export function activateCredentialPrompts(secrets: vscode.SecretStorage, log: ExtensionLog): CredentialPrompter {
  /** Keys of secrets handed out from storage and not yet judged: if refused, they are deleted. */
  const fromStorage = new Set<string>();
  /** Answers typed and not yet judged, to offer remembering once they worked. */
  const typed = new Map<string, string>();

  const ask = async (request: CredentialRequest, signal: AbortSignal): Promise<string | undefined> => {
    const key = storageKey(request);
    if (REMEMBERED_KINDS.has(request.kind) && request.attempt === 1) {
      const stored = await secrets.get(key).then(
        (value) => value,
        (error: Error) => {
          log.info(`${request.target}: VS Code's secret storage could not be read (${error.message}); asking instead`);
          return undefined;
        },
      );
      if (stored !== undefined) {
        log.info(`${request.target}: using ${describeCredential(request)} kept in VS Code's secret storage`);
        fromStorage.add(key);
        return stored;
      }
    }
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
      if (answer !== undefined && REMEMBERED_KINDS.has(request.kind)) typed.set(key, answer);
      return signal.aborted ? undefined : answer;
    } finally {
      signal.removeEventListener('abort', onAbort);
      cancel.dispose();
    }
  };

  const accepted = (request: CredentialRequest): void => {
    const key = storageKey(request);
    fromStorage.delete(key);
    const answer = typed.get(key);
    typed.delete(key);
    if (answer !== undefined) offerToRemember(request, key, answer);
  };

  const refused = (request: CredentialRequest): void => {
    const key = storageKey(request);
    typed.delete(key);
    if (!fromStorage.delete(key)) return;
    log.info(`${request.target}: ${describeCredential(request)} kept in VS Code's secret storage was refused; it is deleted and you are asked again`);
    secrets.delete(key).then(undefined, (error: Error) => log.info(`${request.target}: could not delete a secret from VS Code's secret storage: ${error.message}`));
  };

  /** Asked after the answer worked, so only a working secret is ever stored; never awaited by the connection. */
  const offerToRemember = (request: CredentialRequest, key: string, answer: string): void => {
    const remember = 'Remember';
    void vscode.window.showInformationMessage(`Remember ${describeCredential(request)} in VS Code's secret storage?`, remember, 'Not Now').then(async (choice) => {
      if (choice !== remember) return;
      try {
        await secrets.store(key, answer);
        log.info(`${request.target}: ${describeCredential(request)} is kept in VS Code's secret storage`);
      } catch (error) {
        void vscode.window.showErrorMessage(`eBPF Studio could not keep ${describeCredential(request)}: ${(error as Error).message}`);
      }
    });
  };

  return { ask, accepted, refused };
}

/** Where a remembered secret is kept: one entry per target, kind and key file. */
export function storageKey(request: Pick<CredentialRequest, 'kind' | 'target' | 'keyFile'>): string {
  return `ebpfStudio.credential:${JSON.stringify([request.target, request.kind, request.keyFile ?? ''])}`;
}

function inputPrompt(request: CredentialRequest): string {
  const parts: string[] = [];
  if (request.attempt > 1) parts.push(request.kind === 'key-passphrase' ? 'Wrong passphrase, try again.' : 'Sorry, try again.');
  if (request.instructions !== undefined) parts.push(request.instructions);
  parts.push(request.prompt.trim());
  return parts.join(' ');
}
