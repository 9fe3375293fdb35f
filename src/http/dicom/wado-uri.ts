/**
 * WADO-URI (PS3.18 §9): `/dicom/wado?requestType=WADO&studyUID=&seriesUID=&objectUID=&contentType=`
 * and Slicer's `/dicom?objectUID=`. `contentType` application/dicom (default, as Slicer) returns
 * the object (as stored when `transferSyntax` is absent or `*`, as Slicer does; Explicit VR Little Endian when asked); image/jpeg or
 * image/png returns a rendered frame (`frameNumber`, `windowCenter`/`windowWidth`, `rows`/`columns`).
 */
import type { Context } from 'hono';
import { AppError, invalidParameter, missingParameter, notFound } from '../../errors.js';
import { parseRenderQuery, renderFrame } from '../../dicom/rendered.js';
import { NATIVE_TS, TS } from '../../dicom/tags.js';
import type { AppContext } from '../../server/context.js';
import { archiveOf } from './common.js';

export const wadoUri = (ctx: AppContext) =>
  async function wadoUriHandler(c: Context): Promise<Response> {
    const q = (n: string) => c.req.query(n);
    const requestType = q('requestType');
    if (requestType !== undefined && requestType !== 'WADO')
      throw invalidParameter('requestType', `expected WADO, got "${requestType}"`);
    const sop = q('objectUID');
    if (!sop) throw missingParameter('objectUID');
    const archive = archiveOf(ctx);
    const row = await archive.findInstance(sop);
    if (
      !row ||
      (q('studyUID') && q('studyUID') !== row.studyUid) ||
      (q('seriesUID') && q('seriesUID') !== row.seriesUid)
    )
      throw notFound(`no object ${sop}`);
    const contentType = (q('contentType') ?? 'application/dicom')
      .split(',')[0]!
      .trim()
      .toLowerCase();
    if (contentType === 'application/dicom') {
      const ts = q('transferSyntax');
      if (ts !== undefined && ts !== '*' && ts !== TS.ExplicitLE && ts !== row.transferSyntax) {
        throw new AppError(
          'not_acceptable',
          `cannot produce transfer syntax ${ts} (stored as ${row.transferSyntax})`,
        );
      }
      const asStored = ts === undefined || ts === '*' || ts === row.transferSyntax;
      const bytes = await archive.part10(row, asStored);
      return new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': 'application/dicom' },
      });
    }
    if (contentType !== 'image/jpeg' && contentType !== 'image/png')
      throw new AppError(
        'not_acceptable',
        `contentType ${contentType} is not supported (application/dicom, image/jpeg, image/png)`,
      );
    const frameRaw = q('frameNumber') ?? '1';
    if (!/^\d{1,9}$/.test(frameRaw) || Number(frameRaw) < 1)
      throw invalidParameter('frameNumber', `expected a frame number from 1, got "${frameRaw}"`);
    const frame = Number(frameRaw);
    const wc = q('windowCenter');
    const ww = q('windowWidth');
    const rows = q('rows');
    const cols = q('columns');
    const format = contentType === 'image/png' ? 'png' : 'jpeg';
    const opts = parseRenderQuery(
      (n) =>
        n === 'window'
          ? wc !== undefined && ww !== undefined
            ? `${wc},${ww}`
            : undefined
          : n === 'viewport'
            ? rows || cols
              ? `${cols ?? rows},${rows ?? cols}`
              : undefined
            : n === 'quality'
              ? q('imageQuality')
              : undefined,
      format,
      false,
    );
    const im = archive.checkFrames(row, [frame]);
    const [data] = await archive.nativeFrames(row, [frame]);
    const image =
      !NATIVE_TS.has(row.transferSyntax) && im.samplesPerPixel >= 3
        ? { ...im, photometric: 'RGB', planarConfiguration: 0 }
        : im;
    const out = await renderFrame(data!.data, image, opts);
    return new Response(out as Uint8Array<ArrayBuffer>, {
      headers: { 'content-type': contentType },
    });
  };
