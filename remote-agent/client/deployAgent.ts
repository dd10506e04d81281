/**
 * Puts a runnable agent on the target, once per version. A statically linked agent shipped for the
 * target's architecture (`uname -m`) is preferred: it is uploaded to
 * `~/.cache/ebpf-studio/agent-<binary hash12>/ebpf-agent` and kept only if it runs there, so the
 * target needs no compiler or -dev packages. Otherwise (another architecture, or the shipped one
 * does not run) the sources are uploaded to `agent-<sources hash12>-<random8>/` and built there with
 * `make`, a directory per client (knownAgentBuilds.ts).
 * The cache directory and each agent directory are private to the user (agentIntegrity.ts): created
 * 0700, and one another user could change is refused. Uploads and builds go to a staging directory
 * renamed into place only once the agent ran there (or was built and hashed), so a deploy cut off
 * midway never leaves a half-written agent where one is run; its staging directory is removed by
 * a deploy an hour later, and the agents of other versions once unused for 30 days. What is returned carries the sha256 the agent
 * must have when it is started: the shipped bytes' hash, or the one recorded when this client built
 * it (knownAgentBuilds.ts; a build this client has no record of is not used).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { abortReason } from './abortReason';
import { integrityFailure, PRIVATE_DIR_FUNCTIONS, type VerifiableAgent } from './agentIntegrity';
import { BUILD_DIR_NAME, knownAgentBuildsFile, type AgentBuild, type KnownAgentBuilds } from './knownAgentBuilds';
import { AgentSessionError } from './sessionError';
import { shellQuote, tailOf, type Transport } from './transport';

export interface AgentSources {
  /** sha256 (hex) over the sorted relative names and contents. */
  hash: string;
  files: Array<{ name: string; content: Buffer }>;
}

/** The static agents shipped with the client, by the `uname -m` of the machines they run on. */
export type AgentBinaries = ReadonlyMap<string, { hash: string; content: Buffer }>;

export interface DeployedAgent extends VerifiableAgent {
  /** Absolute path of the agent binary on the target. */
  agentPath: string;
  /** The target user's uid and name: the agent needs root, through sudo otherwise. */
  uid: number;
  userName: string;
  /** 'shipped': the static agent shipped for the target's architecture; 'source': built there with make. */
  origin: 'shipped' | 'source';
  /** True when this call installed it (first use of this version on that target). */
  built: boolean;
}

/** Minutes after which a staging directory (`agent-….tmp-…`) is taken for one a cut-off deploy left behind. */
export const STALE_STAGING_MINUTES = 60;
/**
 * Days after which an agent directory of another version whose binary nobody started (its atime:
 * every start reads it for the sha256 check) is removed by a deploy: each extension update leaves
 * the last version's agent behind (1.5 MB shipped, ~8 MB built from source).
 */
export const UNUSED_AGENT_DAYS = 30;
/** How many of this client's builds recorded for other targets a target with no record of its own is checked for. */
const OTHER_NAMES_CHECKED = 8;

/** What the build needs, as Debian/Ubuntu packages; each probe is a command or a header. */
const BUILD_NEEDS: Array<{ probe: string; kind: 'tool' | 'header'; debian: string }> = [
  { probe: 'make', kind: 'tool', debian: 'make' },
  { probe: 'gcc', kind: 'tool', debian: 'gcc' },
  { probe: 'clang', kind: 'tool', debian: 'clang' },
  { probe: 'pkg-config', kind: 'tool', debian: 'pkg-config' },
  { probe: 'bpf/libbpf.h', kind: 'header', debian: 'libbpf-dev' },
  { probe: 'libelf.h', kind: 'header', debian: 'libelf-dev' },
  { probe: 'zlib.h', kind: 'header', debian: 'zlib1g-dev' },
  { probe: 'json-c/json.h', kind: 'header', debian: 'libjson-c-dev' },
];

