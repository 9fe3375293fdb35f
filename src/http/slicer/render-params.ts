/**
 * Parameters and responses shared by the image endpoints (`/slice`, `/threeD`, `/screenshot`,
 * the live streams): strict parsing (every bad value names its parameter), ETag'd image
 * responses.
 */
import type { Context } from 'hono';
import { invalidParameter } from '../../errors.js';
import type { ThreeDJob } from '../../imaging/render3d.js';
import type { SliceJob } from '../../imaging/slice-render.js';
import type { EncodeOptions, ImageFormat } from '../../render/encode.js';
import { jobKey } from '../../render/keys.js';
import type { RenderService } from '../../render/service.js';
import { ifNoneMatch } from '../request.js';

/** A request's query parameters by name. */
export type Query = (name: string) => string | undefined;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function parseNumber(
  name: string,
  raw: string,
  o: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
): number {
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

export const MAX_SIZE = 4096;

/** `512` (square) or `640x480`. */
export function parseSize(name: string, raw: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[xX×,]\s*(\d+))?\s*$/.exec(raw);
  if (!m)
    throw invalidParameter(name, `expected N or WxH in pixels (e.g. 512 or 640x480), got "${raw}"`);
  const w = Number(m[1]);
  const h = m[2] !== undefined ? Number(m[2]) : w;
  if (w < 1 || h < 1 || w > MAX_SIZE || h > MAX_SIZE)
    throw invalidParameter(name, `width and height must be 1–${MAX_SIZE} pixels, got ${w}x${h}`);
  return [w, h];
}

const TRUE = new Set(['1', 'true', 'on', 'yes']);
const FALSE = new Set(['0', 'false', 'off', 'no']);
export function parseBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw invalidParameter(name, `expected on or off (true/false, 1/0), got "${raw}"`);
}

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

/** `n` numbers separated by commas and/or spaces. */
export function parseNumberList(name: string, raw: string, n: number): number[] {
  const parts = raw
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (parts.length !== n)
    throw invalidParameter(name, `expected ${n} numbers, got ${parts.length}`);
  return parts.map((p) => parseNumber(name, p));
}

/** `format` (png | jpeg, `jpg` accepted) and `quality` (1–100, default 90) of an image request. */
export function parseFormat(q: Query, fallback: ImageFormat): EncodeOptions {
  const raw = q('format');
  const format =
    raw === undefined
      ? fallback
      : parseEnum<ImageFormat>('format', raw, ['png', 'jpeg'], { jpg: 'jpeg' });
  const qraw = q('quality');
  const quality =
    qraw === undefined ? 90 : parseNumber('quality', qraw, { min: 1, max: 100, integer: true });
  return { format, quality, compressionLevel: 1 };
}

/** A number parameter, or undefined when absent. */
export const optionalNumber = (
  q: Query,
  name: string,
  o: Parameters<typeof parseNumber>[2] = {},
): number | undefined => {
  const raw = q(name);
  return raw === undefined ? undefined : parseNumber(name, raw, o);
};

/** The request's query as a function (`q('size')`). */
export const queryOf =
  (c: Context): Query =>
  (n) =>
    c.req.query(n);

/** 304 when If-None-Match has `etag`, else the image; `no-cache` (revalidate every time). */
export function imageResponse(
  c: Context,
  etag: string,
  body: Uint8Array | null,
  contentType: string,
): Response {
  const headers = { etag, 'cache-control': 'no-cache' };
  if (body === null || ifNoneMatch(c.req.header('if-none-match'), etag))
    return c.body(null, 304, headers);
  return c.body(body as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-type': contentType });
}

/** Renders `job` (joined with identical renders; 304 without rendering when the ETag matches). */
export async function renderResponse(
  c: Context,
  renderer: RenderService,
  job: SliceJob | ThreeDJob,
  enc: EncodeOptions,
): Promise<Response> {
  const key = jobKey(job, enc);
  if (ifNoneMatch(c.req.header('if-none-match'), key)) return imageResponse(c, key, null, '');
  const out = await renderer.render(key, job, enc);
  return imageResponse(c, key, out.body, out.contentType);
}
