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
import { AppError } from '../errors.js';
import type { DicomJson } from './dicom-json.js';
import type { ImageInfo, PixelLocation } from './part10.js';
import { matchAll, normalizeDate, normalizeTime, type Filter, type QidoQuery } from './query.js';
import { T, type Level } from './tags.js';

export interface InstanceRecord {
  sopInstanceUid: string;
  seriesUid: string;
  studyUid: string;
  sopClassUid: string;
  transferSyntax: string;
  file: string;
  size: number;
  /** SHA-256 of the file's bytes (hex). */
  contentHash: string;
  /** When an instance with this SOP Instance UID exists at commit time: replace it, or keep it (and skip this record). */
  existing?: 'replace' | 'keep';
  image?: ImageInfo;
  pixel?: PixelLocation;
  /** Full metadata JSON text (BulkDataURIs with the placeholder base). */
  metadata: string;
  studyAttrs: DicomJson;
  seriesAttrs: DicomJson;
  instanceAttrs: DicomJson;
}

export interface InstanceRow {
  sop_uid: string;
  series_uid: string;
  study_uid: string;
  sop_class_uid: string;
  transfer_syntax: string;
  file: string;
  size: number;
  number_of_frames: number | null;
  image: string | null;
  pixel: string | null;
  stored_at: number;
}

export interface SearchItem {
  study: string;
  series?: string;
  sop?: string;
  /** The dataset as JSON text (study level: serialized without parsing, for speed) … */
  text?: string;
  /** … or as an object (other levels, or once parsed with `itemJson`). */
  json?: DicomJson;
}

/** The item's dataset as an object (parsed on first use). */
export function itemJson(it: SearchItem): DicomJson {
  return (it.json ??= JSON.parse(it.text!) as DicomJson);
}

export interface SearchResult {
  /** One dataset per match (level attributes plus computed ones, without RetrieveURL). */
  items: SearchItem[];
  /** Matches beyond offset+limit, when the result was cut. */
  remaining: number;
}

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

/** Most rows a search may match in JS (keys without a column). */
const MAX_JS_CANDIDATES = 20_000;

/** A column that a QIDO key maps to. `int` columns compare numerically. */
interface Column {
  sql: string;
  type: 'text' | 'pn' | 'int' | 'date' | 'time';
}

const STUDY_COLUMNS: Record<string, Column> = {
  [T.StudyInstanceUID]: { sql: 's.study_uid', type: 'text' },
  [T.PatientID]: { sql: 's.patient_id', type: 'text' },
  [T.PatientName]: { sql: 's.patient_name', type: 'pn' },
  [T.PatientBirthDate]: { sql: 's.patient_birth_date', type: 'date' },
  [T.PatientSex]: { sql: 's.patient_sex', type: 'text' },
  [T.StudyDate]: { sql: 's.study_date', type: 'date' },
  [T.StudyTime]: { sql: 's.study_time', type: 'time' },
  [T.AccessionNumber]: { sql: 's.accession', type: 'text' },
  [T.StudyID]: { sql: 's.study_id', type: 'text' },
  [T.StudyDescription]: { sql: 's.study_description', type: 'text' },
  [T.ReferringPhysicianName]: { sql: 's.referring', type: 'pn' },
  [T.NumberOfStudyRelatedSeries]: { sql: 's.num_series', type: 'int' },
  [T.NumberOfStudyRelatedInstances]: { sql: 's.num_instances', type: 'int' },
};
const SERIES_COLUMNS: Record<string, Column> = {
  [T.SeriesInstanceUID]: { sql: 'se.series_uid', type: 'text' },
  [T.Modality]: { sql: 'se.modality', type: 'text' },
  [T.SeriesNumber]: { sql: 'se.series_number', type: 'int' },
  [T.SeriesDescription]: { sql: 'se.series_description', type: 'text' },
  [T.SeriesDate]: { sql: 'se.series_date', type: 'date' },
  [T.SeriesTime]: { sql: 'se.series_time', type: 'time' },
  [T.PerformedProcedureStepStartDate]: { sql: 'se.pps_date', type: 'date' },
  [T.PerformedProcedureStepStartTime]: { sql: 'se.pps_time', type: 'time' },
  [T.NumberOfSeriesRelatedInstances]: { sql: 'se.num_instances', type: 'int' },
};
const INSTANCE_COLUMNS: Record<string, Column> = {
  [T.SOPInstanceUID]: { sql: 'i.sop_uid', type: 'text' },
  [T.SOPClassUID]: { sql: 'i.sop_class_uid', type: 'text' },
  [T.InstanceNumber]: { sql: 'i.instance_number', type: 'int' },
  [T.Rows]: { sql: 'i.rows', type: 'int' },
  [T.Columns]: { sql: 'i.columns', type: 'int' },
  [T.BitsAllocated]: { sql: 'i.bits_allocated', type: 'int' },
  [T.NumberOfFrames]: { sql: 'i.number_of_frames', type: 'int' },
};

