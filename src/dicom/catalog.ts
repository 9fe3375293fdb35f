/**
 * The index: SQLite (better-sqlite3, WAL, busy timeout so `voxelgate import` can write while a
 * server reads) of studies, series and instances with their main tags as columns, the level
 * attributes as DICOM JSON, and per-instance metadata (DICOM JSON without bulk data) so that
 * WADO-RS /metadata never re-parses files. QIDO filters on indexed keys become SQL; others are
 * matched in JS (`query.ts`).
 *
 * The instance row is the commit point of the archive: it names the one file version (and its
 * content hash) that every reader uses; `upsert` switches rows in one transaction. Durability:
 * `journal_mode = WAL` with `synchronous = FULL`, so a committed transaction is fsynced (the WAL)
 * before `upsert` returns.
 */
import Database from 'better-sqlite3';
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
import { dateOf, int, runSearch, SQLITE, str, timeOf, type SqlRow } from './search-sql.js';
import { T, type Level } from './tags.js';
import { promiseTry } from '../util/promise.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS studies (
  study_uid TEXT PRIMARY KEY,
  patient_id TEXT, patient_name TEXT, patient_birth_date TEXT, patient_sex TEXT,
  study_date TEXT, study_time TEXT, accession TEXT, study_id TEXT, study_description TEXT, referring TEXT,
  modalities TEXT NOT NULL DEFAULT '',
  num_series INTEGER NOT NULL DEFAULT 0, num_instances INTEGER NOT NULL DEFAULT 0
);
-- Study attributes as DICOM JSON, apart so that scans of the narrow studies table stay fast.
CREATE TABLE IF NOT EXISTS study_attrs (study_uid TEXT PRIMARY KEY, attrs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date);
CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_id);
CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession);
CREATE TABLE IF NOT EXISTS series (
  series_uid TEXT PRIMARY KEY,
  study_uid TEXT NOT NULL,
  modality TEXT, series_number INTEGER, series_description TEXT, series_date TEXT, series_time TEXT,
  pps_date TEXT, pps_time TEXT,
  num_instances INTEGER NOT NULL DEFAULT 0,
  attrs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS series_study ON series(study_uid);
CREATE TABLE IF NOT EXISTS instances (
  sop_uid TEXT PRIMARY KEY,
  series_uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  sop_class_uid TEXT, instance_number INTEGER, rows INTEGER, columns INTEGER, bits_allocated INTEGER,
  number_of_frames INTEGER,
  transfer_syntax TEXT NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL,
  image TEXT, pixel TEXT,
  attrs TEXT NOT NULL, metadata TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  content_hash TEXT
);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_uid, instance_number);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid);
-- The patient level, derived from the studies (patient attributes live on the study rows).
CREATE VIEW IF NOT EXISTS patients AS
  SELECT patient_id, MAX(patient_name) AS patient_name, MAX(patient_birth_date) AS patient_birth_date, MAX(patient_sex) AS patient_sex,
         COUNT(*) AS num_studies, SUM(num_instances) AS num_instances
  FROM studies GROUP BY patient_id;
