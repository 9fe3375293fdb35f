/**
 * WADO-RS (PS3.18 §10.4): metadata, frames, bulk data, Part 10 retrieve, rendered/thumbnail, and
 * DELETE of studies/series/instances.
 */
import type { Context } from 'hono';
import { AppError, notFound } from '../../errors.js';
import {
  negotiateBulk,
  negotiateFrames,
  negotiateInstances,
  negotiateJson,
  negotiateRendered,
} from '../../dicom/accept.js';
import type { Archive, InstanceRef } from '../../dicom/archive.js';
import { withBase } from '../../dicom/dicom-json.js';
import { multipartChunks, multipartStream, newBoundary, type Part } from '../../dicom/multipart.js';
import { parseRenderQuery } from '../../dicom/rendered.js';
import { frameMediaType, NATIVE_TS, TS } from '../../dicom/tags.js';
import type { AppContext } from '../../server/context.js';
import { archiveOf, dicomBase, dicomJsonResponse, parseFrameList } from './common.js';
import { etagOf } from '../../render/keys.js';
import { ifNoneMatch, parseRange } from '../request.js';

type Scope = 'study' | 'series' | 'instance';

function rowsFor(archive: Archive, c: Context, scope: Scope): Promise<InstanceRef[]> {
  const study = c.req.param('study')!;
  if (scope === 'instance')
    return archive.instance(study, c.req.param('series'), c.req.param('sop')!).then((r) => [r]);
  return archive.instances(study, scope === 'series' ? c.req.param('series') : undefined);
}

export const metadata = (ctx: AppContext, scope: Scope) =>
  async function wadoMetadata(c: Context): Promise<Response> {
    negotiateJson(c.req.header('accept'));
    const archive = archiveOf(ctx);
    const items = await archive.metadata(
      c.req.param('study')!,
      scope === 'study' ? undefined : c.req.param('series'),
      scope === 'instance' ? c.req.param('sop')! : undefined,
    );
    return dicomJsonResponse(withBase(`[${items.join(',')}]`, dicomBase(c)));
  };

/** A multipart/related answer whose parts are all in hand, written without copying them. */
function multipartResponse(parts: readonly Part[], contentType: string, boundary: string) {
  const { body, length } = multipartChunks(parts, boundary);
  return new Response(body, {
    headers: { 'content-type': contentType, 'content-length': String(length) },
  });
}

export const frames = (ctx: AppContext) =>
  async function wadoFrames(c: Context): Promise<Response> {
    const archive = archiveOf(ctx);
    const list = parseFrameList(c.req.param('frames')!);
    const row = await archive.instance(
      c.req.param('study')!,
      c.req.param('series'),
      c.req.param('sop')!,
    );
    archive.checkFrames(row, list);
    const choice = negotiateFrames(c.req.header('accept'), row.transferSyntax, list.length);
    const data = choice.native
      ? await archive.storedFrames(row, list)
      : await archive.nativeFrames(row, list);
    const ts = data[0]?.transferSyntax ?? TS.ExplicitLE;
    const media = frameMediaType(ts);
    const partType = `${media}; transfer-syntax=${ts}`;
    if (!choice.multipart)
      return new Response(data[0]!.data as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': partType },
      });
    const boundary = newBoundary();
    return multipartResponse(
      data.map((d) => ({ contentType: partType, data: d.data })),
      `multipart/related; type="${media}"; transfer-syntax=${ts}; boundary=${boundary}`,
      boundary,
    );
  };

export const bulk = (ctx: AppContext) =>
  async function wadoBulk(c: Context): Promise<Response> {
    const archive = archiveOf(ctx);
    const row = await archive.instance(
      c.req.param('study')!,
      c.req.param('series'),
      c.req.param('sop')!,
    );
    const rangeHeader = c.req.header('range');
    const accept = c.req.header('accept');
    let { multipart } = negotiateBulk(accept);
    if (
      rangeHeader &&
      (!accept ||
        (/\*\/\*|application\/octet-stream/.test(accept) && !accept.includes('multipart')))
    )
      multipart = false;
    const data = await archive.bulk(row, c.req.param('tag')!);
    const compressed =
      c.req.param('tag')!.toUpperCase() === '7FE00010' && !NATIVE_TS.has(row.transferSyntax);
    const ts = compressed ? row.transferSyntax : TS.ExplicitLE;
    const partType = `${compressed ? frameMediaType(ts) : 'application/octet-stream'}; transfer-syntax=${ts}`;
    if (!multipart) {
      const range = parseRange(rangeHeader, data.length);
      if (range === 'unsatisfiable')
        throw new AppError(
          'range_not_satisfiable',
          `Range "${rangeHeader}" is outside the ${data.length}-byte value`,
          { size: data.length },
        );
      if (range) {
        return new Response(data.subarray(range.start, range.end + 1) as Uint8Array<ArrayBuffer>, {
          status: 206,
          headers: {
            'content-type': partType,
            'content-range': `bytes ${range.start}-${range.end}/${data.length}`,
            'accept-ranges': 'bytes',
          },
        });
      }
      return new Response(data as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': partType, 'accept-ranges': 'bytes' },
      });
    }
    const boundary = newBoundary();
    return multipartResponse(
      [{ contentType: partType, data }],
      `multipart/related; type="application/octet-stream"; boundary=${boundary}`,
      boundary,
    );
  };

