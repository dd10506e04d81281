/**
 * How the client reaches the machine the agent runs on: run a shell command and collect its output,
 * start a long-running process with its three streams, write a file. Local (child_process) and SSH
 * (ssh2 exec channels + SFTP) implement it, so deployment and the session are written once.
 */
import { pipeline, Transform, type Readable, type Writable } from 'node:stream';
import { abortReason } from './abortReason';

export interface ExitStatus {
  /** Exit code; null when the process was killed by a signal or its channel vanished (link lost). */
  exitCode: number | null;
  signal: string | null;
  /** Set when there was no exit at all: the process could not start, or its SSH channel closed without one. */
  failure?: string;
}

export interface CommandResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface RunningProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /**
   * Resolves (never rejects) once the process is gone and its streams are closed: as with a child
   * process's 'close', stdout and stderr must be read (or resumed) for that to happen.
   */
  readonly exited: Promise<ExitStatus>;
  /** Stops the process (SIGKILL locally; over SSH, a KILL signal request and closing the channel). */
  kill(): void;
}

export interface Transport {
  /** 'local' or 'user@host:port', as shown to users. */
  readonly description: string;
  /** Runs `command` with /bin/sh -c on the target; rejects only when it could not be started or on abort. */
  run(command: string, options?: { signal?: AbortSignal; stdin?: string }): Promise<CommandResult>;
  /** Starts `command` with /bin/sh -c on the target and hands over its streams. */
  spawn(command: string): Promise<RunningProcess>;
  /** Writes (creates or replaces) a file on the target; the parent directory must exist. */
  writeFile(path: string, content: Buffer, mode: number, signal?: AbortSignal): Promise<void>;
  /** Resolves with the reason once the link to the target is gone (never for the local transport). */
  readonly lost: Promise<Error>;
  dispose(): Promise<void>;
}

/** Feeds `stdin` to a started command and collects its output until it exits; abort kills it. */
export async function runToCompletion(process: RunningProcess, options: { signal?: AbortSignal; stdin?: string }): Promise<CommandResult> {
  const { signal } = options;
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  process.stdin.end(options.stdin ?? '');
  const status = await exitUnlessAborted(process, signal);
  return { ...status, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
}

/**
 * The process's exit status; on abort it is killed and the abort reason thrown at once. Not waiting
 * for its exit then is deliberate: over SSH a process may outlive its channel (OpenSSH 9.2 refuses
 * signal requests for a root login, and a process that touches none of its pipes never notices
 * they closed), and a cancelled operation must not hang on it.
 */
async function exitUnlessAborted(process: RunningProcess, signal: AbortSignal | undefined): Promise<ExitStatus> {
  if (!signal) return process.exited;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      process.kill();
      reject(abortReason(signal));
    };
  });
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([process.exited, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Transport.writeFile for a transport with no file channel of its own (no SFTP): `cat` writes the
 * content it reads on stdin, then the mode is set.
 */
export async function writeFileWithCat(transport: Pick<Transport, 'spawn' | 'description'>, path: string, content: Buffer, mode: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw abortReason(signal);
  const target = shellQuote(path);
  const process = await transport.spawn(`cat > ${target} && chmod ${mode.toString(8)} ${target}`);
  const stderr: Buffer[] = [];
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  process.stdout.resume();
  process.stdin.on('error', () => {}); // a command that failed early closes its stdin; its exit says why
  process.stdin.end(content);
  const status = await exitUnlessAborted(process, signal);
  if (status.exitCode !== 0) {
    const why = status.failure ?? (tailOf(Buffer.concat(stderr).toString('utf8')) || `exit status ${status.exitCode}`);
    throw new Error(`cannot write ${path} on ${transport.description}: ${why}`);
  }
}

/** Quotes a value for /bin/sh as one word: nothing inside single quotes is special. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `command` as a remote login shell must get it for /bin/sh to run it. sshd hands a command to the
 * user's login shell, which is not always a POSIX one (fish is): every command this client sends
 * is POSIX sh, so the login shell only execs /bin/sh with it, quoted for POSIX shells and fish
 * alike (loginShellQuote). The exec keeps the process the one sshd started, so a signal reaches it.
 * The shell first prints OUTPUT_MARK: what the login shell's rc files printed comes before it,
 * and commandOutput drops that from stdout.
 */
export function underPosixShell(command: string): string {
  return `exec /bin/sh -c ${loginShellQuote(`printf '${OUTPUT_MARK_PRINTF}'; ${command}`)}`;
}

/** The line that starts a command's own stdout (ASCII record separators around a name no rc file prints). */
const OUTPUT_MARK = Buffer.from('\x1eebpf-studio output\x1e\n');
const OUTPUT_MARK_PRINTF = '\\036ebpf-studio output\\036\\n';

/**
 * The stdout of a command started with underPosixShell, from its first own byte: what a login
 * shell's rc files printed first (a greeting, conda's or nvm's notes) would otherwise reach a
 * parser or the agent's JSON-RPC client. Bytes pass through unchanged once the mark was seen; if
 * it never comes (the login shell could not run the command), all of it is kept, as it may say why.
 * Ends when `stdout` ends or fails (how it failed, the process's exit status tells).
 */
export function commandOutput(stdout: Readable): Readable {
  let before: Buffer | undefined = Buffer.alloc(0); // undefined once the mark was seen
  const output = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (before === undefined) return done(null, chunk);
      before = Buffer.concat([before, chunk]);
      const at = before.indexOf(OUTPUT_MARK);
      if (at === -1) return done();
      const own = before.subarray(at + OUTPUT_MARK.length);
      before = undefined;
      done(null, own.length > 0 ? own : undefined);
    },
    flush(done) {
      done(null, before !== undefined && before.length > 0 ? before : undefined);
    },
  });
  pipeline(stdout, output, () => {});
  return output;
}

/** `exited`, but only once `output` has ended too, so whoever reads it has every byte (RunningProcess.exited). */
export function exitAfterOutput(exited: Promise<ExitStatus>, output: Readable): Promise<ExitStatus> {
  const ended = new Promise<void>((resolve) => {
    output.once('end', resolve);
    output.once('close', resolve);
  });
  return Promise.all([exited, ended]).then(([status]) => status);
}

/**
 * Quotes a value as one word for POSIX shells and fish: single quotes, with every ' and \ put
 * between double quotes instead (fish reads \' and \\ inside single quotes, sh does not; both
 * read "'" and "\\" the same).
 */
export function loginShellQuote(value: string): string {
  return `'${value.replace(/['\\]/g, (c) => (c === "'" ? `'"'"'` : `'"\\\\"'`))}'`;
}

/** The last lines of a tool's output (at most `maxLines` lines and `maxChars` characters), for error messages. */
export function tailOf(text: string, maxLines = 30, maxChars = 4000): string {
  let tail = text.trimEnd().split('\n').slice(-maxLines).join('\n');
  if (tail.length > maxChars) tail = tail.slice(tail.length - maxChars);
  return tail;
}
