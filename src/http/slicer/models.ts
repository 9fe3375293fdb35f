/**
 * `/slicer/models`, `/slicer/model`: model nodes from mesh files (STL, OBJ, PLY, VTK legacy, VTP),
 * read in the worker pool; out as STL, OBJ, PLY, VTK (LPS, as Slicer writes) or GLB (glTF axes).
 */
import type { Context } from 'hono';
import { AppError, invalidParameter } from '../../errors.js';
import { MESH_FORMATS, type MeshFormat, type MeshFrame } from '../../imaging/mesh-io.js';
import type { TriangleMesh } from '../../imaging/mesh.js';
import type { Vec3 } from '../../imaging/types.js';
import {
  MODEL_FILE_FORMATS,
  modelFile,
  surfacesDocument,
  toGlb,
  toGltfJson,
  type ModelFileFormat,
} from '../../render/gltf-export.js';
import { buildSegmentSurfaces } from '../../scene/build-surfaces.js';
import { findModel, listModels, putModel, visibleSurfaces } from '../../scene/models.js';
import type { ModelDisplay, ModelNode } from '../../scene/scene.js';
import { segmentationOrFirst } from '../../scene/segmentations.js';
import type { AppContext } from '../../server/context.js';
import { readBody } from '../body.js';
import { bool, num, numList, oneOf, requiredStr, str } from '../request.js';
import { attachment } from './streams.js';
import { persist } from './volumes.js';

export const getModels = (ctx: AppContext) => (c: Context) => c.json(listModels(ctx.scene));

/** Display fields from the query (`color=r,g,b` 0..1, `opacity`, `visible`). */
function displayOf(c: Context): Partial<ModelDisplay> {
  const d: Partial<ModelDisplay> = {};
  const color = numList(c, 'color', 3);
  if (color) {
    if (color.some((v) => v < 0 || v > 1))
      throw invalidParameter('color', 'expected three numbers 0..1 (r,g,b)');
    d.color = color as Vec3;
  }
  const opacity = num(c, 'opacity');
  if (opacity !== undefined) {
    if (opacity < 0 || opacity > 1) throw invalidParameter('opacity', 'expected 0..1');
    d.opacity = opacity;
  }
  const visible = bool(c, 'visible');
  if (visible !== undefined) d.visible = visible;
  return d;
}

/** Reads a mesh body in the worker pool (format from `format`, else sniffed; frame from `coordinateSystem`, else the header, else LPS). */
export async function meshFromBody(
  ctx: AppContext,
  c: Context,
): Promise<{ mesh: TriangleMesh; format: MeshFormat; frame: MeshFrame }> {
  const format = oneOf(c, 'format', MESH_FORMATS);
  const frame = oneOf(c, 'coordinateSystem', ['RAS', 'LPS'] as const);
  const bytes = await readBody(c, ctx.config.limits.mesh);
  if (bytes.length === 0)
    throw new AppError(
      'bad_request',
      'expected a mesh file (STL, OBJ, PLY, VTK or VTP) as the body',
    );
  return ctx.renderer.task({ kind: 'readMesh', bytes: new Uint8Array(bytes), format, frame });
}

/**
 * PUT/POST: a mesh body → new model (`name`), or the surface of model `id` replaced. With `id` and
 * no body, only the display fields change.
 */
export const putModelHandler = (ctx: AppContext) => async (c: Context) => {
  const id = str(c, 'id');
  const name = str(c, 'name');
  const display = displayOf(c);
  const empty = c.req.header('content-length') === '0' || !c.req.raw.body;
  if (id !== undefined && empty) {
    const node = findModel(ctx.scene, id);
    ctx.scene.update<ModelNode>(node.id, {
      display: { ...node.display, ...display },
      ...(name ? { name } : {}),
    });
    await persist(ctx);
    return c.json({ success: true, id: node.id, name: name ?? node.name, class: node.className });
  }
  const { mesh, format, frame } = await meshFromBody(ctx, c);
  const { node, created } = putModel(ctx.scene, {
    id: id !== undefined ? findModel(ctx.scene, id).id : undefined,
    name,
    mesh,
    display,
  });
  await persist(ctx);
  return c.json({
    success: true,
    id: node.id,
    name: node.name,
    class: node.className,
    created,
    format,
    coordinateSystem: frame,
    numberOfPoints: mesh.positions.length / 3,
    numberOfTriangles: mesh.indices.length / 3,
  });
};

