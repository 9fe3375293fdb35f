/**
 * Accept header parsing (RFC 9110 §12.5.1) and the DICOMweb negotiations built on it (PS3.18
 * §8.7). Quoted and unquoted parameter values, duplicated parameters, q-values and merged lists
 * (`application/dicom+json, multipart/related; type=…`) are all accepted.
 */
import { AppError } from '../errors.js';
import { mediaTypeMatchesTs, NATIVE_TS, TS } from './tags.js';

export interface MediaRange {
  /** `type/subtype`, lowercased. */
  type: string;
  /** Parameter names lowercased; values unquoted (first occurrence wins). */
  params: Record<string, string>;
  q: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') quoted = !quoted;
    if (ch === '\\' && quoted && i + 1 < s.length) {
      cur += ch + s[++i]!;
      continue;
    }
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const unquote = (v: string) => {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"')
    ? t.slice(1, -1).replace(/\\(.)/g, '$1')
    : t;
};

/** Parses an Accept header into media ranges sorted by q (stable). Missing header → `*\/*`. */
export function parseAccept(header: string | undefined | null): MediaRange[] {
  if (!header?.trim()) return [{ type: '*/*', params: {}, q: 1 }];
  const out: MediaRange[] = [];
  for (const item of splitOutsideQuotes(header, ',')) {
    const [typePart, ...paramParts] = splitOutsideQuotes(item, ';');
    const type = (typePart ?? '').trim().toLowerCase();
    if (!type) continue;
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of paramParts) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const name = p.slice(0, eq).trim().toLowerCase();
      const value = unquote(p.slice(eq + 1));
      if (name === 'q') {
        const n = Number(value);
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 1;
      } else if (!(name in params)) params[name] = name === 'type' ? value.toLowerCase() : value;
    }
    if (q > 0) out.push({ type: type.includes('/') ? type : `${type}/*`, params, q });
  }
  return out
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.q - a.r.q || a.i - b.i)
    .map((x) => x.r);
}

const isWild = (t: string) => t === '*/*';

function notAcceptable(what: string, accept: string | undefined): AppError {
  return new AppError(
    'not_acceptable',
    `cannot produce ${what} in any of the accepted media types (${accept ?? 'none'})`,
  );
}

/** QIDO and metadata: DICOM JSON unless the client accepts nothing JSON-like. */
export function negotiateJson(accept: string | undefined): void {
  const ranges = parseAccept(accept);
  const ok = ranges.some(
    (r) =>
      isWild(r.type) ||
      r.type === 'application/*' ||
      r.type === 'application/dicom+json' ||
      r.type === 'application/json' ||
      (r.type === 'multipart/related' &&
        (!r.params.type || r.params.type === 'application/dicom+json')),
  );
  if (!ok) throw notAcceptable('DICOM JSON', accept);
}

export interface FrameChoice {
  /** Return the stored (possibly compressed) bitstream, or uncompressed little-endian values. */
  native: boolean;
  multipart: boolean;
}

/**
 * Frames / pixel bulk data. `storedTs` is the instance's transfer syntax. Uncompressed output is
 * labelled Explicit VR Little Endian.
 */
export function negotiateFrames(
  accept: string | undefined,
  storedTs: string,
  frameCount: number,
): FrameChoice {
  const compressed = !NATIVE_TS.has(storedTs);
  for (const r of parseAccept(accept)) {
    let multipart = false;
    let type = r.type;
    if (type === 'multipart/related' || type === 'multipart/*') {
      multipart = true;
      type = r.params.type ?? 'application/octet-stream';
    } else if (frameCount > 1 && !isWild(type)) continue; // single part carries one frame only
    if (isWild(type) || type === 'application/*') return { native: false, multipart: true };
    const ts = r.params['transfer-syntax'];
    if (type === 'application/octet-stream') {
      if (ts === '*') return { native: true, multipart };
      if (!ts || ts === TS.ExplicitLE || ts === TS.ImplicitLE) return { native: false, multipart };
      if (ts === storedTs) return { native: true, multipart };
      continue;
    }
    if (type === 'image/*' && compressed && (!ts || ts === '*' || ts === storedTs))
      return { native: true, multipart };
    if (compressed && mediaTypeMatchesTs(type, storedTs) && (!ts || ts === '*' || ts === storedTs))
      return { native: true, multipart };
  }
  throw notAcceptable(`frames (stored as ${storedTs})`, accept);
}

export interface InstanceChoice {
  /** Serve the file as stored; otherwise rewrite as Explicit VR Little Endian. */
  asStored: boolean;
  multipart: boolean;
}

/** Instance/series/study retrieve (`application/dicom`). */
export function negotiateInstances(
  accept: string | undefined,
  storedTs: string | undefined,
  single: boolean,
): InstanceChoice {
  for (const r of parseAccept(accept)) {
    let multipart = false;
    let type = r.type;
    if (type === 'multipart/related' || type === 'multipart/*') {
      multipart = true;
      type = r.params.type ?? 'application/dicom';
    } else if (!single && !isWild(type)) continue;
    if (isWild(type)) return { asStored: storedTs === TS.ExplicitLE, multipart: true };
    if (type !== 'application/dicom' && type !== 'application/*') continue;
    const ts = r.params['transfer-syntax'];
    if (ts === '*' || (storedTs !== undefined && ts === storedTs))
      return { asStored: true, multipart };
    if (!ts || ts === TS.ExplicitLE) return { asStored: storedTs === TS.ExplicitLE, multipart };
  }
  throw notAcceptable('DICOM instances', accept);
}

/** Bulk data other than frames: multipart (default) or single part. */
export function negotiateBulk(accept: string | undefined): { multipart: boolean } {
  for (const r of parseAccept(accept)) {
    if (isWild(r.type) || r.type === 'multipart/related' || r.type === 'multipart/*') {
      if (!r.params.type || r.params.type === 'application/octet-stream' || isWild(r.params.type))
        return { multipart: true };
      continue;
    }
    if (r.type === 'application/octet-stream' || r.type === 'application/*')
      return { multipart: false };
  }
  throw notAcceptable('bulk data', accept);
}

/** Rendered/thumbnail: JPEG (default) or PNG. Rendered and DICOM media types mixed: 400 (PS3.18 §8.7.3). */
export function negotiateRendered(accept: string | undefined): 'jpeg' | 'png' {
  const ranges = parseAccept(accept);
  if (
    ranges.some((r) => r.type.startsWith('image/')) &&
    ranges.some((r) => r.type.startsWith('application/dicom') || r.type === 'multipart/related')
  ) {
    throw new AppError('bad_request', `Accept mixes rendered and DICOM media types (${accept})`);
  }
  for (const r of ranges) {
    if (isWild(r.type) || r.type === 'image/*' || r.type === 'image/jpeg') return 'jpeg';
    if (r.type === 'image/png') return 'png';
  }
  throw notAcceptable('a rendered image (image/jpeg or image/png)', accept);
}
