/**
 * How the SSH client proves who it is to one sshd, in OpenSSH's order: the keys that need no
 * passphrase (the explicit one first), ssh-agent, then what needs a person: keys protected by a
 * passphrase, keyboard-interactive, password. Built on ssh2's authHandler middleware, which is told
 * after each refusal which methods the server still allows, so no one is asked for something the
 * server would not take. Every secret goes from the prompter straight into ssh2, in memory only.
 */
import { readFileSync } from 'node:fs';
import { utils, type AnyAuthMethod, type AuthHandlerMiddleware, type AuthenticationType, type ParsedKey, type Prompt } from 'ssh2';
import { askForCredential, MAX_CREDENTIAL_ATTEMPTS, type CredentialPrompter, type CredentialRequest } from './credentialPrompt';
import { AgentSessionError } from './sessionError';

export interface SshAuthenticationOptions {
  username: string;
  /** The host as prompts and messages name it: 'user@host:port' or 'jump host ALIAS (user@host:port)'. */
  description: string;
  /** For the password prompt, worded as OpenSSH words it ("user@host's password:"). */
  hostName: string;
  /** --identity / the identityFile setting: must be usable, unlike the config's keys, which may be missing. */
  explicitIdentityFile: string | undefined;
  identityFiles: string[];
  /** ssh-agent's socket; undefined when none runs or IdentitiesOnly says to use the named keys only. */
  agentSocket: string | undefined;
  /** Who can be asked for passphrases and passwords; absent → only keys without a passphrase and ssh-agent. */
  prompter: CredentialPrompter | undefined;
  /** Keys unlocked earlier on the same route (a jump host may use the target's key): each passphrase is asked once. */
  unlockedKeys: Map<string, ParsedKey>;
  log: ((line: string) => void) | undefined;
}

/** What the connection attempt lends the authentication: its cancellation and its clock. */
export interface AuthenticationContext {
  /** Aborted when the attempt ends for any reason, so an open prompt is dismissed. */
  signal: AbortSignal;
  /** A person is typing (true) or done (false): the connect timeout must not run under them. */
  askingPerson(asking: boolean): void;
  /** Ends the attempt with this error (a declined prompt, a passphrase wrong too often). */
  fail(error: Error): void;
}

export interface SshAuthentication {
  /** For ssh2's `authHandler`. */
  readonly handler: AuthHandlerMiddleware;
  /** The server let us in: answers given for the last method worked. */
  succeeded(): void;
  /** Every method tried, for the message when the server refused them all ("key ~/.ssh/id_rsa, ssh-agent, password (3 times)"). */
  describeTried(): string;
}

type Step =
  | { kind: 'key'; file: string; key: ParsedKey }
  | { kind: 'encrypted-key'; file: string; content: Buffer }
  | { kind: 'agent'; socket: string }
  | { kind: 'keyboard-interactive' }
  | { kind: 'password' };

interface CurrentStep {
  step: Step;
  attempt: number;
  /** What the person answered for this attempt, told accepted or refused once the server has decided. */
  answered: CredentialRequest[];
}

/**
 * Reads the key files (an unreadable or unusable explicit key is an error at once, as `ssh -i`
 * makes it; a config key that is missing is skipped) and returns the handler that walks the steps.
 */
