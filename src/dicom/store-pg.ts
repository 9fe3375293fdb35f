/**
 * PostgreSQL storage area (`--storage postgres`): each object version is rows of 1 MiB `bytea`
 * chunks (packages-wave2.md §6: bytea is the simplest and as fast as large objects for DICOM
 * sizes; large objects need lo_unlink bookkeeping). An object is written in its own transaction
 * (committed, hence durable with synchronous_commit on, before `write` resolves), under a version
 * name never reused, before the index row naming it commits (archive.ts); `sync` has nothing
 * left to do. Range reads fetch only the chunks a range covers.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MIGRATION_LOCK } from './catalog-pg.js';
import type { StorageArea, SweepOptions } from './store.js';
import { DicomStore } from './store.js';

const CHUNK = 1024 * 1024;

export const STORAGE_MIGRATION = `
CREATE TABLE IF NOT EXISTS storage_objects (
  name TEXT COLLATE "C" PRIMARY KEY,
  size BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS storage_chunks (
  name TEXT COLLATE "C" NOT NULL REFERENCES storage_objects(name) ON DELETE CASCADE,
  n INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (name, n)
);
`;

export class PgStore implements StorageArea {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  readonly #ownPool: boolean;
  /** Version names (the fs store's scheme: hashes of the UIDs, time, counter, owner). */
  readonly #names = new DicomStore(os.tmpdir());
  readonly #tmpDir = os.tmpdir();

  private constructor(pool: pg.Pool, ownPool: boolean) {
    this.pool = pool;
    this.#ownPool = ownPool;
  }

  static async open(urlOrPool: string | pg.Pool): Promise<PgStore> {
    const own = typeof urlOrPool === 'string';
    const pool = own ? new pg.Pool({ connectionString: urlOrPool, max: 10 }) : urlOrPool;
    if (own) pool.on('error', () => {});
    const client = await pool.connect();
    try {
      // Same advisory lock as the index migrations: replicas starting together create once.
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await client.query(STORAGE_MIGRATION);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
    return new PgStore(pool, own);
  }

  async close(): Promise<void> {
    if (this.#ownPool) await this.pool.end();
  }

  newVersion(studyUid: string, sopInstanceUid: string): string {
    return this.#names.newVersion(studyUid, sopInstanceUid);
  }

  async write(rel: string, bytes: Uint8Array): Promise<void> {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        // Fails on an existing name: a version name is never reused.
        await client.query('INSERT INTO storage_objects (name, size) VALUES ($1, $2)', [
          rel,
          buf.length,
        ]);
        const ns: number[] = [];
        const parts: Buffer[] = [];
        for (let n = 0, o = 0; o < buf.length || n === 0; n++, o += CHUNK) {
          ns.push(n);
          parts.push(buf.subarray(o, o + CHUNK));
        }
        // A statement per chunk: a bytea[] parameter would be hex-encoded as one huge string.
        for (let i = 0; i < ns.length; i++)
          await client.query('INSERT INTO storage_chunks (name, n, data) VALUES ($1, $2, $3)', [
            rel,
            ns[i],
            parts[i],
          ]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      client.release();
    }
  }

  async adopt(tmp: string, rel: string): Promise<void> {
    await this.write(rel, await readFile(tmp));
    await rm(tmp, { force: true });
  }

  /** Nothing to do: `write` committed each object. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  async read(rel: string): Promise<Buffer> {
    const { rows } = await this.pool.query<{ data: Buffer }>(
      'SELECT data FROM storage_chunks WHERE name = $1 ORDER BY n',
      [rel],
    );
    if (rows.length === 0) throw notFoundError(rel);
    return rows.length === 1 ? rows[0]!.data : Buffer.concat(rows.map((r) => r.data));
  }

  async readRange(rel: string, offset: number, length: number): Promise<Buffer> {
    return (await this.readRanges(rel, [[offset, length]]))[0]!;
  }

  async readRanges(
    rel: string,
    ranges: ReadonlyArray<readonly [number, number]>,
  ): Promise<Buffer[]> {
    if (ranges.length === 0) return [];
    const first = Math.min(...ranges.map(([o]) => Math.floor(o / CHUNK)));
    const last = Math.max(...ranges.map(([o, l]) => Math.floor((o + Math.max(l, 1) - 1) / CHUNK)));
    const { rows } = await this.pool.query<{ n: number; data: Buffer }>(
      'SELECT n, data FROM storage_chunks WHERE name = $1 AND n BETWEEN $2 AND $3 ORDER BY n',
      [rel, first, last],
    );
    if (rows.length === 0) throw notFoundError(rel);
    const chunks = new Map(rows.map((r) => [r.n, r.data]));
    return ranges.map(([offset, length]) => {
      const out: Buffer[] = [];
      let need = length;
      for (let o = offset; need > 0;) {
        const c = chunks.get(Math.floor(o / CHUNK));
        if (!c) break;
        const at = o % CHUNK;
        const piece = c.subarray(at, at + need);
        if (piece.length === 0) break;
        out.push(piece);
        need -= piece.length;
        o += piece.length;
      }
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    });
  }

  localPath(): undefined {
    return undefined;
  }

  async remove(rel: string): Promise<void> {
    await this.pool.query('DELETE FROM storage_objects WHERE name = $1', [rel]);
  }

  tempPath(): string {
    return path.join(
      this.#tmpDir,
      `voxelgate-p${process.pid.toString(36)}-${randomBytes(6).toString('hex')}.tmp`,
    );
  }

  async removeTemp(file: string): Promise<void> {
    if (path.dirname(file) === this.#tmpDir && path.basename(file).startsWith('voxelgate-p'))
      await rm(file, { force: true });
  }

  /**
   * Removes objects no index row names, older than `minAgeMs` (younger ones may be staged by a
   * session of another replica that has not committed yet).
   */
  async sweep(isReferenced: (rel: string) => boolean, opts: SweepOptions = {}): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT name FROM storage_objects WHERE created_at < now() - make_interval(secs => $1)`,
      [(opts.minAgeMs ?? 0) / 1000],
    );
    const gone = rows.map((r) => r.name).filter((n) => !isReferenced(n));
    for (let i = 0; i < gone.length; i += 1000)
      await this.pool.query('DELETE FROM storage_objects WHERE name = ANY($1::text[])', [
        gone.slice(i, i + 1000),
      ]);
    return gone;
  }
}

function notFoundError(rel: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`ENOENT: no stored object ${rel}`);
  e.code = 'ENOENT';
  return e;
}