`;

export class Catalog implements Index {
  readonly kind = 'sqlite';
  readonly db: Database.Database;
  private stmts: Record<string, Database.Statement>;
  /** QIDO statements by SQL text (a query shape is prepared once). */
  private queryCache = new Map<string, Database.Statement>();

  private prepared(sql: string): Database.Statement {
    let st = this.queryCache.get(sql);
    if (!st) {
      if (this.queryCache.size > 500) this.queryCache.clear();
      st = this.db.prepare(sql);
      this.queryCache.set(sql, st);
    }
    return st;
  }

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a commit fsyncs the WAL, so an acknowledged write survives a power loss (NORMAL only
    // survives a process crash).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(SCHEMA);
    // Archives made before content hashes: add the column (NULL = unknown, compared by bytes).
    const cols = this.db.pragma('table_info(instances)') as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'content_hash'))
      this.db.exec('ALTER TABLE instances ADD COLUMN content_hash TEXT');
    const p = (sql: string) => this.db.prepare(sql);
    this.stmts = {
      oldInstance: p('SELECT series_uid, study_uid, file FROM instances WHERE sop_uid = ?'),
      version: p('SELECT file, size, content_hash AS contentHash FROM instances WHERE sop_uid = ?'),
      allFiles: p('SELECT file FROM instances'),
      putInstance:
        p(`INSERT OR REPLACE INTO instances (sop_uid, series_uid, study_uid, sop_class_uid, instance_number, rows, columns, bits_allocated,
        number_of_frames, transfer_syntax, file, size, image, pixel, attrs, metadata, stored_at, content_hash)
        VALUES (@sop, @series, @study, @sopClass, @instanceNumber, @rows, @columns, @bits, @frames, @ts, @file, @size, @image, @pixel, @attrs, @metadata, @storedAt, @hash)`),
      putSeries:
        p(`INSERT INTO series (series_uid, study_uid, modality, series_number, series_description, series_date, series_time, pps_date, pps_time, attrs)
        VALUES (@series, @study, @modality, @number, @description, @date, @time, @ppsDate, @ppsTime, @attrs)
        ON CONFLICT(series_uid) DO UPDATE SET study_uid=excluded.study_uid, modality=excluded.modality, series_number=excluded.series_number,
          series_description=excluded.series_description, series_date=excluded.series_date, series_time=excluded.series_time,
          pps_date=excluded.pps_date, pps_time=excluded.pps_time, attrs=excluded.attrs`),
      putStudyAttrs: p('INSERT OR REPLACE INTO study_attrs (study_uid, attrs) VALUES (?, ?)'),
      putStudy:
        p(`INSERT INTO studies (study_uid, patient_id, patient_name, patient_birth_date, patient_sex, study_date, study_time, accession, study_id,
          study_description, referring)
        VALUES (@study, @patientId, @patientName, @birthDate, @sex, @date, @time, @accession, @studyId, @description, @referring)
        ON CONFLICT(study_uid) DO UPDATE SET patient_id=excluded.patient_id, patient_name=excluded.patient_name, patient_birth_date=excluded.patient_birth_date,
          patient_sex=excluded.patient_sex, study_date=excluded.study_date, study_time=excluded.study_time, accession=excluded.accession,
          study_id=excluded.study_id, study_description=excluded.study_description, referring=excluded.referring`),
      refreshSeries: p(
        'UPDATE series SET num_instances = (SELECT COUNT(*) FROM instances WHERE series_uid = @series) WHERE series_uid = @series',
      ),
      refreshStudy: p(`UPDATE studies SET
          num_instances = (SELECT COUNT(*) FROM instances WHERE study_uid = @study),
          num_series = (SELECT COUNT(*) FROM series WHERE study_uid = @study),
          modalities = COALESCE((SELECT '\\' || group_concat(m, '\\') || '\\' FROM (SELECT DISTINCT modality AS m FROM series WHERE study_uid = @study AND modality IS NOT NULL AND modality != '' ORDER BY m)), '')
        WHERE study_uid = @study`),
      dropEmptySeries: p('DELETE FROM series WHERE series_uid = ? AND num_instances = 0'),
      dropEmptyStudy: p('DELETE FROM studies WHERE study_uid = ? AND num_instances = 0'),
      dropStudyAttrs: p(
        'DELETE FROM study_attrs WHERE study_uid = ? AND NOT EXISTS (SELECT 1 FROM studies WHERE study_uid = ?)',
      ),
      hasInstance: p('SELECT 1 FROM instances WHERE sop_uid = ?'),
      instance: p(
        'SELECT sop_uid AS sopInstanceUid, series_uid AS seriesUid, study_uid AS studyUid, sop_class_uid AS sopClassUid, transfer_syntax AS transferSyntax, file, size, number_of_frames AS numberOfFrames, image, pixel, stored_at AS storedAt FROM instances WHERE sop_uid = ?',
      ),
      instanceMeta: p('SELECT metadata FROM instances WHERE sop_uid = ?'),
      seriesMeta: p(
        'SELECT metadata FROM instances WHERE series_uid = ? AND study_uid = ? ORDER BY instance_number, sop_uid',
      ),
      studyMeta: p(
        'SELECT metadata FROM instances WHERE study_uid = ? ORDER BY series_uid, instance_number, sop_uid',
      ),
      seriesRows: p(
        'SELECT sop_uid AS sopInstanceUid, series_uid AS seriesUid, study_uid AS studyUid, sop_class_uid AS sopClassUid, transfer_syntax AS transferSyntax, file, size, number_of_frames AS numberOfFrames, image, pixel, stored_at AS storedAt FROM instances WHERE series_uid = ? AND study_uid = ? ORDER BY instance_number, sop_uid',
      ),
      studyRows: p(
        'SELECT sop_uid AS sopInstanceUid, series_uid AS seriesUid, study_uid AS studyUid, sop_class_uid AS sopClassUid, transfer_syntax AS transferSyntax, file, size, number_of_frames AS numberOfFrames, image, pixel, stored_at AS storedAt FROM instances WHERE study_uid = ? ORDER BY series_uid, instance_number, sop_uid',
      ),
      seriesExists: p('SELECT study_uid FROM series WHERE series_uid = ?'),
      studyExists: p('SELECT 1 FROM studies WHERE study_uid = ?'),
      counts: p(
        'SELECT (SELECT COUNT(*) FROM studies) AS studies, (SELECT COUNT(*) FROM series) AS series, (SELECT COUNT(*) FROM instances) AS instances',
      ),
      delInstance: p('DELETE FROM instances WHERE sop_uid = ? AND file = ?'),
      firstOfSeries: p(
        'SELECT metadata FROM instances WHERE series_uid = ? ORDER BY instance_number LIMIT 1',
      ),
      firstOfStudy: p('SELECT metadata FROM instances WHERE study_uid = ? LIMIT 1'),
    };
  }

  close(): Promise<void> {
    return promiseTry(() => {
      if (this.db.open) this.db.close();
    });
  }

  /** Patients (from the `patients` view): id, name and how many studies/instances. */
  patients(): Promise<PatientSummary[]> {
    return promiseTry(
      () =>
        this.db
          .prepare(
            'SELECT patient_id AS patientId, patient_name AS patientName, num_studies AS numStudies, num_instances AS numInstances FROM patients ORDER BY patient_id',
          )
          .all() as PatientSummary[],
    );
  }

  counts(): Promise<ArchiveCounts> {
    return promiseTry(() => this.stmts.counts!.get() as ArchiveCounts);
  }

  hasInstance(sop: string): Promise<boolean> {
    return promiseTry(() => this.stmts.hasInstance!.get(sop) !== undefined);
  }

  /** The stored version of an instance: its file, size and content hash (null for old rows). */
  version(sop: string): Promise<VersionRef | undefined> {
    return promiseTry(() => this.stmts.version!.get(sop) as VersionRef | undefined);
  }

  /** Every file an instance row names (startup recovery). */
  allFiles(): Promise<Set<string>> {
    return promiseTry(
      () => new Set((this.stmts.allFiles!.raw().all() as string[][]).map((r) => r[0]!)),
    );
  }

  /**
   * Inserts or replaces instances in one transaction and refreshes the counters of every touched
   * series and study. Returns the files that are no longer used: those of replaced instances
   * (`replaced`) and those of records skipped because their instance exists (`existing: 'keep'`).
   */
  upsert(
    records: readonly InstanceRecord[],
    durable = true,
  ): Promise<{ replaced: string[]; skipped: string[] }> {
    return promiseTry(() => this.#upsert(records, durable));
  }

  #upsert(
    records: readonly InstanceRecord[],
    durable: boolean,
  ): { replaced: string[]; skipped: string[] } {
    const orphans: string[] = [];
    const skipped: string[] = [];
    const tx = this.db.transaction(() => {
      const touchedSeries = new Map<string, string>();
      const now = Date.now();
      for (const r of records) {
        const old = this.stmts.oldInstance!.get(r.sopInstanceUid) as
          { series_uid: string; study_uid: string; file: string } | undefined;
        if (old && r.existing === 'keep') {
          skipped.push(r.file);
          continue;
        }
        if (old) {
          touchedSeries.set(old.series_uid, old.study_uid);
          if (old.file !== r.file) orphans.push(old.file);
        }
        const ia = r.instanceAttrs;
        this.stmts.putInstance!.run({
          sop: r.sopInstanceUid,
          series: r.seriesUid,
          study: r.studyUid,
          sopClass: r.sopClassUid,
          instanceNumber: int(ia, T.InstanceNumber),
          rows: r.image?.rows ?? null,
          columns: r.image?.columns ?? null,
          bits: r.image?.bitsAllocated ?? null,
          frames: r.image ? r.image.numberOfFrames : null,
          ts: r.transferSyntax,
          file: r.file,
          size: r.size,
          image: r.image ? JSON.stringify(r.image) : null,
          pixel: r.pixel ? JSON.stringify(r.pixel) : null,
          attrs: JSON.stringify(ia),
          metadata: r.metadata,
          storedAt: now,
          hash: r.contentHash,
        });
        const se = r.seriesAttrs;
        this.stmts.putSeries!.run({
          series: r.seriesUid,
          study: r.studyUid,
          modality: str(se, T.Modality),
          number: int(se, T.SeriesNumber),
          description: str(se, T.SeriesDescription),
          date: dateOf(se, T.SeriesDate),
          time: timeOf(se, T.SeriesTime),
          ppsDate: dateOf(se, T.PerformedProcedureStepStartDate),
          ppsTime: timeOf(se, T.PerformedProcedureStepStartTime),
          attrs: JSON.stringify(se),
        });
        const st = r.studyAttrs;
        this.stmts.putStudy!.run({
          study: r.studyUid,
          patientId: str(st, T.PatientID),
          patientName: str(st, T.PatientName),
          birthDate: dateOf(st, T.PatientBirthDate),
          sex: str(st, T.PatientSex),
          date: dateOf(st, T.StudyDate),
          time: timeOf(st, T.StudyTime),
          accession: str(st, T.AccessionNumber),
          studyId: str(st, T.StudyID),
          description: str(st, T.StudyDescription),
          referring: str(st, T.ReferringPhysicianName),
        });
        this.stmts.putStudyAttrs!.run(r.studyUid, JSON.stringify(st));
        touchedSeries.set(r.seriesUid, r.studyUid);
      }
      this.refresh(touchedSeries);
    });
    // Non-durable batches (bench, tests, bulk loads) skip the commit's WAL fsync; the connection
    // is back to FULL before any other statement runs (better-sqlite3 is synchronous).
    if (!durable) this.db.pragma('synchronous = NORMAL');
    try {
      tx.immediate();
    } finally {
      if (!durable) this.db.pragma('synchronous = FULL');
    }
    return { replaced: orphans, skipped };
  }

  /** Recounts the given series (series → study) and their studies; drops empty ones. */
  private refresh(series: Map<string, string>): void {
    const studies = new Set<string>();
    for (const [s, st] of series) {
      this.stmts.refreshSeries!.run({ series: s });
      this.stmts.dropEmptySeries!.run(s);
      studies.add(st);
    }
    for (const st of studies) {
      this.stmts.refreshStudy!.run({ study: st });
      this.stmts.dropEmptyStudy!.run(st);
      this.stmts.dropStudyAttrs!.run(st, st);
    }
  }

  instance(sop: string): Promise<InstanceRef | undefined> {
    return promiseTry(() => this.stmts.instance!.get(sop) as InstanceRef | undefined);
  }

  instanceMetadata(sop: string): Promise<string | undefined> {
    return promiseTry(() => this.#instanceMetadata(sop));
  }

  #instanceMetadata(sop: string): string | undefined {
    return (this.stmts.instanceMeta!.get(sop) as { metadata: string } | undefined)?.metadata;
  }

  seriesMetadata(study: string, series: string): Promise<string[]> {
    return promiseTry(() =>
      (this.stmts.seriesMeta!.raw().all(series, study) as string[][]).map((r) => r[0]!),
    );
  }

  studyMetadata(study: string): Promise<string[]> {
    return promiseTry(() =>
      (this.stmts.studyMeta!.raw().all(study) as string[][]).map((r) => r[0]!),
    );
  }

  seriesInstances(study: string, series: string): Promise<InstanceRef[]> {
    return promiseTry(() => this.stmts.seriesRows!.all(series, study) as InstanceRef[]);
  }

  studyInstances(study: string): Promise<InstanceRef[]> {
    return promiseTry(() => this.stmts.studyRows!.all(study) as InstanceRef[]);
  }

  instancesPage(after: string | undefined, limit: number): Promise<InstanceRef[]> {
    return promiseTry(
      () =>
        this.db
          .prepare(
            'SELECT sop_uid AS sopInstanceUid, series_uid AS seriesUid, study_uid AS studyUid, sop_class_uid AS sopClassUid, transfer_syntax AS transferSyntax, file, size, number_of_frames AS numberOfFrames, image, pixel, stored_at AS storedAt FROM instances WHERE sop_uid > ? ORDER BY sop_uid LIMIT ?',
          )
          .all(after ?? '', limit) as InstanceRef[],
    );
  }

  studyOfSeries(series: string): Promise<string | undefined> {
    return promiseTry(
      () => (this.stmts.seriesExists!.get(series) as { study_uid: string } | undefined)?.study_uid,
    );
  }

  studyExists(study: string): Promise<boolean> {
    return promiseTry(() => this.stmts.studyExists!.get(study) !== undefined);
  }

  /** Removes instance rows (and empty series/studies); returns the files to delete. */
  deleteInstances(rows: readonly InstanceRef[]): Promise<string[]> {
    return promiseTry(() => this.#deleteInstances(rows));
  }

  #deleteInstances(rows: readonly InstanceRef[]): string[] {
    const files: string[] = [];
    const tx = this.db.transaction(() => {
      const touched = new Map<string, string>();
      for (const r of rows) {
        if (this.stmts.delInstance!.run(r.sopInstanceUid, r.file).changes === 0) continue;
        files.push(r.file);
        touched.set(r.seriesUid, r.studyUid);
      }
      this.refresh(touched);
    });
    tx.immediate();
    return files;
  }

  /** Metadata of an instance that stands for a study/series/instance (for includefield extras). */
  representativeMetadata(
    study: string,
    series?: string,
    sop?: string,
  ): Promise<string | undefined> {
    return promiseTry(() => {
      if (sop) return this.#instanceMetadata(sop);
      const row = series
        ? this.stmts.firstOfSeries!.get(series)
        : this.stmts.firstOfStudy!.get(study);
      return (row as { metadata: string } | undefined)?.metadata;
    });
  }

  /** QIDO search (see search-sql.ts, shared with the PostgreSQL index). */
  async search(
    level: Level,
    scope: { study?: string; series?: string },
    q: QidoQuery,
    defaultLimit: number,
  ): Promise<SearchResult> {
    return runSearch(
      SQLITE,
      (sql, args) => promiseTry(() => this.prepared(sql).all(...args) as SqlRow[]),
      level,
      scope,
      q,
      defaultLimit,
    );
  }
}
