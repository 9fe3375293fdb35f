/**
 * The PostgreSQL index (`--index postgres://…`): the same tables, columns and QIDO SQL as the
 * SQLite catalog (`search-sql.ts`), for several server processes ("replicas") on one database.
 *
 * - Schema: versioned migrations (`MIGRATIONS`), applied at startup under a session advisory lock
 *   so that two replicas starting at once apply each exactly once.
 * - Text columns use the "C" collation (byte order: DICOM date/time ranges and prefix patterns use
 *   the btree indexes); case-insensitive PN matching uses `lower(col)` with text_pattern_ops
 *   indexes.
 * - `upsert` is ONE transaction (the archive's commit point). Before reading anything it takes a
 *   transaction advisory lock per touched study, in UID order (no deadlock between replicas), so
 *   that concurrent sessions touching one study serialize: the counters are exact and a
 *   concurrent STOW of the same instance through two replicas ends with one version, the other
 *   reported as replaced (its file is deleted).
 * - Bulk writes: one `INSERT … SELECT FROM unnest(…)` per table (packages-wave2.md §6: 50× faster
 *   than a statement per row).
 * - Durability: `synchronous_commit` on (the default) for durable sessions; `SET LOCAL
 *   synchronous_commit = off` for bulk ones.
 */
import pg from 'pg';
import type {
  ArchiveCounts,
  Index,
  InstanceRecord,
  InstanceRef,
  PatientSummary,
  SearchResult,
  VersionRef,
} from './archive-index.js';
import type { QidoQuery } from './query.js';
import { dateOf, int, POSTGRES, runSearch, str, timeOf, type SqlRow } from './search-sql.js';
import { T, type Level } from './tags.js';

/** Schema versions; index i migrates version i to i+1. Never edit a released entry: append. */
export const MIGRATIONS: readonly string[] = [
  `
CREATE TABLE studies (
  seq BIGSERIAL NOT NULL,
  study_uid TEXT COLLATE "C" PRIMARY KEY,
  patient_id TEXT COLLATE "C", patient_name TEXT COLLATE "C", patient_birth_date TEXT COLLATE "C",
  patient_sex TEXT COLLATE "C", study_date TEXT COLLATE "C", study_time TEXT COLLATE "C",
  accession TEXT COLLATE "C", study_id TEXT COLLATE "C", study_description TEXT COLLATE "C",
  referring TEXT COLLATE "C",
  modalities TEXT COLLATE "C" NOT NULL DEFAULT '',
  num_series INTEGER NOT NULL DEFAULT 0, num_instances INTEGER NOT NULL DEFAULT 0,
  attrs TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX studies_seq ON studies(seq);
CREATE INDEX studies_date ON studies(study_date);
CREATE INDEX studies_patient ON studies(patient_id);
CREATE INDEX studies_accession ON studies(accession);
CREATE INDEX studies_name_lc ON studies(lower(patient_name) text_pattern_ops);
CREATE INDEX studies_referring_lc ON studies(lower(referring) text_pattern_ops);
CREATE TABLE series (
  seq BIGSERIAL NOT NULL,
  series_uid TEXT COLLATE "C" PRIMARY KEY,
  study_uid TEXT COLLATE "C" NOT NULL,
  modality TEXT COLLATE "C", series_number INTEGER, series_description TEXT COLLATE "C",
  series_date TEXT COLLATE "C", series_time TEXT COLLATE "C", pps_date TEXT COLLATE "C",
  pps_time TEXT COLLATE "C",
  num_instances INTEGER NOT NULL DEFAULT 0,
  attrs TEXT NOT NULL
);
CREATE INDEX series_seq ON series(seq);
CREATE INDEX series_study ON series(study_uid);
CREATE INDEX series_modality ON series(modality);
CREATE TABLE instances (
  seq BIGSERIAL NOT NULL,
  sop_uid TEXT COLLATE "C" PRIMARY KEY,
  series_uid TEXT COLLATE "C" NOT NULL,
  study_uid TEXT COLLATE "C" NOT NULL,
  sop_class_uid TEXT COLLATE "C", instance_number INTEGER, rows INTEGER, columns INTEGER,
  bits_allocated INTEGER, number_of_frames INTEGER,
  transfer_syntax TEXT COLLATE "C" NOT NULL, file TEXT COLLATE "C" NOT NULL, size BIGINT NOT NULL,
  image TEXT, pixel TEXT, attrs TEXT NOT NULL, metadata TEXT NOT NULL,
  stored_at BIGINT NOT NULL, content_hash TEXT
);
CREATE INDEX instances_seq ON instances(seq);
CREATE INDEX instances_series ON instances(series_uid, instance_number);
CREATE INDEX instances_study ON instances(study_uid);
CREATE INDEX instances_class ON instances(sop_class_uid);
CREATE VIEW patients AS
  SELECT patient_id, MAX(patient_name) AS patient_name, MAX(patient_birth_date) AS patient_birth_date,
         MAX(patient_sex) AS patient_sex, COUNT(*) AS num_studies, SUM(num_instances) AS num_instances
  FROM studies GROUP BY patient_id;
`,
];

