/**
 * The agent's start in one round trip. Every exec over SSH runs the user's shell rc files first
 * (hundreds of milliseconds with pyenv, conda or nvm), so when the shipped agent for the target's
 * architecture is already installed, one command says who and where the user is, verifies the
 * agent (private directories, sha256: agentIntegrity.ts) and execs it; its first lines on stdout
 * are that preamble, the rest the agent's protocol. Only when there is nothing to exec (first use
 * of a version, an architecture we do not ship, a user who may not become root this way) does it
 * exit 0 after the preamble, and the caller deploys (deployAgent.ts) and starts as before.
 */
import { PassThrough, type Readable } from 'node:stream';
import { abortReason } from './abortReason';
import { agentVerificationLines, integrityFailure, INTEGRITY_EXIT, PRIVATE_DIR_FUNCTIONS } from './agentIntegrity';
import { workDirectoryShell, type AgentBinaries, type DeployedAgent } from './deployAgent';
import { AgentSessionError } from './sessionError';
import { shellQuote, tailOf, type RunningProcess, type Transport } from './transport';

/** Starts the preamble's lines; the marker line of the exec follows them. */
const PREAMBLE = 'ebpf-studio-quick-start';
const EXEC = 'ebpf-studio-quick-start exec';
/** A preamble never comes near this; more means the target's shell prints something else. */
const PREAMBLE_LIMIT = 64 * 1024;

/** What a login user who is not root does in the quick start. */
export type NotRootStart = 'exec' | 'sudo -n' | 'fall back';

export interface QuickStarted {
  deployed: DeployedAgent;
  /** The target's `uname -m`. */
  arch: string;
  /** How the agent was exec'd: as the login user (root, or an unprivileged session) or through sudo -n. */
  privilege: 'root' | 'sudo -n';
  /** The agent, its stdout starting after the preamble. */
  process: RunningProcess;
  /** What the preamble said the target lacks to compile programs (clang, libbpf's headers). */
  lacking: string[];
}

/** The one command: preamble, then verify and exec the shipped agent of this architecture if installed. */
export function quickStartCommand(binaries: AgentBinaries, workDirectory: string | undefined, notRoot: NotRootStart): string {
  const agent = '"$ebpf_cache/$ebpf_dir/ebpf-agent"';
  const notRootHow = notRoot === 'exec' ? 'root' : notRoot === 'sudo -n' ? "'sudo -n'" : 'none';
  const script = [
    PRIVATE_DIR_FUNCTIONS,
    `ebpf_cache=${workDirectoryShell(workDirectory)}`,
    `ebpf_arch=$(uname -m)`,
    `printf '%s\\n' ${shellQuote(PREAMBLE)} "$HOME" "$(id -u)" "$(id -un)" "$ebpf_arch" "$ebpf_cache"`,
    `command -v clang >/dev/null 2>&1 || echo 'lacks clang'`,
    `test -r /usr/include/bpf/bpf_helpers.h || test -r /usr/local/include/bpf/bpf_helpers.h || echo 'lacks bpf/bpf_helpers.h'`,
    // 'root': exec'd as the login user (root, or a session that needs no privilege); none: fall back.
    `if [ "$(id -u)" = 0 ]; then ebpf_how=root; else ebpf_how=${notRootHow}; fi`,
    `test "$ebpf_how" = none && exit 0`,
    // The verification needs each architecture's sha256 as a literal.
    `case $ebpf_arch in`,
  ];
  for (const [arch, { hash }] of binaries) {
    const verify = agentVerificationLines({ cacheDir: '"$ebpf_cache"', agentDir: '"$ebpf_cache/$ebpf_dir"', agentPath: agent }, hash);
    script.push(`  ${arch})`, `    ebpf_dir=agent-${hash.slice(0, 12)}`, `    test -x ${agent} || exit 0`, ...verify.map((line) => `    ${line}`), `    ;;`);
  }
  script.push(
    `  *) exit 0;;`,
    `esac`,
    `echo ${shellQuote(EXEC)} "$ebpf_how"`,
    `if [ "$ebpf_how" = root ]; then exec ${agent}; fi`,
    `exec sudo -n ${agent}`,
  );
  return `exec /bin/sh -c ${shellQuote(script.join('\n'))} ebpf-studio-quick-start`;
}

/**
 * Runs the quick start. Resolves with the running agent, or undefined when the caller must deploy
 * and start it the usual way; rejects when the agent is there but fails its integrity check.
 */
