/**
 * The bookkeeping behind "remember this passphrase" (credentialPrompts.ts): a kept secret is handed
 * out on the first ask, and deleted when it is refused, so the person is asked again; a typed one is
 * offered for keeping only once it worked, so a wrong one is never kept. Only key passphrases and
 * sudo passwords are kept. Pure: the store, the person and the offer are passed in, so it is tested
 * without VS Code. Log lines name what a secret is for, never the secret.
 */
import { describeCredential, type CredentialPrompter, type CredentialRequest } from '../remote-agent/client/credentialPrompt';

/** Where kept secrets live (VS Code's SecretStorage in the editor). */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

export interface RememberingPrompterParts {
  store: SecretStore;
  /** Asks the person (the input box); undefined when they dismissed it. */
  askPerson(request: CredentialRequest, signal: AbortSignal): Promise<string | undefined>;
  /** Asks whether to keep an answer that just worked; true → it is stored. Never awaited by the connection. */
  offerToKeep(request: CredentialRequest): PromiseLike<boolean>;
  /** Background events for the Output channel. */
  log(line: string): void;
  /** A failure to store what the person asked to keep: they asked, so it is shown to them. */
  showError(message: string): void;
}

/** Only these may be kept: a password for sshd itself is better replaced by a key. */
export const KEPT_KINDS: ReadonlySet<CredentialRequest['kind']> = new Set(['key-passphrase', 'sudo-password']);

/** Where a kept secret is stored: one entry per target, kind and key file. */
export function storageKey(request: Pick<CredentialRequest, 'kind' | 'target' | 'keyFile'>): string {
  return `ebpfStudio.credential:${JSON.stringify([request.target, request.kind, request.keyFile ?? ''])}`;
}

export function rememberingPrompter(parts: RememberingPrompterParts): CredentialPrompter {
  const { store, log } = parts;
  /** Keys of secrets handed out from the store and not judged yet. */
  const fromStore = new Set<string>();
  /** Answers typed and not judged yet, to offer keeping once they worked. */
  const typed = new Map<string, string>();

  return {
    ask: async (request, signal) => {
      const key = storageKey(request);
      typed.delete(key);
      if (KEPT_KINDS.has(request.kind) && request.attempt === 1) {
        let kept: string | undefined;
        try {
          kept = await store.get(key);
        } catch (error) {
          log(`${request.target}: VS Code's secret storage could not be read (${(error as Error).message}); asking instead`);
        }
        if (kept !== undefined) {
          log(`${request.target}: using ${describeCredential(request)} kept in VS Code's secret storage`);
          fromStore.add(key);
          return kept;
        }
      }
      const answer = await parts.askPerson(request, signal);
      if (answer !== undefined && KEPT_KINDS.has(request.kind) && !signal.aborted) typed.set(key, answer);
      return answer;
    },
    accepted: (request) => {
      const key = storageKey(request);
      fromStore.delete(key);
      const answer = typed.get(key);
      typed.delete(key);
      if (answer === undefined) return;
      void Promise.resolve(parts.offerToKeep(request)).then(async (keep) => {
        if (!keep) return;
        try {
          await store.store(key, answer);
          log(`${request.target}: ${describeCredential(request)} is kept in VS Code's secret storage`);
        } catch (error) {
          parts.showError(`eBPF Studio could not keep ${describeCredential(request)}: ${(error as Error).message}`);
        }
      });
    },
    refused: (request) => {
      const key = storageKey(request);
      typed.delete(key);
      if (!fromStore.delete(key)) return;
      log(`${request.target}: ${describeCredential(request)} kept in VS Code's secret storage was refused; it is deleted and you are asked again`);
      Promise.resolve(store.delete(key)).then(undefined, (error: Error) => log(`${request.target}: could not delete a secret from VS Code's secret storage: ${error.message}`));
    },
  };
}
