/**
 * The processes below a process on this machine, read from /proc: tests find the agent a session
 * or the CLI started (by its comm), the clang it runs, and count what an agent has left running.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Child pids of `pid`, all threads; none once it has exited. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // it exited: no children
  }
  for (const tid of tasks) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number));
    } catch {
      // the thread exited meanwhile
    }
  }
  return out;
}

/** Every process below `pid`, breadth first. */
export function descendantsOf(pid: number): number[] {
  const all: number[] = [];
  for (let queue = childrenOf(pid); queue.length > 0; ) {
    const next = queue.shift()!;
    all.push(next);
    queue.push(...childrenOf(next));
  }
  return all;
}

/** The process's comm, '' once it has exited. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
