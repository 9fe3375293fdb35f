/** QIDO-RS search handlers (PS3.18 §10.6) at study, series and instance level. */
import type { Context } from 'hono';
import { negotiateJson } from '../../dicom/accept.js';
import { itemJson } from '../../dicom/archive.js';
import type { DicomJson } from '../../dicom/dicom-json.js';
import { parseQido } from '../../dicom/query.js';
import { INSTANCE_ATTRIBUTES, SERIES_ATTRIBUTES, T, type Level } from '../../dicom/tags.js';
import type { AppContext } from '../../server/context.js';
import { archiveOf, dicomBase, dicomJsonResponse } from './common.js';

const MAX_RESULTS: Record<Level, number> = { study: 1000, series: 5000, instance: 10000 };
const LOWER: Record<Level, Set<string>> = {
  study: new Set(
    [...SERIES_ATTRIBUTES, ...INSTANCE_ATTRIBUTES].filter(
      (t) => t !== T.StudyInstanceUID && t !== T.SpecificCharacterSet,
    ),
  ),
  series: new Set(
    INSTANCE_ATTRIBUTES.filter(
      (t) => t !== T.StudyInstanceUID && t !== T.SeriesInstanceUID && t !== T.SpecificCharacterSet,
    ),
  ),
  instance: new Set(),
};

export const search = (ctx: AppContext, level: Level) =>
  async function qidoSearch(c: Context): Promise<Response> {
    negotiateJson(c.req.header('accept'));
    const archive = archiveOf(ctx);
    const query = parseQido(new URL(c.req.url).searchParams);
    const scope = { study: c.req.param('study'), series: c.req.param('series') };
    const result = await archive.search(level, scope, query, MAX_RESULTS[level]);
    const base = dicomBase(c);
    const extra = query.includeFields.filter((t) => !LOWER[level].has(t));
    const out = await Promise.all(
      result.items.map(async (it) => {
        const url = `${base}/studies/${it.study}${it.series ? `/series/${it.series}` : ''}${it.sop ? `/instances/${it.sop}` : ''}`;
        const retrieve = { vr: 'UR', Value: [url] };
        const missing =
          it.text !== undefined
            ? extra.filter((t) => !it.text!.includes(`"${t}"`))
            : extra.filter((t) => !(t in it.json!));
        if (it.text !== undefined && missing.length === 0) {
          // Fast path: append RetrieveURL to the stored JSON text without parsing it.
          return `${it.text.slice(0, -1)}${it.text.length > 2 ? ',' : ''}"${T.RetrieveURL}":${JSON.stringify(retrieve)}}`;
        }
        const json = itemJson(it);
        if (missing.length) {
          // includefield tags the index does not keep: take them from a representative instance.
          const meta = await archive.representativeMetadata(it.study, it.series, it.sop);
          if (meta) {
            const full = JSON.parse(meta) as DicomJson;
            for (const t of missing) if (full[t] && !full[t].BulkDataURI) json[t] = full[t]!;
          }
        }
        json[T.RetrieveURL] = retrieve;
        return JSON.stringify(json);
      }),
    );
    const headers: Record<string, string> = {};
    if (result.remaining > 0)
      headers.warning = `299 voxelgate: There are ${result.remaining} additional results that can be requested`;
    return dicomJsonResponse(`[${out.join(',')}]`, 200, headers);
  };
