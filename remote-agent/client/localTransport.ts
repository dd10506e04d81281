/**
 * The Transport for this machine: /bin/sh through child_process, files through fs.
 */
import { spawn as spawnChild, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { abortReason } from './abortReason';
import type { CommandResult, ExitStatus, RunningProcess, Transport } from './transport';

export class LocalTransport implements Transport {
  readonly description = 'local';
  /** A local process cannot lose its link; only the process itself can die. */
  readonly lost: Promise<Error> = new Promise<Error>(() => {});

  async run(command: string, options: { signal?: AbortSignal; stdin?: string } = {}): Promise<CommandResult> {
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const child = startShell(command);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // EPIPE when the command does not read its input: the exit status tells.
    child.stdin.end(options.stdin ?? '');
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const status = await exitOf(child);
      if (signal?.aborted) throw abortReason(signal);
      return { ...status, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async spawn(command: string): Promise<RunningProcess> {
    const child = startShell(command);
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exited: exitOf(child),
      kill: () => {
        child.kill('SIGKILL');
      },
    };
  }

  async writeFile(path: string, content: Buffer, mode: number, signal?: AbortSignal): Promise<void> {
    await writeFile(path, content, signal ? { mode, signal } : { mode });
  }

  async dispose(): Promise<void> {}
}

function startShell(command: string): ChildProcessWithoutNullStreams {
  return spawnChild('/bin/sh', ['-c', command], { stdio: 'pipe' });
}

/** Resolves once the process exited and its stdio closed, or with `failure` when it could not start. */
function exitOf(child: ChildProcessWithoutNullStreams): Promise<ExitStatus> {
  return new Promise<ExitStatus>((resolve) => {
    child.once('error', (error) => resolve({ exitCode: null, signal: null, failure: `cannot start /bin/sh: ${error.message}` }));
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal }));
  });
}
