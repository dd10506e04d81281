/**
 * The one error type of opening and running an agent session, with a `kind` a UI can branch on
 * (offer to trust a host key, tell the user to fix sudo, …) and a message a user can act on.
 */
import type { HostKeyInfo } from './knownHosts';

export type AgentSessionErrorKind =
  | 'unknown-host-key'
  | 'changed-host-key'
  | 'auth'
  /** The person asked for a passphrase or password declined to give one (credentialPrompt.ts). */
  | 'credentials-declined'
  | 'connect'
  /** sudo wants a password and no one can be asked, or it refused the one given. */
  | 'sudo-password'
  | 'agent-build'
  | 'agent-start'
  /**
   * The agent or its cache directory is not as this client left it: the binary's sha256 changed
   * (it was not run), or a directory is a link, another user's, or writable by others.
   */
  | 'agent-integrity'
  /**
   * The agent runs but cannot load programs at all: not root with "sudo": "never", or without
   * CAP_BPF and CAP_SYS_ADMIN (a container without --privileged, a bounding set that dropped them).
   */
  | 'privilege'
  /** session.resume: the agent of the dropped session is gone (its grace period ended); what it held was released. */
  | 'session-expired'
  /** session.resume: the agent refused the token, or its socket is not this user's; nothing was resumed. */
  | 'session-refused'
  | 'closed';

export class AgentSessionError extends Error {
  readonly kind: AgentSessionErrorKind;
  readonly hostKey?: HostKeyInfo;

  constructor(kind: AgentSessionErrorKind, message: string, options?: { hostKey?: HostKeyInfo; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentSessionError';
    this.kind = kind;
    if (options?.hostKey) this.hostKey = options.hostKey;
  }
}
