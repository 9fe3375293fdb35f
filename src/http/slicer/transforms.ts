/** `/slicer/transforms`, `/slicer/transform` (JSON 4×4), `/slicer/tracking`, grid transforms (NRRD). */
import type { Context } from 'hono';
import { AppError, invalidParameter } from '../../errors.js';
import { decodeNrrdStream, nrrdChunks, rawNrrdSize } from '../../imaging/nrrd.js';
import type { GridTransformNode, LinearTransformNode } from '../../scene/scene.js';
import {
  gridFromNrrd,
  gridToLps,
  listTransforms,
  parseMatrix,
  putGridTransform,
  putLinearTransform,
  track,
  transformJson,
} from '../../scene/transforms.js';
import type { AppContext } from '../../server/context.js';
import { readBody } from '../body.js';
import { numList, oneOf, requiredStr, str } from '../request.js';
import { attachment, requestChunks, streamResponse } from './streams.js';
import { declaredLength } from '../body.js';
import { persist } from './volumes.js';

export const getTransforms = (ctx: AppContext) => (c: Context) => c.json(listTransforms(ctx.scene));

export const getTransform = (ctx: AppContext) => (c: Context) => {
  const node = ctx.scene.requireNode(
    str(c, 'id') ?? 'vtkMRMLLinearTransformNode*',
    'linearTransform',
    'linear transform',
  );
  return c.json(transformJson(ctx.scene, node));
};

/**
 * PUT/POST `/slicer/transform?id=&name=&parentTransformID=` with an optional JSON body
 * `{"matrix": [[…],[…],[…],[0,0,0,1]] | [16 numbers], "name", "parentTransformID"}`.
 * Unknown or absent `id` creates a node. Query parameters win over body fields.
 */
export const putTransform = (ctx: AppContext) => async (c: Context) => {
  const raw = c.req.raw.body ? await readBody(c, ctx.config.limits.json) : Buffer.alloc(0);
  let body: unknown = {};
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new AppError('bad_request', `body is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError(
      'bad_request',
      'expected a JSON object such as {"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}',
    );
  const b = body as { matrix?: unknown; name?: unknown; parentTransformID?: unknown };
  if (b.name !== undefined && typeof b.name !== 'string')
    throw invalidParameter('name', 'must be a string');
  if (
    b.parentTransformID !== undefined &&
    b.parentTransformID !== null &&
    typeof b.parentTransformID !== 'string'
  )
    throw invalidParameter('parentTransformID', 'must be a string or null');
  const qParent = str(c, 'parentTransformID');
  const parent =
    qParent !== undefined ? (qParent === 'none' ? null : qParent) : b.parentTransformID;
  const { node, created } = putLinearTransform(ctx.scene, {
    id: str(c, 'id'),
    name: str(c, 'name') ?? b.name,
    matrix: b.matrix !== undefined ? parseMatrix(b.matrix) : undefined,
    parentTransformID:
      parent === undefined
        ? undefined
        : parent === null
          ? null
          : (ctx.scene.getNode(parent)?.id ?? parent),
  });
  await persist(ctx);
  return c.json({ success: true, created, ...transformJson(ctx.scene, node) });
};

export const deleteTransform = (ctx: AppContext) => async (c: Context) => {
  const id = requiredStr(c, 'id');
  const node = ctx.scene
    .findNodes(id)
    .find((n) => n.kind === 'linearTransform' || n.kind === 'gridTransform');
  if (!node)
    throw new AppError('not_found', `no transform node matches "${id}"`, { parameter: 'id' });
  ctx.scene.remove([node.id]);
  await persist(ctx);
  return c.json({ success: true, id: node.id });
};

/**
 * Slicer's `/tracking?m=&p=&q=`. Slicer replies the text `Set matrix`; clients that parse the reply
 * call `.json()` on it (slicer-agent-engine `get_tracking`), so the reply is JSON carrying that
 * text as `message` (a client printing the body still sees it). The node id is also in a header.
 */
export const tracking = (ctx: AppContext) => async (c: Context) => {
  const m = numList(c, 'm', 9);
  const p = numList(c, 'p', 3);
  const q = numList(c, 'q', 4);
  const node: LinearTransformNode = track(ctx.scene, { m, p, q });
  await persist(ctx);
  return c.json({ success: true, message: 'Set matrix', id: node.id }, 200, {
    'x-node-id': node.id,
  });
};

export const getGridTransforms = (ctx: AppContext) => (c: Context) =>
  c.json(
    ctx.scene
      .nodes()
      .filter((n) => n.kind === 'gridTransform')
      .map((n) => ({ name: n.name, id: n.id })),
  );

/** GET: 4-D NRRD (`kinds: vector domain domain domain`, `none` + the grid's real directions, LPS vectors). */
export const getGridTransform = (ctx: AppContext) => (c: Context) => {
  const node: GridTransformNode = ctx.scene.requireNode(
    str(c, 'id') ?? 'vtkMRMLGridTransformNode*',
    'gridTransform',
    'grid transform',
  );
  const encoding = oneOf(c, 'encoding', ['raw', 'gzip'] as const) ?? 'raw';
  const lps = gridToLps(node.grid);
  const opts = {
    encoding,
    componentKind: 'vector',
    forceVectorAxis: true,
    keyValues: node.attributes,
  };
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-disposition': attachment(`${node.name}.nrrd`),
    'cache-control': 'no-store',
    'x-node-id': node.id,
  };
  if (encoding === 'raw') headers['content-length'] = String(rawNrrdSize(lps, opts));
  return streamResponse(nrrdChunks(lps, opts), headers);
};

/** POST/PUT: a 4-D displacement NRRD (3 × I × J × K, float/double) creates or replaces a grid transform. */
export const postGridTransform = (ctx: AppContext) => async (c: Context) => {
  const maxBytes = ctx.config.limits.volume;
  const decoded = await decodeNrrdStream(requestChunks(c, maxBytes + (1 << 20)), {
    maxBytes,
    declaredBytes: declaredLength(c),
  });
  const { node, created } = putGridTransform(ctx.scene, {
    id: str(c, 'id'),
    name: str(c, 'name'),
    grid: gridFromNrrd(decoded),
  });
  if (Object.keys(decoded.header.keyValues).length)
    ctx.scene.update<GridTransformNode>(node.id, { attributes: decoded.header.keyValues });
  await persist(ctx);
  return c.json({ success: true, id: node.id, name: node.name, created });
};
