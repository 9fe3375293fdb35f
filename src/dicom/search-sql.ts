/**
 * QIDO-RS search in SQL, shared by the SQLite and PostgreSQL indexes (same tables and columns; a
 * `Dialect` says how each engine spells case-insensitive matching, case-sensitive wildcards, the
 * insertion order and where study attributes live). Indexed keys are filtered in SQL, including
 * case-insensitive PN matching and `*`/`?` wildcards; other keys are matched in JS (`query.ts`) on
 * candidates SQL narrowed, up to MAX_JS_CANDIDATES.
 */
import { AppError } from '../errors.js';
import { itemJson, type SearchItem, type SearchResult } from './archive-index.js';
import type { DicomJson } from './dicom-json.js';
import { matchAll, normalizeDate, normalizeTime, type Filter, type QidoQuery } from './query.js';
import { T, type Level } from './tags.js';

export type SqlRow = Record<string, unknown>;

/** How an engine spells what differs. SQL is written with `?` placeholders. */
export interface Dialect {
  /** `col` matches the LIKE pattern `?` (escape `\\`) ignoring case. */
  ilike(col: string): string;
  /** `col` matches the DICOM wildcard `v` (`*`, `?`) case-sensitively; pushes its argument. */
  wildcard(col: string, v: string, args: unknown[]): string;
  /** Insertion-order column of studies/series/instances. */
  seq: string;
  /** SQL expression for the study attributes JSON of study row `s`. */
  studyAttrs: string;
}

export const SQLITE: Dialect = {
  // SQLite's LIKE ignores ASCII case.
  ilike: (col) => `${col} LIKE ? ESCAPE '\\'`,
  wildcard: (col, v, args) => {
    args.push(globPattern(v));
    return `${col} GLOB ?`;
  },
  seq: 'rowid',
  studyAttrs: '(SELECT attrs FROM study_attrs WHERE study_uid = s.study_uid)',
};

export const POSTGRES: Dialect = {
  // lower(col) has a text_pattern_ops index (prefix patterns use it).
  ilike: (col) => `lower(${col}) LIKE lower(?) ESCAPE '\\'`,
  wildcard: (col, v, args) => {
    args.push(likePattern(v, true));
    return `${col} LIKE ? ESCAPE '\\'`;
  },
  seq: 'seq',
  studyAttrs: 's.attrs',
};

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

export const str = (j: DicomJson, tag: string): string | null => {
  const v = j[tag]?.Value?.[0];
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return (v as { Alphabetic?: string }).Alphabetic ?? null;
  if (typeof v === 'string') return v;
  // The rest of what DICOM JSON holds (from JSON.parse or dcmjs): numbers (IS, DS, US...),
  // booleans, bigints (64-bit VRs); there are no functions or symbols in it.
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
    ? String(v)
    : null;
};
export const int = (j: DicomJson, tag: string): number | null => {
  const v = Number(j[tag]?.Value?.[0]);
  return j[tag]?.Value?.[0] !== undefined && Number.isFinite(v) ? Math.trunc(v) : null;
};
export const dateOf = (j: DicomJson, tag: string) => {
  const s = str(j, tag);
  return s === null ? null : normalizeDate(s);
};
export const timeOf = (j: DicomJson, tag: string) => {
  const s = str(j, tag);
  return s === null ? null : normalizeTime(s);
};

/** SQL LIKE pattern (escape `\`) for a DICOM value, `*`/`?` as wildcards when `wild`. */
export function likePattern(v: string, wild: boolean): string {
  const esc = v.replace(/[\\%_]/g, '\\$&');
  return wild ? esc.replace(/\*/g, '%').replace(/\?/g, '_') : esc;
}
/** SQL GLOB pattern (case-sensitive) for a DICOM wildcard. */
const globPattern = (v: string) => v.replace(/\[/g, '[[]');

/**
 * QIDO search. `scope` pins parent UIDs from the path; `query` runs SQL with `?` placeholders.
 */
export async function runSearch(
  d: Dialect,
  query: (sql: string, args: unknown[]) => Promise<SqlRow[]>,
  level: Level,
  scope: { study?: string; series?: string },
  q: QidoQuery,
  defaultLimit: number,
): Promise<SearchResult> {
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
    const sql = filterSql(d, col, f, args);
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
      ? `SELECT s.study_uid, ${d.studyAttrs} AS st, s.modalities, s.num_series, s.num_instances`
      : level === 'series'
        ? `SELECT s.study_uid, se.series_uid, ${d.studyAttrs} AS st, se.attrs AS se, se.num_instances AS se_n`
        : `SELECT s.study_uid, se.series_uid, i.sop_uid, ${d.studyAttrs} AS st, se.attrs AS se, i.attrs AS ia`;
  // Scoped searches come in a natural order; unscoped ones in insertion order (no big sorts).
  const order =
    level === 'study'
      ? `ORDER BY s.${d.seq}`
      : level === 'series'
        ? scope.study
          ? 'ORDER BY se.series_number, se.series_uid'
          : `ORDER BY se.${d.seq}`
        : scope.series
          ? 'ORDER BY i.instance_number, i.sop_uid'
          : scope.study
            ? 'ORDER BY i.series_uid, i.instance_number, i.sop_uid'
            : `ORDER BY i.${d.seq}`;
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
    const rows = (await query(`${select} ${from} ${whereSql} ${order} LIMIT ? OFFSET ?`, [
      ...args,
      limit + 1,
      q.offset,
    ])) as Row[];
    let remaining = 0;
    if (rows.length > limit) {
      rows.length = limit;
      const total = Number((await query(`SELECT COUNT(*) AS n ${from} ${whereSql}`, args))[0]!.n);
      remaining = total - q.offset - limit;
    }
    return { items: rows.map(toItem), remaining };
  }
  // Keys without a column are matched in JS, on candidates SQL could not narrow further; refuse
  // searches that would scan too many of them (seconds of work on the event loop).
  const candidates = Number((await query(`SELECT COUNT(*) AS n ${from} ${whereSql}`, args))[0]!.n);
  if (candidates > MAX_JS_CANDIDATES) {
    throw new AppError(
      'bad_request',
      `too broad: ${candidates} candidates for ${jsFilters.map((f) => f.keyword).join(', ')} (not indexed); add an indexed key such as a UID, PatientID, StudyDate or Modality`,
    );
  }
  // Instance-level keys that are not in the stored attributes are matched on the full metadata.
  const full = level === 'instance';
  const rows = (await query(
    `${select}${full ? ', i.metadata' : ''} ${from} ${whereSql} ${order}`,
    args,
  )) as Row[];
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

function pick(j: DicomJson, tags: string[]): DicomJson {
  const out: DicomJson = {};
  for (const t of tags) if (j[t]) out[t] = j[t]!;
  return out;
}

/** SQL for one filter on a column, pushing its arguments; undefined means "match in JS". */
function filterSql(d: Dialect, col: Column, f: Filter, args: unknown[]): string | undefined {
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
        return d.ilike(col.sql);
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
        return d.ilike(col.sql);
      }
      return d.wildcard(col.sql, v, args);
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