export const retrieve = (ctx: AppContext, scope: Scope) =>
  async function wadoRetrieve(c: Context): Promise<Response> {
    const archive = archiveOf(ctx);
    const rows = await rowsFor(archive, c, scope);
    const single = scope === 'instance';
    const choice = negotiateInstances(
      c.req.header('accept'),
      single ? rows[0]!.transferSyntax : undefined,
      single,
    );
    const label = (r: InstanceRef) =>
      `application/dicom; transfer-syntax=${choice.asStored ? r.transferSyntax : TS.ExplicitLE}`;
    if (single) {
      // Produce the bytes before answering so that a decode failure is a clean 406.
      const bytes = await archive.part10(rows[0]!, choice.asStored);
      if (!choice.multipart)
        return new Response(bytes as Uint8Array<ArrayBuffer>, {
          headers: { 'content-type': label(rows[0]!) },
        });
      const boundary = newBoundary();
      return multipartResponse(
        [{ contentType: label(rows[0]!), data: bytes }],
        `multipart/related; type="application/dicom"; boundary=${boundary}`,
        boundary,
      );
    }
    const boundary = newBoundary();
    // Hold every file version listed now until the stream ends (a concurrent replace or delete
    // then defers removing them), so the response is the set of versions the rows named.
    const release = archive.lease(rows);
    async function* parts(): AsyncGenerator<Part> {
      try {
        for (const r of rows)
          yield { contentType: label(r), data: await archive.part10(r, choice.asStored) };
      } finally {
        release();
      }
    }
    const gen = parts();
    const held: AsyncIterable<Part> = {
      [Symbol.asyncIterator]: () => ({
        next: () => gen.next(),
        // also when the client goes away before the first part (the generator never started)
        return: async () => {
          release();
          return gen.return(undefined);
        },
      }),
    };
    const stream = multipartStream(held, boundary, (e) => {
      release();
      ctx.logger.warn(`retrieve aborted mid-stream: ${e instanceof Error ? e.message : String(e)}`);
    });
    return new Response(stream, {
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      },
    });
  };

/** Rendered / thumbnail at study, series, instance or frame level (one image; series/study: the middle instance). */
export const rendered = (ctx: AppContext, scope: Scope | 'frame', thumbnail: boolean) =>
  async function wadoRendered(c: Context): Promise<Response> {
    const format = negotiateRendered(c.req.header('accept'));
    const opts = parseRenderQuery((n) => c.req.query(n), format, thumbnail);
    const archive = archiveOf(ctx);
    let row: InstanceRef;
    if (scope === 'instance' || scope === 'frame')
      row = await archive.instance(
        c.req.param('study')!,
        c.req.param('series'),
        c.req.param('sop')!,
      );
    else {
      const rows = (await rowsFor(archive, c, scope)).filter((r) => r.image);
      if (rows.length === 0) throw notFound('no image instances to render');
      row = rows[Math.floor(rows.length / 2)]!;
    }
    const frame = scope === 'frame' ? parseFrameList(c.req.param('frames')!)[0]! : 1;
    // The ETag names the stored version, the frame and every rendering option: a client that
    // has the image gets 304 without a render (viewers re-ask for thumbnails all the time).
    const headers = {
      etag: etagOf(archive.renderedKey(row, frame, opts)),
      'cache-control': 'no-cache',
    };
    if (ifNoneMatch(c.req.header('if-none-match'), headers.etag))
      return new Response(null, { status: 304, headers });
    const out = await archive.renderedFrame(row, frame, opts);
    return new Response(out as Uint8Array<ArrayBuffer>, {
      headers: { ...headers, 'content-type': format === 'png' ? 'image/png' : 'image/jpeg' },
    });
  };

export const remove = (ctx: AppContext, scope: Scope) =>
  async function deleteResource(c: Context): Promise<Response> {
    const archive = archiveOf(ctx);
    const rows = await rowsFor(archive, c, scope);
    const n = await archive.delete(rows);
    return c.json({ success: true, deleted: n });
  };
