/**
 * Running the host programs kernel VMs are made with (apt-get, dpkg-deb, ssh-keygen, xz, qemu), as
 * values: a program that is not installed becomes an error naming the Debian package that provides
 * it, a failure carries the program's own stderr, and an AbortSignal stops the program.
 */
import { execFile } from 'node:child_process';
import { abortReason } from '../abortReason';

/** The Debian package that provides each program we run (scripts/bootstrap.sh installs them). */
const PACKAGE_OF: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  'ssh-keygen': 'openssh-client',
  xz: 'xz-utils',
  zstd: 'zstd',
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  sshd: 'openssh-server',
  depmod: 'kmod',
};

export class HostToolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HostToolError';
  }
}

export interface ToolResult {
  stdout: Buffer;
  stderr: string;
}

export function packageProviding(program: string): string | undefined {
  return PACKAGE_OF[program.replace(/^.*\//, '')];
}

export function missingToolMessage(program: string): string {
  const pkg = packageProviding(program);
  return `'${program}' is not installed on this machine${pkg ? `: install it with 'apt-get install ${pkg}'` : ''}.`;
}

/**
 * Runs `program args…` to completion and returns its output; rejects with a HostToolError whose
 * message is `what` plus the program's stderr tail, or the abort reason when `signal` fires.
 */
export function runTool(
  program: string,
  args: string[],
  what: string,
  options: { signal?: AbortSignal; cwd?: string; env?: NodeJS.ProcessEnv; maxBuffer?: number } = {},
): Promise<ToolResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      args,
      { encoding: 'buffer', cwd: options.cwd, env: options.env, maxBuffer: options.maxBuffer ?? 256 * 1024 * 1024, ...(signal && { signal }) },
      (error, stdout, stderrBuffer) => {
        const stderr = stderrBuffer.toString('utf8');
        if (error === null) return resolve({ stdout, stderr });
        if (signal?.aborted) return reject(abortReason(signal));
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return reject(new HostToolError(`${what}: ${missingToolMessage(program)}`, { cause: error }));
        const tail = stderr.trim().split('\n').slice(-12).join('\n');
        const status = typeof error.code === 'number' ? `exit status ${error.code}` : error.signal ? `signal ${error.signal}` : error.message;
        reject(new HostToolError(`${what}: ${program} failed (${status})${tail ? `:\n${tail}` : '.'}`, { cause: error }));
      },
    );
    child.stdin?.end();
  });
}
