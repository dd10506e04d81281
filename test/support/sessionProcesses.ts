/**
 * The per-user session processes tests start (cli/sessionProcess.ts): found by the socket directory
 * in their command line, since they run detached and outlive whoever started them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SessionProcessLauncher } from '../../remote-agent/client/sessionProcessLink';

/** This checkout's CLI from its sources, as `ebpf-studio session` is started from them. */
export const sourceLauncher: SessionProcessLauncher = {
  cliEntry: path.join(__dirname, '..', '..', 'cli/main.ts'),
  execPath: process.execPath,
  execArgv: ['--import', 'tsx'],
};

/** Pids of the session processes listening in `dir`. */
export function sessionProcessesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`\0session\0--socket\0${dir}/`)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Signals every session process listening in `dir` (SIGTERM: it stops its agents and connections). */
export function stopSessionProcessesIn(dir: string, signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pid of sessionProcessesIn(dir)) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * SIGKILLs the session processes listening in `dir` and waits until they have exited for real: a
 * dying process's command line reads empty (its memory goes first) while its listening socket is
 * still open and takes connections, so only its end, or its zombie, says the socket is closed.
 */
export async function killSessionProcessesIn(dir: string, timeoutMs = 20_000): Promise<void> {
  const pids = sessionProcessesIn(dir);
  stopSessionProcessesIn(dir, 'SIGKILL');
  const ended = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
    } catch {
      return true;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!pids.every(ended)) {
    if (Date.now() > deadline) throw new Error(`the session processes ${pids.join(', ')} in ${dir} did not exit within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
