/**
 * Request bodies without unbounded buffering: `bodyChunks` streams the body and fails with 413 as
 * soon as it passes the limit (checking Content-Length first); `readBody` collects a small body.
 */
import type { Context } from 'hono';
import { AppError } from '../errors.js';
import { formatBytes, MiB } from '../util/bytes.js';

function tooLarge(limit: number): AppError {
  return new AppError(
    'payload_too_large',
    `request body is larger than the limit of ${formatBytes(limit)}`,
  );
}

/** The declared Content-Length, or undefined (chunked). Throws 400 on a malformed value. */
export function declaredLength(c: Context): number | undefined {
  const raw = c.req.header('content-length');
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()))
    throw new AppError('bad_request', `Content-Length "${raw}" is not a number`);
  return Number(raw);
}

/** Streams the request body in chunks, never more than `limit` bytes in total. */
export async function* bodyChunks(c: Context, limit: number): AsyncGenerator<Uint8Array> {
  const declared = declaredLength(c);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const body = c.req.raw.body;
  if (!body) return;
  let seen = 0;
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (seen > limit) throw tooLarge(limit);
      yield value;
    }
  } finally {
    reader.releaseLock();
    if (seen > limit) await body.cancel().catch(() => {});
  }
}

/** Collects the whole body (for small bodies such as JSON); 413 past `limit`. */
export async function readBody(c: Context, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of bodyChunks(c, limit)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Parses a JSON body (≤ limit) or throws 400/415 with a clear message. */
export async function readJson(c: Context, limit = MiB): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (type && !/^application\/(.+\+)?json\b/i.test(type) && !/^text\/plain\b/i.test(type)) {
    throw new AppError(
      'unsupported_media_type',
      `expected a JSON body (application/json), got ${type}`,
    );
  }
  const buf = await readBody(c, limit);
  if (buf.length === 0)
    throw new AppError('bad_request', 'expected a JSON body, got an empty body');
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new AppError('bad_request', `body is not valid JSON: ${(e as Error).message}`);
  }
}
