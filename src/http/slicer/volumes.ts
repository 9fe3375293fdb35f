/** `/slicer/volumes`, `/slicer/volume` (NRRD in and out) and `/slicer/volumeSelection`. */
import type { Context } from 'hono';
import { nrrdChunks, rawNrrdSize } from '../../imaging/nrrd.js';
import { receiveNrrd } from '../../scene/persistence.js';
import {
  cycleActiveVolume,
  findVolume,
  listVolumes,
  nrrdOptionsFor,
  putVolume,
} from '../../scene/volumes.js';
import type { AppContext } from '../../server/context.js';
import { bool, oneOf, requiredStr, str } from '../request.js';
import { attachment, requestChunks, streamResponse } from './streams.js';
import { declaredLength } from '../body.js';

/** Awaited by every mutating handler before it replies: an acknowledged change is on disk. */
export const persist = (ctx: AppContext): Promise<void> =>
  ctx.sceneStore?.flush() ?? Promise.resolve();

export const getVolumes = (ctx: AppContext) => (c: Context) => c.json(listVolumes(ctx.scene));

/** GET: the volume as NRRD (LPS, exact type, raw or `?encoding=gzip`); `id` and/or exact `name`, else the first scalar volume. */
export const getVolume = (ctx: AppContext) => (c: Context) => {
  const id = str(c, 'id');
  const name = str(c, 'name');
  // Without id and name, Slicer's default `vtkMRMLScalarVolumeNode*`: the first scalar volume in
  // the scene (not the active one, not a label map).
  const node = findVolume(
    ctx.scene,
    id ?? (name === undefined ? 'vtkMRMLScalarVolumeNode*' : undefined),
    name,
  );
  const encoding = oneOf(c, 'encoding', ['raw', 'gzip'] as const) ?? 'raw';
  const opts = nrrdOptionsFor(node, encoding);
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-disposition': attachment(`${node.name}.nrrd`),
    'cache-control': 'no-store',
    'x-node-id': node.id,
  };
  if (encoding === 'raw') headers['content-length'] = String(rawNrrdSize(node.volume, opts));
  return streamResponse(nrrdChunks(node.volume, opts), headers);
};

/** POST/PUT: NRRD body → new node (no `id`) or replaced data (`id` of a volume). */
export const putVolumeHandler = (ctx: AppContext) => async (c: Context) => {
  const id = str(c, 'id');
  const name = str(c, 'name');
  const labelmap = bool(c, 'labelmap');
  const maxBytes = ctx.config.limits.volume;
  // The stored copy is written while the body arrives; replying then costs one fsync + the index.
  const received = await receiveNrrd(requestChunks(c, maxBytes + (1 << 20)), {
    maxBytes,
    declaredBytes: declaredLength(c),
    store: ctx.sceneStore,
    alloc: (bytes) => ctx.voxelSpare.take(bytes),
  });
  let result;
  try {
    result = putVolume(ctx.scene, { id, name, labelmap, decoded: received.decoded });
  } catch (e) {
    await received.abort();
    throw e;
  }
  const { node, created } = result;
  await received.commit();
  await persist(ctx);
  // 200 also for a created node: Slicer clients test for 200.
  return c.json({ success: true, id: node.id, name: node.name, class: node.className, created });
};

export const deleteVolume = (ctx: AppContext) => async (c: Context) => {
  const name = str(c, 'name');
  const node = findVolume(
    ctx.scene,
    name === undefined ? requiredStr(c, 'id') : str(c, 'id'),
    name,
  );
  ctx.scene.remove([node.id]);
  await persist(ctx);
  return c.json({ success: true, id: node.id });
};

export const volumeSelection = (ctx: AppContext) => async (c: Context) => {
  const cmd = oneOf(c, 'cmd', ['next', 'previous'] as const) ?? 'next';
  const node = cycleActiveVolume(ctx.scene, cmd);
  await persist(ctx);
  return c.json({ success: true, message: 'Volume selected', id: node.id, name: node.name });
};
