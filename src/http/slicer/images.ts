/**
 * What the image endpoints (`/slice`, `/threeD`, `/screenshot`) share: the `format`/`quality`
 * parameters and ETag'd image responses (304 without rendering when If-None-Match matches).
 */
import type { Context } from 'hono';
import type { ThreeDJob } from '../../imaging/render3d.js';
import type { SliceJob } from '../../imaging/slice-render.js';
import type { EncodeOptions, ImageFormat } from '../../render/encode.js';
import { jobKey } from '../../render/keys.js';
import type { RenderService } from '../../render/service.js';
import { ifNoneMatch, num, oneOf } from '../request.js';

/** `format` (png | jpeg, `jpg` accepted) and `quality` (1–100, default 90) of an image request. */
export function parseFormat(c: Context, fallback: ImageFormat): EncodeOptions {
  const format = oneOf<ImageFormat>(c, 'format', ['png', 'jpeg'], { jpg: 'jpeg' }) ?? fallback;
  const quality = num(c, 'quality', { min: 1, max: 100, integer: true }) ?? 90;
  return { format, quality, compressionLevel: 1 };
}

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