const str = (j: DicomJson, tag: string): string | null => {
  const v = j[tag]?.Value?.[0];
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return (v as { Alphabetic?: string }).Alphabetic ?? null;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- object values (PN) are handled above; the rest are strings and numbers
  return String(v);
};
const int = (j: DicomJson, tag: string): number | null => {
  const v = Number(j[tag]?.Value?.[0]);
  return j[tag]?.Value?.[0] !== undefined && Number.isFinite(v) ? Math.trunc(v) : null;
};
const dateOf = (j: DicomJson, tag: string) => {
  const s = str(j, tag);
  return s === null ? null : normalizeDate(s);
};
const timeOf = (j: DicomJson, tag: string) => {
  const s = str(j, tag);
  return s === null ? null : normalizeTime(s);
};

/** SQL LIKE pattern (escape `\`) for a DICOM value, `*`/`?` as wildcards when `wild`. */
function likePattern(v: string, wild: boolean): string {
  const esc = v.replace(/[\\%_]/g, '\\$&');
  return wild ? esc.replace(/\*/g, '%').replace(/\?/g, '_') : esc;
}
/** SQL GLOB pattern (case-sensitive) for a DICOM wildcard. */
const globPattern = (v: string) => v.replace(/\[/g, '[[]');

export class Catalog {
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
      version: p('SELECT file, size, content_hash FROM instances WHERE sop_uid = ?'),
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
        'SELECT sop_uid, series_uid, study_uid, sop_class_uid, transfer_syntax, file, size, number_of_frames, image, pixel, stored_at FROM instances WHERE sop_uid = ?',
      ),
      instanceMeta: p('SELECT metadata FROM instances WHERE sop_uid = ?'),
      seriesMeta: p(
        'SELECT metadata FROM instances WHERE series_uid = ? AND study_uid = ? ORDER BY instance_number, sop_uid',
      ),
      studyMeta: p(
        'SELECT metadata FROM instances WHERE study_uid = ? ORDER BY series_uid, instance_number, sop_uid',
      ),
      seriesRows: p(
        'SELECT sop_uid, series_uid, study_uid, sop_class_uid, transfer_syntax, file, size, number_of_frames, image, pixel, stored_at FROM instances WHERE series_uid = ? AND study_uid = ? ORDER BY instance_number, sop_uid',
      ),
      studyRows: p(
        'SELECT sop_uid, series_uid, study_uid, sop_class_uid, transfer_syntax, file, size, number_of_frames, image, pixel, stored_at FROM instances WHERE study_uid = ? ORDER BY series_uid, instance_number, sop_uid',
      ),
      seriesExists: p('SELECT study_uid FROM series WHERE series_uid = ?'),
      studyExists: p('SELECT 1 FROM studies WHERE study_uid = ?'),
      counts: p(
        'SELECT (SELECT COUNT(*) FROM studies) AS studies, (SELECT COUNT(*) FROM series) AS series, (SELECT COUNT(*) FROM instances) AS instances',
      ),
      delInstance: p('DELETE FROM instances WHERE sop_uid = ?'),
      firstOfSeries: p(
        'SELECT metadata FROM instances WHERE series_uid = ? ORDER BY instance_number LIMIT 1',
      ),
      firstOfStudy: p('SELECT metadata FROM instances WHERE study_uid = ? LIMIT 1'),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Patients (from the `patients` view): id, name and how many studies/instances. */
  patients(): Array<{
    patient_id: string | null;
    patient_name: string | null;
    num_studies: number;
    num_instances: number;
  }> {
    return this.db
      .prepare(
        'SELECT patient_id, patient_name, num_studies, num_instances FROM patients ORDER BY patient_id',
      )
      .all() as Array<{
      patient_id: string | null;
      patient_name: string | null;
      num_studies: number;
      num_instances: number;
    }>;
  }

  counts(): { studies: number; series: number; instances: number } {
    return this.stmts.counts!.get() as { studies: number; series: number; instances: number };
  }

  hasInstance(sop: string): boolean {
    return this.stmts.hasInstance!.get(sop) !== undefined;
  }

  /** The stored version of an instance: its file, size and content hash (null for old rows). */
  version(sop: string): { file: string; size: number; content_hash: string | null } | undefined {
    return this.stmts.version!.get(sop) as
      { file: string; size: number; content_hash: string | null } | undefined;
  }

  /** Every file an instance row names (startup recovery). */
  allFiles(): Set<string> {
    return new Set((this.stmts.allFiles!.raw().all() as string[][]).map((r) => r[0]!));
  }

  /**
   * Inserts or replaces instances in one transaction and refreshes the counters of every touched
   * series and study. Returns the files that are no longer used: those of replaced instances
   * (`replaced`) and those of records skipped because their instance exists (`existing: 'keep'`).
   */
  upsert(
    records: readonly InstanceRecord[],
    durable = true,
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

  instance(sop: string): InstanceRow | undefined {
    return this.stmts.instance!.get(sop) as InstanceRow | undefined;
  }

  instanceMetadata(sop: string): string | undefined {
    return (this.stmts.instanceMeta!.get(sop) as { metadata: string } | undefined)?.metadata;
  }

  seriesMetadata(study: string, series: string): string[] {
    return (this.stmts.seriesMeta!.raw().all(series, study) as string[][]).map((r) => r[0]!);
  }

  studyMetadata(study: string): string[] {
    return (this.stmts.studyMeta!.raw().all(study) as string[][]).map((r) => r[0]!);
  }

  seriesInstances(study: string, series: string): InstanceRow[] {
    return this.stmts.seriesRows!.all(series, study) as InstanceRow[];
  }

  studyInstances(study: string): InstanceRow[] {
    return this.stmts.studyRows!.all(study) as InstanceRow[];
  }

  /** The study that holds a series, or undefined when the archive has no such series. */
  studyOfSeries(series: string): string | undefined {
    return (this.stmts.seriesExists!.get(series) as { study_uid: string } | undefined)?.study_uid;
  }

  studyExists(study: string): boolean {
    return this.stmts.studyExists!.get(study) !== undefined;
  }

  /** Removes instance rows (and empty series/studies); returns the files to delete. */
  deleteInstances(rows: readonly InstanceRow[]): string[] {
    const tx = this.db.transaction(() => {
      const touched = new Map<string, string>();
      for (const r of rows) {
        this.stmts.delInstance!.run(r.sop_uid);
        touched.set(r.series_uid, r.study_uid);
      }
      this.refresh(touched);
    });
    tx.immediate();
    return rows.map((r) => r.file);
  }

  /** Metadata of an instance that stands for a study/series/instance (for includefield extras). */
  representativeMetadata(study: string, series?: string, sop?: string): string | undefined {
    if (sop) return this.instanceMetadata(sop);
    const row = series
      ? this.stmts.firstOfSeries!.get(series)
      : this.stmts.firstOfStudy!.get(study);
    return (row as { metadata: string } | undefined)?.metadata;
  }

  /**
   * QIDO search. `scope` pins parent UIDs from the path. Indexed keys are filtered in SQL; the rest
   * in JS on the stored level attributes (study, series, instance attributes merged).
   */
  search(
    level: Level,
    scope: { study?: string; series?: string },
    q: QidoQuery,
    defaultLimit: number,
  ): SearchResult {
    const where: string[] = [];
    const args: unknown[] = [];
    const jsFilters: Filter[] = [];
    const columns: Record<string, Column> = {
      ...STUDY_COLUMNS,
      ...(level !== 'study' ? SERIES_COLUMNS : {}),
      ...(level === 'instance' ? INSTANCE_COLUMNS : {}),
    };
    if (scope.study) {
      where.push(
        level === 'study'
          ? 's.study_uid = ?'
          : level === 'series'
            ? 'se.study_uid = ?'
            : 'i.study_uid = ?',
      );
      args.push(scope.study);
    }
    if (scope.series) {
      where.push('i.series_uid = ?');
      args.push(scope.series);
    }
    for (const f of q.filters) {
      if (f.kind === 'universal') continue;
      if (f.tag === T.ModalitiesInStudy && f.kind !== 'wildcard' && f.kind !== 'range') {
        where.push(`(${f.values.map(() => "s.modalities LIKE ? ESCAPE '\\'").join(' OR ')})`);
        for (const v of f.values) args.push(`%\\\\${likePattern(v, false)}\\\\%`);
        continue;
      }
      const col = columns[f.tag];
      if (!col) {
        jsFilters.push(f);
        continue;
      }
      const sql = filterSql(col, f, args);
      if (sql) where.push(sql);
      else jsFilters.push(f);
    }
    const from =
      level === 'study'
        ? 'FROM studies s'
        : level === 'series'
          ? 'FROM series se JOIN studies s ON s.study_uid = se.study_uid'
          : 'FROM instances i JOIN series se ON se.series_uid = i.series_uid JOIN studies s ON s.study_uid = i.study_uid';
    const select =
      level === 'study'
        ? 'SELECT s.study_uid, (SELECT attrs FROM study_attrs WHERE study_uid = s.study_uid) AS st, s.modalities, s.num_series, s.num_instances'
        : level === 'series'
          ? 'SELECT s.study_uid, se.series_uid, (SELECT attrs FROM study_attrs WHERE study_uid = s.study_uid) AS st, se.attrs AS se, se.num_instances AS se_n'
          : 'SELECT s.study_uid, se.series_uid, i.sop_uid, (SELECT attrs FROM study_attrs WHERE study_uid = s.study_uid) AS st, se.attrs AS se, i.attrs AS ia';
    // Scoped searches come in a natural order; unscoped ones in insertion order (no big sorts).
    const order =
      level === 'study'
        ? 'ORDER BY s.rowid'
        : level === 'series'
          ? scope.study
            ? 'ORDER BY se.series_number, se.series_uid'
            : 'ORDER BY se.rowid'
          : scope.series
            ? 'ORDER BY i.instance_number, i.sop_uid'
            : scope.study
              ? 'ORDER BY i.series_uid, i.instance_number, i.sop_uid'
              : 'ORDER BY i.rowid';
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const limit = Math.min(q.limit ?? defaultLimit, defaultLimit);
    type Row = Record<string, string | number>;
    const toItem = (r: Row): SearchItem => {
      const base = {
        study: String(r.study_uid),
        series: r.series_uid as string | undefined,
        sop: r.sop_uid as string | undefined,
      };
      if (level === 'study') {
        const mods = String(r.modalities).split('\\').filter(Boolean);
        const computed =
          `"${T.ModalitiesInStudy}":{"vr":"CS","Value":${JSON.stringify(mods.length ? mods : ['OT'])}},` +
          `"${T.NumberOfStudyRelatedSeries}":{"vr":"IS","Value":[${Number(r.num_series)}]},` +
          `"${T.NumberOfStudyRelatedInstances}":{"vr":"IS","Value":[${Number(r.num_instances)}]}`;
        const st = String(r.st ?? '{}');
        return {
          ...base,
          text: st.length > 2 ? `${st.slice(0, -1)},${computed}}` : `{${computed}}`,
        };
      }
      const st = JSON.parse(String(r.st ?? '{}')) as DicomJson;
      let json: DicomJson;
      if (level === 'series') {
        json = {
          ...(scope.study ? pick(st, [T.StudyInstanceUID]) : st),
          ...(JSON.parse(r.se as string) as DicomJson),
          [T.NumberOfSeriesRelatedInstances]: { vr: 'IS', Value: [Number(r.se_n)] },
        };
      } else {
        const se = JSON.parse(r.se as string) as DicomJson;
        json = {
          ...(scope.series ? pick(st, [T.StudyInstanceUID]) : st),
          ...(scope.series ? pick(se, [T.SeriesInstanceUID]) : se),
          ...(JSON.parse(r.ia as string) as DicomJson),
        };
      }
      return { ...base, json };
    };
    if (jsFilters.length === 0) {
      const rows = this.prepared(`${select} ${from} ${whereSql} ${order} LIMIT ? OFFSET ?`).all(
        ...args,
        limit + 1,
        q.offset,
      ) as Row[];
      let remaining = 0;
      if (rows.length > limit) {
        rows.length = limit;
        const total = (
          this.prepared(`SELECT COUNT(*) AS n ${from} ${whereSql}`).get(...args) as { n: number }
        ).n;
        remaining = total - q.offset - limit;
      }
      return { items: rows.map(toItem), remaining };
    }
    // Keys without a column are matched in JS, on candidates SQL could not narrow further; refuse
    // searches that would scan too many of them (seconds of work on the event loop).
    const candidates = (
      this.prepared(`SELECT COUNT(*) AS n ${from} ${whereSql}`).get(...args) as { n: number }
    ).n;
    if (candidates > MAX_JS_CANDIDATES) {
      throw new AppError(
        'bad_request',
        `too broad: ${candidates} candidates for ${jsFilters.map((f) => f.keyword).join(', ')} (not indexed); add an indexed key such as a UID, PatientID, StudyDate or Modality`,
      );
    }
    // Instance-level keys that are not in the stored attributes are matched on the full metadata.
    const full = level === 'instance';
    const rows = this.prepared(
      `${select}${full ? ', i.metadata' : ''} ${from} ${whereSql} ${order}`,
    ).all(...args) as Row[];
    const all = rows
      .map((r) => ({ r, it: toItem(r) }))
      .filter(({ r, it }) =>
        matchAll(
          jsFilters,
          full
            ? { ...(JSON.parse(r.metadata as string) as DicomJson), ...itemJson(it) }
            : itemJson(it),
        ),
      )
      .map(({ it }) => it);
    const page = all.slice(q.offset, q.offset + limit);
    return { items: page, remaining: Math.max(0, all.length - q.offset - page.length) };
  }
}

function pick(j: DicomJson, tags: string[]): DicomJson {
  const out: DicomJson = {};
  for (const t of tags) if (j[t]) out[t] = j[t]!;
  return out;
}

/** SQL for one filter on a column, pushing its arguments; undefined means "match in JS". */
function filterSql(col: Column, f: Filter, args: unknown[]): string | undefined {
  const v = f.values[0] ?? '';
  switch (f.kind) {
    case 'single':
      if (col.type === 'int') {
        if (!/^-?\d+$/.test(v)) return '0';
        args.push(Number(v));
        return `${col.sql} = ?`;
      }
      if (col.type === 'pn') {
        args.push(likePattern(v, false));
        return `${col.sql} LIKE ? ESCAPE '\\'`;
      }
      if (col.type === 'time') {
        args.push(v, `${v}.%`);
        return `(${col.sql} = ? OR ${col.sql} LIKE ?)`;
      }
      args.push(v);
      return `${col.sql} = ?`;
    case 'wildcard':
      if (col.type === 'int') return undefined;
      if (col.type === 'pn') {
        args.push(likePattern(v, true));
        return `${col.sql} LIKE ? ESCAPE '\\'`;
      }
      args.push(globPattern(v));
      return `${col.sql} GLOB ?`;
    case 'list':
      if (col.type === 'pn' || col.type === 'int') return undefined;
      args.push(...f.values);
      return `${col.sql} IN (${f.values.map(() => '?').join(',')})`;
    case 'range': {
      const parts: string[] = [];
      if (f.from) {
        parts.push(`${col.sql} >= ?`);
        args.push(f.from);
      }
      if (f.to) {
        // An upper bound covers everything it is a prefix of (20240101 covers 20240101, 235959 covers 235959.9).
        parts.push(`${col.sql} <= ?`);
        args.push(`${f.to}\uffff`);
      }
      return parts.length ? `(${parts.join(' AND ')})` : undefined;
    }
    default:
      return undefined;
  }
}
