/** `/slicer/mrml*`: node names/ids/properties by filter, delete/clear, load local files, parent transform. */
import path from 'node:path';
import type { Context } from 'hono';
import { AppError, notFound } from '../../errors.js';
import type { TriangleMesh } from '../../imaging/mesh.js';
import type { FileAccess } from '../../scene/file-access.js';
import {
  loadNodesFromFile,
  reloadNodes,
  saveNodeToFile,
  type ReadLimits,
} from '../../scene/mrml-files.js';
import { filterNodes, hasFilter, nodeProperties, type NodeFilter } from '../../scene/mrml.js';
import { setParentTransform } from '../../scene/transforms.js';
import type { AppContext } from '../../server/context.js';
import { requiredStr, str } from '../request.js';
import { persist } from './volumes.js';

const filterOf = (c: Context): NodeFilter => ({
  id: str(c, 'id'),
  class: str(c, 'class'),
  name: str(c, 'name'),
});

export const getNames = (ctx: AppContext) => (c: Context) =>
  c.json(filterNodes(ctx.scene, filterOf(c)).map((n) => n.name));
export const getIds = (ctx: AppContext) => (c: Context) =>
  c.json(filterNodes(ctx.scene, filterOf(c)).map((n) => n.id));

export const getProperties = (ctx: AppContext) => (c: Context) => {
  const nodes = filterNodes(ctx.scene, filterOf(c));
  if (nodes.length === 0) throw notFound('No nodes matched the filter criteria');
  return c.json(Object.fromEntries(nodes.map((n) => [n.id, nodeProperties(ctx.scene, n)])));
};

/** With a filter: removes the matched nodes (none → 404). Without: clears the scene (as Slicer). */
export const deleteNodes = (ctx: AppContext) => async (c: Context) => {
  const f = filterOf(c);
  if (!hasFilter(f)) {
    ctx.scene.clear();
    await persist(ctx);
    return c.json({ success: true, cleared: true });
  }
  const nodes = filterNodes(ctx.scene, f);
  if (nodes.length === 0) throw notFound('No nodes matched the filter criteria');
  ctx.scene.remove(nodes.map((n) => n.id));
  await persist(ctx);
  return c.json({ success: true, removedNodeIDs: nodes.map((n) => n.id) });
};

/** `PUT /slicer/mrml/parent?id=&parentTransformID=` (omitted or `none` clears the parent). */
export const putParent = (ctx: AppContext) => async (c: Context) => {
  const id = requiredStr(c, 'id');
  const p = str(c, 'parentTransformID');
  const node = setParentTransform(ctx.scene, id, p === undefined || p === 'none' ? undefined : p);
  await persist(ctx);
  return c.json({ success: true, id: node.id, parentTransformID: node.parentTransformID ?? null });
};

/** Query parameters that are not reader/writer properties (Slicer passes all others on). */
const NOT_PROPERTIES = new Set(['url', 'localfile', 'fileName', 'access_token']);

/** `url`, and `localfile` or `fileName` (the name Slicer's docs use for `/mrml/file`). */
const sourceOf = (c: Context) => ({
  url: str(c, 'url'),
  localfile: str(c, 'localfile') ?? str(c, 'fileName'),
});

/** Reader/writer properties: every other query parameter, trimmed (as Slicer's parse_qs loop). */
function fileProperties(c: Context): Record<string, string> {
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.req.query()))
    if (!NOT_PROPERTIES.has(k)) props[k] = v.trim();
  return props;
}

/** The folders and origins the server's options allow. */
const accessOf = ({ config }: AppContext): FileAccess => ({
  importRoots: config.importRoots,
  exportRoots: config.exportRoots,
  importUrls: config.importUrls,
  importTimeoutMs: config.importTimeoutMs,
  maxDownloadBytes: config.limits.volume,
  downloadDir: path.join(config.data, 'downloads'),
});

const limitsOf = (ctx: AppContext): ReadLimits => ({
  maxBytes: ctx.config.limits.volume,
  maxJsonBytes: ctx.config.limits.json,
  maxMeshBytes: ctx.config.limits.mesh,
  // Mesh files are parsed in the worker pool (vtk.js readers are synchronous).
  readMesh: async (bytes, format) =>
    (await ctx.renderer.task<{ mesh: TriangleMesh }>({ kind: 'readMesh', bytes, format })).mesh,
});

/**
 * `POST /slicer/mrml?localfile=|url=…&filetype=…[&name=…]`: loads a file as Slicer's
 * `loadNodeFromFile` does → `{"success": true, "loadedNodeIDs": [...]}`. `localfile` must be under
 * an `--import-root`; `url` is an `http(s)` URL of an `--import-url` origin (downloaded with a size
 * and time limit, then loaded), or a `file:` URL (treated as `localfile`). If both are given, `url`
 * wins (as Slicer's code; its docs say the opposite). See scene/mrml-files.ts.
 */
export const postMrml = (ctx: AppContext) => async (c: Context) => {
  const { nodes, type } = await loadNodesFromFile(ctx.scene, accessOf(ctx), limitsOf(ctx), {
    ...sourceOf(c),
    filetype: str(c, 'filetype'),
    props: fileProperties(c),
  });
  await persist(ctx);
  return c.json({ success: true, loadedNodeIDs: nodes.map((n) => n.id), fileType: type.name });
};

/**
 * `GET /slicer/mrml/file?id=|name=|class=&localfile=|url=file:…[&useCompression=…]`: writes one
 * node to a file under an `--export-root` (403 elsewhere) → `{"success": true, …}`. A GET that
 * writes (Slicer's API), so it is flagged `mutates` (token and CSRF guards).
 */
export const getMrmlFile = (ctx: AppContext) => async (c: Context) => {
  const nodes = filterNodes(ctx.scene, filterOf(c));
  const node = nodes[0];
  if (!node) throw notFound('No nodes matched the filter criteria');
  if (nodes.length > 1)
    throw new AppError(
      'invalid_parameter',
      `/mrml/file can only be used for a single node; ${nodes.length} matched (select one with id=)`,
    );
  const { type, file, size } = await saveNodeToFile(ctx.scene, accessOf(ctx), node, {
    ...sourceOf(c),
    props: fileProperties(c),
  });
  return c.json({ success: true, id: node.id, fileType: type.name, localfile: file, size });
};

/**
 * `PUT /slicer/mrml?id=|name=|class=`: re-reads each selected node from the file it was loaded
 * from (Slicer's storage node) → `{"success": true, "reloadedNodeIDs": [...]}`; nodes without a
 * storage file are skipped, and when none could be reloaded → `{"success": false, …}` with the
 * reason (as Slicer, which answers `{"success": false}`). No filter → every node (as Slicer, whose
 * filter then selects class vtkMRMLNode). No match → 404. The stored path must still be under an
 * `--import-root` (or the download cache).
 */
export const putMrml = (ctx: AppContext) => async (c: Context) => {
  const nodes = filterNodes(ctx.scene, filterOf(c));
  if (nodes.length === 0) throw notFound('No nodes matched the filter criteria');
  const { reloaded, skipped } = await reloadNodes(ctx.scene, accessOf(ctx), limitsOf(ctx), nodes);
  await persist(ctx);
  if (reloaded.length === 0)
    return c.json({
      success: false,
      message: `nothing to reload: ${skipped.map((s) => `${s.id} ${s.reason}`).join('; ')}`,
      skipped,
    });
  return c.json({
    success: true,
    reloadedNodeIDs: reloaded,
    ...(skipped.length ? { skipped } : {}),
  });
};