/** Advisory lock key for migrations (any constant; "voxelgate" in ASCII, truncated). */
export const MIGRATION_LOCK = 0x766f78656c;

/** An instance row's identity and the file version it names (upsert, delete). */
interface InstanceFileRow {
  sop_uid: string;
  series_uid: string;
  study_uid: string;
  file: string;
}

/** `?` placeholders → `$1…$n` (no `?` appears inside the SQL literals we write). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const REF_COLUMNS =
  'sop_uid AS "sopInstanceUid", series_uid AS "seriesUid", study_uid AS "studyUid", sop_class_uid AS "sopClassUid", transfer_syntax AS "transferSyntax", file, size, number_of_frames AS "numberOfFrames", image, pixel, stored_at AS "storedAt"';

const toRef = (r: SqlRow): InstanceRef => ({
  ...(r as unknown as InstanceRef),
  size: Number(r.size),
  storedAt: Number(r.storedAt),
});

/** Applies pending migrations under an advisory lock (safe when replicas start together). */
export async function migrate(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS voxelgate_schema (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ v: number | null }>(
        'SELECT MAX(version) AS v FROM voxelgate_schema',
      );
      let version = rows[0]?.v ?? 0;
      if (version > MIGRATIONS.length)
        throw new Error(
          `the database schema is at version ${version}, newer than this voxelgate (${MIGRATIONS.length}); upgrade voxelgate`,
        );
      for (; version < MIGRATIONS.length; version++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[version]!);
          await client.query('INSERT INTO voxelgate_schema (version) VALUES ($1)', [version + 1]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK');
          throw e;
        }
      }
      return version;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

