/**
 * QIDO-RS query parsing and matching (PS3.18 §8.3.4, PS3.4 C.2.2.2), pure: no SQL, no HTTP.
 * `parseQido` turns query parameters into filters; `matchFilter` applies one filter to a DICOM
 * JSON element (used for keys the catalog has no column for). The catalog turns the same filters
 * into SQL for indexed keys.
 */
import { invalidParameter } from '../errors.js';
import type { DicomJson, DicomJsonElement } from './dicom-json.js';
import { lookupTag, T } from './tags.js';

export type FilterKind = 'universal' | 'single' | 'wildcard' | 'list' | 'range';

export interface Filter {
  tag: string;
  keyword: string;
  vr: string;
  kind: FilterKind;
  /** single/wildcard: one value; list: the values. */
  values: string[];
  /** range: inclusive bounds; an empty string is an open end. */
  from?: string;
  to?: string;
}

export interface QidoQuery {
  filters: Filter[];
  /** Extra tags asked for with includefield (8 hex digits). */
  includeFields: string[];
  includeAll: boolean;
  limit?: number;
  offset: number;
  fuzzy: boolean;
}

const DATE_VRS = new Set(['DA', 'TM', 'DT']);

/** Normalizes a DA value (`YYYYMMDD`, also the old `YYYY.MM.DD`). */
export function normalizeDate(v: string): string {
  const s = v.trim();
  return /^\d{4}\.\d{2}\.\d{2}$/.test(s) ? s.replace(/\./g, '') : s;
}
/** Normalizes a TM value (drops the old `HH:MM:SS` colons). */
export function normalizeTime(v: string): string {
  return v.trim().replace(/:/g, '');
}

function checkDateTime(vr: string, v: string, key: string): string {
  if (v === '') return v;
  if (vr === 'DA') {
    const d = normalizeDate(v);
    if (!/^\d{8}$/.test(d))
      throw invalidParameter(
        key,
        `expected a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD, got "${v}"`,
      );
    return d;
  }
  if (vr === 'TM') {
    const t = normalizeTime(v);
    if (!/^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(t))
      throw invalidParameter(key, `expected a time HHMMSS[.FFFFFF] or a range, got "${v}"`);
    return t;
  }
  if (!/^\d{4,14}(\.\d{1,6})?([+-]\d{4})?$/.test(v))
    throw invalidParameter(key, `expected a date-time YYYYMMDDHHMMSS or a range, got "${v}"`);
  return v;
}

/**
 * Parses QIDO parameters (values already percent-decoded, e.g. from URLSearchParams).
 * Unknown attribute keys are ignored, as Orthanc does; bad values of known keys give 400.
 */
export function parseQido(params: Iterable<[string, string]>): QidoQuery {
  const q: QidoQuery = {
    filters: [],
    includeFields: [],
    includeAll: false,
    offset: 0,
    fuzzy: false,
  };
  for (const [rawKey, rawValue] of params) {
    const key = rawKey.trim();
    const value = rawValue.trim();
    const lower = key.toLowerCase();
    if (lower === 'limit' || lower === 'offset') {
      if (!/^\d{1,9}$/.test(value))
        throw invalidParameter(key, `expected a non-negative whole number, got "${rawValue}"`);
      if (lower === 'limit') q.limit = Number(value);
      else q.offset = Number(value);
      continue;
    }
    if (lower === 'fuzzymatching') {
      if (!/^(true|false)$/i.test(value))
        throw invalidParameter(key, `expected true or false, got "${rawValue}"`);
      q.fuzzy = value.toLowerCase() === 'true';
      continue;
    }
    if (lower === 'includefield') {
      for (const part of value.split(',')) {
        const f = part.trim();
        if (!f) continue;
        if (f.toLowerCase() === 'all') q.includeAll = true;
        else {
          const info = lookupTag(f.split('.')[0]!);
          if (info && !q.includeFields.includes(info.tag)) q.includeFields.push(info.tag);
        }
      }
      continue;
    }
    if (lower === 'requesttype' || lower === 'accept' || lower === 'charset') continue;
    const info = lookupTag(key);
    if (!info) continue; // unknown key (or nested path): ignored
    q.filters.push(makeFilter(info.tag, info.keyword, info.vr, value, key));
  }
  return q;
}