export function planSshAuthentication(options: SshAuthenticationOptions, context: AuthenticationContext): SshAuthentication {
  const { username, description, prompter, log } = options;
  const steps = authenticationSteps(options);
  const tried: string[] = [];
  let nextIndex = 0;
  let current: CurrentStep | undefined;
  /** The methods the server still allows, known after its first refusal (null before). */
  let allowed: AuthenticationType[] | null = null;
  let probed = false;

  const ask = async (request: CredentialRequest): Promise<string> => {
    context.askingPerson(true);
    try {
      return await askForCredential(prompter!, request, context.signal);
    } finally {
      context.askingPerson(false);
    }
  };

  /** The key's passphrase, asked until it decrypts the key or MAX_CREDENTIAL_ATTEMPTS answers failed. */
  const unlock = async (file: string, content: Buffer): Promise<ParsedKey> => {
    const unlocked = options.unlockedKeys.get(file);
    if (unlocked !== undefined) return unlocked;
    for (let attempt = 1; attempt <= MAX_CREDENTIAL_ATTEMPTS; attempt++) {
      const request: CredentialRequest = { kind: 'key-passphrase', target: description, keyFile: file, prompt: `Enter passphrase for key '${file}':`, echo: false, attempt };
      const parsed = utils.parseKey(content, await ask(request));
      if (!(parsed instanceof Error)) {
        prompter!.accepted?.(request);
        options.unlockedKeys.set(file, parsed);
        return parsed;
      }
      prompter!.refused?.(request);
      log?.(`The passphrase given for ${file} does not decrypt it (attempt ${attempt} of ${MAX_CREDENTIAL_ATTEMPTS}).`);
    }
    throw new AgentSessionError(
      'auth',
      `The passphrase for key ${file} was wrong ${MAX_CREDENTIAL_ATTEMPTS} times, so connecting to ${description} stopped. ` +
        `Check it with 'ssh-keygen -y -f ${file}', or load the key into ssh-agent (ssh-add).`,
    );
  };

  /** One keyboard-interactive round: each of the server's prompts shown with its own words. */
  const answerPrompts = async (name: string, instructions: string, prompts: Prompt[], attempt: number): Promise<string[]> => {
    const answers: string[] = [];
    const serverWords = [name, instructions].map((text) => text.trim()).filter((text) => text !== '').join('\n');
    for (const prompt of prompts) {
      const request: CredentialRequest = {
        kind: 'keyboard-interactive',
        target: description,
        prompt: prompt.prompt,
        ...(serverWords !== '' && { instructions: serverWords }),
        echo: prompt.echo === true,
        attempt,
      };
      answers.push(await ask(request));
      current?.answered.push(request);
    }
    return answers;
  };

  const methodFor = async (entry: CurrentStep): Promise<AnyAuthMethod> => {
    const { step } = entry;
    switch (step.kind) {
      case 'key':
        tried.push(`key ${step.file}`);
        return { type: 'publickey', username, key: step.key };
      case 'encrypted-key':
        tried.push(`key ${step.file}`);
        return { type: 'publickey', username, key: await unlock(step.file, step.content) };
      case 'agent':
        tried.push('ssh-agent');
        return { type: 'agent', username, agent: step.socket };
      case 'keyboard-interactive':
        if (entry.attempt === 1) tried.push('keyboard-interactive');
        return {
          type: 'keyboard-interactive',
          username,
          prompt: (name, instructions, _language, prompts, finish) => {
            answerPrompts(name, instructions, prompts, entry.attempt).then(finish, (error: Error) => context.fail(error));
          },
        };
      case 'password': {
        if (entry.attempt === 1) tried.push('password');
        const request: CredentialRequest = { kind: 'password', target: description, prompt: `${username}@${options.hostName}'s password:`, echo: false, attempt: entry.attempt };
        const password = await ask(request);
        entry.answered.push(request);
        return { type: 'password', username, password };
      }
    }
  };

  const chooseNext = async (): Promise<AnyAuthMethod | false> => {
    // A refused password or keyboard-interactive answer is asked for again, as OpenSSH does.
    if (current !== undefined && (current.step.kind === 'password' || current.step.kind === 'keyboard-interactive')) {
      if (current.attempt < MAX_CREDENTIAL_ATTEMPTS && (allowed === null || allowed.includes(current.step.kind))) {
        current.attempt++;
        return methodFor(current);
      }
      if (current.attempt > 1) tried[tried.lastIndexOf(current.step.kind)] = `${current.step.kind} (${current.attempt} times)`;
    }
    while (nextIndex < steps.length) {
      const step = steps[nextIndex]!;
      if (allowed !== null && !allowed.includes(methodName(step))) {
        nextIndex++;
        continue;
      }
      // Before asking anyone, learn what the server allows ('none' is refused with that list).
      if (needsPerson(step) && allowed === null && !probed) {
        probed = true;
        current = undefined;
        return { type: 'none', username };
      }
      nextIndex++;
      probed = true;
      current = { step, attempt: 1, answered: [] };
      return methodFor(current);
    }
    return false;
  };

  return {
    handler: (methodsLeft, _partialSuccess, proceed) => {
      if (methodsLeft !== null) allowed = methodsLeft;
      // Called again: the server refused what the last method sent.
      if (current !== undefined) {
        for (const request of current.answered.splice(0)) prompter?.refused?.(request);
      }
      // ssh2 takes `false` for "nothing left to try", which its typings leave out.
      chooseNext().then((method) => (proceed as (method: AnyAuthMethod | false) => void)(method), (error: Error) => context.fail(error));
    },
    succeeded: () => {
      if (current !== undefined) for (const request of current.answered.splice(0)) prompter?.accepted?.(request);
    },
    describeTried: () => (tried.length === 0 ? 'nothing: no key, no ssh-agent and no one to ask for a password' : tried.join(', ')),
  };
}