export class PgIndex implements Index {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /** Connects (a pool of `max` connections) and migrates the schema. */
  static async open(url: string, opts: { max?: number } = {}): Promise<PgIndex> {
    const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
    // An idle client losing its connection (server restart) must not crash the process.
    pool.on('error', () => {});
    try {
      await migrate(pool);
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PgIndex(pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows(sql: string, args: unknown[] = []): Promise<SqlRow[]> {
    return (await this.pool.query(numbered(sql), args)).rows as SqlRow[];
  }

  async counts(): Promise<ArchiveCounts> {
    const [r] = await this.rows(
      'SELECT (SELECT COUNT(*) FROM studies) AS studies, (SELECT COUNT(*) FROM series) AS series, (SELECT COUNT(*) FROM instances) AS instances',
    );
    return {
      studies: Number(r!.studies),
      series: Number(r!.series),
      instances: Number(r!.instances),
    };
  }

  async patients(): Promise<PatientSummary[]> {
    const rows = await this.rows(
      'SELECT patient_id, patient_name, num_studies, num_instances FROM patients ORDER BY patient_id',
    );
    return rows.map((r) => ({
      patientId: (r.patient_id as string | null) ?? null,
      patientName: (r.patient_name as string | null) ?? null,
      numStudies: Number(r.num_studies),
      numInstances: Number(r.num_instances),
    }));
  }

  async hasInstance(sop: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM instances WHERE sop_uid = ?', [sop])).length > 0;
  }

  async version(sop: string): Promise<VersionRef | undefined> {
    const [r] = await this.rows(
      'SELECT file, size, content_hash FROM instances WHERE sop_uid = ?',
      [sop],
    );
    return r
      ? {
          file: r.file as string,
          size: Number(r.size),
          contentHash: (r.content_hash as string | null) ?? null,
        }
      : undefined;
  }

  async allFiles(): Promise<Set<string>> {
    const res = await this.pool.query({ text: 'SELECT file FROM instances', rowMode: 'array' });
    return new Set((res.rows as string[][]).map((r) => r[0]!));
  }

  async upsert(
    records: readonly InstanceRecord[],
    durable = true,
  ): Promise<{ replaced: string[]; skipped: string[] }> {
    if (records.length === 0) return { replaced: [], skipped: [] };
    const client = await this.pool.connect();
    const q = <R extends pg.QueryResultRow = Record<string, unknown>>(
      sql: string,
      args: unknown[] = [],
    ) => client.query<R>(numbered(sql), args);
    try {
      await q('BEGIN');
      try {
        if (!durable) await q('SET LOCAL synchronous_commit = off');
        // The last record of a SOP wins (a session holds each SOP once; be safe anyway).
        const bySop = new Map(records.map((r) => [r.sopInstanceUid, r]));
        const sops = [...bySop.keys()];
        await this.lockStudies(
          q,
          records.map((r) => r.studyUid),
        );
        let old = await q<InstanceFileRow>(
          'SELECT sop_uid, series_uid, study_uid, file FROM instances WHERE sop_uid = ANY(?::text[])',
          [sops],
        );
        // Instances moving from another study: lock that one too, then read again.
        const moved = old.rows
          .map((r) => r.study_uid)
          .filter((st) => !records.some((r) => r.studyUid === st));
        if (moved.length) {
          await this.lockStudies(q, moved);
          old = await q<InstanceFileRow>(
            'SELECT sop_uid, series_uid, study_uid, file FROM instances WHERE sop_uid = ANY(?::text[])',
            [sops],
          );
        }
        const oldBySop = new Map(old.rows.map((r) => [r.sop_uid, r]));
        const replaced: string[] = [];
        const skipped: string[] = [];
        const touched = new Map<string, string>();
        const put: InstanceRecord[] = [];
        for (const r of bySop.values()) {
          const o = oldBySop.get(r.sopInstanceUid);
          if (o && r.existing === 'keep') {
            skipped.push(r.file);
            continue;
          }
          if (o) {
            touched.set(o.series_uid, o.study_uid);
            if (o.file !== r.file) replaced.push(o.file);
          }
          touched.set(r.seriesUid, r.studyUid);
          put.push(r);
        }
        for (const r of records) if (bySop.get(r.sopInstanceUid) !== r) skipped.push(r.file);
        if (put.length) await this.write(q, put);
        await this.refresh(q, touched);
        await q('COMMIT');
        return { replaced, skipped };
      } catch (e) {
        await q('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      client.release();
    }
  }

  /** Transaction advisory locks on studies, in UID order (every writer locks in this order). */
  private async lockStudies(
    q: (sql: string, args?: unknown[]) => Promise<unknown>,
    studies: readonly string[],
  ): Promise<void> {
    for (const st of [...new Set(studies)].sort())
      await q("SELECT pg_advisory_xact_lock(hashtextextended('study:' || ?, 0))", [st]);
  }

  private async write(
    q: (sql: string, args?: unknown[]) => Promise<unknown>,
    put: readonly InstanceRecord[],
  ): Promise<void> {
    const now = Date.now();
    const col = <V>(f: (r: InstanceRecord) => V) => put.map(f);
    await q(
      `INSERT INTO instances (sop_uid, series_uid, study_uid, sop_class_uid, instance_number, rows, columns, bits_allocated,
         number_of_frames, transfer_syntax, file, size, image, pixel, attrs, metadata, stored_at, content_hash)
       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[], ?::int[], ?::int[], ?::int[],
         ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[])
       ON CONFLICT (sop_uid) DO UPDATE SET series_uid = excluded.series_uid, study_uid = excluded.study_uid,
         sop_class_uid = excluded.sop_class_uid, instance_number = excluded.instance_number, rows = excluded.rows,
         columns = excluded.columns, bits_allocated = excluded.bits_allocated, number_of_frames = excluded.number_of_frames,
         transfer_syntax = excluded.transfer_syntax, file = excluded.file, size = excluded.size, image = excluded.image,
         pixel = excluded.pixel, attrs = excluded.attrs, metadata = excluded.metadata, stored_at = excluded.stored_at,
         content_hash = excluded.content_hash`,
      [
        col((r) => r.sopInstanceUid),
        col((r) => r.seriesUid),
        col((r) => r.studyUid),
        col((r) => r.sopClassUid),
        col((r) => int(r.instanceAttrs, T.InstanceNumber)),
        col((r) => r.image?.rows ?? null),
        col((r) => r.image?.columns ?? null),
        col((r) => r.image?.bitsAllocated ?? null),
        col((r) => (r.image ? r.image.numberOfFrames : null)),
        col((r) => r.transferSyntax),
        col((r) => r.file),
        col((r) => r.size),
        col((r) => (r.image ? JSON.stringify(r.image) : null)),
        col((r) => (r.pixel ? JSON.stringify(r.pixel) : null)),
        col((r) => JSON.stringify(r.instanceAttrs)),
        col((r) => r.metadata),
        col(() => now),
        col((r) => r.contentHash),
      ],
    );
    // One row per series and per study (the last record's attributes win, as in SQLite).
    const series = [...new Map(put.map((r) => [r.seriesUid, r])).values()];
    const sc = <V>(f: (r: InstanceRecord) => V) => series.map(f);
    await q(
      `INSERT INTO series (series_uid, study_uid, modality, series_number, series_description, series_date, series_time,
         pps_date, pps_time, attrs)
       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
       ON CONFLICT (series_uid) DO UPDATE SET study_uid = excluded.study_uid, modality = excluded.modality,
         series_number = excluded.series_number, series_description = excluded.series_description,
         series_date = excluded.series_date, series_time = excluded.series_time, pps_date = excluded.pps_date,
         pps_time = excluded.pps_time, attrs = excluded.attrs`,
      [
        sc((r) => r.seriesUid),
        sc((r) => r.studyUid),
        sc((r) => str(r.seriesAttrs, T.Modality)),
        sc((r) => int(r.seriesAttrs, T.SeriesNumber)),
        sc((r) => str(r.seriesAttrs, T.SeriesDescription)),
        sc((r) => dateOf(r.seriesAttrs, T.SeriesDate)),
        sc((r) => timeOf(r.seriesAttrs, T.SeriesTime)),
        sc((r) => dateOf(r.seriesAttrs, T.PerformedProcedureStepStartDate)),
        sc((r) => timeOf(r.seriesAttrs, T.PerformedProcedureStepStartTime)),
        sc((r) => JSON.stringify(r.seriesAttrs)),
      ],
    );
    const studies = [...new Map(put.map((r) => [r.studyUid, r])).values()];
    const stc = <V>(f: (r: InstanceRecord) => V) => studies.map(f);
    await q(
      `INSERT INTO studies (study_uid, patient_id, patient_name, patient_birth_date, patient_sex, study_date, study_time,
         accession, study_id, study_description, referring, attrs)
       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
         ?::text[], ?::text[], ?::text[], ?::text[])
       ON CONFLICT (study_uid) DO UPDATE SET patient_id = excluded.patient_id, patient_name = excluded.patient_name,
         patient_birth_date = excluded.patient_birth_date, patient_sex = excluded.patient_sex,
         study_date = excluded.study_date, study_time = excluded.study_time, accession = excluded.accession,
         study_id = excluded.study_id, study_description = excluded.study_description, referring = excluded.referring,
         attrs = excluded.attrs`,
      [
        stc((r) => r.studyUid),
        stc((r) => str(r.studyAttrs, T.PatientID)),
        stc((r) => str(r.studyAttrs, T.PatientName)),
        stc((r) => dateOf(r.studyAttrs, T.PatientBirthDate)),
        stc((r) => str(r.studyAttrs, T.PatientSex)),
        stc((r) => dateOf(r.studyAttrs, T.StudyDate)),
        stc((r) => timeOf(r.studyAttrs, T.StudyTime)),
        stc((r) => str(r.studyAttrs, T.AccessionNumber)),
        stc((r) => str(r.studyAttrs, T.StudyID)),
        stc((r) => str(r.studyAttrs, T.StudyDescription)),
        stc((r) => str(r.studyAttrs, T.ReferringPhysicianName)),
        stc((r) => JSON.stringify(r.studyAttrs)),
      ],
    );
  }

  /** Recounts the given series (series → study) and their studies; drops empty ones. */
  private async refresh(
    q: (sql: string, args?: unknown[]) => Promise<unknown>,
    touched: Map<string, string>,
  ): Promise<void> {
    if (touched.size === 0) return;
    const series = [...touched.keys()];
    const studies = [...new Set(touched.values())];
    await q(
      'UPDATE series se SET num_instances = (SELECT COUNT(*) FROM instances i WHERE i.series_uid = se.series_uid) WHERE se.series_uid = ANY(?::text[])',
      [series],
    );
    await q('DELETE FROM series WHERE series_uid = ANY(?::text[]) AND num_instances = 0', [series]);
    await q(
      `UPDATE studies s SET
         num_instances = (SELECT COUNT(*) FROM instances i WHERE i.study_uid = s.study_uid),
         num_series = (SELECT COUNT(*) FROM series se WHERE se.study_uid = s.study_uid),
         modalities = COALESCE((SELECT '\\' || string_agg(DISTINCT se.modality, '\\' ORDER BY se.modality) || '\\'
           FROM series se WHERE se.study_uid = s.study_uid AND se.modality IS NOT NULL AND se.modality <> ''), '')
       WHERE s.study_uid = ANY(?::text[])`,
      [studies],
    );
    await q('DELETE FROM studies WHERE study_uid = ANY(?::text[]) AND num_instances = 0', [
      studies,
    ]);
  }

  async instance(sop: string): Promise<InstanceRef | undefined> {
    const [r] = await this.rows(`SELECT ${REF_COLUMNS} FROM instances WHERE sop_uid = ?`, [sop]);
    return r ? toRef(r) : undefined;
  }

  async instanceMetadata(sop: string): Promise<string | undefined> {
    const [r] = await this.rows('SELECT metadata FROM instances WHERE sop_uid = ?', [sop]);
    return r?.metadata as string | undefined;
  }

  async seriesMetadata(study: string, series: string): Promise<string[]> {
    const rows = await this.rows(
      'SELECT metadata FROM instances WHERE series_uid = ? AND study_uid = ? ORDER BY instance_number, sop_uid',
      [series, study],
    );
    return rows.map((r) => r.metadata as string);
  }

  async studyMetadata(study: string): Promise<string[]> {
    const rows = await this.rows(
      'SELECT metadata FROM instances WHERE study_uid = ? ORDER BY series_uid, instance_number, sop_uid',
      [study],
    );
    return rows.map((r) => r.metadata as string);
  }

  async seriesInstances(study: string, series: string): Promise<InstanceRef[]> {
    const rows = await this.rows(
      `SELECT ${REF_COLUMNS} FROM instances WHERE series_uid = ? AND study_uid = ? ORDER BY instance_number, sop_uid`,
      [series, study],
    );
    return rows.map(toRef);
  }

  async studyInstances(study: string): Promise<InstanceRef[]> {
    const rows = await this.rows(
      `SELECT ${REF_COLUMNS} FROM instances WHERE study_uid = ? ORDER BY series_uid, instance_number, sop_uid`,
      [study],
    );
    return rows.map(toRef);
  }

  async instancesPage(after: string | undefined, limit: number): Promise<InstanceRef[]> {
    const rows = await this.rows(
      `SELECT ${REF_COLUMNS} FROM instances WHERE sop_uid > ? ORDER BY sop_uid LIMIT ?`,
      [after ?? '', limit],
    );
    return rows.map(toRef);
  }

  async studyOfSeries(series: string): Promise<string | undefined> {
    const [r] = await this.rows('SELECT study_uid FROM series WHERE series_uid = ?', [series]);
    return r?.study_uid as string | undefined;
  }

  async studyExists(study: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM studies WHERE study_uid = ?', [study])).length > 0;
  }

  async deleteInstances(rows: readonly InstanceRef[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const client = await this.pool.connect();
    const q = <R extends pg.QueryResultRow = Record<string, unknown>>(
      sql: string,
      args: unknown[] = [],
    ) => client.query<R>(numbered(sql), args);
    try {
      await q('BEGIN');
      try {
        await this.lockStudies(
          q,
          rows.map((r) => r.studyUid),
        );
        // Only rows that still name the version the caller saw (a concurrent replace wins).
        const del = await q<Omit<InstanceFileRow, 'sop_uid'>>(
          `DELETE FROM instances i USING unnest(?::text[], ?::text[]) AS d(sop, file)
           WHERE i.sop_uid = d.sop AND i.file = d.file RETURNING i.file, i.series_uid, i.study_uid`,
          [rows.map((r) => r.sopInstanceUid), rows.map((r) => r.file)],
        );
        const touched = new Map<string, string>();
        for (const r of del.rows) touched.set(r.series_uid, r.study_uid);
        await this.refresh(q, touched);
        await q('COMMIT');
        return del.rows.map((r) => r.file);
      } catch (e) {
        await q('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      client.release();
    }
  }

  async representativeMetadata(
    study: string,
    series?: string,
    sop?: string,
  ): Promise<string | undefined> {
    if (sop) return this.instanceMetadata(sop);
    const [r] = series
      ? await this.rows(
          'SELECT metadata FROM instances WHERE series_uid = ? ORDER BY instance_number LIMIT 1',
          [series],
        )
      : await this.rows('SELECT metadata FROM instances WHERE study_uid = ? LIMIT 1', [study]);
    return r?.metadata as string | undefined;
  }

  async search(
    level: Level,
    scope: { study?: string; series?: string },
    q: QidoQuery,
    defaultLimit: number,
  ): Promise<SearchResult> {
    return runSearch(POSTGRES, (sql, args) => this.rows(sql, args), level, scope, q, defaultLimit);
  }
}
