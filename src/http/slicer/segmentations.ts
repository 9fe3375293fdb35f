/**
 * `/slicer/segmentations`, `/slicer/segmentation` (`.seg.nrrd`, label map or JSON out; `.seg.nrrd`
 * or plain label map in) and `/slicer/segment` (add, edit, remove one segment).
 */
import type { Context } from 'hono';
import { AppError, missingParameter } from '../../errors.js';
import { decodeNrrdStream, nrrdChunks, type DecodedNrrd } from '../../imaging/nrrd.js';
import { segNrrdChunks } from '../../imaging/seg-nrrd.js';
import { mergedLabelmap } from '../../imaging/segmentation.js';
import type { SegmentationNode } from '../../scene/scene.js';
import {
  addSegmentToNode,
  editSegment,
  findSegmentation,
  listSegmentations,
  maskFromLabelmap,
  putSegmentation,
  removeSegmentFromNode,
  segmentationJson,
  segmentationOrFirst,
  sourceVolume,
} from '../../scene/segmentations.js';
import type { AppContext } from '../../server/context.js';
import { declaredLength } from '../body.js';
import { bool, colorParam, int, oneOf, requiredStr, str } from '../request.js';
import { attachment, requestChunks, streamResponse } from './streams.js';
import { persist } from './volumes.js';

/** Reads a NRRD request body (413 over the volume limit, 400 when there is none). */
async function nrrdBody(ctx: AppContext, c: Context, what: string): Promise<DecodedNrrd> {
  if (declaredLength(c) === 0)
    throw new AppError('bad_request', `the request body is empty; send ${what}`);
  const maxBytes = ctx.config.limits.volume;
  return decodeNrrdStream(requestChunks(c, maxBytes + (1 << 20)), {
    maxBytes,
    declaredBytes: declaredLength(c),
  });
}

export const getSegmentations = (ctx: AppContext) => (c: Context) =>
  c.json(listSegmentations(ctx.scene));

/** GET: `format=seg.nrrd` (default, gzip unless `encoding=raw`), `labelmap` or `json`. */
export const getSegmentation = (ctx: AppContext) => (c: Context) => {
  const node = segmentationOrFirst(ctx.scene, str(c, 'id'));
  const format = oneOf(c, 'format', ['seg.nrrd', 'labelmap', 'json'] as const) ?? 'seg.nrrd';
  const encoding = oneOf(c, 'encoding', ['raw', 'gzip'] as const) ?? 'gzip';
  const revision = ctx.scene.revision(node.id);
  if (format === 'json') return c.json(segmentationJson(node, revision));
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'cache-control': 'no-store',
    'x-node-id': node.id,
  };
  if (format === 'labelmap') {
    const { volume } = mergedLabelmap(node.segmentation);
    headers['content-disposition'] = attachment(`${node.name}-label.nrrd`);
    return streamResponse(
      nrrdChunks(volume, { encoding, keyValues: { labelmap: 'true' } }),
      headers,
    );
  }
  headers['content-disposition'] = attachment(`${node.name}.seg.nrrd`);
  return streamResponse(
    segNrrdChunks(node.segmentation, node.attributes, { encoding, revision }),
    headers,
  );
};

/** PUT/POST: `.seg.nrrd` or plain label map body → new node, or (`id=`) replaced segments. */
export const putSegmentationHandler = (ctx: AppContext) => async (c: Context) => {
  const id = str(c, 'id');
  const name = str(c, 'name');
  const referenceVolume = str(c, 'referenceVolume');
  // Check the addressed nodes before reading a large body.
  if (id !== undefined) findSegmentation(ctx.scene, id);
  const decoded = await nrrdBody(ctx, c, 'a .seg.nrrd or a label map NRRD');
  const { node, created } = putSegmentation(ctx.scene, { id, name, referenceVolume, decoded });
  await persist(ctx);
  return c.json({
    success: true,
    id: node.id,
    name: node.name,
    segmentIDs: node.segmentation.segments.map((s) => s.id),
    created,
  });
};