function makeFilter(tag: string, keyword: string, vr: string, value: string, key: string): Filter {
  const base = { tag, keyword, vr };
  if (value === '') return { ...base, kind: 'universal', values: [] };
  if (DATE_VRS.has(vr) && value.includes('-') && !(vr === 'DT' && /^\d+[+-]\d{4}$/.test(value))) {
    const dash = value.indexOf('-');
    const from = checkDateTime(vr, value.slice(0, dash), key);
    const to = checkDateTime(vr, value.slice(dash + 1), key);
    if (from === '' && to === '') throw invalidParameter(key, 'a range needs at least one end');
    return { ...base, kind: 'range', values: [], from, to };
  }
  if (DATE_VRS.has(vr)) return { ...base, kind: 'single', values: [checkDateTime(vr, value, key)] };
  const listable = vr === 'UI' || tag === T.ModalitiesInStudy || tag === T.Modality;
  const parts = (listable ? value.split(/[,\\]/) : value.split('\\'))
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length > 1) return { ...base, kind: 'list', values: parts };
  const v = parts[0] ?? '';
  if (vr !== 'UI' && /[*?]/.test(v))
    return { ...base, kind: v === '*' ? 'universal' : 'wildcard', values: [v] };
  return { ...base, kind: 'single', values: [v] };
}

/** Converts a DICOM wildcard (`*`, `?`) to an anchored RegExp. */
export function wildcardRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}

/** String forms of an element's values (PN → Alphabetic, numbers → text). */
export function elementStrings(el: DicomJsonElement | undefined): string[] {
  if (!el?.Value) return [];
  return el.Value.map((v) =>
    v && typeof v === 'object'
      ? ((v as { Alphabetic?: string }).Alphabetic ?? '')
      : v === null
        ? ''
        : // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects are handled above
          String(v),
  );
}

/** Does one element satisfy one filter? */
export function matchFilter(f: Filter, el: DicomJsonElement | undefined): boolean {
  if (f.kind === 'universal') return true;
  const pn = f.vr === 'PN';
  let vals = elementStrings(el);
  if (f.vr === 'DA') vals = vals.map(normalizeDate);
  if (f.vr === 'TM') vals = vals.map(normalizeTime);
  if (vals.length === 0) return false;
  switch (f.kind) {
    case 'single': {
      const want = pn ? f.values[0]!.toLowerCase() : f.values[0]!;
      return vals.some((v) =>
        pn ? v.toLowerCase() === want : v === want || (f.vr === 'IS' && Number(v) === Number(want)),
      );
    }
    case 'wildcard': {
      const re = wildcardRegExp(f.values[0]!, pn);
      return vals.some((v) => re.test(v));
    }
    case 'list':
      return vals.some((v) =>
        f.values.some((w) => (pn ? w.toLowerCase() === v.toLowerCase() : w === v)),
      );
    case 'range':
      return vals.some(
        (v) =>
          v !== '' &&
          (f.from === '' || compareDateTime(v, f.from!) >= 0) &&
          (f.to === '' || compareDateTime(v, f.to!, true) <= 0),
      );
  }
}

/** Compares DA/TM/DT strings; an upper bound covers everything it is a prefix of. */
function compareDateTime(v: string, bound: string, upper = false): number {
  if (upper && v.startsWith(bound)) return 0;
  return v < bound ? -1 : v > bound ? 1 : 0;
}

/** Does a dataset satisfy every filter? */
export function matchAll(filters: readonly Filter[], ds: DicomJson): boolean {
  return filters.every((f) => matchFilter(f, ds[f.tag]));
}
