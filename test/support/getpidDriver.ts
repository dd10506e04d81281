/**
 * A process that calls getpid() a given number of times in two halves, each started by go(): the
 * resume tests flood a tracepoint before a cut and again while the link is down.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Builds the driver into `dir` once, then starts it for `calls` calls. */
export function getpidHalvesDriver(dir: string, calls: number): { pid: number; go: () => void; done: Promise<unknown> } {
  const binary = join(dir, 'getpid_halves');
  if (!existsSync(binary)) {
    writeFileSync(
      `${binary}.c`,
      '#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n' +
        'int main(int c, char **v) { long n = atol(v[1]); getchar(); for (long i = 0; i < n; i++) { syscall(SYS_getpid); if (i == n / 2 - 1) getchar(); } return 0; }\n',
    );
    execFileSync('cc', ['-O2', '-o', binary, `${binary}.c`]);
  }
  const child = spawn(binary, [String(calls)]);
  return { pid: child.pid!, go: () => void child.stdin.write('\n'), done: new Promise((resolve) => child.on('exit', resolve)) };
}
