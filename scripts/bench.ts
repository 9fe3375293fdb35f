/**
 * `npm run bench`: runs every `scripts/bench/*.bench.ts` module (or the ones named on the command
 * line, e.g. `npm run bench -- nrrd`) and prints one table. Each module exports
 * `run(): Promise<BenchRow[]>`. Figures are for this machine; quote them, do not assert on them.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchRow {
  /** Area, e.g. `nrrd`, `slice`, `dicom`. */
  group: string;
  /** What was measured, e.g. `GET 256³ int16 raw`. */
  name: string;
  /** The figure and its unit, e.g. `812 MB/s`, `p50 3.1 ms / p99 7.9 ms`. */
  value: string;
  /** Target from the issue, if any (e.g. `≥ 500 MB/s`). */
  aim?: string;
}

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bench');
const wanted = process.argv.slice(2);
const modules = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (modules.length === 0) {
  console.error(
    `bench: no benchmark modules${wanted.length ? ` matching ${wanted.join(', ')}` : ''} in ${dir}`,
  );
  process.exit(1);
}
const rows: BenchRow[] = [];
for (const file of modules) {
  const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as {
    run: () => Promise<BenchRow[]>;
  };
  process.stderr.write(`bench: running ${file} …\n`);
  const t0 = Date.now();
  const got = await mod.run();
  rows.push(...got);
  process.stderr.write(`bench: ${file} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
const cols = ['group', 'name', 'value', 'aim'] as const;
const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
const line = (cells: string[]) =>
  '| ' + cells.map((x, i) => x.padEnd(width[i]!)).join(' | ') + ' |';
console.log(line([...cols]));
console.log('|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) console.log(line(cols.map((c) => r[c] ?? '')));
process.exit(0);
