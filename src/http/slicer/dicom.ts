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
import { AppError, invalidParameter, missingParameter } from '../../errors.js';
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

export const getLoadables = (ctx: AppContext) => (c: Context) => {
  const study = uid(c, 'studyInstanceUID', true);
  return c.json({
    success: true,
    studyInstanceUID: study,
    series: loadables(archiveOf(ctx), study),
  });
};

export const postLoad = (ctx: AppContext) => async (c: Context) => {
  const study = uid(c, 'studyInstanceUID', true);
  const series = uid(c, 'seriesInstanceUID', false);
  const result = await loadIntoScene(ctx.scene, archiveOf(ctx), study, series);
  await persist(ctx);
  return c.json({ success: true, ...result });
};

export const postSave = (ctx: AppContext) => async (c: Context) => {
  const node = findVolume(ctx.scene, str(c, 'id'));
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
