/**
 * Pulling a study from a remote DICOMweb server into the archive (for Slicer's
 * `/accessDICOMwebStudy`): WADO-RS study retrieve as multipart/related application/dicom with
 * `transfer-syntax=*` (stored syntaxes, no transcoding), parsed while it streams; when the server
 * refuses that, per series, then per instance (QIDO-RS lists them). Only toward allowed origins,
 * never following redirects, with an overall deadline and a total size limit. Nothing is indexed
 * unless the whole retrieval succeeds: one ingest session (as STOW-RS) stages every instance and
 * commits them in one transaction; instances already in the archive are kept as stored.
 */
import type { Archive } from './archive.js';
import { AppError } from '../errors.js';
import { parseContentType, parseMultipart } from './multipart.js';

export interface RemoteStudyRequest {
  /** DICOMweb service root, e.g. `http://pacs:8042/dicom-web` (Slicer's prefix + "/" + store). */
  base: string;
  studyUid: string;
  /** Sent as `Authorization: Bearer …`. */
  accessToken?: string;
  /** Canonical origins allowed (`scheme://host[:port]`). */
  allowedOrigins: readonly string[];
  timeoutMs: number;
  maxBytes: number;
}

export interface RemoteStudyResult {
  /** Instances received (including ones already in the archive, which are not stored again). */
  instances: number;
  bytes: number;
  via: 'study' | 'series' | 'instances';
  warnings: string[];
}

const ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** Joins Slicer's `dicomWEBPrefix` and `dicomWEBStore` into a service root. */
export function serviceRoot(prefix: string, store: string | undefined): string {
  const p = prefix.trim().replace(/\/+$/, '');
  const s = (store ?? '').trim().replace(/^\/+|\/+$/g, '');
  return s ? `${p}/${s}` : p;
}

