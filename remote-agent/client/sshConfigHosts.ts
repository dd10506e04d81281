/**
 * The user's ssh config: the concrete Host aliases a target picker can offer (read with the
 * ssh-config package, Include followed), and what an alias resolves to, asked of OpenSSH itself
 * (`ssh -G`) or, without an ssh client or for a config with `Match exec`, computed by that package.
 * Either way the directives mean the same through sshHostConfig.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import SSHConfig, { LineType, type Line } from 'ssh-config';
import { AgentSessionError } from './sessionError';
import { parseSshGOutput, sshHostConfigFromDirectives, type SshConfigContext, type SshDirectives, type SshHostConfig } from './sshHostConfig';

export function defaultSshConfigPath(): string {
  return join(homedir(), '.ssh', 'config');
}

export function listSshConfigHosts(configPath: string = defaultSshConfigPath()): string[] {
  const aliases = new Set<string>();
  const collect = (lines: Line[]): void => {
    for (const line of lines) {
      if (line.type !== LineType.DIRECTIVE || !/^host$/i.test(line.param)) continue;
      const values = Array.isArray(line.value) ? line.value.map((v) => v.val) : line.value.split(/\s+/);
      for (const value of values) {
        if (value !== '' && !/[*?!]/.test(value)) aliases.add(value);
      }
      if ('config' in line) collect(line.config);
    }
  };
  collect(loadSshConfig(configPath));
  return [...aliases];
}

export interface ResolveSshHostOptions {
  /** The target's explicit user and port: they win over the config (and Match user sees them, as with `ssh -l -p`). */
  user?: string;
  port?: number;
  /** Default: OpenSSH's own choice (~/.ssh/config and /etc/ssh/ssh_config). */
  configFile?: string;
  log?: (line: string) => void;
}

const SSH_G_TIMEOUT_MS = 5000;
const SYSTEM_CONFIG = '/etc/ssh/ssh_config';

/**
 * What `ssh <alias>` would use, as OpenSSH itself resolves it: `ssh -G` where an ssh client is
 * installed (it never connects and never runs a ProxyCommand). `ssh -G` does run `Match exec`
 * commands, and a config may never make us run a command, so a config that has one is read by our
 * own parser instead (Match exec never matches there), as is any config on a machine without ssh.
 */
export async function resolveSshHost(alias: string, options: ResolveSshHostOptions = {}): Promise<SshHostConfig> {
  const { log } = options;
  const configFile = effectiveConfigFile(options.configFile);
  const execBlock = configFilesRead(configFile).find((file) => hasMatchExec(file));
  if (execBlock !== undefined) {
    log?.(`${execBlock} has a 'Match exec' block, which would run a command: reading it without ssh -G, where Match exec never matches.`);
    return resolveSshHostWithParser(alias, { ...options, configFile: configFile ?? defaultSshConfigPath() });
  }
  const args = ['-G'];
  if (options.port !== undefined) args.push('-p', String(options.port));
  if (options.user !== undefined) args.push('-l', options.user);
  // A named config that does not exist is an empty one, as for our parser (ssh -F would refuse it).
  if (configFile !== undefined) args.push('-F', existsSync(configFile) ? configFile : '/dev/null');
  args.push(alias);
  let output: string;
  try {
    output = await new Promise<string>((resolve, reject) => {
      execFile('ssh', args, { timeout: SSH_G_TIMEOUT_MS, encoding: 'utf8', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stderr }));
        else resolve(stdout);
      });
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (failure.code === 'ENOENT') {
      log?.('No ssh client installed: reading the ssh config with our own parser.');
      return resolveSshHostWithParser(alias, { ...options, configFile: configFile ?? defaultSshConfigPath() });
    }
    const why = failure.killed ? `it did not answer within ${SSH_G_TIMEOUT_MS / 1000} s` : (failure.stderr ?? '').trim().replace(/\s*\n\s*/g, '; ') || failure.message;
    throw new AgentSessionError('connect', `Cannot resolve ${alias} through your ssh config ('ssh ${args.join(' ')}' failed: ${why}). Fix the config and try again.`, { cause: error });
  }
  return sshHostConfigFromDirectives(followHome(parseSshGOutput(output)), configContext(alias));
}

/**
 * ssh -G writes the password database's home for `~` (known_hosts, identity files): with $HOME
 * pointing elsewhere, those paths are moved under $HOME, where our other ~ paths are — never
 * writing a host key into another home's known_hosts.
 */
