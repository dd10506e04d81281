/**
 * Prompters for tests: fixed answers per request, a record of what was asked (never the answers),
 * and how each answer fared, so a test can say "asked twice, the first refused". The answers that
 * are secrets come from testSecrets.ts.
 */
import type { CredentialPrompter, CredentialRequest } from '../../remote-agent/client/credentialPrompt';
import { connectSsh, type SshConnectOptions } from '../../remote-agent/client/sshTransport';

export interface ScriptedPrompter extends CredentialPrompter {
  /** Every request, in order. */
  asked: CredentialRequest[];
  /** 'accepted key-passphrase #2', 'refused sudo-password #1', … in order. */
  outcomes: string[];
}

/** `answer` returns the answer to a request, or undefined to decline it. */
export function scriptedPrompter(answer: (request: CredentialRequest) => string | undefined): ScriptedPrompter {
  const asked: CredentialRequest[] = [];
  const outcomes: string[] = [];
  return {
    asked,
    outcomes,
    ask: async (request) => {
      asked.push(request);
      return answer(request);
    },
    accepted: (request) => outcomes.push(`accepted ${request.kind} #${request.attempt}`),
    refused: (request) => outcomes.push(`refused ${request.kind} #${request.attempt}`),
  };
}

/** Answers with `answers[attempt - 1]` (the last one again when there are fewer), for requests of `kind`. */
export function answersByAttempt(kind: CredentialRequest['kind'], answers: string[]): ScriptedPrompter {
  return scriptedPrompter((request) => (request.kind === kind ? answers[Math.min(request.attempt, answers.length) - 1] : undefined));
}

/**
 * Logs in with `options` and runs `id -un` there: who we became. Every log line and the error of a
 * failed login go to `logged`, which tests search for secrets.
 */
export async function whoAmIOver(options: Omit<SshConnectOptions, 'log'>, logged: string[]): Promise<string> {
  const transport = await connectSsh({ ...options, log: (line) => logged.push(line) }).catch((error: Error) => {
    logged.push(error.message);
    throw error;
  });
  try {
    return (await transport.run('id -un')).stdout.trim();
  } finally {
    await transport.dispose();
  }
}
