/**
 * The DICOM ⇄ scene bridge over /slicer: `/dicom/loadables`, `/dicom/load`, `/dicom/save` and
 * Slicer's `/accessDICOMwebStudy` (JSON body `dicomWEBPrefix`, `dicomWEBStore`, `studyUID`,
 * `accessToken`). The work is in `src/bridge/` and `src/dicom/remote.ts`.
 */
import type { Context } from 'hono';
import { loadables, loadIntoScene } from '../../bridge/load.js';
import { saveVolumeAsSeries } from '../../bridge/volume-to-series.js';
import type { Archive } from '../../dicom/archive.js';
import { retrieveRemoteStudy, serviceRoot } from '../../dicom/remote.js';
import { AppError, invalidParameter, missingParameter, notFound } from '../../errors.js';
import { saveSegmentationAsSeg } from '../../bridge/seg.js';
import { isSegmentationNode, isVolumeNode } from '../../scene/scene.js';
import { findVolume } from '../../scene/volumes.js';
import type { AppContext } from '../../server/context.js';
import { readJson } from '../body.js';
import { parseUid, str } from '../request.js';
import { persist } from './volumes.js';

function uid(c: Context, name: string, required: true): string;
function uid(c: Context, name: string, required: false): string | undefined;
function uid(c: Context, name: string, required: boolean): string | undefined {
  const v = str(c, name);
  if (v === undefined) {
    if (required) throw missingParameter(name);
    return undefined;
  }
  return parseUid(name, v);
}

function archiveOf(ctx: AppContext): Archive {
  if (!ctx.archive)
    throw new AppError('forbidden', 'the DICOM archive is switched off (--no-dicom)');
  return ctx.archive();
}

export const getLoadables = (ctx: AppContext) => async (c: Context) => {
  const study = uid(c, 'studyInstanceUID', true);
  return c.json({
    success: true,
    studyInstanceUID: study,
    series: await loadables(archiveOf(ctx), study),
  });
};

export const postLoad = (ctx: AppContext) => async (c: Context) => {
  // `series=` is short for seriesInstanceUID=; the study is then found in the archive.
  const series = uid(c, 'seriesInstanceUID', false) ?? uid(c, 'series', false);
  const archive = archiveOf(ctx);
  let study = uid(c, 'studyInstanceUID', false);
  if (study === undefined) {
    if (series === undefined) throw missingParameter('studyInstanceUID', 'or series is required');
    study = await archive.studyOfSeries(series);
    if (study === undefined) throw notFound(`no series ${series} in the archive`);
  }
  const result = await loadIntoScene(ctx.scene, archive, study, series);
  await persist(ctx);
  return c.json({ success: true, ...result });
};

export const postSave = (ctx: AppContext) => async (c: Context) => {
  const id = str(c, 'id');
  const seg = id !== undefined ? ctx.scene.findNodes(id).find(isSegmentationNode) : undefined;
  if (seg && !ctx.scene.findNodes(id!).some(isVolumeNode)) {
    // A segmentation → DICOM SEG (its reference volume is saved first when not archived).
    const result = await saveSegmentationAsSeg(ctx.scene, archiveOf(ctx), seg, {
      seriesDescription: str(c, 'seriesDescription'),
    });
    return c.json({ success: true, id: seg.id, ...result });
  }
  const node = findVolume(ctx.scene, id);
  const seriesDescription = str(c, 'seriesDescription');
  const studyUid = uid(c, 'studyInstanceUID', false);
  const result = await saveVolumeAsSeries(ctx.scene, archiveOf(ctx), node, {
    seriesDescription,
    studyUid,
  });
  return c.json({ success: true, id: node.id, ...result });
};

const field = (
  body: Record<string, unknown>,
  name: string,
  required: boolean,
): string | undefined => {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw missingParameter(name, 'is required in the JSON body');
    return undefined;
  }
  if (typeof v !== 'string') throw invalidParameter(name, `expected a string, got ${typeof v}`);
  return v;
};