const TYPES: Record<ModelFileFormat, string> = {
  stl: 'model/stl',
  obj: 'model/obj',
  ply: 'application/octet-stream',
  vtk: 'application/octet-stream',
  glb: 'model/gltf-binary',
};

/** GET: the model as a file (`format=stl|obj|ply|vtk|glb`, default stl). */
export const getModel = (ctx: AppContext) => async (c: Context) => {
  const node = findModel(ctx.scene, requiredStr(c, 'id'));
  const format = oneOf(c, 'format', MODEL_FILE_FORMATS) ?? 'stl';
  const body = await modelFile(node, format);
  return new Response(body, {
    headers: {
      'content-type': TYPES[format],
      'content-disposition': attachment(`${node.name}.${format}`),
      'cache-control': 'no-store',
      'x-node-id': node.id,
    },
  });
};

export const deleteModel = (ctx: AppContext) => async (c: Context) => {
  const node = findModel(ctx.scene, requiredStr(c, 'id'));
  ctx.scene.remove([node.id]);
  await persist(ctx);
  return c.json({ success: true, id: node.id });
};

/**
 * `GET /slicer/threeDGraphics[?widgetIndex=0&boxVisible=false&format=gltf|glb]`: the 3D view's
 * visible surfaces as glTF 2.0 — JSON with the buffer embedded (Slicer's default, served as
 * `application/json`) or binary `.glb`. Axes: see `render/gltf-export.ts` and docs/graphics.md.
 */
export const getThreeDGraphics = (ctx: AppContext) => async (c: Context) => {
  const widget = str(c, 'widgetIndex');
  if (widget !== undefined && widget !== '0')
    throw invalidParameter('widgetIndex', 'there is one 3D view (0)');
  bool(c, 'boxVisible'); // parsed for Slicer compatibility; no bounding box is drawn
  const raw = str(c, 'format')?.toLowerCase() ?? 'gltf';
  if (raw !== 'gltf' && raw !== 'glb')
    throw invalidParameter('format', `expected gltf or glb, got "${raw}"`);
  const doc = surfacesDocument(visibleSurfaces(ctx.scene));
  if (raw === 'glb')
    return new Response(await toGlb(doc), {
      headers: {
        'content-type': 'model/gltf-binary',
        'content-disposition': attachment('scene.glb'),
        'cache-control': 'no-store',
      },
    });
  return new Response(await toGltfJson(doc), {
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
};

/**
 * `POST /slicer/segmentation/surfaces?id=<segmentation>[&segmentId=][&smoothing=0..1]
 * [&decimation=0..0.95][&asModels=false]`: each segment's closed surface (marching cubes on its
 * binary labelmap, windowed-sinc smoothing, decimation) built in the worker pool and kept with the
 * segmentation (drawn by /slicer/threeD and exported by threeDGraphics); with `asModels=true`
 * each surface also becomes a model node.
 */
export const postSegmentSurfaces = (ctx: AppContext) => async (c: Context) => {
  const node = segmentationOrFirst(ctx.scene, str(c, 'id'));
  const segmentId = str(c, 'segmentId');
  const smoothing = num(c, 'smoothing') ?? 0.5;
  const decimation = num(c, 'decimation') ?? 0;
  if (smoothing < 0 || smoothing > 1) throw invalidParameter('smoothing', 'expected 0..1');
  if (decimation < 0 || decimation > 0.95)
    throw invalidParameter('decimation', 'expected 0..0.95 (the fraction of triangles removed)');
  const asModels = bool(c, 'asModels') ?? false;
  const { segments, modelIDs } = await buildSegmentSurfaces(
    ctx.scene,
    node,
    { segmentId, smoothing, decimation, asModels },
    (mask, geometry, options) =>
      ctx.renderer.task<TriangleMesh>({ kind: 'surface', mask, geometry, options }),
  );
  if (asModels) await persist(ctx);
  return c.json({ success: true, id: node.id, segments, ...(asModels ? { modelIDs } : {}) });
};