function methodName(step: Step): AuthenticationType {
  if (step.kind === 'keyboard-interactive' || step.kind === 'password') return step.kind;
  return 'publickey';
}

function needsPerson(step: Step): boolean {
  return step.kind === 'encrypted-key' || step.kind === 'keyboard-interactive' || step.kind === 'password';
}

/** The steps in the order they are tried; keys are read (and tested for a passphrase) here, once. */
function authenticationSteps(options: SshAuthenticationOptions): Step[] {
  const { explicitIdentityFile, prompter, log } = options;
  const plainKeys: Step[] = [];
  const encryptedKeys: Step[] = [];
  const addKey = (file: string, explicit: boolean): void => {
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch (error) {
      if (explicit) throw new AgentSessionError('auth', `Cannot read the identity file ${file}: ${(error as Error).message}.`, { cause: error });
      return;
    }
    const unlocked = options.unlockedKeys.get(file);
    if (unlocked !== undefined) return void plainKeys.push({ kind: 'key', file, key: unlocked });
    const parsed = utils.parseKey(content);
    if (!(parsed instanceof Error)) return void plainKeys.push({ kind: 'key', file, key: parsed });
    if (/no passphrase given/i.test(parsed.message)) {
      if (prompter !== undefined) return void encryptedKeys.push({ kind: 'encrypted-key', file, content });
      const why = 'it is protected by a passphrase and there is no one to ask for it here; load it into ssh-agent (ssh-add) instead';
      if (explicit) throw new AgentSessionError('auth', `Cannot use the identity file ${file}: ${why}.`);
      log?.(`Skipping ${file}: ${why}.`);
      return;
    }
    const why = `it is not a private key ssh2 can read (${parsed.message})`;
    if (explicit) throw new AgentSessionError('auth', `Cannot use the identity file ${file}: ${why}.`);
    log?.(`Skipping ${file}: ${why}.`);
  };
  if (explicitIdentityFile) addKey(explicitIdentityFile, true);
  for (const file of options.identityFiles) {
    if (file !== explicitIdentityFile) addKey(file, false);
  }
  // ssh-agent before any passphrase: a key the agent holds unlocked should not make anyone type.
  const agent: Step[] = options.agentSocket !== undefined ? [{ kind: 'agent', socket: options.agentSocket }] : [];
  const person: Step[] = prompter !== undefined ? [{ kind: 'keyboard-interactive' }, { kind: 'password' }] : [];
  return [...plainKeys, ...agent, ...encryptedKeys, ...person];
}
