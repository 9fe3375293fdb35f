/**
 * Static pages at `/` from the docroot: index.html for folders, ETag/Last-Modified with 304,
 * single byte ranges with 206, no directory listing, and no way out of the docroot (every
 * segment is decoded once and checked; the final real path must stay under the real docroot,
 * so symlinks cannot lead out either).
 */
import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { AppError, notFound } from '../errors.js';
import type { AppContext } from '../server/context.js';
import { mediaTypeOf } from './media-types.js';
import type { RouteSpec } from './routes.js';
import { ifNoneMatch, parseRange } from './request.js';

export function staticRoutes(ctx: AppContext): RouteSpec[] {
  const serve = createStaticHandler(ctx.config.docroot);
  return [{ method: 'GET', path: '/*', handler: (c) => serve(c) }];
}

/** Decodes a URL path into safe path segments, or throws 404/400. Exported for tests. */
export function safeSegments(rawPath: string): string[] {
  const out: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue; // leading, trailing and doubled slashes
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new AppError('bad_request', 'the path is not valid percent-encoded UTF-8');
    }
    if (
      seg === '.' ||
      seg === '..' ||
      seg.startsWith('.') ||
      /[\\/\0]/.test(seg) ||
      /^[a-zA-Z]:/.test(seg)
    ) {
      throw notFound('not found');
    }
    out.push(seg);
  }
  return out;
}

/** `prefix`: a mount point (e.g. `/browse`) stripped from the URL path before the file lookup. */
export function createStaticHandler(docroot: string, opts: { prefix?: string } = {}) {
  let realRoot: Promise<string> | undefined;
  const rootReal = () => (realRoot ??= fsp.realpath(docroot).catch(() => path.resolve(docroot)));
  const prefix = opts.prefix?.replace(/\/+$/, '') ?? '';

  /** `pathOverride`: serve this URL path instead of the request's (SPA fallbacks). */
  return async function serveStatic(c: Context, pathOverride?: string): Promise<Response> {
    const rawPath = pathOverride ?? new URL(c.req.url).pathname;
    const inner =
      prefix && (rawPath === prefix || rawPath.startsWith(prefix + '/'))
        ? rawPath.slice(prefix.length) || '/'
        : rawPath;
    const segments = safeSegments(inner);
    const root = await rootReal();
    let file = path.join(root, ...segments);
    let stat = await statInside(root, file);
    if (stat?.isDirectory()) {
      if (!rawPath.endsWith('/')) {
        const u = new URL(c.req.url);
        return new Response(null, {
          status: 301,
          headers: { location: `${u.pathname}/${u.search}` },
        });
      }
      file = path.join(file, 'index.html');
      stat = await statInside(root, file);
    }
    if (!stat?.isFile()) throw notFound(`no such file: ${rawPath}`);
    return fileResponse(c, file, stat);
  };
}

/** stat() of a path whose real location is inside `root`; null when missing or outside. */
async function statInside(root: string, file: string): Promise<Stats | null> {
  try {
    const real = await fsp.realpath(file);
    if (real !== root && !real.startsWith(root + path.sep)) return null;
    return await fsp.stat(real);
  } catch {
    return null;
  }
}

function etagOf(stat: Stats): string {
  return `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

export function fileResponse(c: Context, file: string, stat: Stats): Response {
  const etag = etagOf(stat);
  const lastModified = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
  const headers = new Headers({
    'content-type': mediaTypeOf(file),
    etag,
    'last-modified': lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  const inm = c.req.header('if-none-match');
  const ims = c.req.header('if-modified-since');
  if (
    inm !== undefined
      ? ifNoneMatch(inm, etag)
      : ims !== undefined &&
        !Number.isNaN(Date.parse(ims)) &&
        lastModified.getTime() <= Date.parse(ims)
  ) {
    return new Response(null, { status: 304, headers });
  }
  let start = 0;
  let end = stat.size - 1;
  let status = 200;
  const rangeHeader = c.req.header('range');
  const ifRange = c.req.header('if-range');
  if (
    rangeHeader &&
    (ifRange === undefined || ifRange === etag || ifRange === lastModified.toUTCString())
  ) {
    const range = parseRange(rangeHeader, stat.size);
    if (range === 'unsatisfiable')
      throw new AppError(
        'range_not_satisfiable',
        `range ${rangeHeader} is outside the file (${stat.size} bytes)`,
        { size: stat.size },
      );
    if (range) {
      ({ start, end } = range);
      status = 206;
      headers.set('content-range', `bytes ${start}-${end}/${stat.size}`);
    }
  }
  const length = stat.size === 0 ? 0 : end - start + 1;
  headers.set('content-length', String(length));
  if (c.req.method === 'HEAD' || length === 0) return new Response(null, { status, headers });
  const body = Readable.toWeb(createReadStream(file, { start, end })) as ReadableStream<Uint8Array>;
  return new Response(body, { status, headers });
}
