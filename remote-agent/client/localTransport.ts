/**
 * The Transport for this machine: /bin/sh through child_process, files through fs.
 */
import { spawn as spawnChild, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { abortReason } from './abortReason';
import { runToCompletion, type CommandResult, type ExitStatus, type RunningProcess, type Transport } from './transport';

export class LocalTransport implements Transport {
  readonly description = 'local';
  /** A local process cannot lose its link; only the process itself can die. */
  readonly lost: Promise<Error> = new Promise<Error>(() => {});

  async run(command: string, options: { signal?: AbortSignal; stdin?: string } = {}): Promise<CommandResult> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    const child = await this.spawn(command);
    child.stdin.on('error', () => {}); // EPIPE when the command does not read its input: the exit status tells.
    return runToCompletion(child, options);
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
