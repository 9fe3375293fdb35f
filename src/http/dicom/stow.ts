/**
 * STOW-RS (PS3.18 §10.5): `POST /dicom/studies[/{study}]` with a multipart/related body of Part 10
 * objects. The body is streamed: each part is held in memory up to 16 MiB (bigger parts go to a
 * temp file as they arrive) and staged when it ends, so memory holds one part at most.
 *
 * The rule (docs/dicomweb.md "STOW-RS"): one request is one ingest session. Every part is staged
 * (validated, written under a new version name, invisible); only when the whole body has arrived
 * intact are the staged files fsynced and indexed in ONE transaction, before the answer. So:
 * - 200: every part stored; 202: the parts in ReferencedSOPSequence stored, exactly, and the
 *   parts in FailedSOPSequence (unreadable, wrong study, same UID twice with other content) not;
 * - 409 (every part failed), 400 (malformed or cut-short body), 413 (over `--limit-stow`), 415, or
 *   any other error: nothing from the request is stored.
 * A part whose SOP Instance UID is stored with other content replaces it atomically at the commit.
 */
import { promises as fsp } from 'node:fs';
import type { Context } from 'hono';
import { AppError, isAppError } from '../../errors.js';
import { DUPLICATE_SOP_INSTANCE } from '../../dicom/archive.js';
import type { DicomJson } from '../../dicom/dicom-json.js';
import { parseContentType, parseMultipart } from '../../dicom/multipart.js';
import { T } from '../../dicom/tags.js';
import type { AppContext } from '../../server/context.js';
import { bodyChunks } from '../body.js';
import { archiveOf, dicomBase, dicomJsonResponse } from './common.js';

/** Parts up to this size are held in memory; bigger ones stream to a temp file. */
const IN_MEMORY_PART = 16 * 1024 * 1024;

/** PS3.4 C.4.2.1.4 / PS3.18 failure reasons. */
const REASON = {
  processingFailure: 0x0110,
  notUnderstood: 0xc000,
  studyMismatch: 0xa900,
  outOfResources: 0xa700,
} as const;

export const stow = (ctx: AppContext) =>
  async function stowRs(c: Context): Promise<Response> {
    const archive = archiveOf(ctx);
    const ct = parseContentType(c.req.header('content-type'));
    if (ct.type !== 'multipart/related') {
      throw new AppError(
        'unsupported_media_type',
        `STOW-RS takes multipart/related; type="application/dicom", got "${c.req.header('content-type') ?? 'no Content-Type'}"`,
      );
    }
    const rootType = (ct.params.type ?? 'application/dicom').toLowerCase();
    if (rootType !== 'application/dicom') {
      throw new AppError(
        'unsupported_media_type',
        `only type="application/dicom" (Part 10) parts are accepted, not "${rootType}"`,
      );
    }
    if (!ct.params.boundary)
      throw new AppError('bad_request', 'multipart/related Content-Type without a boundary');
    const expectStudy = c.req.param('study');
    const base = dicomBase(c);
    const referenced: DicomJson[] = [];
    const failed: DicomJson[] = [];
    const studies = new Set<string>();
    const session = archive.session({ expectStudy, existing: 'replace' });
    let parts = 0;
    let tmp: string | undefined;
    let handle: fsp.FileHandle | undefined;
    let chunks: Buffer[] = [];
    let held = 0;
    let partType = '';
    const fail = (reason: number, sopClass?: string, sop?: string) => {
      const item: DicomJson = {};
      if (sopClass) item[T.ReferencedSOPClassUID] = { vr: 'UI', Value: [sopClass] };
      if (sop) item[T.ReferencedSOPInstanceUID] = { vr: 'UI', Value: [sop] };
      item[T.FailureReason] = { vr: 'US', Value: [reason] };
      failed.push(item);
    };
    try {
      for await (const ev of parseMultipart(
        bodyChunks(c, ctx.config.limits.stow),
        ct.params.boundary,
      )) {
        if (ev.kind === 'part') {
          parts++;
          partType = parseContentType(ev.headers['content-type'] ?? 'application/dicom').type;
          chunks = [];
          held = 0;
        } else if (ev.kind === 'data') {
          if (handle) await handle.write(ev.chunk);
          else {
            chunks.push(ev.chunk);
            held += ev.chunk.length;
            if (held > IN_MEMORY_PART) {
              // A big part: spill to a temp file and stream the rest there.
              tmp = archive.store.tempPath();
              handle = await fsp.open(tmp, 'w');
              for (const c of chunks) await handle.write(c);
              chunks = [];
            }
          }
        } else {
          await handle?.close();
          handle = undefined;
          const file = tmp;
          tmp = undefined;
          if (partType !== 'application/dicom') {
            if (file) await archive.store.removeTemp(file);
            fail(REASON.notUnderstood);
            continue;
          }
          try {
            const buf = file ? await fsp.readFile(file) : Buffer.concat(chunks);
            chunks = [];
            const { result: r } = await session.add(buf, file);
            studies.add(r.studyUid);
            referenced.push({
              [T.ReferencedSOPClassUID]: { vr: 'UI', Value: [r.sopClassUid] },
              [T.ReferencedSOPInstanceUID]: { vr: 'UI', Value: [r.sopInstanceUid] },
              [T.RetrieveURL]: {
                vr: 'UR',
                Value: [
                  `${base}/studies/${r.studyUid}/series/${r.seriesUid}/instances/${r.sopInstanceUid}`,
                ],
              },
            });
          } catch (e) {
            if (file) await archive.store.removeTemp(file);
            if (!isAppError(e)) ctx.logger.error('STOW-RS: storing a part failed', e);
            const d = isAppError(e) ? e.details : {};
            const sopClass = typeof d.sopClassUid === 'string' ? d.sopClassUid : undefined;
            const sop = typeof d.sopInstanceUid === 'string' ? d.sopInstanceUid : undefined;
            fail(
              !isAppError(e)
                ? REASON.processingFailure
                : d.failureReason === DUPLICATE_SOP_INSTANCE
                  ? DUPLICATE_SOP_INSTANCE
                  : e.code === 'conflict'
                    ? REASON.studyMismatch
                    : REASON.notUnderstood,
              sopClass,
              sop,
            );
          }
        }
      }
      if (parts === 0) throw new AppError('bad_request', 'the multipart body holds no parts');
      // The body arrived whole: make every staged part durable and index them all at once.
      await session.commit();
    } catch (e) {
      // A malformed or cut-short body, a limit, a failed commit: nothing of the request is stored.
      await session.abort();
      throw e;
    } finally {
      await handle?.close().catch(() => {});
      if (tmp) await archive.store.removeTemp(tmp);
    }
    const body: DicomJson = {};
    const studyUid = expectStudy ?? (studies.size === 1 ? [...studies][0] : undefined);
    if (studyUid) body[T.RetrieveURL] = { vr: 'UR', Value: [`${base}/studies/${studyUid}`] };
    if (failed.length) body[T.FailedSOPSequence] = { vr: 'SQ', Value: failed };
    if (referenced.length) body[T.ReferencedSOPSequence] = { vr: 'SQ', Value: referenced };
    const status = failed.length === 0 ? 200 : referenced.length === 0 ? 409 : 202;
    return dicomJsonResponse(JSON.stringify(body), status);
  };
