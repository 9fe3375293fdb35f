/**
 * Request parsing for every route family, in one place: query parameters (strings, booleans,
 * numbers, enums, number lists, sizes, UIDs, colours), byte ranges and conditional requests
 * (If-None-Match), and the peer address. Every bad value is a 400 naming its parameter (NaN,
 * Infinity, empty, wrong count), never a 500.
 *
 * Two layers: `parseX(name, raw)` parses a raw string; `x(c, name)` reads query parameter `name`
 * of a request and returns undefined when it is absent.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { isUid } from '../dicom/tags.js';
import { invalidParameter, missingParameter } from '../errors.js';
import { roundColor } from '../imaging/segmentation.js';
import type { Vec3 } from '../imaging/types.js';
import { booleanWord } from '../util/words.js';

// ---------------------------------------------------------------------------------------------
// Raw values

/** Decimal numbers only (no hex, no `Infinity`, no empty string). */
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** `min` itself is refused. */
  exclusiveMin?: boolean;
}

export function parseNumber(name: string, raw: string, o: NumberRule = {}): number {
  const s = raw.trim();
  if (!NUMBER.test(s)) throw invalidParameter(name, `expected a number, got "${raw}"`);
  const v = Number(s);
  if (!Number.isFinite(v)) throw invalidParameter(name, `expected a finite number, got "${raw}"`);
  if (o.integer && !Number.isInteger(v))
    throw invalidParameter(name, `expected a whole number, got "${raw}"`);
  if (o.min !== undefined && (o.exclusiveMin ? v <= o.min : v < o.min))
    throw invalidParameter(
      name,
      `must be ${o.exclusiveMin ? 'greater than' : 'at least'} ${o.min}, got ${v}`,
    );
  if (o.max !== undefined && v > o.max)
    throw invalidParameter(name, `must be at most ${o.max}, got ${v}`);
  return v;
}

/** `n` numbers separated by commas and/or spaces. */
export function parseNumberList(name: string, raw: string, n: number): number[] {
  const parts = raw
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (parts.length !== n)
    throw invalidParameter(name, `expected ${n} comma-separated numbers, got ${parts.length}`);
  return parts.map((p) => parseNumber(name, p));
}

/** The largest image side a request may ask for, in pixels. */
export const MAX_IMAGE_SIDE = 4096;

/** `512` (square) or `640x480` pixels. */
export function parseSize(name: string, raw: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[xX×,]\s*(\d+))?\s*$/.exec(raw);
  if (!m)
    throw invalidParameter(name, `expected N or WxH in pixels (e.g. 512 or 640x480), got "${raw}"`);
  const w = Number(m[1]);
  const h = m[2] !== undefined ? Number(m[2]) : w;
  if (w < 1 || h < 1 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE)
    throw invalidParameter(
      name,
      `width and height must be 1–${MAX_IMAGE_SIDE} pixels, got ${w}x${h}`,
    );
  return [w, h];
}

export function parseBool(name: string, raw: string): boolean {
  const v = booleanWord(raw);
  if (v === undefined)
    throw invalidParameter(name, `expected on or off (true/false, 1/0, yes/no), got "${raw}"`);
  return v;
}

/** One of `values` (any case, trimmed), or an alias (lower case) of one. */
export function parseEnum<T extends string>(
  name: string,
  raw: string,
  values: readonly T[],
  aliases: Record<string, T> = {},
): T {
  const v = raw.trim().toLowerCase();
  const hit = values.find((x) => x.toLowerCase() === v) ?? aliases[v];
  if (!hit) throw invalidParameter(name, `expected one of ${values.join(', ')}, got "${raw}"`);
  return hit;
}

/** A DICOM UID (digits and dots, at most 64 characters; PS3.5 §9.1). */
export function parseUid(name: string, raw: string): string {
  if (!isUid(raw))
    throw invalidParameter(
      name,
      `"${raw.slice(0, 80)}" is not a DICOM UID (digits and dots, at most 64 characters)`,
    );
  return raw;
}

