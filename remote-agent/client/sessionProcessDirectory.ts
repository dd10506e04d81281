/**
 * Where the CLI's session process listens, and who may use it. The socket lives in a directory
 * private to the user (0700, owned by them, not a link): anyone who can open the socket gets an
 * agent running as root on the user's targets, so a directory another user could reach is refused,
 * never repaired. The socket's name carries the build and the environment the SSH side reads
 * (HOME, SSH_AUTH_SOCK, PATH, XDG_CACHE_HOME), so a CLI of another build, or run with another
 * ssh-agent, never meets a session process that would connect differently than it would itself.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { version } from '../../package.json';

/** Overrides where the session directory is (tests; a user with an unusual /tmp). */
export const SESSION_DIR_ENV = 'EBPF_STUDIO_SESSION_DIR';

/** The environment the SSH connection depends on: a session process serves only CLIs that share it. */
const CONNECTION_ENVIRONMENT = ['HOME', 'SSH_AUTH_SOCK', 'PATH', 'XDG_CACHE_HOME'] as const;

/**
 * $EBPF_STUDIO_SESSION_DIR, else $XDG_RUNTIME_DIR/ebpf-studio (per-user, cleared at logout), else
 * <tmpdir>/ebpf-studio-<uid>. Kept short: a Unix socket path must fit in 107 bytes.
 */
export function sessionDirectory(): string {
  const chosen = process.env[SESSION_DIR_ENV];
  if (chosen !== undefined && chosen !== '') return chosen;
  const runtime = process.env['XDG_RUNTIME_DIR'];
  if (runtime !== undefined && runtime !== '') return path.join(runtime, 'ebpf-studio');
  return path.join(os.tmpdir(), `ebpf-studio-${process.getuid?.() ?? 'user'}`);
}

/**
 * Creates the directory (0700) when missing, and checks it is the user's alone: a directory, not a
 * symbolic link, owned by the user, with no permission for group or others. Throws a message that
 * says what is wrong and how to fix it.
 */
export function ensurePrivateDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the session directory ${dir}: ${(error as Error).message}`);
  }
  const stat = fs.lstatSync(dir);
  const uid = process.getuid?.();
  const problem = stat.isSymbolicLink()
    ? 'is a symbolic link'
    : !stat.isDirectory()
      ? 'is not a directory'
      : uid !== undefined && stat.uid !== uid
        ? `belongs to uid ${stat.uid}, not to you (uid ${uid})`
        : (stat.mode & 0o077) !== 0
          ? `has mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}, so other users can reach it`
          : undefined;
  if (problem !== undefined) {
    throw new Error(`the session directory ${dir} ${problem}; it must be a directory of yours with mode 0700. Remove it (or chmod 700 it if it is yours) and try again.`);
  }
}

/**
 * What identifies the build whose CLI entry file is `entry` (default: this process's): two builds
 * never share a session process. A build by
 * scripts/build.mjs writes `cli-build-id` beside out/cli.js, a hash of every CLI bundle and agent
 * binary (the CLI's code is split over out/cli-*.js, so out/cli.js alone would not tell builds
 * apart); run from the sources, the entry file itself is hashed.
 */
export function buildId(entry: string | undefined = process.argv[1]): string {
  const hash = createHash('sha256').update(version).update('\0');
  if (entry !== undefined) {
    const written = path.join(path.dirname(entry), 'cli-build-id');
    const source = fs.existsSync(written) ? written : entry;
    try {
      hash.update(fs.readFileSync(source));
    } catch (error) {
      throw new Error(`cannot read ${source} to identify this build of the CLI: ${(error as Error).message}`);
    }
  }
  return hash.digest('hex');
}

/** The environment values a connection depends on, as the session process must share them. */
export function connectionEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of CONNECTION_ENVIRONMENT) env[name] = process.env[name] ?? '';
  return env;
}

/** The socket of the session process for this build and environment, inside `dir`. */
export function sessionSocketPath(dir: string, build: string): string {
  const key = createHash('sha256').update(build).update(JSON.stringify(connectionEnvironment())).digest('hex');
  return path.join(dir, `s-${key.slice(0, 20)}.sock`);
}
