/** Small statistics helpers for the benchmarks. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export const mbPerS = (bytes: number, ms: number) =>
  `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