/** A hex colour (`ff8800`, `#f80`, `330`) → 0..255 bytes. */
export function parseHexColor(parameter: string, raw: string): [number, number, number] {
  const v = raw.trim().replace(/^#/, '');
  if (/^[0-9a-fA-F]{3}$/.test(v))
    return [0, 1, 2].map((i) => parseInt(v[i]! + v[i]!, 16)) as [number, number, number];
  if (/^[0-9a-fA-F]{6}$/.test(v))
    return [0, 2, 4].map((i) => parseInt(v.slice(i, i + 2), 16)) as [number, number, number];
  throw invalidParameter(parameter, `expected a hex colour such as 330 or ff8800, got "${raw}"`);
}

// ---------------------------------------------------------------------------------------------
// Query parameters of a request (absent → undefined)

/** A string parameter; present but empty → 400. Trimmed. */
export function str(c: Context, name: string): string | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  if (v.trim() === '') throw invalidParameter(name, 'must not be empty');
  return v.trim();
}

export function requiredStr(c: Context, name: string): string {
  const v = str(c, name);
  if (v === undefined) throw missingParameter(name);
  return v;
}

/** A finite number (see `NumberRule`). */
export function num(c: Context, name: string, rule: NumberRule = {}): number | undefined {
  const v = c.req.query(name);
  return v === undefined ? undefined : parseNumber(name, v, rule);
}

/** A whole number ≥ min. */
export function int(c: Context, name: string, min = 0): number | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  const n = parseNumber(name, v);
  if (!Number.isInteger(n) || n < min)
    throw invalidParameter(name, `expected a whole number ≥ ${min}, got "${v}"`);
  return n;
}

/** Exactly `count` finite numbers, separated by commas or spaces. */
export function numList(c: Context, name: string, count: number): number[] | undefined {
  const v = c.req.query(name);
  return v === undefined ? undefined : parseNumberList(name, v, count);
}

export function bool(c: Context, name: string): boolean | undefined {
  const v = c.req.query(name);
  return v === undefined ? undefined : parseBool(name, v);
}

export function oneOf<T extends string>(
  c: Context,
  name: string,
  allowed: readonly T[],
  aliases: Record<string, T> = {},
): T | undefined {
  const v = c.req.query(name);
  return v === undefined ? undefined : parseEnum(name, v, allowed, aliases);
}

/** `color=` as hex (`ff8800`, `#f80`) or three numbers 0..1 (`1,0.5,0`) → 0..1, rounded. */
export function colorParam(c: Context, name = 'color'): Vec3 | undefined {
  const raw = str(c, name);
  if (raw === undefined) return undefined;
  const parts = raw.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 3) {
    const v = parts.map(Number);
    if (v.some((x) => !Number.isFinite(x) || x < 0 || x > 1))
      throw invalidParameter(
        name,
        `expected three numbers from 0 to 1 or a hex colour, got "${raw}"`,
      );
    return v.map(roundColor) as Vec3;
  }
  return parseHexColor(name, raw).map((x) => roundColor(x / 255)) as Vec3;
}

// ---------------------------------------------------------------------------------------------
// Headers

/**
 * A single `bytes=` range against a representation of `size` bytes (RFC 9110 §14.1.2): null for
 * "serve the whole representation" (no header, a malformed or multi-range header, or last < first:
 * a server may ignore those, §14.2), 'unsatisfiable' for 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number /* inclusive */ } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

/**
 * Whether an `If-None-Match` header matches `etag` (weak comparison, RFC 9110 §13.1.2: `W/` is
 * ignored on both sides; `*` matches any current representation). Undefined header → false.
 */
export function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => bare(t) === bare(etag));
}

/** The peer's address (Hono's ConnInfo helper), or `in-process` for `app.request()` calls. */
export function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // getConnInfo reads the Node request bindings, which in-process requests do not have.
    return 'in-process';
  }
}
