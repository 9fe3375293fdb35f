/**
 * What `/slicer/mrml` may read and write, and fetch: `localfile` resolved inside an
 * `--import-root` (reads) or `--export-root` (writes) by real path (no `..` or symlink escape),
 * and `url=` downloads from an `--import-url` origin with size and time limits into the data
 * folder's download cache. The allowed folders and origins come in as a `FileAccess` (the server
 * builds it from its options); no HTTP here.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { AppError, isAppError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { formatBytes } from '../util/bytes.js';
import { normalizeOrigin } from '../util/origin.js';
import { baseName } from './file-types.js';

/** The file system and network a request may reach (from `--import-root`, `--export-root`, …). */
export interface FileAccess {
  /** `--import-root`: folders files may be loaded from (the first resolves relative paths). */
  importRoots: readonly string[];
  /** `--export-root`: folders files may be written to. */
  exportRoots: readonly string[];
  /** `--import-url`: origins `url=` may download from. */
  importUrls: readonly string[];
  /** `--import-timeout`, in milliseconds. */
  importTimeoutMs: number;
  /** Largest download (`--limit-volume`), in bytes. */
  maxDownloadBytes: number;
  /** Folder where `url=` downloads are kept, as Slicer's download cache (`<data>/downloads`). */
  downloadDir: string;
}

/** Resolves `localfile` inside an allowed import root (real paths: no `..` or symlink escapes). */
export async function resolveImportPath(access: FileAccess, localfile: string): Promise<string> {
  const roots = access.importRoots;
  if (roots.length === 0)
    throw new AppError(
      'forbidden',
      'loading local files is disabled; start voxelgate with --import-root DIR to allow files under DIR',
    );
  const candidate = path.isAbsolute(localfile) ? localfile : path.resolve(roots[0]!, localfile);
  let real: string;
  try {
    real = await fsp.realpath(candidate);
  } catch {
    // do not reveal whether paths outside the roots exist
    const inside = roots.some((r) => isInside(path.resolve(r), path.resolve(candidate)));
    if (!inside)
      throw new AppError('forbidden', `localfile is not under an --import-root folder`, {
        parameter: 'localfile',
      });
    throw new AppError('not_found', `localfile ${localfile} does not exist`, {
      parameter: 'localfile',
    });
  }
  for (const r of roots) {
    const rootReal = await fsp.realpath(r).catch(() => undefined);
    if (rootReal && isInside(rootReal, real)) {
      const st = await fsp.stat(real);
      if (!st.isFile())
        throw new AppError('invalid_parameter', `localfile ${localfile} is not a file`, {
          parameter: 'localfile',
        });
      return real;
    }
  }
  throw new AppError('forbidden', `localfile is not under an --import-root folder`, {
    parameter: 'localfile',
  });
}

export const isInside = (root: string, p: string) =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

export function parseUrlParam(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AppError('invalid_parameter', `url: "${url}" is not an absolute URL`, {
      parameter: 'url',
    });
  }
  if (u.protocol === 'slicer:')
    throw new AppError(
      'invalid_parameter',
      'url: slicer:// URLs are opened by the Slicer application, which voxelgate is not; load DICOM with POST /slicer/dicom/load or /slicer/accessDICOMwebStudy',
      { parameter: 'url' },
    );
  if (!['http:', 'https:', 'file:'].includes(u.protocol))
    throw new AppError(
      'invalid_parameter',
      `url: ${u.protocol} URLs are not supported; use http(s) or file`,
      {
        parameter: 'url',
      },
    );
  return u;
}

/**
 * Downloads an `--import-url` URL into the download cache (`<data>/downloads/<base>-<uuid><ext>`,
 * as Slicer names its downloads), never more than `--limit-volume` bytes nor longer than
 * `--import-timeout`. Redirects are followed only to allowed origins (at most 5).
 */
