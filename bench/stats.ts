/** Summary statistics for latency samples (milliseconds in, rounded figures out). */
export function summarize(samplesMs: number[]): {
  n: number;
  median_ms: number;
  p99_ms: number;
  min_ms: number;
  max_ms: number;
} {
  const s = [...samplesMs].sort((a, b) => a - b);
  // No samples: every figure is NaN, as it always was.
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { n: s.length, median_ms: r(at(0.5)), p99_ms: r(at(0.99)), min_ms: r(at(0)), max_ms: r(at(1)) };
}

export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** p50, p95 and p99 of latency samples (milliseconds, rounded to µs), by the same nearest rank as summarize(). */
export function percentiles(samplesMs: number[]): { n: number; p50: number; p95: number; p99: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 1000) / 1000;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}
