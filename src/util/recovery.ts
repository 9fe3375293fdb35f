/**
 * Startup recovery for the data folder: temp files (`*.tmp`, written by `writeFileAtomic` and by
 * streaming writers) are garbage once their writer is gone. A starting server removes them
 * everywhere under `<data>/`, except in the folders given (stores that sweep themselves, e.g. the
 * DICOM archive, whose temp and orphan files may belong to an import running next to it).
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Removes `*.tmp` files under `root` (recursively, not following links); returns their paths relative to `root`. */
export function sweepTempFiles(root: string, skip: readonly string[] = []): string[] {
  const removed: string[] = [];
  const skipAbs = new Set(skip.map((s) => path.resolve(root, s)));
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!skipAbs.has(abs)) walk(abs);
      } else if (e.isFile() && e.name.endsWith('.tmp')) {
        try {
          rmSync(abs, { force: true });
          removed.push(path.relative(root, abs));
        } catch {
          /* gone already */
        }
      }
    }
  };
  walk(path.resolve(root));
  return removed;
}
