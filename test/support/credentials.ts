/**
 * Prompters for tests: fixed answers per request, a record of what was asked (never the answers),
 * and how each answer fared, so a test can say "asked twice, the first refused".
 */
import type { CredentialPrompter, CredentialRequest } from '../../remote-agent/client/credentialPrompt';

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
