/**
 * Puts a built agent on the target, once per version of its sources: the sources' content hash
 * names a cache directory (`~/.cache/ebpf-studio/agent-<hash12>/` of the target user), and only when
 * that has no `build/ebpf-agent` yet are the sources uploaded and built there with `make`, so the
 * binary always matches the target's libbpf, libc and architecture.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { abortReason } from './abortReason';
import { AgentSessionError } from './sessionError';
import { shellQuote, tailOf, type Transport } from './transport';

export interface AgentSources {
  /** sha256 (hex) over the sorted relative names and contents. */
  hash: string;
  files: Array<{ name: string; content: Buffer }>;
}

export interface DeployedAgent {
  /** Absolute path of the agent binary on the target. */
  agentPath: string;
  /** The target user's uid and name: the agent needs root, through sudo otherwise. */
  uid: number;
  userName: string;
  /** True when this call built it (first use of these sources on that target). */
  built: boolean;
}

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

export async function deployAgent(
  transport: Transport,
  sources: AgentSources,
  options: { signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<DeployedAgent> {
  const { signal, log } = options;
  const where = transport.description;
  const dirName = `agent-${sources.hash.slice(0, 12)}`;
  // One round trip: who we are there, and whether this version is already built.
  const probe = await transport.run(
    `printf '%s\\n' "$HOME" "$(id -u)" "$(id -un)"; test -x "$HOME/.cache/ebpf-studio/${dirName}/build/ebpf-agent" && echo built || echo missing`,
    signalOption(signal),
  );
  const [home, uidText, userName, state] = probe.stdout.split('\n');
  if (probe.exitCode !== 0 || !home || !uidText || !/^\d+$/.test(uidText) || !userName) {
    throw new AgentSessionError('agent-start', `Cannot inspect ${where} (a POSIX shell with id and test is needed): exit ${probe.exitCode ?? probe.failure}, ${tailOf(probe.stderr || probe.stdout)}`);
  }
  const dir = `${home}/.cache/ebpf-studio/${dirName}`;
  const agentPath = `${dir}/build/ebpf-agent`;
  const deployed = { agentPath, uid: Number(uidText), userName };
  if (state === 'built') {
    log?.(`Agent ${dirName} is already built on ${where}.`);
    return { ...deployed, built: false };
  }

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
    const build = await transport.run(`make -C ${shellQuote(staging)} 2>&1`, signalOption(signal));
    if (build.exitCode !== 0) {
      throw new AgentSessionError('agent-build', await buildFailureMessage(transport, where, build.exitCode, build.failure, build.stdout, signal));
    }
    log?.(`Built the agent on ${where} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    // mv -T fails if another session put the same version in place first; theirs is as good as ours.
    await mustSucceed(
      transport,
      `test -x ${shellQuote(`${staging}/build/ebpf-agent`)} || { echo "make succeeded but wrote no build/ebpf-agent" >&2; exit 1; }; ` +
        `mv -T ${shellQuote(staging)} ${shellQuote(dir)} 2>/dev/null || rm -rf ${shellQuote(staging)}; test -x ${shellQuote(agentPath)}`,
      'install the built agent',
      signal,
    );
  } catch (error) {
    await transport.run(`rm -rf ${shellQuote(staging)}`).catch((cleanupError: unknown) => {
      log?.(`Could not remove ${staging} on ${where}: ${(cleanupError as Error).message}`);
    });
    throw error;
  }
  return { ...deployed, built: true };
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

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}
