/**
 * `voxelgate migrate --from sqlite:DIR --to postgres://…`: copies an embedded archive (SQLite
 * index + files under DIR/dicom) into another archive (normally PostgreSQL, files where
 * `--storage` says), instance by instance, exact bytes as stored. Each batch is one ingest
 * session (`existing: 'keep'`), so the copy is resumable: run it again after an interruption and
 * instances already in the target are counted as present and skipped, never duplicated.
 */
import type { Archive } from './archive.js';

export interface MigrateProgress {
  /** Instances in the source. */
  total: number;
  done: number;
  copied: number;
  /** Already in the target (an earlier, interrupted run). */
  present: number;
}

export async function migrateArchive(
  source: Archive,
  target: Archive,
  onProgress?: (p: MigrateProgress) => void,
  batch = 200,
): Promise<MigrateProgress> {
  const p: MigrateProgress = {
    total: (await source.counts()).instances,
    done: 0,
    copied: 0,
    present: 0,
  };
  onProgress?.(p);
  let after: string | undefined;
  for (;;) {
    const rows = await source.catalog.instancesPage(after, batch);
    if (rows.length === 0) break;
    after = rows.at(-1)!.sopInstanceUid;
    const release = source.lease(rows);
    const session = target.session({ existing: 'keep' });
    try {
      for (const r of rows) {
        if (await target.catalog.hasInstance(r.sopInstanceUid)) {
          p.present++;
        } else {
          const { outcome } = await session.add(await source.part10(r, true));
          if (outcome === 'kept') p.present++;
          else p.copied++;
        }
        p.done++;
      }
      await session.commit();
    } catch (e) {
      await session.abort();
      throw e;
    } finally {
      release();
    }
    onProgress?.(p);
  }
  return p;
}
