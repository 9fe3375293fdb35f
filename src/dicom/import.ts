/**
 * Importing files into the archive (`voxelgate import`, `--import`): walks folders recursively,
 * skips what is not DICOM (with the reason), is idempotent by SOP Instance UID (a stored instance
 * is kept, never replaced) and works while a server uses the same data folder (SQLite WAL + busy
 * timeout; files are staged under new version names and committed in batches of 64 through the
 * same ingest session as STOW-RS, so a crash leaves whole batches).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isAppError } from '../errors.js';
import type { Archive } from './archive.js';
import { hasPreamble } from './part10.js';

export interface ImportProgress {
  files: number;
  done: number;
  stored: number;
  existing: number;
  skipped: number;
}

export interface ImportSummary extends ImportProgress {
  /** Skipped files with the reason (first 1000). */
  skippedFiles: Array<{ file: string; reason: string }>;
}

/** Lists files under the given paths (files or folders, recursive), sorted, hidden files skipped. */
export async function listFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  async function walk(p: string): Promise<void> {
    const st = await fsp.stat(p);
    if (st.isFile()) out.push(p);
    else if (st.isDirectory()) {
      const entries = (await fsp.readdir(p)).filter((e) => !e.startsWith('.')).sort();
      for (const e of entries) await walk(path.join(p, e));
    }
  }
  for (const p of paths) await walk(path.resolve(p));
  return out;
}

export async function importFiles(
  archive: Archive,
  paths: readonly string[],
  onProgress?: (p: ImportProgress) => void,
): Promise<ImportSummary> {
  const files = await listFiles(paths);
  const s: ImportSummary = {
    files: files.length,
    done: 0,
    stored: 0,
    existing: 0,
    skipped: 0,
    skippedFiles: [],
  };
  const skip = (file: string, reason: string) => {
    s.skipped++;
    if (s.skippedFiles.length < 1000) s.skippedFiles.push({ file, reason });
  };
  // Files are staged and committed in batches: one transaction and parallel fsyncs per batch.
  const session = archive.session({ existing: 'keep' });
  const flush = async () => {
    const n = session.size;
    await session.commit();
    s.stored += n;
  };
  try {
    for (const file of files) {
      try {
        const buf = await fsp.readFile(file);
        if (!hasPreamble(buf)) skip(file, 'not a DICOM Part 10 file');
        else if ((await session.add(buf)).outcome !== 'staged') s.existing++;
      } catch (e) {
        skip(file, isAppError(e) ? e.message : `cannot read: ${(e as Error).message}`);
      }
      s.done++;
      if (session.size >= 64) await flush();
      onProgress?.(s);
    }
    await flush();
  } catch (e) {
    await session.abort();
    throw e;
  }
  onProgress?.(s);
  return s;
}
