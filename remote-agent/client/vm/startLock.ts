/**
 * One start at a time per VM name, across processes (a test run and a terminal may both ask for
 * `6.1`): an exclusive lock file holding the starter's pid. A second starter waits for the first to
 * finish and then finds the VM running; a lock left by a dead process is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { abortReason } from '../abortReason';

function holderAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    // Released between our attempt and this read: not held.
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive but not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `work` holding the lock `file`; waits (abortably) while another live process holds it. */
export async function withStartLock<T>(file: string, work: () => Promise<T>, signal?: AbortSignal, onWait?: () => void): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  let told = false;
  for (;;) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!holderAlive(file)) {
        rmSync(file, { force: true });
        continue;
      }
      if (!told) onWait?.();
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(file, { force: true });
  }
}
