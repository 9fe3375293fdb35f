/** Helpers shared by the /dicom handlers: the archive, the request's base URL, JSON responses. */
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import type { Archive } from '../../dicom/archive.js';
import type { AppContext } from '../../server/context.js';

export function archiveOf(ctx: AppContext): Archive {
  if (!ctx.archive) throw new AppError('not_found', 'the DICOM archive is disabled (--no-dicom)');
  return ctx.archive();
}

const first = (v: string | undefined): string | undefined => {
  const s = v?.split(',')[0]?.trim();
  return s === '' ? undefined : s;
};

/**
 * `<proto>://<host>/dicom` as the client sees it: X-Forwarded-Proto/-Host (first value) win over
 * the Host header, so RetrieveURL and BulkDataURI survive reverse proxies.
 */
export function dicomBase(c: Context): string {
  const url = new URL(c.req.url);
  const proto = first(c.req.header('x-forwarded-proto')) ?? url.protocol.replace(/:$/, '');
  const host = first(c.req.header('x-forwarded-host')) ?? c.req.header('host') ?? url.host;
  const safeProto = /^https?$/i.test(proto) ? proto.toLowerCase() : 'http';
  const safeHost = /^[A-Za-z0-9.\-:[\]_]+$/.test(host) ? host : url.host;
  return `${safeProto}://${safeHost}/dicom`;
}

export function dicomJsonResponse(
  body: string,
  status = 200,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { 'content-type': 'application/dicom+json', 'cache-control': 'no-store', ...extra },
  });
}

/** Parses `1`, `1,3,5` (1-based frame numbers). */
export function parseFrameList(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (
    parts.length === 0 ||
    parts.length > 10_000 ||
    parts.some((p) => !/^\d{1,9}$/.test(p) || Number(p) < 1)
  ) {
    throw new AppError(
      'invalid_parameter',
      `frames: expected 1-based frame numbers such as 1 or 1,3,5, got "${raw}"`,
      { parameter: 'frames' },
    );
  }
  return parts.map(Number);
}
