/**
 * Slicer file types (`filetype=` of `POST /slicer/mrml`, the writer of `GET /slicer/mrml/file`,
 * the reload of `PUT /slicer/mrml`): ONE table. A new kind of node (segmentations, models…) adds
 * one entry with its `load` (and `save`) and every route picks it up; names Slicer has that are
 * not in the table get a 400 listing the supported ones.
 *
 * A node loaded from a file remembers it in two attributes (`storage.fileName`,
 * `storage.fileType`), as Slicer's storage node does, so `PUT /slicer/mrml` can re-read it.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { invert4, mat4LpsToRas } from '../imaging/geometry.js';
import { decodeNrrdStream, nrrdChunks } from '../imaging/nrrd.js';
import type { Mat4 } from '../imaging/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { createFiducialList, markupsJson, parseMarkupsJson } from './fiducials.js';
import type { FiducialNode, Scene, SceneNode } from './scene.js';
import {
  gridFromNrrd,
  gridToLps,
  matrixToParentFromItkText,
  parseMatrix,
  putGridTransform,
  putLinearTransform,
} from './transforms.js';
import { nrrdOptionsFor, putVolume } from './volumes.js';
import { putSegmentation } from './segmentations.js';
import { segNrrdChunks } from '../imaging/seg-nrrd.js';
import { booleanWord } from '../util/words.js';
import { readMesh, writeMesh, type MeshFormat, type MeshWriteFormat } from '../imaging/mesh-io.js';
import type { TriangleMesh } from '../imaging/mesh.js';
import { putModel } from './models.js';
import {
  parseTableSchema,
  parseTableText,
  putTable,
  tableSchemaText,
  tableText,
} from './tables.js';

/**
 * `name.csv` → `name.schema.csv`, `name.tsv` → `name.schema.tsv`: the column-type file next to a
 * table file (Slicer's vtkMRMLTableStorageNode inserts `.schema` before the extension).
 */
const schemaFileOf = (file: string) => file.replace(/(\.(csv|tsv|txt))$/i, '.schema$1');
const separatorOf = (file: string) =>
  /\.csv$/i.test(file) ? ',' : /\.(tsv|txt)$/i.test(file) ? '\t' : undefined;

export const STORAGE_FILE = 'storage.fileName';
export const STORAGE_TYPE = 'storage.fileType';

export interface LoadRequest {
  scene: Scene;
  /** Absolute path of a readable file (already checked against the allowed folders). */
  file: string;
  /** Reader properties from the query (`name`, `labelmap`, …), as Slicer passes them on. */
  props: Record<string, string>;
  /** Largest voxel/binary file and largest JSON/text file, in bytes. */
  maxBytes: number;
  maxJsonBytes: number;
  /** Reload: put the content into this node instead of creating new ones. */
  into?: SceneNode;
  /** Largest mesh file (ModelFile), bytes; default `maxBytes`. */
  maxMeshBytes?: number;
  /** Parses mesh bytes (the server passes its worker pool); default: on this thread. */
  readMesh?: (bytes: Uint8Array, format: MeshFormat | undefined) => Promise<TriangleMesh>;
  /** Name for new nodes when `props.name` is absent (default: the file's base name). */
  defaultName?: string;
}

export interface SaveRequest {
  scene: Scene;
  node: SceneNode;
  /** Absolute path to write (already checked against the allowed folders). */
  file: string;
  /** Writer properties (`useCompression`, …). */
  props: Record<string, string>;
}

export interface FileType {
  /** Slicer's name of the file type (`VolumeFile`, …). */
  name: string;
  /** What it reads and writes, for messages. */
  formats: string;
  load(req: LoadRequest): Promise<SceneNode[]>;
  /** Node kinds this type writes, and how; absent → the type is load-only. */
  save?: { kinds: Array<SceneNode['kind']>; write(req: SaveRequest): Promise<void> };
}

const truthy = (v: string | undefined) => v !== undefined && booleanWord(v) === true;
const falsy = (v: string | undefined) => v !== undefined && booleanWord(v) === false;

/** `name.nrrd`, `name.seg.nrrd`, `name.mrk.json` → `name`. */
export function baseName(file: string): string {
  return path
    .basename(file)
    .replace(/\.(seg\.nrrd|mrk\.json|nii\.gz|nrrd|nhdr|json|txt|tfm|h5)$/i, '');
}

const unprocessable = (msg: string) => new AppError('unprocessable', msg);

async function readNrrd(req: LoadRequest) {
  if (!/\.nrrd$/i.test(req.file))
    throw unprocessable(
      `${path.basename(req.file)}: only .nrrd files (attached header) are supported`,
    );
  return decodeNrrdStream(createReadStream(req.file, { highWaterMark: 4 << 20 }), {
    maxBytes: req.maxBytes,
  });
}