export async function quickStart(
  transport: Transport,
  binaries: AgentBinaries,
  options: { workDirectory?: string; notRoot: NotRootStart; where: string; timeoutMs: number; signal?: AbortSignal },
): Promise<QuickStarted | undefined> {
  const { signal, where } = options;
  const started = await transport.spawn(quickStartCommand(binaries, options.workDirectory, options.notRoot));
  // What the shell writes on stderr before the exec is kept for the caller, who reads the agent's.
  const stderrChunks: Buffer[] = [];
  const onStderr = (chunk: Buffer): void => {
    stderrChunks.push(chunk);
  };
  started.stderr.on('data', onStderr);
  let preamble: Preamble;
  try {
    preamble = await readPreamble(started.stdout, options.timeoutMs, signal);
  } catch (error) {
    started.kill();
    if (signal?.aborted) throw abortReason(signal);
    throw new AgentSessionError('agent-start', `${where} did not answer the agent's start command: ${(error as Error).message}`);
  }
  const fields = parseFields(preamble.lines);
  const shipped = fields === undefined ? undefined : binaries.get(fields.arch);
  const deployed: DeployedAgent | undefined =
    fields === undefined || shipped === undefined
      ? undefined
      : {
          uid: fields.uid,
          userName: fields.userName,
          cacheDir: fields.cacheDir,
          agentDir: `${fields.cacheDir}/agent-${shipped.hash.slice(0, 12)}`,
          agentPath: `${fields.cacheDir}/agent-${shipped.hash.slice(0, 12)}/ebpf-agent`,
          sha256: shipped.hash,
          origin: 'shipped',
          built: false,
        };
  if (preamble.rest === undefined) {
    const status = await started.exited;
    started.stderr.off('data', onStderr);
    const stderr = Buffer.concat(stderrChunks).toString('utf8');
    const refused = integrityFailure(stderr, { where, userName: fields?.userName ?? 'the user', ...(deployed !== undefined && { agent: deployed }) });
    if (refused !== undefined) throw refused;
    if (status.exitCode === INTEGRITY_EXIT) throw new AgentSessionError('agent-integrity', `The agent on ${where} failed its integrity check: ${tailOf(stderr)}`);
    return undefined;
  }
  if (fields === undefined || deployed === undefined || (preamble.how !== 'root' && preamble.how !== 'sudo -n')) {
    started.kill();
    throw new AgentSessionError('agent-start', `The agent's start command on ${where} printed what this client does not understand: ${tailOf(preamble.lines.join('\n'))}`);
  }
  started.stderr.off('data', onStderr);
  started.stderr.pause();
  const stderr = new PassThrough();
  for (const chunk of stderrChunks) stderr.write(chunk);
  started.stderr.pipe(stderr);
  return {
    deployed,
    arch: fields.arch,
    privilege: preamble.how,
    lacking: fields.lacking,
    process: { stdin: started.stdin, stdout: preamble.rest, stderr, exited: started.exited, kill: () => started.kill() },
  };
}

interface Preamble {
  lines: string[];
  /** The exec marker's word: 'root' or 'sudo -n'. */
  how?: string;
  /** The agent's stdout after the preamble; absent when the command exited without an exec. */
  rest?: Readable;
}

/** Reads stdout up to the exec marker line (or its end), keeping the rest for the agent's client. */
function readPreamble(stdout: Readable, timeoutMs: number, signal: AbortSignal | undefined): Promise<Preamble> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const finish = (result: Preamble | Error): void => {
      clearTimeout(timer);
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const text = buffered.toString('latin1');
      const at = text.search(new RegExp(`(^|\\n)${EXEC} `));
      if (at >= 0) {
        const start = text[at] === '\n' ? at + 1 : at;
        const end = text.indexOf('\n', start);
        if (end >= 0) {
          stdout.pause();
          const rest = new PassThrough();
          rest.write(buffered.subarray(end + 1));
          finish({ lines: text.slice(0, start).split('\n'), how: text.slice(start + EXEC.length + 1, end), rest });
          stdout.pipe(rest);
          return;
        }
      }
      if (buffered.length > PREAMBLE_LIMIT) finish(new Error(`more than ${PREAMBLE_LIMIT} bytes before the agent started: ${tailOf(text)}`));
    };
    const onEnd = (): void => finish({ lines: buffered.toString('utf8').split('\n') });
    const onAbort = (): void => finish(abortReason(signal!));
    const timer = setTimeout(() => finish(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    stdout.on('data', onData);
    stdout.once('end', onEnd);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The preamble's fields, found after its first line (a shell rc file may print before it). */
function parseFields(lines: string[]): { uid: number; userName: string; arch: string; cacheDir: string; lacking: string[] } | undefined {
  const at = lines.indexOf(PREAMBLE);
  if (at < 0) return undefined;
  const [home, uidText, userName, arch, cacheDir, ...facts] = lines.slice(at + 1);
  if (!home || !uidText || !/^\d+$/.test(uidText) || !userName || !arch || !cacheDir?.startsWith('/')) return undefined;
  return { uid: Number(uidText), userName, arch, cacheDir, lacking: facts.filter((f) => f.startsWith('lacks ')).map((f) => f.slice('lacks '.length)) };
}