export const postAccessDicomwebStudy = (ctx: AppContext) => async (c: Context) => {
  const body = await readJson(c, ctx.config.limits.json);
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new AppError(
      'bad_request',
      'expected a JSON object with dicomWEBPrefix, dicomWEBStore, studyUID and accessToken',
    );
  const b = body as Record<string, unknown>;
  const prefix = field(b, 'dicomWEBPrefix', true)!;
  const store = field(b, 'dicomWEBStore', false);
  const studyUid = parseUid('studyUID', field(b, 'studyUID', true)!);
  const accessToken = field(b, 'accessToken', false);
  const archive = archiveOf(ctx);
  const retrieved = await retrieveRemoteStudy(archive, {
    base: serviceRoot(prefix, store),
    studyUid,
    accessToken,
    allowedOrigins: ctx.config.dicomwebRemotes,
    timeoutMs: ctx.config.dicomwebTimeoutMs,
    maxBytes: ctx.config.limits.stow,
  });
  const loaded = await loadIntoScene(ctx.scene, archive, studyUid);
  await persist(ctx);
  return c.json({
    success: true,
    studyInstanceUID: studyUid,
    instances: retrieved.instances,
    bytes: retrieved.bytes,
    via: retrieved.via,
    loadedNodeIDs: loaded.loadedNodeIDs,
    warnings: [...retrieved.warnings, ...loaded.warnings],
  });
};

/**
 * `POST /slicer/open?url=slicer://viewer/?studyUID=…&dicomweb_endpoint=…` — what slicerio's
 * `file_load()` sends for a `slicer://` URL (Slicer hands it to its application; it has no such
 * route and answers 500). voxelgate loads the study: from its own archive when the endpoint is
 * this server's `/dicom`, else from a `--dicomweb-remote` origin (as /accessDICOMwebStudy).
 */
export const postOpen = (ctx: AppContext) => async (c: Context) => {
  const raw = str(c, 'url');
  if (raw === undefined) throw missingParameter('url', 'is required (a slicer://viewer/ URL)');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalidParameter('url', `"${raw.slice(0, 200)}" is not a URL`);
  }
  if (u.protocol !== 'slicer:' || u.host !== 'viewer')
    throw invalidParameter(
      'url',
      'expected slicer://viewer/?studyUID=…&dicomweb_endpoint=…; load files with POST /slicer/mrml?localfile=|url=…&filetype=…',
    );
  const studyRaw = u.searchParams.get('studyUID');
  if (!studyRaw) throw invalidParameter('url', 'the slicer:// URL has no studyUID');
  const studyUid = parseUid('studyUID', studyRaw);
  const endpoint = u.searchParams.get('dicomweb_endpoint');
  const archive = archiveOf(ctx);
  const own = new URL(c.req.url);
  const ownOrigin = `${own.protocol}//${c.req.header('host') ?? own.host}`.toLowerCase();
  let isOwn = endpoint === null;
  let remote: URL | undefined;
  if (endpoint !== null) {
    try {
      remote = new URL(endpoint);
    } catch {
      throw invalidParameter('url', `dicomweb_endpoint "${endpoint}" is not a URL`);
    }
    isOwn = remote.origin.toLowerCase() === ownOrigin && /^\/dicom\/?$/.test(remote.pathname);
  }
  const warnings: string[] = [];
  if (!isOwn) {
    const retrieved = await retrieveRemoteStudy(archive, {
      base: serviceRoot(remote!.href.replace(/\/$/, ''), undefined),
      studyUid,
      allowedOrigins: ctx.config.dicomwebRemotes,
      timeoutMs: ctx.config.dicomwebTimeoutMs,
      maxBytes: ctx.config.limits.stow,
    });
    warnings.push(...retrieved.warnings);
  }
  const loaded = await loadIntoScene(ctx.scene, archive, studyUid);
  await persist(ctx);
  return c.json({
    success: true,
    studyInstanceUID: studyUid,
    loadedNodeIDs: loaded.loadedNodeIDs,
    warnings: [...warnings, ...loaded.warnings],
  });
};
