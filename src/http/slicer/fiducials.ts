/** `/slicer/fiducials`, `/slicer/fiducial` (points) and `/slicer/markups` (.mrk.json import/export). */
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import {
  addPoint,
  createFiducialList,
  fiducialsJson,
  findList,
  importMarkups,
  markupsJson,
  removePoint,
  setPoint,
} from '../../scene/fiducials.js';
import type { FiducialNode } from '../../scene/scene.js';
import type { AppContext } from '../../server/context.js';
import { readJson } from '../body.js';
import { int, num, numList, oneOf, requiredStr, str } from '../request.js';
import { attachment } from './streams.js';
import { persist } from './volumes.js';

const coords = (c: Context) => ({ r: num(c, 'r'), a: num(c, 'a'), s: num(c, 's') });
const pointReply = (r: {
  node: FiducialNode;
  index: number;
  point: { label: string; position: number[] };
}) => ({
  success: true,
  id: r.node.id,
  index: r.index,
  label: r.point.label,
  position: r.point.position,
});

export const getFiducials = (ctx: AppContext) => (c: Context) => c.json(fiducialsJson(ctx.scene));

/** `POST /slicer/fiducials?name=&color=r,g,b&scale=`: a new empty list. */
export const postFiducials = (ctx: AppContext) => async (c: Context) => {
  const color = numList(c, 'color', 3) as [number, number, number] | undefined;
  const scale = num(c, 'scale');
  if (scale !== undefined && !(scale > 0))
    throw new AppError('invalid_parameter', 'scale: must be > 0', { parameter: 'scale' });
  const node = createFiducialList(ctx.scene, {
    name: str(c, 'name'),
    color,
    selectedColor: color,
    scale,
  });
  await persist(ctx);
  return c.json({ success: true, id: node.id, name: node.name });
};

/** `DELETE /slicer/fiducials?id=`: removes a whole list. */
export const deleteFiducials = (ctx: AppContext) => async (c: Context) => {
  const node = findList(ctx.scene, requiredStr(c, 'id'));
  ctx.scene.remove([node.id]);
  await persist(ctx);
  return c.json({ success: true, id: node.id });
};

/** Slicer's `PUT /slicer/fiducial?id=&index=&r=&a=&s=` (+ `label=`): moves/relabels a point. */
export const putFiducial = (ctx: AppContext) => async (c: Context) => {
  const r = setPoint(ctx.scene, str(c, 'id'), int(c, 'index') ?? 0, coords(c), str(c, 'label'));
  await persist(ctx);
  return c.json(pointReply(r));
};

/** `POST /slicer/fiducial?id=&r=&a=&s=&label=`: appends a point (first list, or a new one, without id). */
export const postFiducial = (ctx: AppContext) => async (c: Context) => {
  const r = addPoint(ctx.scene, str(c, 'id'), coords(c), str(c, 'label'));
  await persist(ctx);
  return c.json(pointReply(r));
};

/** `DELETE /slicer/fiducial?id=&index=`: removes one point (index required). */
export const deleteFiducial = (ctx: AppContext) => async (c: Context) => {
  const index = int(c, 'index');
  if (index === undefined)
    throw new AppError(
      'missing_parameter',
      'index is required (to delete a whole list use DELETE /slicer/fiducials?id=)',
      { parameter: 'index' },
    );
  const node = removePoint(ctx.scene, str(c, 'id'), index);
  await persist(ctx);
  return c.json({ success: true, id: node.id, remaining: node.points.length });
};

/** `GET /slicer/markups?id=&coordinateSystem=LPS|RAS`: a list as Slicer markups JSON. */
export const getMarkups = (ctx: AppContext) => (c: Context) => {
  const node = findList(ctx.scene, str(c, 'id'));
  const cs = oneOf(c, 'coordinateSystem', ['LPS', 'RAS'] as const) ?? 'LPS';
  return c.body(JSON.stringify(markupsJson(node, cs), null, 2), 200, {
    'content-type': 'application/json; charset=utf-8',
    'content-disposition': attachment(`${node.name}.mrk.json`),
  });
};

/** `POST /slicer/markups?name=` with a .mrk.json body: one new list per Fiducial markup. */
export const postMarkups = (ctx: AppContext) => async (c: Context) => {
  const doc = await readJson(c, ctx.config.limits.json);
  const nodes = importMarkups(ctx.scene, doc, str(c, 'name'));
  await persist(ctx);
  return c.json({ success: true, loadedNodeIDs: nodes.map((n) => n.id) });
};
