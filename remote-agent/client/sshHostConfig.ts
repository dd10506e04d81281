/**
 * What one host's effective ssh configuration means for our connection, as a pure function of the
 * directives: those `ssh -G` prints (Match blocks, Include and most tokens already resolved by
 * OpenSSH itself) or those our own parser computed when no ssh client is installed
 * (sshConfigHosts.ts). Both go through `sshHostConfigFromDirectives`, so the two paths cannot
 * disagree on defaults, tokens or validation.
 */
import { isAbsolute, join } from 'node:path';

export type StrictHostKeyChecking = 'yes' | 'no' | 'accept-new' | 'ask';

export interface SshHostConfig {
  /** The alias as the user wrote it (ssh's %n). */
  alias: string;
  hostName: string;
  user: string;
  port: number;
  /** IdentityFile entries, tokens and ~ expanded, only those that exist. */
  identityFiles: string[];
  identitiesOnly: boolean;
  /**
   * OpenSSH certificates this host would log in with: CertificateFile entries and the `KEY-cert.pub`
   * OpenSSH picks up beside each identity file, expanded, only those that exist. ssh2 cannot use
   * them; a host with any is reached through the OpenSSH client (sshClientChoice.ts).
   */
  certificateFiles: string[];
  /** ProxyJump hops in order (`[user@]host[:port]` or `ssh://…`), absent for none. */
  proxyJump?: string[];
  /** ProxyCommand with %h %p %r %n %% substituted, absent for none. */
  proxyCommand?: string;
  /** UserKnownHostsFile entries, expanded; the first is where newly trusted keys are recorded. */
  knownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  /** ConnectTimeout in ms; absent for none (our own default then applies). */
  connectTimeoutMs?: number;
  /** ServerAliveInterval in ms, 0 when off. */
  serverAliveIntervalMs: number;
  serverAliveCountMax: number;
}

/** Lower-case directive name → its values in order (IdentityFile may repeat). */
export type SshDirectives = Map<string, string[]>;

export interface SshConfigContext {
  alias: string;
  homeDir: string;
  localUser: string;
  fileExists: (path: string) => boolean;
}

/** `ssh -G` output: one `keyword value…` per line, keywords lower-case, repeated keywords kept in order. */
export function parseSshGOutput(text: string): SshDirectives {
  const directives: SshDirectives = new Map();
  for (const line of text.split('\n')) {
    const match = /^([a-z0-9]+)\s+(.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, keyword, value] = match as unknown as [string, string, string];
    directives.set(keyword, [...(directives.get(keyword) ?? []), value]);
  }
  return directives;
}

/** The keys OpenSSH tries when no IdentityFile is configured, in its order (those ssh2 can use). */
export const DEFAULT_IDENTITY_FILES = ['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ed25519'];

export function sshHostConfigFromDirectives(directives: SshDirectives, context: SshConfigContext): SshHostConfig {
  const { alias, homeDir } = context;
  const first = (name: string): string | undefined => directives.get(name)?.[0];
  const problem = (what: string): Error => new Error(`ssh config for ${alias}: ${what}`);
  const number = (name: string, label: string, min: number, max: number): number | undefined => {
    const text = first(name);
    if (text === undefined || text === 'none') return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) throw problem(`${label} '${text}' is not a number from ${min} to ${max}.`);
    return value;
  };
  const yes = (name: string): boolean => /^(yes|true)$/i.test(first(name) ?? 'no');

  const hostName = expandSshTokens(first('hostname') ?? alias, { h: alias, n: alias });
  const user = first('user') ?? context.localUser;
  const port = number('port', 'Port', 1, 65535) ?? 22;
  const tokens: Record<string, string> = { h: hostName, p: String(port), r: user, n: alias, u: context.localUser, d: homeDir };
  const expandPath = (value: string): string => {
    const expanded = expandSshTokens(value, tokens);
    if (expanded === '~' || expanded.startsWith('~/')) return join(homeDir, expanded.slice(1));
    return isAbsolute(expanded) ? expanded : join(homeDir, expanded);
  };

  const configured = (directives.get('identityfile') ?? []).filter((file) => file.toLowerCase() !== 'none');
  const identityFiles = [...new Set((configured.length > 0 ? configured : DEFAULT_IDENTITY_FILES).map(expandPath))].filter(context.fileExists);
  const certificateFiles = [
    ...(directives.get('certificatefile') ?? []).filter((file) => file.toLowerCase() !== 'none').map(expandPath),
    ...identityFiles.map((file) => `${file}-cert.pub`),
  ];
  const knownHostsText = directives.get('userknownhostsfile')?.join(' ') ?? '~/.ssh/known_hosts ~/.ssh/known_hosts2';
  const knownHostsFiles = knownHostsText.split(/\s+/).filter((file) => file !== '' && file.toLowerCase() !== 'none').map(expandPath);
  if (knownHostsFiles.length === 0) knownHostsFiles.push(join(homeDir, '.ssh', 'known_hosts'));

  const config: SshHostConfig = {
    alias,
    hostName,
    user,
    port,
    identityFiles,
    identitiesOnly: yes('identitiesonly'),
    certificateFiles: [...new Set(certificateFiles)].filter(context.fileExists),
    knownHostsFiles,
    strictHostKeyChecking: strictness(first('stricthostkeychecking'), problem),
    serverAliveIntervalMs: (number('serveraliveinterval', 'ServerAliveInterval', 0, 86_400) ?? 0) * 1000,
    serverAliveCountMax: number('serveralivecountmax', 'ServerAliveCountMax', 1, 1000) ?? 3,
  };
  const jump = first('proxyjump');
  if (jump !== undefined && jump.toLowerCase() !== 'none') {
    const hops = jump.split(',').map((hop) => hop.trim());
    if (hops.some((hop) => hop === '' || hop.startsWith('-'))) throw problem(`ProxyJump '${jump}' has an empty hop or one starting with '-'.`);
    config.proxyJump = hops;
  }
  // ProxyJump wins when both are set: OpenSSH keeps whichever comes first, and ssh -G prints only it.
  const command = directives.get('proxycommand')?.join(' ');
  if (config.proxyJump === undefined && command !== undefined && command.toLowerCase() !== 'none') {
    config.proxyCommand = expandSshTokens(command, { h: hostName, p: String(port), r: user, n: alias });
  }
  const connectTimeout = number('connecttimeout', 'ConnectTimeout', 1, 86_400);
  if (connectTimeout !== undefined) config.connectTimeoutMs = connectTimeout * 1000;
  return config;
}

function strictness(text: string | undefined, problem: (what: string) => Error): StrictHostKeyChecking {
  switch ((text ?? 'ask').toLowerCase()) {
    case 'yes':
    case 'true':
      return 'yes';
    case 'no':
    case 'false':
    case 'off':
      return 'no';
    case 'accept-new':
      return 'accept-new';
    case 'ask':
      return 'ask';
    default:
      throw problem(`StrictHostKeyChecking '${text}' is not yes, accept-new, no or ask.`);
  }
}

/** Substitutes ssh_config `%x` tokens from `tokens`; `%%` is a percent sign, unknown tokens stay as written. */
export function expandSshTokens(value: string, tokens: Record<string, string>): string {
  return value.replace(/%(.)/g, (whole, token: string) => (token === '%' ? '%' : (tokens[token] ?? whole)));
}
