/**
 * The user's ~/.ssh/config, read with the ssh-config package: the concrete Host aliases a target
 * picker can offer, and what an alias resolves to (HostName, User, Port, IdentityFile) so a target
 * named `vm1` connects where `ssh vm1` would. `Include` lines are followed (the package does not).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import SSHConfig, { LineType, type Line } from 'ssh-config';

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

export interface ResolvedSshHost {
  hostName: string;
  user?: string;
  port?: number;
  identityFiles: string[];
}

/** What `ssh <alias>` would use for this alias; unknown aliases resolve to themselves. */
export function resolveSshHost(alias: string, configPath: string = defaultSshConfigPath()): ResolvedSshHost {
  // matchExec off: computing a target must never run commands from a config file.
  const computed = loadSshConfig(configPath).compute(alias, { ignoreCase: true, matchExec: false });
  const first = (name: string): string | undefined => {
    const value = computed[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const resolved: ResolvedSshHost = {
    hostName: expandTokens(first('hostname') ?? alias, alias),
    identityFiles: ([] as string[]).concat(computed['identityfile'] ?? []).map((file) => expandHome(expandTokens(file, alias))),
  };
  const user = first('user');
  if (user !== undefined) resolved.user = user;
  const port = first('port');
  if (port !== undefined) {
    const number = Number(port);
    if (!Number.isInteger(number) || number < 1 || number > 65535) {
      throw new Error(`${configPath}: Port '${port}' for host ${alias} is not a port number (1–65535).`);
    }
    resolved.port = number;
  }
  return resolved;
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

/** The ssh_config tokens that make sense here: %h (host), %d (home), %% (a percent sign). */
function expandTokens(value: string, alias: string): string {
  return value.replace(/%([hd%])/g, (_match, token: string) => (token === 'h' ? alias : token === 'd' ? homedir() : '%'));
}
