/**
 * Streaming request and response bodies for large payloads (NRRD volumes): request bytes come
 * straight from Node's IncomingMessage when the app runs under @hono/node-server (no web-stream
 * overhead), else from the web body (in-process tests); responses stream chunk views of the
 * shared voxel memory.
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import { formatBytes } from '../../util/bytes.js';
import { bodyChunks, declaredLength } from '../body.js';

/** The request body in chunks, at most `limit` bytes (413 beyond; 400 if the client hangs up). */
export async function* requestChunks(c: Context, limit: number): AsyncGenerator<Uint8Array> {
  // @hono/node-server's bindings (`HttpBindings.incoming`): the Node request itself. Hono has no
  // helper for a raw body stream; reading it directly avoids the web-stream copy per chunk (the
  // NRRD upload benchmark measures it). Absent for in-process `app.request()` calls.
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== 'function') {
    yield* bodyChunks(c, limit);
    return;
  }
  const declared = declaredLength(c);
  const tooLarge = () =>
    new AppError(
      'payload_too_large',
      `request body is larger than the limit of ${formatBytes(limit)}`,
    );
  if (declared !== undefined && declared > limit) throw tooLarge();
  let seen = 0;
  try {
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) throw tooLarge();
      yield chunk;
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError(
      'bad_request',
      `the request body was cut off after ${seen} bytes (${(e as Error).message})`,
    );
  }
  if (declared !== undefined && seen < declared)
    throw new AppError(
      'bad_request',
      `the request body was cut off after ${seen} of ${declared} bytes`,
    );
}

/** A Response whose body is pulled from an async iterator of chunks (backpressure-aware). */
export function streamResponse(
  chunks: AsyncIterable<Uint8Array>,
  headers: Record<string, string>,
  status = 200,
): Response {
  const it = chunks[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const step = await it.next();
        if (step.done) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel() {
        await it.return?.(undefined);
      },
    },
    { highWaterMark: 1 },
  );
  return new Response(body, { status, headers });
}

/** `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name. */
export function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
