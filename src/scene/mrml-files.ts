/**
 * Nodes to and from files, as Slicer's `loadNodeFromFile`, `exportNode` and storage-node reload:
 * the work behind `POST /slicer/mrml` (load a `localfile` or `url`), `GET /slicer/mrml/file`
 * (write one node) and `PUT /slicer/mrml` (reload from the stored file). Which folders and origins
 * may be reached is a `FileAccess` (scene/file-access.ts); the file types are one table
 * (scene/file-types.ts). No HTTP here.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, missingParameter } from '../errors.js';
import type { MeshFormat } from '../imaging/mesh-io.js';
import type { TriangleMesh } from '../imaging/mesh.js';
import {
  downloadToCache,
  isInside,
  parseUrlParam,
  resolveExportPath,
  resolveImportPath,
  type FileAccess,
} from './file-access.js';
import {
  baseName,
  fileTypeForFileName,
  fileTypeForNode,
  fileTypeNamed,
  loadFile,
  STORAGE_FILE,
  STORAGE_TYPE,
  supportedFileTypes,
  type FileType,
} from './file-types.js';
import type { Scene, SceneNode } from './scene.js';

/** Size limits of the readers, and the mesh parser (the server passes its worker pool). */
export interface ReadLimits {
  maxBytes: number;
  maxJsonBytes: number;
  maxMeshBytes: number;
  readMesh: (bytes: Uint8Array, format: MeshFormat | undefined) => Promise<TriangleMesh>;
}

/** Where a file is (`url` wins over `localfile`, as Slicer's code; its docs say the opposite). */
export interface FileSource {
  /** `http(s)` URL of an allowed origin (downloaded first), or a `file:` URL (as `localfile`). */
  url?: string;
  /** Path under an import root (reads) or export root (writes). */
  localfile?: string;
}

/** `filetype=`, else the type the file name implies, else 400 listing the supported types. */
function fileTypeOf(filetype: string | undefined, file: string): FileType {
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
 * Loads a file as new nodes (Slicer's `loadNodeFromFile`); a download that fails to load is
 * removed from the cache.
 */
export async function loadNodesFromFile(
  scene: Scene,
  access: FileAccess,
  limits: ReadLimits,
  req: FileSource & { filetype?: string; props: Record<string, string> },
): Promise<{ nodes: SceneNode[]; type: FileType }> {
  const { url, localfile } = req;
  if (url === undefined && localfile === undefined)
    throw missingParameter('localfile', 'or url is required (the file to load)');
  const type = fileTypeOf(req.filetype, url ?? localfile ?? '');
  let file: string;
  let downloaded = false;
  if (url !== undefined) {
    const parsed = parseUrlParam(url);
    if (parsed.protocol === 'file:') file = await resolveImportPath(access, fileURLToPath(parsed));
    else {
      file = await downloadToCache(access, parsed);
      downloaded = true;
    }
  } else file = await resolveImportPath(access, localfile ?? '');
  try {
    const nodes = await loadFile(type, {
      scene,
      file,
      props: req.props,
      ...limits,
      defaultName:
        url !== undefined ? baseName(decodeURIComponent(new URL(url).pathname)) : undefined,
    });
    return { nodes, type };
  } catch (e) {
    if (downloaded) await fsp.rm(file, { force: true });
    throw e;
  }
}

/** Writes one node to a file under an export root (Slicer's `exportNode`). */
export async function saveNodeToFile(
  scene: Scene,
  access: FileAccess,
  node: SceneNode,
  req: FileSource & { props: Record<string, string> },
): Promise<{ type: FileType; file: string; size: number }> {
  let target: string;
  if (req.url !== undefined) {
    const u = parseUrlParam(req.url);
    if (u.protocol !== 'file:')
      throw new AppError('invalid_parameter', 'url: only file: URLs name a file to write', {
        parameter: 'url',
      });
    target = fileURLToPath(u);
  } else if (req.localfile !== undefined) target = req.localfile;
  else throw missingParameter('localfile', 'or url (file:) is required (where to write)');
  const type = fileTypeForNode(node);
  const file = await resolveExportPath(access, target);
  await type.save.write({ scene, node, file, props: req.props });
  const size = (await fsp.stat(file)).size;
  return { type, file, size };
}

/**
 * Re-reads each node from the file it was loaded from (Slicer's storage node); nodes without a
 * storage file are skipped with the reason. The stored path must still be under an import root
 * (or in the download cache).
 */
export async function reloadNodes(
  scene: Scene,
  access: FileAccess,
  limits: ReadLimits,
  nodes: readonly SceneNode[],
): Promise<{ reloaded: string[]; skipped: Array<{ id: string; reason: string }> }> {
  const reloaded: string[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  for (const node of nodes) {
    const stored = node.attributes[STORAGE_FILE];
    const typeName = node.attributes[STORAGE_TYPE];
    if (!stored || !typeName) {
      skipped.push({ id: node.id, reason: 'not loaded from a file' });
      continue;
    }
    const inCache = isInside(path.resolve(access.downloadDir), path.resolve(stored));
    const file = inCache ? stored : await resolveImportPath(access, stored);
    await loadFile(fileTypeNamed(typeName), { scene, file, props: {}, ...limits, into: node });
    reloaded.push(node.id);
  }
  return { reloaded, skipped };
}
