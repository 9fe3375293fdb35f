/**
 * DICOM JSON (PS3.18 Annex F) from dcmjs dicts. Binary values over `INLINE_LIMIT` bytes and Pixel
 * Data become `BulkDataURI`s; smaller ones are `InlineBinary`. Stored metadata carries the URIs
 * with the placeholder prefix `BULK_BASE`, replaced by the request's origin when served, so URIs
 * are always absolute and right behind proxies.
 */
import type { DcmDict, ParsedInstance } from './part10.js';
import { LEVEL_ATTRIBUTES, T, type Level } from './tags.js';

export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, DicomJsonElement>;

/** Prefix of stored BulkDataURIs; `withBase` swaps it for `<origin>/dicom`. */
export const BULK_BASE = 'vg-base:';
export const INLINE_LIMIT = 1024;

const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

/** Converts a dcmjs dict to DICOM JSON; `bulk(path)` gives the URI for large binary values. */
export function toDicomJson(
  dict: DcmDict,
  bulk: (path: string) => string | undefined,
  prefix = '',
): DicomJson {
  const out: DicomJson = {};
  for (const tag of Object.keys(dict).sort()) {
    const key = tag.toUpperCase();
    if (key.startsWith('0002')) continue;
    const src = dict[tag]!;
    const vr = src.vr === 'xs' || src.vr === 'ox' ? 'US' : src.vr;
    const el: DicomJsonElement = { vr };
    const value = src.Value;
    if (BINARY.has(vr)) {
      const parts = (value ?? []).filter(
        (b): b is ArrayBuffer | Uint8Array => b instanceof ArrayBuffer || ArrayBuffer.isView(b),
      );
      const size = parts.reduce((s, b) => s + b.byteLength, 0);
      if (size > INLINE_LIMIT) el.BulkDataURI = bulk(prefix + key);
      else if (size > 0)
        el.InlineBinary = Buffer.concat(
          parts.map((b) =>
            b instanceof ArrayBuffer
              ? Buffer.from(b)
              : Buffer.from(b.buffer, b.byteOffset, b.byteLength),
          ),
        ).toString('base64');
    } else if (vr === 'SQ') {
      if (value?.length)
        el.Value = value.map((item, i) =>
          toDicomJson(item as DcmDict, bulk, `${prefix}${key}.${i}.`),
        );
    } else if (value?.length) {
      const vals = value.map((v) => normalizeValue(vr, v));
      if (vals.some((v) => v !== null)) el.Value = vals;
    }
    out[key] = el;
  }
  return out;
}

function normalizeValue(vr: string, v: unknown): unknown {
  if (v === '' || v === undefined) return null;
  if (vr === 'AT' && typeof v === 'number') return hex8(v);
  if ((vr === 'DS' || vr === 'IS') && typeof v === 'string') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  if (typeof v === 'string')
    return vr === 'UT' || vr === 'LT' || vr === 'ST'
      ? v.replace(/[\0 ]+$/, '')
      : v.replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (vr === 'PN' && v && typeof v === 'object') {
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const t = typeof x === 'string' ? x.replace(/[\0 ]+$/, '').replace(/^ +/, '') : '';
      if (t) out[k] = t;
    }
    return Object.keys(out).length ? out : null;
  }
  return v;
}

/** The series-scoped path of an instance, used in RetrieveURL and BulkDataURI. */
export const instancePath = (study: string, series: string, sop: string) =>
  `/studies/${study}/series/${series}/instances/${sop}`;

/**
 * Full instance metadata without bulk data, as served by WADO-RS /metadata. Window values with a
 * width ≤ 0 are dropped so viewers compute a window from the data instead of showing black.
 */
export function instanceMetadata(p: ParsedInstance): DicomJson {
  const base = `${BULK_BASE}${instancePath(p.studyUid, p.seriesUid, p.sopInstanceUid)}/bulk/`;
  const json = toDicomJson(p.dict, (path) => base + path);
  if (p.pixel || p.image)
    json[T.PixelData] = { vr: p.pixelVr ?? 'OW', BulkDataURI: `${base}${T.PixelData}` };
  const ww = json[T.WindowWidth]?.Value;
  if (ww?.some((w) => typeof w !== 'number' || w <= 0)) {
    delete json[T.WindowWidth];
    delete json[T.WindowCenter];
  }
  return json;
}

/** The attributes of one level, picked from an instance's metadata. */
export function levelAttributes(meta: DicomJson, level: Level): DicomJson {
  const out: DicomJson = {};
  for (const tag of LEVEL_ATTRIBUTES[level]) {
    const el = meta[tag];
    if (el) out[tag] = el;
  }
  return out;
}

/** Replaces the stored BulkDataURI placeholder in serialized JSON with `<base>` (e.g. `http://h/dicom`). */
export function withBase(json: string, base: string): string {
  return json.includes(BULK_BASE) ? json.split(BULK_BASE).join(base) : json;
}