function followHome(directives: SshDirectives): SshDirectives {
  const passwdHome = userInfo().homedir;
  const home = homedir();
  if (home === passwdHome) return directives;
  const moved = (value: string) =>
    value
      .split(' ')
      .map((path) => (path === passwdHome || path.startsWith(`${passwdHome}/`) ? home + path.slice(passwdHome.length) : path))
      .join(' ');
  return new Map([...directives].map(([keyword, values]) => [keyword, values.map(moved)]));
}

/** The fallback: our parser's view of `configFile` (Include followed, Match exec never matching). */
export function resolveSshHostWithParser(alias: string, options: ResolveSshHostOptions & { configFile: string }): SshHostConfig {
  // matchExec off: computing a target must never run commands from a config file.
  const computed = loadSshConfig(options.configFile).compute(
    { Host: alias, ...(options.user !== undefined && { User: options.user }) },
    { ignoreCase: true, matchExec: false },
  );
  const directives: SshDirectives = new Map();
  for (const [name, value] of Object.entries(computed)) {
    directives.set(name, Array.isArray(value) ? (name === 'identityfile' ? value : [value.join(' ')]) : [value]);
  }
  if (options.user !== undefined) directives.set('user', [options.user]);
  if (options.port !== undefined) directives.set('port', [String(options.port)]);
  return sshHostConfigFromDirectives(directives, configContext(alias));
}

function configContext(alias: string): SshConfigContext {
  return { alias, homeDir: homedir(), localUser: userInfo().username, fileExists: existsSync };
}

/** The config ssh is told to read with -F, or undefined for its own choice. */
export function effectiveConfigFile(configFile: string | undefined): string | undefined {
  // ssh reads ~/.ssh/config from the password database's home, while our other ~ paths (keys,
  // known_hosts) follow $HOME: when $HOME points elsewhere (a sandbox, a test) its config is the
  // user's, named with -F (then ssh skips the system-wide one).
  return configFile ?? (homedir() !== userInfo().homedir ? defaultSshConfigPath() : undefined);
}

function configFilesRead(configFile: string | undefined): string[] {
  return configFile !== undefined ? [configFile] : [defaultSshConfigPath(), SYSTEM_CONFIG];
}

/** Whether the ssh config ssh would read (`configFile`, else its own) has a `Match … exec` block. */
export function configHasMatchExec(configFile?: string): boolean {
  return configFilesRead(effectiveConfigFile(configFile)).some((file) => hasMatchExec(file));
}

/** Whether the config (with its Includes) has a `Match … exec` line; an unreadable file has none. */
function hasMatchExec(configFile: string): boolean {
  let text: string;
  try {
    text = readWithIncludes(configFile, 0);
  } catch {
    return false; // ssh -G reports an unreadable config itself, in its own words
  }
  return /^\s*match\b[^\n]*\bexec\b/im.test(text);
}

/** Parses a config file with its Include files inlined; a missing file is an empty config. */
export function loadSshConfig(configPath: string): SSHConfig {
  return SSHConfig.parse(readWithIncludes(configPath, 0));
}

function readWithIncludes(path: string, depth: number): string {
  if (depth > 16) throw new Error(`${path}: Include nesting deeper than 16 levels (an Include loop?).`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    // No ~/.ssh/config (or an Include naming a file that is gone) is an empty config, as for ssh.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new Error(`cannot read ssh config ${path}: ${(error as Error).message}`);
  }
  return text
    .split('\n')
    .map((line) => {
      const include = /^\s*include\s*[=\s]\s*(.+?)\s*$/i.exec(line);
      if (!include) return line;
      return include[1]!
        .split(/\s+/)
        .flatMap((pattern) => expandIncludePattern(pattern, dirname(path)))
        .map((file) => readWithIncludes(file, depth + 1))
        .join('\n');
    })
    .join('\n');
}

/** OpenSSH resolves relative Include paths against ~/.ssh; `*` and `?` may appear in the file name. */
function expandIncludePattern(pattern: string, configDir: string): string[] {
  const expanded = expandHome(pattern);
  const full = isAbsolute(expanded) ? expanded : join(configDir, expanded);
  const dir = dirname(full);
  const base = full.slice(dir.length + 1);
  if (!/[*?]/.test(base)) return [full];
  const regex = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((name) => regex.test(name)).sort().map((name) => join(dir, name));
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}