export async function retrieveRemoteStudy(
  archive: Archive,
  req: RemoteStudyRequest,
): Promise<RemoteStudyResult> {
  let url: URL;
  try {
    url = new URL(req.base);
  } catch {
    throw new AppError(
      'invalid_parameter',
      `dicomWEBPrefix: "${req.base}" is not an absolute URL`,
      { parameter: 'dicomWEBPrefix' },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError(
      'invalid_parameter',
      `dicomWEBPrefix: only http and https are supported, not ${url.protocol}`,
      { parameter: 'dicomWEBPrefix' },
    );
  const origin = url.origin.toLowerCase();
  if (!req.allowedOrigins.includes(origin)) {
    throw new AppError(
      'forbidden',
      `retrieving from ${origin} is not allowed; start voxelgate with --dicomweb-remote ${origin} to allow it`,
    );
  }
  const base = req.base.replace(/\/+$/, '');
  const study = encodeURIComponent(req.studyUid);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  const session = archive.session({ expectStudy: req.studyUid, existing: 'keep' });
  const state = { bytes: 0, received: 0, warnings: [] as string[] };
  const headers = (accept: string): Record<string, string> => ({
    accept,
    ...(req.accessToken ? { authorization: `Bearer ${req.accessToken}` } : {}),
  });

  const get = async (path: string, accept: string): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        headers: headers(accept),
        redirect: 'manual',
        signal: abort.signal,
      });
    } catch (e) {
      if (abort.signal.aborted) throw timeoutError(req.timeoutMs);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new AppError(
        'upstream_error',
        `cannot reach ${origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      );
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw new AppError(
        'upstream_error',
        `${origin} answered ${path} with a redirect (${res.status}); redirects are not followed`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new AppError(
        'upstream_error',
        `${origin} refused access (${res.status}); check accessToken`,
      );
    }
    return res;
  };

  /** Stages every application/dicom part (or a single application/dicom body) of a response. */
  const consume = async (res: Response): Promise<number> => {
    const ct = parseContentType(res.headers.get('content-type') ?? undefined);
    if (!res.body) return 0;
    let count = 0;
    const add = async (buf: Buffer) => {
      await session.add(buf);
      count++;
      state.received++;
    };
    const limited = async function* (body: ReadableStream<Uint8Array>) {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        state.bytes += chunk.byteLength;
        if (state.bytes > req.maxBytes) {
          abort.abort();
          throw new AppError(
            'upstream_error',
            `the remote study is larger than the limit of ${Math.round(req.maxBytes / 1048576)} MiB (--limit-stow); nothing was stored`,
          );
        }
        yield chunk;
      }
    };
    try {
      if (ct.type === 'application/dicom') {
        const parts: Uint8Array[] = [];
        for await (const c of limited(res.body)) parts.push(c);
        await add(Buffer.concat(parts));
        return count;
      }
      if (ct.type !== 'multipart/related')
        throw new AppError(
          'upstream_error',
          `${origin} answered with ${ct.type || 'no content type'}, not multipart/related`,
        );
      let parts: Buffer[] = [];
      let partType = '';
      for await (const ev of parseMultipart(limited(res.body), ct.params.boundary ?? '')) {
        if (ev.kind === 'part') {
          parts = [];
          partType = parseContentType(ev.headers['content-type']).type;
        } else if (ev.kind === 'data') parts.push(ev.chunk);
        else if (partType === 'application/dicom' || partType === '')
          await add(Buffer.concat(parts));
        else state.warnings.push(`skipped a part of type ${partType}`);
      }
      return count;
    } catch (e) {
      if (abort.signal.aborted && !(e instanceof AppError)) throw timeoutError(req.timeoutMs);
      if (e instanceof AppError && e.code === 'bad_request')
        throw new AppError('upstream_error', `malformed response from ${origin}: ${e.message}`);
      throw e;
    }
  };

  const qido = async (path: string, tag: string): Promise<string[]> => {
    const res = await get(path, 'application/dicom+json');
    if (res.status === 204) return [];
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError(
        res.status === 404 ? 'not_found' : 'upstream_error',
        `${origin} answered ${path} with ${res.status}`,
      );
    }
    const list = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- UIDs are strings
    return list.map((x) => String(x[tag]?.Value?.[0] ?? '')).filter(Boolean);
  };

  try {
    let via: RemoteStudyResult['via'] = 'study';
    const res = await get(`/studies/${study}`, ACCEPT_DICOM);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new AppError('not_found', `${origin} has no study ${req.studyUid}`);
    }
    let done = false;
    if (res.ok) {
      try {
        await consume(res);
        done = true;
      } catch (e) {
        if (!(e instanceof AppError) || !e.message.includes('not multipart/related')) throw e;
        state.warnings.push(e.message);
      }
    } else await res.body?.cancel();
    if (!done) {
      // Fallback: series by series, then instance by instance.
      via = 'series';
      for (const se of await qido(`/studies/${study}/series`, '0020000E')) {
        const sePath = `/studies/${study}/series/${encodeURIComponent(se)}`;
        const r = await get(sePath, ACCEPT_DICOM);
        if (r.ok) {
          await consume(r);
          continue;
        }
        await r.body?.cancel();
        via = 'instances';
        for (const sop of await qido(`${sePath}/instances`, '00080018')) {
          const ri = await get(
            `${sePath}/instances/${encodeURIComponent(sop)}`,
            `${ACCEPT_DICOM}, application/dicom`,
          );
          if (!ri.ok) {
            await ri.body?.cancel();
            throw new AppError(
              'upstream_error',
              `${origin} answered instance ${sop} with ${ri.status}`,
            );
          }
          await consume(ri);
        }
      }
    }
    if (state.received === 0)
      throw new AppError(
        'upstream_error',
        `${origin} returned no DICOM instances for study ${req.studyUid}`,
      );
    await session.commit();
    return { instances: state.received, bytes: state.bytes, via, warnings: state.warnings };
  } catch (e) {
    await session.abort();
    if (e instanceof AppError) throw e; // not found, refused, size limit, malformed, timeout …
    if (abort.signal.aborted) throw timeoutError(req.timeoutMs); // the deadline cut a read short
    throw new AppError(
      'upstream_error',
      `unusable response from ${origin}: ${e instanceof Error ? e.message : String(e)}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

function timeoutError(ms: number): AppError {
  return new AppError(
    'timeout',
    `the remote study was not retrieved within ${Math.round(ms / 1000)} s (--dicomweb-timeout)`,
  );
}
