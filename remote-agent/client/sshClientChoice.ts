/**
 * Which SSH client reaches a target: our own (ssh2, sshTransport.ts: resumable, keepalives, prompts
 * in the editor, no program needed) or the user's OpenSSH client (opensshTransport.ts), which alone
 * can log in with a certificate or check a host certificate against `@cert-authority`. The setting
 * `ebpfStudio.sshClient` (CLI: --ssh-client) is 'auto' by default: OpenSSH exactly when the target
 * uses certificates and an ssh program is installed; `chooseSshClient` is that rule, a pure function.
 */
import { existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { hasCertAuthorityFor, readKnownHostsFile, type KnownHostsFile } from './knownHosts';
import { AgentSessionError } from './sessionError';
import { configHasMatchExec, resolveSshHost } from './sshConfigHosts';
import type { SshHostConfig } from './sshHostConfig';
import type { SshConnectOptions } from './sshTransport';
import type { Transport } from './transport';

export type SshClientSetting = 'auto' | 'builtin' | 'openssh';
export const SSH_CLIENT_SETTINGS: readonly SshClientSetting[] = ['auto', 'builtin', 'openssh'];

export interface SshClientFacts {
  /** The target's known_hosts files, read (a missing one is empty). */
  knownHosts: Array<{ path: string; file: KnownHostsFile }>;
  /** Whether an `ssh` program is on PATH. */
  sshInstalled: boolean;
  /** Whether that ssh can share one connection (ControlMaster): not Windows' OpenSSH port. */
  sshCanMultiplex: boolean;
  /** Whether the ssh config has a `Match exec` block: OpenSSH would run its command, which 'auto' never makes it do. */
  configRunsCommands: boolean;
}

export interface SshClientDecision {
  client: 'builtin' | 'openssh';
  /** Why, for the log; absent for the plain default (builtin, no certificates). */
  why?: string;
}

export function chooseSshClient(setting: SshClientSetting, config: SshHostConfig, facts: SshClientFacts): SshClientDecision {
  if (setting === 'builtin') return { client: 'builtin' };
  if (setting === 'openssh') return { client: 'openssh', why: 'ebpfStudio.sshClient is "openssh"' };
  const authority = facts.knownHosts.find(({ file }) => hasCertAuthorityFor(file, config.hostName, config.port));
  const reason =
    config.certificateFiles.length > 0
      ? `it logs in with the certificate ${config.certificateFiles[0]}`
      : authority !== undefined
        ? `its host key is vouched for by a @cert-authority line in ${authority.path}`
        : undefined;
  if (reason === undefined) return { client: 'builtin' };
  if (!facts.sshCanMultiplex) return { client: 'builtin', why: `${reason}, but the ssh of Windows cannot share one connection (no ControlMaster): certificates are not used` };
  if (!facts.sshInstalled) return { client: 'builtin', why: `${reason}, but no ssh program is installed (apt-get install openssh-client): certificates are not used` };
  if (facts.configRunsCommands) return { client: 'builtin', why: `${reason}, but the ssh config has a 'Match exec' block, which the OpenSSH client would run: certificates are not used (set ebpfStudio.sshClient to "openssh" to allow it)` };
  return { client: 'openssh', why: reason };
}

export interface ConnectSshTargetOptions extends SshConnectOptions {
  sshClient?: SshClientSetting;
}

/** Connects to an SSH target with the client `chooseSshClient` picks, saying why in the log when it is OpenSSH. */
export async function connectSshTarget(options: ConnectSshTargetOptions): Promise<Transport> {
  // Each client is loaded only when chosen: the settings readers import this module, and ssh2 costs ~50 ms to evaluate.
  const builtin = async (resolvedTarget?: SshHostConfig): Promise<Transport> =>
    (await import('./sshTransport')).connectSsh({ ...options, ...(resolvedTarget !== undefined && { resolvedTarget }) });
  const setting = options.sshClient ?? 'auto';
  if (setting === 'builtin') return builtin();
  let resolved: SshHostConfig;
  try {
    resolved = await resolveSshHost(options.host, {
      ...(options.user !== undefined && { user: options.user }),
      ...(options.port !== undefined && { port: options.port }),
      ...(options.sshConfigFile !== undefined && { configFile: options.sshConfigFile }),
      ...(options.log !== undefined && { log: options.log }),
    });
  } catch (error) {
    throw error instanceof AgentSessionError ? error : new AgentSessionError('connect', (error as Error).message, { cause: error });
  }
  // OpenSSH picks up KEY-cert.pub beside a key named with -i as beside one from the config.
  const named = options.identityFile !== undefined ? `${options.identityFile}-cert.pub` : undefined;
  const certified = named !== undefined && existsSync(named) && !resolved.certificateFiles.includes(named);
  const target = certified ? { ...resolved, certificateFiles: [named, ...resolved.certificateFiles] } : resolved;
  const knownHostsPaths = options.knownHostsFile !== undefined ? [options.knownHostsFile] : resolved.knownHostsFiles;
  const sshInstalled = programOnPath('ssh');
  const decision = chooseSshClient(setting, target, {
    knownHosts: knownHostsPaths.map((path) => ({ path, file: readKnownHostsFile(path) })),
    sshInstalled,
    sshCanMultiplex: process.platform !== 'win32',
    configRunsCommands: configHasMatchExec(options.sshConfigFile),
  });
  if (decision.why !== undefined) options.log?.(`SSH client for ${options.host}: ${decision.client === 'openssh' ? 'OpenSSH' : 'built-in'}, because ${decision.why}.`);
  if (decision.client === 'builtin') return builtin(target);
  if (!sshInstalled) {
    throw new AgentSessionError('connect', `ebpfStudio.sshClient is "openssh", but there is no 'ssh' program on PATH (apt-get install openssh-client).`);
  }
  const { connectOpenssh } = await import('./opensshTransport');
  return connectOpenssh({ ...options, resolved: target });
}

function programOnPath(name: string): boolean {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .some((dir) => {
      const path = join(dir, name);
      try {
        return existsSync(path) && (statSync(path).mode & 0o111) !== 0;
      } catch {
        return false;
      }
    });
}
