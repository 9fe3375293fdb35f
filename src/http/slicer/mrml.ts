/** `/slicer/mrml*`: node names/ids/properties by filter, delete/clear, load local files, parent transform. */
import { promises as fsp, createReadStream } from 'node:fs';
import path from 'node:path';
import type { Context } from 'hono';
import { AppError, missingParameter, notFound } from '../../errors.js';
import { decodeNrrdStream } from '../../imaging/nrrd.js';
import { importMarkups } from '../../scene/fiducials.js';
import { filterNodes, hasFilter, nodeProperties, type NodeFilter } from '../../scene/mrml.js';
import {
  gridFromNrrd,
  matrixToParentFromItkText,
  parseMatrix,
  putGridTransform,
  putLinearTransform,
  setParentTransform,
} from '../../scene/transforms.js';
import { putVolume } from '../../scene/volumes.js';
import type { AppContext } from '../../server/context.js';
import { formatBytes } from '../body.js';
import { bool, requiredStr, str } from '../request.js';
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

/** Resolves `localfile` inside an allowed import root (real paths: no `..` or symlink escapes). */
export async function resolveImportPath(ctx: AppContext, localfile: string): Promise<string> {
  const roots = ctx.config.importRoots;
  if (roots.length === 0)
    throw new AppError(
      'forbidden',
      'loading local files is disabled; start voxelgate with --import-root DIR to allow files under DIR',
    );
  const candidate = path.isAbsolute(localfile) ? localfile : path.resolve(roots[0]!, localfile);
  let real: string;
  try {
    real = await fsp.realpath(candidate);
  } catch {
    // do not reveal whether paths outside the roots exist
    const inside = roots.some((r) => isInside(path.resolve(r), path.resolve(candidate)));
    if (!inside)
      throw new AppError('forbidden', `localfile is not under an --import-root folder`, {
        parameter: 'localfile',
      });
    throw new AppError('not_found', `localfile ${localfile} does not exist`, {
      parameter: 'localfile',
    });
  }
  for (const r of roots) {
    const rootReal = await fsp.realpath(r).catch(() => undefined);
    if (rootReal && isInside(rootReal, real)) {
      const st = await fsp.stat(real);
      if (!st.isFile())
        throw new AppError('invalid_parameter', `localfile ${localfile} is not a file`, {
          parameter: 'localfile',
        });
      return real;
    }
  }
  throw new AppError('forbidden', `localfile is not under an --import-root folder`, {
    parameter: 'localfile',
  });
}

const isInside = (root: string, p: string) =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

const FILETYPES = ['VolumeFile', 'MarkupsFile', 'TransformFile'] as const;

/** `POST /slicer/mrml?localfile=&filetype=[&name=&labelmap=]`: loads a local file as Slicer's. */
export const postMrml = (ctx: AppContext) => async (c: Context) => {
  if (c.req.query('url') !== undefined)
    throw new AppError(
      'invalid_parameter',
      'url: loading from URLs is not supported; use localfile= with a file under an --import-root folder',
      { parameter: 'url' },
    );
  const localfile = str(c, 'localfile');
  if (localfile === undefined) throw missingParameter('localfile');
  const filetype = str(c, 'filetype');
  if (filetype === undefined)
    throw missingParameter('filetype', `is required (one of ${FILETYPES.join(', ')})`);
  if (!(FILETYPES as readonly string[]).includes(filetype))
    throw new AppError(
      'invalid_parameter',
      `filetype: ${filetype} is not supported; use one of ${FILETYPES.join(', ')}`,
      { parameter: 'filetype' },
    );
  const file = await resolveImportPath(ctx, localfile);
  const name = str(c, 'name');
  const lower = file.toLowerCase();
  const readNrrd = () =>
    decodeNrrdStream(createReadStream(file, { highWaterMark: 4 << 20 }), {
      maxBytes: ctx.config.limits.volume,
    });
  const baseName = path.basename(file).replace(/\.(nrrd|nhdr|mrk\.json|json|txt|tfm|h5)$/i, '');
  let ids: string[];
  if (filetype === 'VolumeFile') {
    if (!lower.endsWith('.nrrd'))
      throw new AppError(
        'unprocessable',
        'VolumeFile: only .nrrd files (attached header) are supported',
      );
    const decoded = await readNrrd();
    ids = [
      putVolume(ctx.scene, { name: name ?? baseName, labelmap: bool(c, 'labelmap'), decoded }).node
        .id,
    ];
  } else if (filetype === 'MarkupsFile') {
    const doc = await readJsonFile(file, ctx.config.limits.json);
    ids = importMarkups(ctx.scene, doc, name).map((n) => n.id);
  } else if (lower.endsWith('.nrrd')) {
    ids = [
      putGridTransform(ctx.scene, { name: name ?? baseName, grid: gridFromNrrd(await readNrrd()) })
        .node.id,
    ];
  } else if (lower.endsWith('.json')) {
    const doc = (await readJsonFile(file, ctx.config.limits.json)) as {
      matrix?: unknown;
    } | null;
    ids = [
      putLinearTransform(ctx.scene, { name: name ?? baseName, matrix: parseMatrix(doc?.matrix) })
        .node.id,
    ];
  } else if (lower.endsWith('.txt') || lower.endsWith('.tfm')) {
    if ((await fsp.stat(file)).size > ctx.config.limits.json)
      throw new AppError(
        'payload_too_large',
        'transform file is larger than the JSON limit (--limit-json)',
      );
    const text = await fsp.readFile(file, 'utf8');
    ids = [
      putLinearTransform(ctx.scene, {
        name: name ?? baseName,
        matrix: matrixToParentFromItkText(text),
      }).node.id,
    ];
  } else {
    throw new AppError(
      'unprocessable',
      'TransformFile: use a grid transform .nrrd, a .json {"matrix": …} or an ITK .txt/.tfm affine transform',
    );
  }
  await persist(ctx);
  return c.json({ success: true, loadedNodeIDs: ids });
};

async function readJsonFile(file: string, limit: number): Promise<unknown> {
  const st = await fsp.stat(file);
  if (st.size > limit)
    throw new AppError(
      'payload_too_large',
      `JSON file is larger than the JSON limit (--limit-json, ${formatBytes(limit)})`,
    );
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    throw new AppError(
      'unprocessable',
      `${path.basename(file)} is not valid JSON: ${(e as Error).message}`,
    );
  }
}
