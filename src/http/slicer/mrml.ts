/** `/slicer/mrml*`: node names/ids/properties by filter, delete/clear, load local files, parent transform. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { AppError, missingParameter, notFound } from '../../errors.js';
import {
  baseName,
  fileTypeForFileName,
  fileTypeForNode,
  fileTypeNamed,
  loadFile,
  STORAGE_FILE,
  STORAGE_TYPE,
  supportedFileTypes,
} from '../../scene/file-types.js';
import { filterNodes, hasFilter, nodeProperties, type NodeFilter } from '../../scene/mrml.js';
import { setParentTransform } from '../../scene/transforms.js';
import type { MeshFormat } from '../../imaging/mesh-io.js';
import type { TriangleMesh } from '../../imaging/mesh.js';
import type { AppContext } from '../../server/context.js';
import { requiredStr, str } from '../request.js';
import {
  downloadDir,
  downloadToCache,
  isInside,
  parseUrlParam,
  resolveExportPath,
  resolveImportPath,
} from './file-access.js';
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

/** `localfile`, or `fileName` (the name Slicer's docs use for `/mrml/file`, sent by some clients). */
const localfileOf = (c: Context) => str(c, 'localfile') ?? str(c, 'fileName');

/** Reader/writer properties: every other query parameter, trimmed (as Slicer's parse_qs loop). */
function fileProperties(c: Context): Record<string, string> {
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.req.query()))
    if (!NOT_PROPERTIES.has(k)) props[k] = v.trim();
  return props;
}

const loadLimits = (ctx: AppContext) => ({
  maxBytes: ctx.config.limits.volume,
  maxJsonBytes: ctx.config.limits.json,
  maxMeshBytes: ctx.config.limits.mesh,
  // Mesh files are parsed in the worker pool (vtk.js readers are synchronous).
  readMesh: async (bytes: Uint8Array, format: MeshFormat | undefined) =>
    (await ctx.renderer.task<{ mesh: TriangleMesh }>({ kind: 'readMesh', bytes, format })).mesh,
});

/**
 * `POST /slicer/mrml?localfile=|url=…&filetype=…[&name=…]`: loads a file as Slicer's
 * `loadNodeFromFile` does → `{"success": true, "loadedNodeIDs": [...]}`. `localfile` must be under
 * an `--import-root`; `url` is an `http(s)` URL of an `--import-url` origin (downloaded with a size
 * and time limit, then loaded), or a `file:` URL (treated as `localfile`). If both are given, `url`
 * wins (as Slicer's code; its docs say the opposite). The file types are one table
 * (scene/file-types.ts).
 */
export const postMrml = (ctx: AppContext) => async (c: Context) => {
  const url = str(c, 'url');
  const localfile = localfileOf(c);
  if (url === undefined && localfile === undefined)
    throw missingParameter('localfile', 'or url is required (the file to load)');
  const type = fileTypeOf(str(c, 'filetype'), url ?? localfile!);
  const props = fileProperties(c);
  let file: string;
  let downloaded = false;
  if (url !== undefined) {
    const parsed = parseUrlParam(url);
    if (parsed.protocol === 'file:') file = await resolveImportPath(ctx, fileURLToPath(parsed));
    else {
      file = await downloadToCache(ctx, parsed);
      downloaded = true;
    }
  } else file = await resolveImportPath(ctx, localfile!);
  let nodes;
  try {
    nodes = await loadFile(type, {
      scene: ctx.scene,
      file,
      props,
      ...loadLimits(ctx),
      defaultName:
        url !== undefined ? baseName(decodeURIComponent(new URL(url).pathname)) : undefined,
    });
  } catch (e) {
    if (downloaded) await fsp.rm(file, { force: true });
    throw e;
  }
  await persist(ctx);
  return c.json({ success: true, loadedNodeIDs: nodes.map((n) => n.id), fileType: type.name });
};

/** `filetype=`, else the type the file name implies, else 400 listing the supported types. */
function fileTypeOf(filetype: string | undefined, file: string) {
  if (filetype !== undefined) return fileTypeNamed(filetype);
  const named = file.replace(/[?#].*$/, '');
  const implied = fileTypeForFileName(named);
  if (!implied)
    throw missingParameter(
      'filetype',
      `is required for ${path.basename(named)} (one of ${supportedFileTypes()})`,
    );
  return implied;
}

/**
 * `GET /slicer/mrml/file?id=|name=|class=&localfile=|url=file:…[&useCompression=…]`: writes one
 * node to a file under an `--export-root` (403 elsewhere) → `{"success": true, …}`. A GET that
 * writes (Slicer's API), so it is flagged `mutates` (token and CSRF guards).
 */
export const getMrmlFile = (ctx: AppContext) => async (c: Context) => {
  const nodes = filterNodes(ctx.scene, filterOf(c));
  if (nodes.length === 0) throw notFound('No nodes matched the filter criteria');
  if (nodes.length > 1)
    throw new AppError(
      'invalid_parameter',
      `/mrml/file can only be used for a single node; ${nodes.length} matched (select one with id=)`,
    );
  const url = str(c, 'url');
  const localfile = localfileOf(c);
  let target: string;
  if (url !== undefined) {
    const u = parseUrlParam(url);
    if (u.protocol !== 'file:')
      throw new AppError('invalid_parameter', 'url: only file: URLs name a file to write', {
        parameter: 'url',
      });
    target = fileURLToPath(u);
  } else if (localfile !== undefined) target = localfile;
  else throw missingParameter('localfile', 'or url (file:) is required (where to write)');
  const node = nodes[0]!;
  const type = fileTypeForNode(node);
  const file = await resolveExportPath(ctx, target);
  await type.save.write({ scene: ctx.scene, node, file, props: fileProperties(c) });
  const size = (await fsp.stat(file)).size;
  return c.json({ success: true, id: node.id, fileType: type.name, localfile: file, size });
};

/**
 * `PUT /slicer/mrml?id=|name=|class=`: re-reads each selected node from the file it was loaded
 * from (Slicer's storage node) → `{"success": true, "reloadedNodeIDs": [...]}`; nodes without a
 * storage file are skipped, and when none could be reloaded → `{"success": false, …}` with the
 * reason (as Slicer, which answers `{"success": false}`). No filter → every node (as Slicer).
 * No match → 404. The stored path must
 * still be under an `--import-root` (or the download cache).
 */
export const putMrml = (ctx: AppContext) => async (c: Context) => {
  // Without a filter Slicer's filter selects every node (class vtkMRMLNode): all nodes that
  // have a storage file are reloaded.
  const nodes = filterNodes(ctx.scene, filterOf(c));
  if (nodes.length === 0) throw notFound('No nodes matched the filter criteria');
  const reloaded: string[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  for (const node of nodes) {
    const stored = node.attributes[STORAGE_FILE];
    const typeName = node.attributes[STORAGE_TYPE];
    if (!stored || !typeName) {
      skipped.push({ id: node.id, reason: 'not loaded from a file' });
      continue;
    }
    const inCache = isInside(path.resolve(downloadDir(ctx)), path.resolve(stored));
    const file = inCache ? stored : await resolveImportPath(ctx, stored);
    await loadFile(fileTypeNamed(typeName), {
      scene: ctx.scene,
      file,
      props: {},
      ...loadLimits(ctx),
      into: node,
    });
    reloaded.push(node.id);
  }
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
