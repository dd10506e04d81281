/** Timing samples for the benchmarks: one warm-up, then N timed runs, summarised by percentile. */

/** The p-th percentile (p50 is the median) of `samples`. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Milliseconds of `runs` runs of `runOnce`, after one untimed run that warms caches for every side alike. */
export async function timeRuns(runs: number, runOnce: () => Promise<void> | void): Promise<number[]> {
  await runOnce();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await runOnce();
    samples.push(performance.now() - start);
  }
  return samples;
}