async function readText(file: string, limit: number): Promise<string> {
  const st = await fsp.stat(file);
  if (st.size > limit)
    throw new AppError(
      'payload_too_large',
      `${path.basename(file)} is larger than the JSON/text limit (--limit-json)`,
    );
  return fsp.readFile(file, 'utf8');
}

async function readJson(file: string, limit: number): Promise<unknown> {
  const text = await readText(file, limit);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw unprocessable(`${path.basename(file)} is not valid JSON: ${(e as Error).message}`);
  }
}

const wrongKind = (into: SceneNode, type: string) =>
  new AppError('conflict', `${into.id} is a ${into.className}; ${type} cannot reload into it`);

/** ITK affine text of a node's transform from parent (the inverse of `matrixToParentFromItkText`). */
export function itkTextFromMatrixToParent(matrixToParent: Mat4): string {
  // RAS→LPS is its own inverse (flip x and y), so mat4LpsToRas also maps RAS to LPS.
  const m = mat4LpsToRas(invert4(matrixToParent));
  const fmt = (x: number) => (Object.is(x, -0) ? 0 : x).toPrecision(17).replace(/\.?0+$/, '');
  const params = [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10], m[3], m[7], m[11]];
  return [
    '#Insight Transform File V1.0',
    '#Transform 0',
    'Transform: AffineTransform_double_3_3',
    `Parameters: ${params.map(fmt).join(' ')}`,
    'FixedParameters: 0 0 0',
    '',
  ].join('\n');
}

