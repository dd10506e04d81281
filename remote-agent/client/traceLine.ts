/**
 * Parses tracefs trace_pipe lines (where bpf_printk output goes) into their columns:
 *   `            bash-691     [000] ...21  2585.611676: bpf_trace_printk: execve by pid 691`
 * i.e. task comm, pid, optional tgid column (the record-tgid option), cpu, the irq/preempt flags,
 * the timestamp in seconds, the event name and the message. The comm may hold spaces and dashes,
 * so the pid is the last `-DIGITS` before the cpu column; `<...>` means the comm was not cached.
 */

export interface TraceLine {
  /** Task name; '<...>' when the kernel no longer had it cached. */
  comm: string;
  pid: number;
  /** Only when tracefs's record-tgid option is on; null otherwise or when unknown ('-----'). */
  tgid: number | null;
  cpu: number;
  /** The latency flags column as the kernel prints it, e.g. '...21' or 'd.h1.'. */
  flags: string;
  /** Seconds since boot (trace clock 'local'), as printed: microsecond resolution. */
  timestamp: number;
  /** The trace event, 'bpf_trace_printk' for bpf_printk(). */
  event: string;
  message: string;
}

const LINE =
  /^\s*(.*)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:([^\s\]]{4,6})\s+)?(\d+\.\d+):\s+([A-Za-z0-9_]+):\s?(.*)$/s;

/** The line's columns, or null for lines of another shape (e.g. `CPU:1 [LOST 12 EVENTS]`). */
export function parseTraceLine(line: string): TraceLine | null {
  const m = LINE.exec(line.replace(/\r?\n$/, ''));
  if (!m) return null;
  const tgid = m[3] === undefined || m[3].startsWith('-') ? null : Number(m[3]);
  return {
    comm: m[1].trim(),
    pid: Number(m[2]),
    tgid,
    cpu: Number(m[4]),
    flags: m[5] ?? '',
    timestamp: Number(m[6]),
    event: m[7],
    message: m[8],
  };
}

/** Events trace_pipe lost on one CPU (`CPU:1 [LOST 12 EVENTS]`), or null for any other line. */
export function parseLostLine(line: string): { cpu: number; lost: number } | null {
  const m = /^CPU:(\d+) \[LOST (\d+) EVENTS\]\s*$/.exec(line);
  return m ? { cpu: Number(m[1]), lost: Number(m[2]) } : null;
}
