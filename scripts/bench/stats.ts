/** Small statistics helpers for the benchmarks. */
import os from 'node:os';
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export const mbPerS = (bytes: number, ms: number) =>
  `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;

/** `median (min–max)` of several runs, each formatted with `f`. */
export function spread(values: number[], f: (x: number) => string): string {
  if (values.length === 0) return 'n/a';
  const s = [...values].sort((a, b) => a - b);
  const med = s[Math.floor((s.length - 1) / 2)]!;
  return s.length === 1 ? f(med) : `${f(med)} (min ${f(s[0]!)}, max ${f(s[s.length - 1]!)})`;
}

/** The machine's 1-minute load average and core count, for a row next to the figures. */
export function machineLoad(): string {
  return `load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on ${os.availableParallelism()} cores`;
}