export const FILE_TYPES: readonly FileType[] = [
  {
    name: 'VolumeFile',
    formats: '.nrrd (attached header); writes .nrrd (useCompression=false for raw)',
    async load(req) {
      const decoded = await readNrrd(req);
      if (req.into && req.into.kind !== 'volume') throw wrongKind(req.into, 'VolumeFile');
      const labelmap = truthy(req.props.labelmap)
        ? true
        : falsy(req.props.labelmap)
          ? false
          : undefined;
      const { node } = putVolume(req.scene, {
        id: req.into?.id,
        name: req.into ? undefined : (req.props.name ?? req.defaultName ?? baseName(req.file)),
        labelmap,
        decoded,
      });
      return [node];
    },
    save: {
      kinds: ['volume'],
      async write({ node, file, props }) {
        if (node.kind !== 'volume') throw wrongKind(node, 'VolumeFile');
        // Slicer's volume writer compresses unless useCompression is false.
        const encoding = falsy(props.useCompression) ? 'raw' : 'gzip';
        await writeFileAtomic(file, nrrdChunks(node.volume, nrrdOptionsFor(node, encoding)));
      },
    },
  },
  {
    name: 'MarkupsFile',
    formats: 'Slicer markups JSON (.mrk.json, Fiducial lists)',
    async load(req) {
      const lists = parseMarkupsJson(await readJson(req.file, req.maxJsonBytes));
      if (lists.length === 0) throw unprocessable('markups JSON: the "markups" array is empty');
      if (req.into) {
        if (req.into.kind !== 'fiducials') throw wrongKind(req.into, 'MarkupsFile');
        const l = lists[0]!;
        return [
          req.scene.update<FiducialNode>(req.into.id, {
            points: l.points,
            ...(l.color ? { color: l.color } : {}),
            ...(l.selectedColor ? { selectedColor: l.selectedColor } : {}),
            ...(l.scale !== undefined ? { scale: l.scale } : {}),
          }),
        ];
      }
      const name = req.props.name;
      return lists.map((l, i) =>
        createFiducialList(req.scene, {
          ...l,
          name: name
            ? lists.length > 1
              ? `${name}_${i + 1}`
              : name
            : (l.name ?? req.defaultName ?? baseName(req.file)),
        }),
      );
    },
    save: {
      kinds: ['fiducials'],
      async write({ node, file }) {
        if (node.kind !== 'fiducials') throw wrongKind(node, 'MarkupsFile');
        await writeFileAtomic(file, JSON.stringify(markupsJson(node, 'LPS'), null, 2) + '\n');
      },
    },
  },
  {
    name: 'TransformFile',
    formats:
      'grid transform .nrrd, ITK affine .tfm/.txt, or .json {"matrix": 4×4}; writes .tfm/.txt (linear) or .nrrd (grid)',
    async load(req) {
      const lower = req.file.toLowerCase();
      const name = req.into ? undefined : (req.props.name ?? req.defaultName ?? baseName(req.file));
      if (lower.endsWith('.nrrd')) {
        if (req.into && req.into.kind !== 'gridTransform')
          throw wrongKind(req.into, 'TransformFile');
        const grid = gridFromNrrd(await readNrrd(req));
        return [putGridTransform(req.scene, { id: req.into?.id, name, grid }).node];
      }
      if (req.into && req.into.kind !== 'linearTransform')
        throw wrongKind(req.into, 'TransformFile');
      let matrix: Mat4;
      if (lower.endsWith('.json')) {
        const doc = (await readJson(req.file, req.maxJsonBytes)) as { matrix?: unknown } | null;
        matrix = parseMatrix(doc?.matrix);
      } else if (lower.endsWith('.txt') || lower.endsWith('.tfm')) {
        matrix = matrixToParentFromItkText(await readText(req.file, req.maxJsonBytes));
      } else {
        throw unprocessable(
          'TransformFile: use a grid transform .nrrd, a .json {"matrix": …} or an ITK .txt/.tfm affine transform',
        );
      }
      return [putLinearTransform(req.scene, { id: req.into?.id, name, matrix }).node];
    },
    save: {
      kinds: ['linearTransform', 'gridTransform'],
      async write({ node, file }) {
        if (node.kind === 'linearTransform') {
          if (!/\.(tfm|txt)$/i.test(file))
            throw new AppError(
              'invalid_parameter',
              'a linear transform is written as ITK text: name the file .tfm or .txt',
              { parameter: 'localfile' },
            );
          await writeFileAtomic(file, itkTextFromMatrixToParent(node.matrixToParent));
        } else if (node.kind === 'gridTransform') {
          if (!/\.nrrd$/i.test(file))
            throw new AppError('invalid_parameter', 'a grid transform is written as .nrrd', {
              parameter: 'localfile',
            });
          await writeFileAtomic(file, nrrdChunks(gridToLps(node.grid), { forceVectorAxis: true }));
        } else throw wrongKind(node, 'TransformFile');
      },
    },
  },
  {
    name: 'SegmentationFile',
    formats:
      'Slicer .seg.nrrd, or a label-map .nrrd (one segment per label value); writes .seg.nrrd',
    async load(req) {
      const decoded = await readNrrd(req);
      if (req.into && req.into.kind !== 'segmentation')
        throw wrongKind(req.into, 'SegmentationFile');
      const { node } = putSegmentation(req.scene, {
        id: req.into?.id,
        name: req.into ? undefined : (req.props.name ?? req.defaultName ?? baseName(req.file)),
        referenceVolume: req.props.referenceVolume,
        decoded,
      });
      return [node];
    },
    save: {
      kinds: ['segmentation'],
      async write({ node, file, props }) {
        if (node.kind !== 'segmentation') throw wrongKind(node, 'SegmentationFile');
        const encoding = falsy(props.useCompression) ? 'raw' : 'gzip';
        await writeFileAtomic(
          file,
          segNrrdChunks(node.segmentation, node.attributes, { encoding }),
        );
      },
    },
  },
  {
    name: 'ModelFile',
    formats:
      'STL (binary/ASCII), OBJ, PLY, VTK legacy, VTP (LPS unless the header says SPACE=RAS); writes .stl/.obj/.ply/.vtk in LPS',
    async load(req) {
      if (req.into && req.into.kind !== 'model') throw wrongKind(req.into, 'ModelFile');
      const limit = req.maxMeshBytes ?? req.maxBytes;
      if ((await fsp.stat(req.file)).size > limit)
        throw new AppError(
          'payload_too_large',
          `${path.basename(req.file)} is larger than the mesh limit (--limit-mesh)`,
        );
      const bytes = new Uint8Array(await fsp.readFile(req.file));
      const format = /\.(stl|obj|ply|vtk|vtp)$/i.exec(req.file)?.[1]?.toLowerCase() as
        MeshFormat | undefined;
      const mesh = req.readMesh
        ? await req.readMesh(bytes, format)
        : readMesh(bytes, { format }).mesh;
      const name = req.into
        ? undefined
        : (req.props.name ??
          req.defaultName ??
          path.basename(req.file).replace(/\.(stl|obj|ply|vtk|vtp)$/i, ''));
      return [putModel(req.scene, { id: req.into?.id, name, mesh }).node];
    },
    save: {
      kinds: ['model'],
      async write({ node, file }) {
        if (node.kind !== 'model') throw wrongKind(node, 'ModelFile');
        const ext = /\.(stl|obj|ply|vtk)$/i.exec(file)?.[1]?.toLowerCase() as
          MeshWriteFormat | undefined;
        if (!ext)
          throw new AppError('invalid_parameter', 'name the model file .stl, .obj, .ply or .vtk', {
            parameter: 'localfile',
          });
        await writeFileAtomic(file, writeMesh(node.mesh, ext, node.name));
      },
    },
  },
  {
    name: 'TableFile',
    formats:
      '.csv or .tsv (.txt) with a header row (column types from the .schema.csv/.schema.tsv next to it, as Slicer writes, else inferred); writes the table and its schema file',
    async load(req) {
      if (req.into && req.into.kind !== 'table') throw wrongKind(req.into, 'TableFile');
      const sep = separatorOf(req.file);
      if (!sep) throw unprocessable('TableFile: use a .csv, .tsv or .txt (tab-separated) file');
      const schemaFile = schemaFileOf(req.file);
      const schema = (await fsp.stat(schemaFile).catch(() => undefined))
        ? parseTableSchema(await readText(schemaFile, req.maxJsonBytes), sep)
        : {};
      const { columns, rows } = parseTableText(
        await readText(req.file, req.maxJsonBytes),
        sep,
        schema,
      );
      const name = req.into
        ? undefined
        : (req.props.name ??
          req.defaultName ??
          path.basename(req.file).replace(/\.(csv|tsv|txt)$/i, ''));
      return [putTable(req.scene, { id: req.into?.id, name, columns, rows }).node];
    },
    save: {
      kinds: ['table'],
      async write({ node, file }) {
        if (node.kind !== 'table') throw wrongKind(node, 'TableFile');
        const sep = separatorOf(file);
        if (!sep)
          throw new AppError('invalid_parameter', 'name the table file .csv, .tsv or .txt', {
            parameter: 'localfile',
          });
        await writeFileAtomic(file, tableText(node, sep));
        await writeFileAtomic(schemaFileOf(file), tableSchemaText(node, sep));
      },
    },
  },
];

