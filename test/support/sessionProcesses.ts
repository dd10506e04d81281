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
