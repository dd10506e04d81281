/**
 * The CLI's way to an agent: the options every command shares (--target, --identity,
 * --known-hosts, --ssh-client) and opening the session with them. Host keys are never trusted on first use here:
 * an unknown key is refused with its fingerprint, so scripts cannot be silently redirected.
 * Passphrases and passwords are asked on the terminal or through SSH_ASKPASS (terminalPrompter.ts).
 * A remote target is reached through the session process (sessionClient.ts), which keeps the
 * connection and agents warm between runs, unless --no-session or EBPF_STUDIO_SESSION=off.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openAgentSession, type AgentSession, type OpenSessionOptions } from '../remote-agent/client/agentSession';
import { mergeNamedTargets, parseTargetsSetting, resolveTargetText, type NamedTarget, type ResolvedTargetText } from '../remote-agent/client/namedTargets';
import { SSH_CLIENT_SETTINGS, type SshClientSetting } from '../remote-agent/client/sshClientChoice';
import { findTargetsFile, readTargetsFile } from '../remote-agent/client/workspaceTargetsFile';
import { version } from '../package.json';
import { openThroughSessionProcess, sayOnce, sessionDisabled } from './sessionClient';
import { cliPrompter } from './terminalPrompter';

export const CONNECTION_OPTIONS = {
  target: { type: 'string', default: 'local' },
  identity: { type: 'string' },
  'known-hosts': { type: 'string' },
  'ssh-client': { type: 'string' },
  'no-session': { type: 'boolean' },
} as const;

export interface ConnectionValues {
  target?: string;
  identity?: string;
  'known-hosts'?: string;
  'ssh-client'?: string;
  'no-session'?: boolean;
}

/** `--ssh-client`'s value; absent → 'auto'. */
function parseSshClient(value: string | undefined): SshClientSetting {
  if (value === undefined) return 'auto';
  const known = SSH_CLIENT_SETTINGS.find((setting) => setting === value);
  if (known === undefined) throw new Error(`--ssh-client must be ${SSH_CLIENT_SETTINGS.join(', ')}, not '${value}'`);
  return known;
}

/** The agent's C sources ship beside the bundle (out/agent-src); from a checkout they are in the tree. */
export function agentSourceDir(): string {
  const bundled = path.join(__dirname, 'agent-src');
  return fs.existsSync(bundled) ? bundled : path.join(__dirname, '..', 'remote-agent', 'agent');
}

/**
 * The static agents ship beside the bundle (out/agent-bin); a checkout has them once
 * scripts/build-agent-binaries.sh ran. Without them every target builds the agent from source.
 */
export function agentBinaryDir(): string | undefined {
  const bundled = path.join(__dirname, 'agent-bin');
  const checkout = path.join(__dirname, '..', 'remote-agent', 'agent', 'build', 'static');
  return [bundled, checkout].find((dir) => fs.existsSync(dir));
}

/** The environment variable holding named targets as a JSON array, as ebpfStudio.targets does (the editor sets it for `mcp`). */
export const TARGETS_ENV = 'EBPF_STUDIO_TARGETS';

let namedTargets: NamedTarget[] | undefined;

/**
 * The named targets the CLI knows: those of EBPF_STUDIO_TARGETS, then those of the nearest
 * `.ebpf-studio/targets.json` from the current directory upwards. Read once; what is wrong in them
 * is said once on stderr, and the rest still works.
 */
export function cliNamedTargets(): NamedTarget[] {
  if (namedTargets !== undefined) return namedTargets;
  const lists = [];
  const fromEnv = process.env[TARGETS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    let value: unknown;
    try {
      value = JSON.parse(fromEnv);
    } catch (error) {
      value = `not JSON: ${(error as Error).message}`;
    }
    lists.push(parseTargetsSetting(value, TARGETS_ENV));
  }
  const file = findTargetsFile(process.cwd(), true);
  if (file !== undefined) lists.push(readTargetsFile(file));
  const merged = mergeNamedTargets(lists);
  for (const problem of merged.problems) process.stderr.write(`ebpf-studio: warning: ${problem}\n`);
  namedTargets = merged.targets;
  return namedTargets;
}

/** A --target value (a name, or a destination) as a TargetSpec and how to start the agent there. */
export function resolveCliTarget(text: string): ResolvedTargetText {
  return resolveTargetText(text, cliNamedTargets());
}

/** Its errors name the target and say what to do (host key, auth, sudo, agent build). */
export async function openCliSession(values: ConnectionValues, signal: AbortSignal, extra: Pick<OpenSessionOptions, 'unprivileged'> = {}): Promise<AgentSession> {
  const credentials = cliPrompter();
  const sshClient = parseSshClient(values['ssh-client']);
  const resolved = resolveCliTarget(values.target ?? 'local');
  // Local agents start in one fork; the session process is for what costs a connection.
  if (resolved.spec.kind !== 'local' && extra.unprivileged !== true && !sessionDisabled(values['no-session'])) {
    const shared = await openThroughSessionProcess(
      {
        target: resolved.spec,
        ...(values['known-hosts'] !== undefined && { knownHostsFile: path.resolve(values['known-hosts']) }),
        ...(values.identity !== undefined && { identityFile: path.resolve(values.identity) }),
        sshClient,
        sudo: resolved.session.sudo,
        ...(resolved.session.workDirectory !== undefined && { workDirectory: resolved.session.workDirectory }),
        ...(resolved.session.chosenBy !== undefined && { chosenBy: resolved.session.chosenBy }),
        canPrompt: credentials !== undefined,
        clientVersion: `ebpf-studio-cli ${version}`,
      },
      signal,
    );
    if (!('direct' in shared)) return shared;
    sayOnce(shared.notice);
  }
  return openAgentSession({
    ...extra,
    ...resolved.session,
    target: resolved.spec,
    agentSourceDir: agentSourceDir(),
    agentBinaryDir: agentBinaryDir(),
    knownHostsFile: values['known-hosts'],
    identityFile: values.identity,
    sshClient,
    ...(credentials !== undefined && { credentials }),
    clientVersion: `ebpf-studio-cli ${version}`,
    signal,
    log: process.env.EBPF_STUDIO_DEBUG ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
}

/** `--format`'s value, one of the command's `formats`. */
export function parseFormat<F extends string>(value: string | undefined, formats: readonly F[]): F {
  const known = formats.find((f) => f === value);
  if (known === undefined) throw new Error(`--format must be ${formats.slice(0, -1).join(', ')} or ${formats[formats.length - 1]}, not '${value}'`);
  return known;
}

/**
 * `--cflags -I…` as `--cflags=-I…`: its value starts with a dash, which parseArgs would otherwise
 * refuse as ambiguous.
 */
export function joinCflagsValue(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cflags' && i + 1 < argv.length) joined.push(`--cflags=${argv[++i]}`);
    else joined.push(argv[i]);
  }
  return joined;
}