export async function downloadToCache(access: FileAccess, start: URL): Promise<string> {
  const allowed = new Set(access.importUrls);
  const refuse = (u: URL) =>
    new AppError(
      'forbidden',
      allowed.size === 0
        ? `url: downloading is disabled; start voxelgate with --import-url ${u.origin} to allow that origin`
        : `url: ${u.origin} is not an allowed origin (--import-url: ${[...allowed].join(', ')})`,
      { parameter: 'url' },
    );
  const limit = access.maxDownloadBytes;
  const signal = AbortSignal.timeout(access.importTimeoutMs);
  let u = start;
  let res: Response | undefined;
  for (let hop = 0; ; hop++) {
    if (!allowed.has(normalizeOrigin(u.href) ?? '')) throw refuse(u);
    try {
      res = await fetch(u, { redirect: 'manual', signal });
    } catch (e) {
      throw downloadError(access, u, e);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop >= 5)
        throw new AppError('upstream_error', `url: too many redirects from ${start.href}`);
      u = new URL(location, u);
      continue;
    }
    break;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new AppError('upstream_error', `url: ${u.href} answered ${res.status} ${res.statusText}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await res.body?.cancel();
    throw new AppError(
      'payload_too_large',
      `url: the file (${formatBytes(declared)}) is larger than --limit-volume (${formatBytes(limit)})`,
    );
  }
  const pathname = decodeURIComponent(u.pathname);
  const ext = /(\.seg\.nrrd|\.mrk\.json|\.nii\.gz|\.[A-Za-z0-9]{1,8})$/.exec(pathname)?.[1] ?? '';
  const base = (baseName(pathname) || 'download').replace(/[^\w.-]+/g, '_').slice(0, 80);
  const dir = access.downloadDir;
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${base}-${randomUUID().replace(/-/g, '')}${ext.toLowerCase()}`);
  let seen = 0;
  async function* chunks(body: ReadableStream<Uint8Array>) {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      seen += chunk.byteLength;
      if (seen > limit)
        throw new AppError(
          'payload_too_large',
          `url: the file is larger than --limit-volume (${formatBytes(limit)})`,
        );
      yield chunk;
    }
  }
  try {
    await writeFileAtomic(file, res.body ? chunks(res.body) : new Uint8Array());
  } catch (e) {
    await fsp.rm(file, { force: true });
    throw isAppError(e) ? e : downloadError(access, u, e);
  }
  return file;
}

function downloadError(access: FileAccess, u: URL, e: unknown): AppError {
  const name = (e as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError')
    return new AppError(
      'timeout',
      `url: ${u.href} did not arrive within --import-timeout (${access.importTimeoutMs / 1000} s)`,
    );
  return new AppError(
    'upstream_error',
    `url: could not download ${u.href}: ${(e as Error).message}`,
  );
}

/** Resolves `localfile` for writing: its folder must exist inside an `--export-root` (real paths). */
export async function resolveExportPath(access: FileAccess, localfile: string): Promise<string> {
  const roots = access.exportRoots;
  if (roots.length === 0)
    throw new AppError(
      'forbidden',
      'saving to files is disabled; start voxelgate with --export-root DIR to allow writing under DIR',
      { parameter: 'localfile' },
    );
  const candidate = path.isAbsolute(localfile) ? localfile : path.resolve(roots[0]!, localfile);
  const refuse = () =>
    new AppError('forbidden', 'localfile is not under an --export-root folder', {
      parameter: 'localfile',
    });
  const dirReal = await fsp.realpath(path.dirname(candidate)).catch(() => undefined);
  if (!dirReal) {
    if (!roots.some((r) => isInside(path.resolve(r), path.resolve(candidate)))) throw refuse();
    throw new AppError('not_found', `the folder of localfile ${localfile} does not exist`, {
      parameter: 'localfile',
    });
  }
  const target = path.join(dirReal, path.basename(candidate));
  for (const r of roots) {
    const rootReal = await fsp.realpath(r).catch(() => undefined);
    if (rootReal && isInside(rootReal, dirReal) && target !== rootReal) {
      const st = await fsp.lstat(target).catch(() => undefined);
      if (st && !st.isFile() && !st.isSymbolicLink())
        throw new AppError('invalid_parameter', `localfile ${localfile} is not a file`, {
          parameter: 'localfile',
        });
      return target;
    }
  }
  throw refuse();
}