export const deleteSegmentation = (ctx: AppContext) => async (c: Context) => {
  const node = findSegmentation(ctx.scene, requiredStr(c, 'id'));
  ctx.scene.remove([node.id]);
  await persist(ctx);
  return c.json({ success: true, id: node.id });
};

function segmentEdits(c: Context) {
  const labelValue = int(c, 'labelValue', 1);
  return {
    name: str(c, 'name'),
    color: colorParam(c),
    labelValue,
    visible: bool(c, 'visible'),
  };
}

const segmentResponse = (node: SegmentationNode, segmentId: string) => {
  const seg = node.segmentation.segments.find((s) => s.id === segmentId)!;
  return {
    success: true,
    segmentation: node.id,
    segmentID: seg.id,
    name: seg.name,
    color: seg.color,
    labelValue: seg.labelValue,
    layer: seg.layer,
    visible: seg.visible !== false,
  };
};

/**
 * POST: adds a segment from a label map body on the segmentation's grid (voxels ≠ 0, or = `value`)
 * or from a label map volume in the scene (`fromVolume=&value=`).
 */
export const postSegment = (ctx: AppContext) => async (c: Context) => {
  const node = segmentationOrFirst(ctx.scene, requiredStr(c, 'segmentation'));
  const segmentID = str(c, 'segmentID');
  const edits = segmentEdits(c);
  const value = int(c, 'value', 1);
  const fromVolume = str(c, 'fromVolume');
  if (segmentID !== undefined && node.segmentation.segments.some((s) => s.id === segmentID))
    throw new AppError('conflict', `segment id ${segmentID} already exists in ${node.id}`, {
      parameter: 'segmentID',
    });
  let mask: Uint8Array;
  if (fromVolume !== undefined) {
    const v = sourceVolume(ctx.scene, fromVolume);
    mask = maskFromLabelmap(node, v.volume, value, `volume ${v.id}`);
  } else {
    const len = declaredLength(c);
    if (len === 0 || (len === undefined && c.req.raw.body === null))
      throw missingParameter('fromVolume', 'or a label map NRRD body is required');
    const decoded = await nrrdBody(ctx, c, 'a label map NRRD on the segmentation grid');
    mask = maskFromLabelmap(node, decoded.volume, value, 'the label map');
  }
  const { node: updated, segment } = addSegmentToNode(
    ctx.scene,
    ctx.scene.byId(node.id) as SegmentationNode,
    mask,
    {
      id: segmentID,
      name: edits.name,
      color: edits.color,
      labelValue: edits.labelValue,
      visible: edits.visible,
    },
  );
  await persist(ctx);
  return c.json(segmentResponse(updated, segment.id));
};

/** PUT: edits `name`, `color`, `labelValue` (relabels voxels) or `visible` of one segment. */
export const putSegment = (ctx: AppContext) => async (c: Context) => {
  const node = segmentationOrFirst(ctx.scene, requiredStr(c, 'segmentation'));
  const segmentID = requiredStr(c, 'segmentID');
  const edits = segmentEdits(c);
  if (Object.values(edits).every((v) => v === undefined))
    throw missingParameter('name', 'or color, labelValue or visible is required');
  const { node: updated } = editSegment(ctx.scene, node, segmentID, edits);
  await persist(ctx);
  return c.json(segmentResponse(updated, segmentID));
};

export const deleteSegment = (ctx: AppContext) => async (c: Context) => {
  const node = segmentationOrFirst(ctx.scene, requiredStr(c, 'segmentation'));
  const segmentID = requiredStr(c, 'segmentID');
  const updated = removeSegmentFromNode(ctx.scene, node, segmentID);
  await persist(ctx);
  return c.json({
    success: true,
    segmentation: updated.id,
    removedSegmentID: segmentID,
    segmentIDs: updated.segmentation.segments.map((s) => s.id),
  });
};