/** Slicer's other file types: named in the 400 so a client sees it is a known but missing type. */
const SLICER_ONLY = [
  'SceneFile',
  'TextFile',
  'SequenceFile',
  'ColorTableFile',
  'FiberBundleFile',
  'DoseVolumeHistogramFile',
];

export const supportedFileTypes = (): string => FILE_TYPES.map((t) => t.name).join(', ');

/** The file type called `name`, or a 400 naming the supported ones. */
export function fileTypeNamed(name: string): FileType {
  const t = FILE_TYPES.find((x) => x.name === name);
  if (t) return t;
  const known = SLICER_ONLY.includes(name)
    ? ` (a Slicer file type voxelgate does not load yet)`
    : '';
  throw new AppError(
    'invalid_parameter',
    `filetype: ${name} is not supported${known}; supported: ${supportedFileTypes()}`,
    { parameter: 'filetype' },
  );
}

/**
 * The file type a file name implies, for a request without `filetype` (Slicer requires it;
 * slicerio defaults to `VolumeFile`): `.mrk.json` markups, `.tfm`/`.txt`/`.h5` transforms,
 * `.nrrd`/`.nhdr` volumes. Undefined when the name says nothing.
 */
export function fileTypeForFileName(name: string): FileType | undefined {
  const lower = name.toLowerCase();
  const type = lower.endsWith('.mrk.json')
    ? 'MarkupsFile'
    : /\.(tfm|txt|h5)$/.test(lower)
      ? 'TransformFile'
      : /\.(stl|obj|ply|vtk|vtp)$/.test(lower)
        ? 'ModelFile'
        : /\.(csv|tsv)$/.test(lower)
          ? 'TableFile'
          : /\.(nrrd|nhdr)$/.test(lower) && !lower.endsWith('.seg.nrrd')
            ? 'VolumeFile'
            : undefined;
  return type ? fileTypeNamed(type) : undefined;
}

/** The file type that writes this node (Slicer's `exportNode` picks the writer by node class). */
export function fileTypeForNode(
  node: SceneNode,
): FileType & { save: NonNullable<FileType['save']> } {
  const t = FILE_TYPES.find((x) => x.save?.kinds.includes(node.kind));
  if (!t?.save)
    throw new AppError(
      'invalid_parameter',
      `${node.id} (${node.className}) cannot be written to a file; writable: ${FILE_TYPES.filter(
        (x) => x.save,
      )
        .map((x) => `${x.name} (${x.formats})`)
        .join('; ')}`,
    );
  return t as FileType & { save: NonNullable<FileType['save']> };
}

/** Loads a file with a file type and remembers it as the nodes' storage file. */
export async function loadFile(type: FileType, req: LoadRequest): Promise<SceneNode[]> {
  const nodes = await type.load(req);
  return nodes.map((n) =>
    req.scene.update(n.id, {
      attributes: { ...n.attributes, [STORAGE_FILE]: req.file, [STORAGE_TYPE]: type.name },
    }),
  );
}
