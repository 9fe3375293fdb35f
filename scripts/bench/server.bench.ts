/** Baseline: request latency of the cheapest endpoint over loopback. */
import { startServer } from '../../src/server/cli.js';
import { defaultConfig } from '../../src/server/config.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchRow } from '../bench.js';
import { percentile } from './stats.js';

export async function run(): Promise<BenchRow[]> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-'));
  const running = await startServer(defaultConfig({ data }), { out: () => {}, err: () => {} });
  const url = `${running.listening.url}slicer/system/version`;
  try {
    for (let i = 0; i < 200; i++) await (await fetch(url)).arrayBuffer();
    const times: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await (await fetch(url)).arrayBuffer();
      times.push(performance.now() - t);
    }
    return [
      {
        group: 'server',
        name: 'GET /slicer/system/version (1 client)',
        value: `p50 ${percentile(times, 50).toFixed(2)} ms / p99 ${percentile(times, 99).toFixed(2)} ms`,
      },
    ];
  } finally {
    await running.stop();
    rmSync(data, { recursive: true, force: true });
  }
}
