/**
 * Volume operations behind /slicer/volume(s) and /slicer/volumeSelection: choosing the node
 * class, creating or replacing a volume from decoded NRRD data, listing, cycling the active
 * volume, and the NRRD metadata written back out.
 */
import type { DecodedNrrd, NrrdWriteOptions } from '../imaging/nrrd.js';
import { AppError, notFound } from '../errors.js';
import { isVolumeNode, type Scene, type VolumeClass, type VolumeNode } from './scene.js';
import { booleanWord } from '../util/words.js';

/** NRRD key/value pairs that mark a label map (case-insensitive key, truthy value). */
const LABELMAP_KEYS = new Set([
  'labelmap',
  'label map',
  'islabelmap',
  'voxelgate.labelmap',
  'slicer.labelmap',
]);

export function hasLabelMapHint(keyValues: Record<string, string>): boolean {
  return Object.entries(keyValues).some(
    ([k, v]) => LABELMAP_KEYS.has(k.toLowerCase()) && booleanWord(v) === true,
  );
}

/** Vector volume for multi-component data; label map when asked or hinted (integers only). */
export function volumeClassFor(decoded: DecodedNrrd, labelmap: boolean | undefined): VolumeClass {
  const v = decoded.volume;
  if (v.components > 1) {
    if (labelmap)
      throw new AppError(
        'unprocessable',
        `a label map must have one component, this volume has ${v.components}`,
      );
    return 'vtkMRMLVectorVolumeNode';
  }
  const wantLabel = labelmap ?? hasLabelMapHint(decoded.header.keyValues);
  if (wantLabel && v.scalarType.startsWith('float')) {
    if (labelmap)
      throw new AppError(
        'unprocessable',
        `a label map needs an integer scalar type, this volume is ${v.scalarType}`,
      );
    return 'vtkMRMLScalarVolumeNode';
  }
  return wantLabel ? 'vtkMRMLLabelMapVolumeNode' : 'vtkMRMLScalarVolumeNode';
}

export interface PutVolumeRequest {
  /** Node to replace: id, name or glob (first match). Absent → a new node. */
  id?: string;
  name?: string;
  labelmap?: boolean;
  decoded: DecodedNrrd;
}

const isGlob = (p: string) => /[*?[]/.test(p);

/**
 * Creates or replaces a volume node. With `id` matching a volume → its data, class and NRRD
 * attributes are replaced (same id and position); with `id` matching nothing → a new node named
 * `name` or else the `id` text (as Slicer did); without `id` → a new node. The result becomes the
 * active volume.
 */
export function putVolume(
  scene: Scene,
  req: PutVolumeRequest,
): { node: VolumeNode; created: boolean } {
  const { decoded } = req;
  const className = volumeClassFor(decoded, req.labelmap);
  const attributes = { ...decoded.header.keyValues };
  const existing = req.id !== undefined ? scene.findNodes(req.id)[0] : undefined;
  if (existing && !isVolumeNode(existing)) {
    throw new AppError(
      'conflict',
      `${existing.id} is a ${existing.className}, not a volume; choose another id`,
      { parameter: 'id' },
    );
  }
  const componentKind = decoded.volume.components > 1 ? decoded.layout.componentKind : undefined;
  if (existing) {
    const node = scene.replace<VolumeNode>(existing.id, {
      ...existing,
      className,
      name: req.name ?? existing.name,
      volume: decoded.volume,
      attributes,
      componentKind,
      display: existing.className === className ? existing.display : {},
    });
    scene.setActiveVolume(node.id);
    return { node, created: false };
  }
  const content = decoded.header.fields.get('content');
  const name =
    req.name ??
    (req.id !== undefined && !isGlob(req.id) ? req.id : undefined) ??
    (content !== undefined && content !== '' ? content : defaultName(className));
  const node = scene.add<VolumeNode>({
    kind: 'volume',
    className,
    name,
    volume: decoded.volume,
    attributes,
    componentKind,
    display: {},
  });
  scene.setActiveVolume(node.id);
  return { node, created: true };
}

const defaultName = (c: VolumeClass) =>
  c === 'vtkMRMLLabelMapVolumeNode'
    ? 'LabelMap'
    : c === 'vtkMRMLVectorVolumeNode'
      ? 'VectorVolume'
      : 'Volume';

/**
 * The volume addressed by `id` (id, name or glob) and/or `name` (an exact node name, first in scene
 * order), or else the active one. Both given: the node `id` finds must have that name. Never
 * answers another volume than the one asked for: no match is not_found.
 */
export function findVolume(scene: Scene, id: string | undefined, name?: string): VolumeNode {
  if (name !== undefined) {
    const node =
      id !== undefined ? scene.requireNode(id, 'volume') : scene.nodeNamed(name, 'volume');
    if (node?.name !== name)
      throw notFound(
        id !== undefined
          ? `volume ${node?.id ?? id} is named "${node?.name}", not "${name}"`
          : `no volume is named "${name}" (names are matched exactly; see /slicer/volumes)`,
      );
    return node;
  }
  if (id !== undefined) return scene.requireNode(id, 'volume');
  const v = scene.activeVolume();
  if (!v)
    throw notFound(
      'the scene has no volume; POST one to /slicer/volume or load /slicer/sampledata?name=CTHeadPhantom',
    );
  return v;
}

export function listVolumes(scene: Scene) {
  return scene
    .nodes()
    .filter(isVolumeNode)
    .map((n) => ({
      name: n.name,
      id: n.id,
      class: n.className,
      scalarType: n.volume.scalarType,
      components: n.volume.components,
      dimensions: n.volume.dimensions,
      active: n.id === scene.activeVolumeId,
    }));
}

/** `/volumeSelection?cmd=next|previous`: cycles the active volume through all volumes in scene order. */
export function cycleActiveVolume(scene: Scene, cmd: 'next' | 'previous'): VolumeNode {
  const volumes = scene.nodes().filter(isVolumeNode);
  if (volumes.length === 0) throw notFound('the scene has no volume to select');
  const current = volumes.findIndex((v) => v.id === scene.activeVolumeId);
  const step = cmd === 'previous' ? -1 : 1;
  const next =
    current < 0
      ? step > 0
        ? 0
        : volumes.length - 1
      : (current + step + volumes.length) % volumes.length;
  const node = volumes[next]!;
  scene.setActiveVolume(node.id);
  return node;
}

/** NRRD options for writing a node back out: its attributes, class hint and component kind. */
export function nrrdOptionsFor(node: VolumeNode, encoding: 'raw' | 'gzip'): NrrdWriteOptions {
  const keyValues = { ...node.attributes };
  // the class hint reflects the node's class, not a stale uploaded key
  for (const k of Object.keys(keyValues))
    // nor the storage file the node was loaded from (a server path; see scene/file-types.ts)
    if (LABELMAP_KEYS.has(k.toLowerCase()) || k.startsWith('storage.')) delete keyValues[k];
  if (node.className === 'vtkMRMLLabelMapVolumeNode') keyValues.labelmap = 'true';
  return { encoding, keyValues, componentKind: node.componentKind };
}