/** Reads the agent's sources (everything but build output and dotfiles) and hashes them. */
export function readAgentSources(dir: string): AgentSources {
  const files: AgentSources['files'] = [];
  const walk = (current: string): void => {
    let names: string[];
    try {
      names = readdirSync(current);
    } catch (error) {
      throw new AgentSessionError('agent-build', `Cannot read the agent sources in ${dir}: ${(error as Error).message}. Reinstall the extension or point agentSourceDir at remote-agent/agent.`, { cause: error });
    }
    for (const name of names) {
      if (name.startsWith('.') || (current === dir && name === 'build')) continue;
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push({ name: relative(dir, path).split(sep).join('/'), content: readFileSync(path) });
    }
  };
  walk(dir);
  if (!files.some((file) => file.name === 'Makefile')) {
    throw new AgentSessionError('agent-build', `${dir} holds no Makefile, so it is not the agent's source directory.`);
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file.name}\0${file.content.length}\0`);
    hash.update(file.content);
  }
  return { hash: hash.digest('hex'), files };
}

/**
 * Reads the shipped static agents: `DIR/<uname -m>/ebpf-agent` (in the vsix out/agent-bin, in a
 * checkout remote-agent/agent/build/static, written by scripts/build-agent-binaries.sh).
 */
export function readAgentBinaries(dir: string): AgentBinaries {
  const binaries = new Map<string, { hash: string; content: Buffer }>();
  let arches: string[];
  try {
    arches = readdirSync(dir);
  } catch (error) {
    throw new AgentSessionError('agent-build', `Cannot read the shipped agents in ${dir}: ${(error as Error).message}. Run scripts/build-agent-binaries.sh (npm run build does), or reinstall the extension.`, { cause: error });
  }
  for (const arch of arches) {
    const path = join(dir, arch, 'ebpf-agent');
    // The arch becomes part of a shell command and a path on the target: only `uname -m`-like names.
    if (!/^[a-z0-9_]+$/.test(arch) || !existsSync(path)) continue;
    const content = readFileSync(path);
    binaries.set(arch, { hash: createHash('sha256').update(content).digest('hex'), content });
  }
  return binaries;
}

export async function deployAgent(
  transport: Transport,
  sources: AgentSources,
  options: {
    binaries?: AgentBinaries;
    signal?: AbortSignal;
    log?: (line: string) => void;
    /** Where the hashes of agents built from source are kept; default the client's known-agent-builds.json. */
    knownBuilds?: KnownAgentBuilds;
    /** The target as the records name it (default: the transport's description). */
    targetKey?: string;
    /** Where the agent's files live ('/abs' or '~/rel', as namedTargets.ts parses it); default ~/.cache/ebpf-studio. */
    workDirectory?: string;
    /** The error for a login user who is not root, when only root may run the agent ("sudo": "never"): thrown before anything is uploaded. */
    unlessRoot?: (user: { uid: number; userName: string }) => AgentSessionError;
  } = {},
): Promise<DeployedAgent> {
  const { signal, log } = options;
  const knownBuilds = options.knownBuilds ?? knownAgentBuildsFile();
  const targetKey = options.targetKey ?? transport.description;
  const binaries: AgentBinaries = options.binaries ?? new Map();
  const where = transport.description;
  // This client's own build of these sources, if it made one there (knownAgentBuilds.ts); else
  // its latest builds of them elsewhere, in case this target is one of those under another name.
  const recordedHere = knownBuilds.lookup(targetKey, sources.hash);
  const recordedBuilds = (recordedHere !== undefined ? [recordedHere] : knownBuilds.buildsOf(sources.hash).slice(-OTHER_NAMES_CHECKED).reverse()).filter((build) =>
    BUILD_DIR_NAME.test(build.dirName),
  );
  const builtAgent = (build: AgentBuild): string => `${build.dirName}/build/ebpf-agent`;
  const binaryDirName = (arch: string): string => `agent-${binaries.get(arch)!.hash.slice(0, 12)}`;
  // Relative to the cache directory: every agent that may already be installed there.
  const candidates = [...recordedBuilds.map(builtAgent), ...[...binaries.keys()].map((arch) => `${binaryDirName(arch)}/ebpf-agent`)];
  // One round trip: who we are there, the architecture, the private cache directory (created or
  // checked), which versions are installed (their directories checked too), and whether clang and
  // libbpf's headers (needed to compile the user's programs, not to run the agent) are there.
  const probe = await transport.run(
    `${PRIVATE_DIR_FUNCTIONS}\n` +
      `ebpf_cache=${workDirectoryShell(options.workDirectory)}; ` +
      `printf '%s\\n' "$HOME" "$(id -u)" "$(id -un)" "$(uname -m)" "$ebpf_cache"; ` +
      `ebpf_private_dir_create "$ebpf_cache"; ` +
      // A staging directory is renamed into place or removed by the deploy that made it; one older
      // than an hour was left by a deploy cut off mid-upload or mid-build (connection lost, client
      // killed): never run, only removed.
      `find "$ebpf_cache" -mindepth 1 -maxdepth 1 -type d -name 'agent-*.tmp-*' -mmin +${STALE_STAGING_MINUTES} -exec rm -rf {} + 2>/dev/null; ` +
      `${pruneUnusedAgents(candidates.map((candidate) => candidate.split('/')[0]!))}; ` +
      `for f in ${candidates.join(' ')}; do if test -x "$ebpf_cache/$f"; then ebpf_private "$ebpf_cache/\${f%%/*}"; echo "installed $f"; fi; done; ` +
      `command -v clang >/dev/null 2>&1 || echo 'lacks clang'; ` +
      `test -r /usr/include/bpf/bpf_helpers.h || test -r /usr/local/include/bpf/bpf_helpers.h || echo 'lacks bpf/bpf_helpers.h'; true`,
    signalOption(signal),
  );
  const [home, uidText, userName, arch, cacheDir, ...facts] = probe.stdout.split('\n');
  const refused = integrityFailure(probe.stderr, { where, userName: userName || 'the user' });
  if (refused !== undefined) throw refused;
  if (probe.exitCode !== 0 || !home || !uidText || !/^\d+$/.test(uidText) || !userName || !arch || !cacheDir?.startsWith('/')) {
    const expired = expiredPasswordError(probe.stderr, where);
    if (expired !== undefined) throw expired;
    throw new AgentSessionError('agent-start', `Cannot inspect ${where} (a POSIX shell with id, uname and test is needed): exit ${probe.exitCode ?? probe.failure}, ${tailOf(probe.stderr || probe.stdout)}`);
  }
  const cache = cacheDir;
  if (options.workDirectory !== undefined) log?.(`The agent's files on ${where} live in ${cache} (workDirectory ${options.workDirectory}).`);
  const installed = (relative: string): boolean => facts.includes(`installed ${relative}`);
  const identity = { uid: Number(uidText), userName };
  if (options.unlessRoot !== undefined && identity.uid !== 0) throw options.unlessRoot(identity);
  const pruned = facts.filter((fact) => fact.startsWith('pruned ')).map((fact) => fact.slice('pruned '.length));
  if (pruned.length > 0) log?.(`Removed ${pruned.length} agent(s) of other versions unused for ${UNUSED_AGENT_DAYS} days from ${cache} on ${where}: ${pruned.join(', ')}.`);
  const lacking = facts.filter((fact) => fact.startsWith('lacks ')).map((fact) => fact.slice('lacks '.length));
  if (lacking.length > 0) log?.(lackingWarning(where, lacking));

  let shippedFailure: string | undefined;
  if (binaries.has(arch)) {
    const dirName = binaryDirName(arch);
    const agentPath = `${cache}/${dirName}/ebpf-agent`;
    const shipped = { ...identity, cacheDir: cache, agentDir: `${cache}/${dirName}`, agentPath, sha256: binaries.get(arch)!.hash, origin: 'shipped' as const };
    if (installed(`${dirName}/ebpf-agent`)) {
      log?.(`Using the shipped ${arch} agent ${dirName}, already on ${where}.`);
      return { ...shipped, built: false };
    }
    try {
      await installShippedAgent(transport, binaries.get(arch)!.content, cache, dirName, { arch, signal, log });
      return { ...shipped, built: true };
    } catch (error) {
      // Cancelled, the connection is gone, or no program may run there: building from source there cannot go better.
      if (signal?.aborted || error instanceof CannotRunPrograms || (error instanceof AgentSessionError && error.kind === 'closed')) throw error;
      shippedFailure = (error as Error).message;
      log?.(`${shippedFailure} Building the agent from source on ${where} instead.`);
    }
  } else {
    const shipped = binaries.size > 0 ? `only for ${[...binaries.keys()].join(', ')}` : 'none given to this client';
    log?.(`No static agent is shipped for ${arch} (${shipped}): building it from source on ${where}.`);
  }

  const deployed = { ...identity, cacheDir: cache, origin: 'source' as const };
  const recordedBuild = recordedBuilds.find((build) => installed(builtAgent(build)));
  if (recordedBuild !== undefined) {
    if (recordedBuild === recordedHere) log?.(`Agent ${recordedBuild.dirName} is already built on ${where}.`);
    else {
      // Found under a name recorded for another target: the same machine or home. It runs only with
      // the recorded sha256 (checked right before the exec), as every build this client made.
      knownBuilds.record(targetKey, sources.hash, recordedBuild);
      log?.(`Agent ${recordedBuild.dirName}, which this client built from these sources, is already on ${where} (recorded under another name for it).`);
    }
    const dir = `${cache}/${recordedBuild.dirName}`;
    return { ...deployed, agentDir: dir, agentPath: `${cache}/${builtAgent(recordedBuild)}`, sha256: recordedBuild.sha256, built: false };
  }
  // A build of its own, in a directory of its own: one another client made is not trusted (nothing
  // says it holds what make wrote), and is left alone, since that client's record names it.
  const dirName = `agent-${sources.hash.slice(0, 12)}-${randomBytes(4).toString('hex')}`;
  const dir = `${cache}/${dirName}`;
  const agentPath = `${dir}/build/ebpf-agent`;

  // Build in a private staging directory and rename it into place, so two sessions deploying at
  // once never run a half-built agent, and a failed build leaves nothing that looks built.
  const staging = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  const subdirs = [...new Set(sources.files.map((file) => file.name.split('/').slice(0, -1).join('/')).filter((d) => d !== ''))];
  log?.(`Uploading the agent sources (${sources.files.length} files) to ${where}:${staging}…`);
  await mustSucceed(transport, `umask 077 && mkdir -p ${[staging, ...subdirs.map((d) => `${staging}/${d}`)].map(shellQuote).join(' ')}`, 'create the agent build directory', signal);
  try {
    for (const file of sources.files) {
      if (signal?.aborted) throw abortReason(signal);
      await transport.writeFile(`${staging}/${file.name}`, file.content, 0o600, signal);
    }
    log?.(`Building the agent on ${where} (make -C ${staging})…`);
    const started = Date.now();
    const build = await transport.run(`umask 077 && make -C ${shellQuote(staging)} 2>&1`, signalOption(signal));
    if (build.exitCode !== 0) {
      const message = await buildFailureMessage(transport, where, build.exitCode, build.failure, build.stdout, signal);
      throw new AgentSessionError('agent-build', shippedFailure === undefined ? message : `${message}\n(Tried first: ${shippedFailure})`);
    }
    log?.(`Built the agent on ${where} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    // Hashed in the private staging directory, then renamed into place; the hash is recorded: from
    // now on this agent runs only while it has these bytes.
    const installedBuild = await transport.run(
      `test -f ${shellQuote(`${staging}/build/ebpf-agent`)} || { echo "make succeeded but wrote no build/ebpf-agent" >&2; exit 1; }; ` +
        // Built but not executable: the filesystem is mounted noexec (access(X_OK) says so).
        `test -x ${shellQuote(`${staging}/build/ebpf-agent`)} || exit 126; ` +
        `sha256sum < ${shellQuote(`${staging}/build/ebpf-agent`)} && mv -T ${shellQuote(staging)} ${shellQuote(dir)}`,
      signalOption(signal),
    );
    if (installedBuild.exitCode === 126) {
      const noexec = await noexecMountOf(transport, cache, signal);
      throw cannotRunPrograms(where, cache, noexec !== undefined ? `${noexec} is mounted noexec` : 'the agent built there is not executable (test -x)');
    }
    const sha256 = /^([0-9a-f]{64})\b/.exec(installedBuild.stdout)?.[1];
    if (installedBuild.exitCode !== 0 || sha256 === undefined) {
      throw new AgentSessionError(
        'agent-build',
        `Cannot install and hash the agent built on ${where} (sha256sum is needed): ${tailOf(installedBuild.stderr || installedBuild.stdout) || installedBuild.failure || `exit ${installedBuild.exitCode}`}`,
      );
    }
    knownBuilds.record(targetKey, sources.hash, { dirName, sha256 });
    return { ...deployed, agentDir: dir, agentPath, sha256, built: true };
  } catch (error) {
    await transport.run(`rm -rf ${shellQuote(staging)}`).catch((cleanupError: unknown) => {
      log?.(`Could not remove ${staging} on ${where}: ${(cleanupError as Error).message}`);
    });
    throw error;
  }
}

/**
 * Shell that removes, from "$ebpf_cache", every agent directory but `keep` (never a staging
 * `agent-….tmp-…` nor a moved-aside `agent-….tampered-…`: the dot tells them apart) in
 * which no `ebpf-agent` was read within UNUSED_AGENT_DAYS, printing "pruned NAME" for each. A
 * relatime mount (the default) updates a file's atime at most daily, which is enough here; on a
 * noatime mount an agent in use may go after 30 days, and the deploy that needs it puts it back.
 */
function pruneUnusedAgents(keep: string[]): string {
  const perDirectory = `for d do test -n "$(find "$d" -maxdepth 2 -type f -name ebpf-agent -atime -${UNUSED_AGENT_DAYS} 2>/dev/null)" || { rm -rf "$d" && echo "pruned \${d##*/}"; }; done`;
  return (
    `find "$ebpf_cache" -mindepth 1 -maxdepth 1 -type d -name 'agent-*' ! -name 'agent-*.*' ${keep.map((name) => `! -name ${shellQuote(name)}`).join(' ')} ` +
    `-exec sh -c ${shellQuote(perDirectory)} ebpf-studio-prune {} + 2>/dev/null`
  );
}

/**
 * Uploads a shipped static agent into a private staging directory, checks that it runs there
 * (`--version`: a wrong architecture or a seccomp policy show up here; a noexec home is an error
 * of its own, since no build could run there either), and renames it into place, so a cache
 * directory that exists always holds an agent that ran.
 */
async function installShippedAgent(
  transport: Transport,
  content: Buffer,
  cacheDir: string,
  dirName: string,
  options: { arch: string; signal: AbortSignal | undefined; log: ((line: string) => void) | undefined },
): Promise<void> {
  const { arch, signal, log } = options;
  const where = transport.description;
  const dir = `${cacheDir}/${dirName}`;
  const staging = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  const stagedAgent = `${staging}/ebpf-agent`;
  const started = Date.now();
  log?.(`Uploading the shipped ${arch} agent (${(content.length / 1e6).toFixed(1)} MB) to ${where}:${staging}…`);
  try {
    await mustSucceed(transport, `umask 077 && mkdir -p ${shellQuote(staging)}`, 'create the agent directory', signal);
    await transport.writeFile(stagedAgent, content, 0o755, signal);
    const run = await transport.run(`${shellQuote(stagedAgent)} --version 2>&1`, signalOption(signal));
    // 126: the shell found the file but could not execute it. When that is the place (noexec, a
    // policy), nothing built there could run either; another reason (its format) falls through.
    if (run.exitCode === 126) {
      const noexec = await noexecMountOf(transport, cacheDir, signal);
      if (noexec !== undefined) throw cannotRunPrograms(where, cacheDir, `${noexec} is mounted noexec`);
      if (/Permission denied/.test(run.stdout)) throw cannotRunPrograms(where, cacheDir, `running a program there was refused (${tailOf(run.stdout, 3, 300)})`);
    }
    if (run.exitCode !== 0 || !run.stdout.startsWith('ebpf-agent ')) {
      const status = run.exitCode === null ? (run.failure ?? 'no exit status') : `exit ${run.exitCode}`;
      throw new AgentSessionError('agent-start', `The shipped ${arch} agent does not run on ${where} (${status}): ${tailOf(run.stdout, 5, 500) || 'no output'}.`);
    }
    // mv -T fails if another session put the same version in place first; theirs is as good as ours.
    await mustSucceed(
      transport,
      `mv -T ${shellQuote(staging)} ${shellQuote(dir)} 2>/dev/null || rm -rf ${shellQuote(staging)}; test -x ${shellQuote(`${dir}/ebpf-agent`)}`,
      'install the shipped agent',
      signal,
    );
    log?.(`Installed the shipped ${arch} agent (${run.stdout.trim()}) on ${where} in ${((Date.now() - started) / 1000).toFixed(1)} s, without building it.`);
  } catch (error) {
    await transport.run(`rm -rf ${shellQuote(staging)}`).catch((cleanupError: unknown) => {
      log?.(`Could not remove ${staging} on ${where}: ${(cleanupError as Error).message}`);
    });
    throw error;
  }
}

/** The work directory is on a filesystem (or under a policy) that lets no program run from it. */
class CannotRunPrograms extends AgentSessionError {}

/** The mount `dir` is on when it is mounted noexec (util-linux's findmnt tells), else undefined. */
async function noexecMountOf(transport: Transport, dir: string, signal: AbortSignal | undefined): Promise<string | undefined> {
  // Options first: a mount point may hold spaces.
  const mount = await transport.run(`findmnt -n -o OPTIONS,TARGET -T ${shellQuote(dir)} 2>/dev/null`, signalOption(signal));
  const found = /^(\S+)\s+(.+)$/.exec(mount.stdout.trim());
  return found !== null && found[1]!.split(',').includes('noexec') ? found[2] : undefined;
}

function cannotRunPrograms(where: string, cacheDir: string, why: string): CannotRunPrograms {
  return new CannotRunPrograms(
    'agent-start',
    `The agent cannot run from ${cacheDir} on ${where}: ${why}. Give this target a "workDirectory" on a filesystem that allows running programs ` +
      `(a named target in ebpfStudio.targets or .ebpf-studio/targets.json), e.g. a directory of yours under /var/lib or /opt.`,
  );
}

async function mustSucceed(transport: Transport, command: string, what: string, signal: AbortSignal | undefined): Promise<void> {
  const result = await transport.run(command, signalOption(signal));
  if (result.exitCode !== 0) {
    throw new AgentSessionError('agent-build', `Cannot ${what} on ${transport.description}: ${tailOf(result.stderr || result.stdout) || result.failure || `exit ${result.exitCode}`}`);
  }
}

async function buildFailureMessage(
  transport: Transport,
  where: string,
  exitCode: number | null,
  failure: string | undefined,
  output: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const tools = BUILD_NEEDS.filter((need) => need.kind === 'tool').map((need) => need.probe);
  const headers = BUILD_NEEDS.filter((need) => need.kind === 'header').map((need) => need.probe);
  const probe = await transport.run(
    `for t in ${tools.join(' ')}; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done; ` +
      `if command -v gcc >/dev/null 2>&1; then for h in ${headers.join(' ')}; do printf '#include <%s>\\n' "$h" | gcc -E -x c - >/dev/null 2>&1 || echo "$h"; done; fi`,
    signalOption(signal),
  );
  const missing = probe.stdout.split('\n').filter((line) => line !== '');
  const missingPackages = BUILD_NEEDS.filter((need) => missing.includes(need.probe)).map((need) => need.debian);
  const allPackages = BUILD_NEEDS.map((need) => need.debian).join(' ');
  const status = exitCode === null ? (failure ?? 'no exit status') : `make exited with status ${exitCode}`;
  const lead =
    missingPackages.length > 0
      ? `Building the eBPF Studio agent on ${where} failed (${status}): the target lacks ${missingPackages.join(', ')}. Install them (Debian/Ubuntu: apt-get install ${missingPackages.join(' ')}).`
      : `Building the eBPF Studio agent on ${where} failed (${status}).`;
  return `${lead} The agent needs: ${allPackages}. Last lines of make's output:\n${tailOf(output)}`;
}

/**
 * sshd logs a user with an expired password in, then runs passwd instead of the command, which
 * without a terminal fails (OpenSSH's own words: "Your password has expired", "Password change
 * required but no TTY available"; PAM's: "You are required to change your password"). Nothing
 * can run there until a person changes it, so that is what the error says.
 */
export function expiredPasswordError(stderr: string, where: string): AgentSessionError | undefined {
  if (!/password has expired|Password change required|required to change your password/i.test(stderr)) return undefined;
  return new AgentSessionError(
    'auth',
    `The password of ${where.replace(/:\d+$/, '')} has expired, and the host runs nothing until it is changed. ` +
      `Log in once in a terminal (ssh ${where.replace(/:(\d+)$/, ' -p $1')}), change it as asked, then connect again.`,
  );
}

/** The warning for a target that can run the agent but not compile programs. */
export function lackingWarning(where: string, lacking: readonly string[]): string {
  return (
    `Warning: ${where} lacks ${lacking.join(' and ')}: the agent runs, but compiling eBPF programs there needs clang and libbpf's headers ` +
    `(Debian/Ubuntu: apt-get install clang libbpf-dev).`
  );
}

/**
 * The work directory as a shell word: '~/rel' becomes "$HOME"/'rel' (the target's home, which only
 * the target knows), an absolute path itself; the default is ~/.cache/ebpf-studio.
 */
export function workDirectoryShell(workDirectory: string | undefined): string {
  const dir = workDirectory ?? '~/.cache/ebpf-studio';
  return dir.startsWith('~/') ? `"$HOME"/${shellQuote(dir.slice(2))}` : shellQuote(dir);
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}
