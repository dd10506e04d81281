/**
 * The processes below a process on this machine, read from /proc: tests find the agent a session
 * or the CLI started (by its comm), the clang it runs, the agent holding a BPF program, and count
 * what an agent has left running.
 */
import { spawn } from 'node:child_process';
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

/** The one process on this machine holding an fd of BPF program @programId: the agent that loaded it. */
export function processHoldingProgram(programId: number): number {
  const holders = new Set<number>();
  const line = new RegExp(`^prog_id:\\s*${programId}$`, 'm');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fdinfo`);
    } catch {
      continue; // the process ended while we looked: it holds nothing
    }
    for (const fd of fds) {
      let info: string;
      try {
        info = readFileSync(`/proc/${entry}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue; // the fd was closed while we looked
      }
      if (line.test(info)) holders.add(Number(entry));
    }
  }
  if (holders.size !== 1) throw new Error(`expected one process holding BPF program ${programId}, found ${holders.size}: ${[...holders].join(', ')}`);
  return [...holders][0]!;
}

/** Runs /bin/true and resolves with its pid once it exited: an exec a test can look for by pid. */
export function runTrue(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(child.pid!));
  });
}
