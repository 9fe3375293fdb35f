/**
 * From scene + view state to render jobs: picks the layers (default background = the scene's
 * first scalar volume), fits a view to its background, resolves window/level and fiducials, and
 * makes volume memory shareable with workers. Also the view-editing operations behind the
 * `/slice` parameters (orientation, scrollTo, offset, copySliceGeometryFrom).
 */
import { dot3, ijkToRasMatrix, mul4, transformPoint } from '../imaging/geometry.js';
import { worldToIjkMatrix, type SliceGeometry } from '../imaging/reslice.js';
import {
  visibleFiducials,
  type SliceJob,
  type SliceLayer,
  type FiducialMark,
} from '../imaging/slice-render.js';
import { projectionWindow, type ThreeDJob } from '../imaging/render3d.js';
import {
  ARRAY_OF,
  type ImageVolume,
  type Mat4,
  type TypedArray,
  type Vec3,
} from '../imaging/types.js';
import { autoWindowLevel, volumeStats, type WindowLevel } from '../imaging/window-level.js';
import type { SegmentationOverlay } from '../imaging/segmentation-overlay.js';
import { isSegmentationNode, isVolumeNode, type Scene, type VolumeNode } from '../scene/scene.js';
import {
  ORIENTATION_MATRICES,
  sliceToRasOf,
  type PresetOrientation,
  type SliceViewState,
  type ThreeDViewState,
} from '../scene/views.js';
import { notFound } from '../errors.js';
import { revisionOf } from './revisions.js';
import { surfacesOnlyJob, threeDSurfaces } from './surfaces.js';

const sharedCopies = new WeakMap<TypedArray, { revision: number; copy: TypedArray }>();

/**
 * The volume with its voxels in a SharedArrayBuffer (copied once per content revision and cached
 * if they were not).
 */
export function shareable(v: ImageVolume, revision = 0): ImageVolume {
  if (v.data.buffer instanceof SharedArrayBuffer) return v;
  let entry = sharedCopies.get(v.data);
  if (!entry || entry.revision !== revision) {
    const C = ARRAY_OF[v.scalarType] as unknown as new (b: ArrayBufferLike) => TypedArray;
    const copy =
      entry?.copy.length === v.data.length
        ? entry.copy
        : new C(new SharedArrayBuffer(v.data.byteLength));
    copy.set(v.data as never);
    entry = { revision, copy };
    sharedCopies.set(v.data, entry);
  }
  return { ...v, data: entry.copy };
}

/**
 * The volume shown when a view names none: the scene's active volume if the scene exposes one
 * (`Scene.activeVolumeId`, set by POST /slicer/volume and /volumeSelection), else the first scalar volume, else the first vector volume.
 */
const lastActiveBackground = new WeakMap<Scene, string>();

/**
 * Records the active volume when it is not a label map, so that a label map becoming active
 * (Slicer keeps ActiveVolumeID and ActiveLabelVolumeID apart) leaves the background as it was.
 */
export function noteActiveVolume(scene: Scene, id: string | undefined): void {
  const n = id ? scene.byId(id) : undefined;
  if (id && isVolumeNode(n) && n.className !== 'vtkMRMLLabelMapVolumeNode')
    lastActiveBackground.set(scene, id);
}

/** Forgets the remembered background when its node goes away (ids are reused after a clear). */
export function forgetActiveVolume(scene: Scene, removed: string[] | 'all'): void {
  const id = lastActiveBackground.get(scene);
  if (id && (removed === 'all' || removed.includes(id))) lastActiveBackground.delete(scene);
}

export function defaultVolume(scene: Scene): VolumeNode | undefined {
  const active = scene.activeVolumeId;
  noteActiveVolume(scene, active);
  // An active label map goes to the label layer (as Slicer's ActiveLabelVolumeID), not the background.
  for (const id of [active, lastActiveBackground.get(scene)]) {
    const n = id ? scene.byId(id) : undefined;
    if (isVolumeNode(n) && n.className !== 'vtkMRMLLabelMapVolumeNode') return n;
  }
  const vols = scene.nodes().filter(isVolumeNode);
  return (
    vols.find((v) => v.className === 'vtkMRMLScalarVolumeNode') ??
    vols.find((v) => v.className === 'vtkMRMLVectorVolumeNode')
  );
}

/** The label layer shown when a view names none (`label` unset): the active volume if it is a label map. */
export function defaultLabel(scene: Scene): VolumeNode | undefined {
  const n = scene.activeVolumeId ? scene.byId(scene.activeVolumeId) : undefined;
  return isVolumeNode(n) && n.className === 'vtkMRMLLabelMapVolumeNode' ? n : undefined;
}

/** A volume node by id/name/glob (first volume match), or undefined ('' = none). */
export function findVolume(scene: Scene, pattern: string | undefined): VolumeNode | undefined {
  if (pattern === undefined || pattern === '') return undefined;
  return scene.findNodes(pattern).find(isVolumeNode);
}

export interface SliceLayers {
  background?: VolumeNode;
  foreground?: VolumeNode;
  label?: VolumeNode;
}

/** The view's layers, with the default background when none is set (a lone label map goes to the label layer). */
export function sliceLayers(scene: Scene, view: SliceViewState): SliceLayers {
  const out: SliceLayers = {
    background:
      view.background !== undefined ? findVolume(scene, view.background) : defaultVolume(scene),
    foreground: findVolume(scene, view.foreground),
    label: view.label !== undefined ? findVolume(scene, view.label) : defaultLabel(scene),
  };
  if (!out.background && !out.label && view.background === undefined) {
    out.label = scene
      .nodes()
      .filter(isVolumeNode)
      .find((v) => v.className === 'vtkMRMLLabelMapVolumeNode');
  }
  return out;
}

/** ijk → world for a volume node. */
export function ijkToWorld(scene: Scene, node: VolumeNode): Mat4 {
  return mul4(scene.worldFromLocal(node.id), ijkToRasMatrix(node.volume));
}

/** World RAS of the voxel-centre box's corners. */
function corners(scene: Scene, node: VolumeNode, edge = false): Vec3[] {
  const m = ijkToWorld(scene, node);
  const d = node.volume.dimensions;
  const lo = edge ? -0.5 : 0;
  const out: Vec3[] = [];
  for (const i of [lo, d[0] - 1 - lo])
    for (const j of [lo, d[1] - 1 - lo])
      for (const k of [lo, d[2] - 1 - lo]) out.push(transformPoint(m, [i, j, k]));
  return out;
}

export function worldCentre(scene: Scene, node: VolumeNode): Vec3 {
  const c = corners(scene, node);
  const s: Vec3 = [0, 0, 0];
  for (const p of c) for (let a = 0; a < 3; a++) s[a] = s[a]! + p[a]! / c.length;
  return s;
}

const column = (m: Mat4, c: number): Vec3 => [m[c]!, m[4 + c]!, m[8 + c]!];

/** Range of the volume's voxel centres along the slice normal (mm, as slice offsets). */
export function sliceBounds(
  scene: Scene,
  node: VolumeNode,
  view: SliceViewState,
): [number, number] {
  const n = column(view.sliceToRAS, 2);
  const proj = corners(scene, node).map((p) => dot3(n, p));
  return [Math.min(...proj), Math.max(...proj)];
}

/**
 * Like Slicer's slice-offset snapping when scrolling: when one of the volume's index axes is
 * parallel to the slice normal, the offset moves to the nearest voxel-centre slice (so scrolled
 * slices show voxels, not interpolations between two slices). Other planes keep the offset.
 */
export function snapToSlice(
  scene: Scene,
  node: VolumeNode,
  view: SliceViewState,
  offset: number,
): number {
  const m = ijkToWorld(scene, node);
  const n = column(view.sliceToRAS, 2);
  for (let a = 0; a < 3; a++) {
    const axis: Vec3 = [m[a]!, m[4 + a]!, m[8 + a]!];
    const len = Math.hypot(axis[0], axis[1], axis[2]);
    const cos = dot3(axis, n) / len;
    if (Math.abs(Math.abs(cos) - 1) > 1e-6) continue;
    const o0 = dot3(n, [m[3], m[7], m[11]]); // offset of slice index 0
    const step = dot3(n, axis); // signed mm per index
    const idx = Math.round((offset - o0) / step);
    const clamped = Math.max(0, Math.min(node.volume.dimensions[a]! - 1, idx));
    return o0 + clamped * step;
  }
  return offset;
}

/** Slicer's slice offset: the slice centre's position along the normal. */
export function sliceOffset(view: SliceViewState): number {
  return dot3(column(view.sliceToRAS, 2), column(view.sliceToRAS, 3));
}

/** Moves the slice along its normal to an absolute offset (mm). */
export function withOffset(view: SliceViewState, offset: number): SliceViewState {
  const n = column(view.sliceToRAS, 2);
  const delta = offset - sliceOffset(view);
  const m = [...view.sliceToRAS] as Mat4;
  m[3] += n[0] * delta;
  m[7] += n[1] * delta;
  m[11] += n[2] * delta;
  return { ...view, sliceToRAS: m };
}

/** Centres the view on the volume (in plane and along the normal) and returns fov to automatic. */
export function fitTo(
  scene: Scene,
  view: SliceViewState,
  node: VolumeNode | undefined,
): SliceViewState {
  const c = node ? worldCentre(scene, node) : ([0, 0, 0] as Vec3);
  const m = [...view.sliceToRAS] as Mat4;
  m[3] = c[0];
  m[7] = c[1];
  m[11] = c[2];
  const { fov: _fov, ...rest } = view;
  return { ...rest, sliceToRAS: m, fittedTo: node?.id };
}

/** Preset orientation: Slicer's matrix, centred on the background (as Slicer's fit on orientation change). */
export function withOrientation(
  scene: Scene,
  view: SliceViewState,
  orientation: PresetOrientation,
  background: VolumeNode | undefined,
): SliceViewState {
  const rotated = {
    ...view,
    orientation,
    sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES[orientation], column(view.sliceToRAS, 3)),
  } as SliceViewState;
  return fitTo(scene, rotated, background);
}

/** The view's field of view: its own, or fitted to the background (square pixels, whole volume visible). */
export function effectiveFov(
  scene: Scene,
  view: SliceViewState,
  background: VolumeNode | undefined,
): [number, number] {
  if (view.fov) return view.fov;
  const [W, H] = view.size;
  if (!background) return [250 * (W / Math.max(W, H)), 250 * (H / Math.max(W, H))];
  const x = column(view.sliceToRAS, 0),
    y = column(view.sliceToRAS, 1);
  const c = column(view.sliceToRAS, 3);
  const pts = corners(scene, background, true);
  // Extent about the slice centre, so the whole volume shows even when the centre is off-centre.
  let ex = 0,
    ey = 0;
  for (const p of pts) {
    const d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
    ex = Math.max(ex, Math.abs(dot3(x, d)));
    ey = Math.max(ey, Math.abs(dot3(y, d)));
  }
  const ps = Math.max((2 * ex) / W, (2 * ey) / H) || 1;
  return [W * ps, H * ps];
}

function windowLevelFor(
  scene: Scene,
  node: VolumeNode,
  view: Pick<SliceViewState, 'window' | 'level'>,
): WindowLevel {
  const auto = autoWindowLevel(
    node.volume.data,
    node.volume.components,
    revisionOf(scene, node.id),
  );
  const useAuto = view.window === 'auto';
  const window =
    typeof view.window === 'number'
      ? view.window
      : !useAuto && node.display.window !== undefined
        ? node.display.window
        : auto.window;
  const level =
    view.level !== undefined
      ? view.level
      : !useAuto && node.display.level !== undefined
        ? node.display.level
        : auto.level;
  return { window: window > 0 ? window : 1, level };
}

function layer(
  scene: Scene,
  node: VolumeNode,
  type: SliceLayer['type'],
  opacity: number,
  view: SliceViewState,
  wlFromView: boolean,
): SliceLayer {
  const revision = revisionOf(scene, node.id);
  const vol = shareable(node.volume, revision);
  return {
    volume: vol,
    worldToIjk: worldToIjkMatrix(vol, scene.worldFromLocal(node.id)),
    type,
    wl: windowLevelFor(scene, node, wlFromView ? view : {}),
    opacity,
    interpolation: view.interpolation,
    source: `${node.id}@${revision}`,
  };
}

const layerType = (n: VolumeNode): SliceLayer['type'] =>
  n.className === 'vtkMRMLLabelMapVolumeNode'
    ? 'label'
    : n.volume.components >= 3 && n.className === 'vtkMRMLVectorVolumeNode'
      ? 'rgb'
      : 'grey';

export function fiducialMarks(scene: Scene): FiducialMark[] {
  const out: FiducialMark[] = [];
  for (const n of scene.nodes()) {
    if (n.kind !== 'fiducials') continue;
    const m = scene.worldFromLocal(n.id);
    for (const p of n.points) {
      if (p.visible === false) continue;
      const c = p.selected === false ? n.color : n.selectedColor;
      out.push({
        ras: transformPoint(m, p.position),
        label: p.label,
        color: [0, 1, 2].map((i) => Math.round(Math.min(1, Math.max(0, c[i] ?? 1)) * 255)) as [
          number,
          number,
          number,
        ],
      });
    }
  }
  return out;
}

/** The slice job for a view; throws not_found when the view has nothing to show. */
export function sliceJob(scene: Scene, view: SliceViewState): SliceJob {
  const layers = sliceLayers(scene, view);
  if (!layers.background && !layers.foreground && !layers.label)
    throw notFound(
      'no volume to render: the scene has no volume (load one with POST /slicer/volume or /slicer/mrml)',
    );
  const reference = layers.background ?? layers.foreground ?? layers.label!;
  const geometry: SliceGeometry = {
    sliceToRAS: view.sliceToRAS,
    fov: effectiveFov(scene, view, reference),
    size: view.size,
  };
  const thickness = Math.min(...reference.volume.spacing);
  const job: SliceJob = {
    kind: 'slice',
    geometry,
    background: layers.background
      ? layer(scene, layers.background, layerType(layers.background), 1, view, true)
      : undefined,
    foreground: layers.foreground
      ? layer(
          scene,
          layers.foreground,
          layerType(layers.foreground),
          view.foregroundOpacity,
          view,
          false,
        )
      : undefined,
    label: layers.label
      ? layer(scene, layers.label, 'label', view.labelOpacity, view, false)
      : undefined,
    fiducials: [],
    slabHalfThickness: Math.max(0.5, thickness / 2),
  };
  const segmentations = segmentationOverlays(scene, view);
  if (segmentations.length > 0) job.segmentations = segmentations;
  // Only the points that will be drawn belong in the job (its hash is the ETag).
  if (view.fiducials)
    job.fiducials = visibleFiducials({ ...job, fiducials: fiducialMarks(scene) }).map(
      ({ ras, label, color }) => ({ ras, label, color }),
    );
  return job;
}

/**
 * The segmentations a view shows: every segmentation (view.segmentation undefined), none (''), or
 * the one named; each with its visible segments' colours, the view's fill opacity and outline.
 */
export function segmentationOverlays(scene: Scene, view: SliceViewState): SegmentationOverlay[] {
  if (view.segmentation === '') return [];
  const nodes =
    view.segmentation !== undefined
      ? scene.findNodes(view.segmentation).filter(isSegmentationNode).slice(0, 1)
      : scene.nodes().filter(isSegmentationNode);
  const out: SegmentationOverlay[] = [];
  for (const n of nodes) {
    const segments = n.segmentation.segments
      .filter((s) => s.visible !== false)
      .map((s) => ({
        layer: s.layer,
        labelValue: s.labelValue,
        rgb: s.color.map((c) => Math.round(c * 255)) as [number, number, number],
      }));
    if (segments.length === 0) continue;
    const revision = revisionOf(scene, n.id);
    const labelmap = shareable(n.segmentation.labelmap, revision);
    out.push({
      labelmap,
      worldToIjk: worldToIjkMatrix(labelmap, scene.worldFromLocal(n.id)),
      segments,
      opacity: view.segmentationOpacity ?? 0.5,
      outline: view.outline ?? true,
      source: `${n.id}@${revision}`,
    });
  }
  return out;
}

/** Re-fits the view when its background changed since the last fit (as Slicer does on selection). */
export function refit(scene: Scene, view: SliceViewState): SliceViewState {
  const layers = sliceLayers(scene, view);
  const ref = layers.background ?? layers.foreground ?? layers.label;
  if (!ref || ref.id === view.fittedTo) return view;
  return fitTo(scene, view, ref);
}

export function threeDVolume(scene: Scene, view: ThreeDViewState): VolumeNode {
  const node =
    view.volume !== undefined
      ? findVolume(scene, view.volume)
      : (defaultVolume(scene) ?? scene.nodes().filter(isVolumeNode)[0]);
  if (!node)
    throw notFound(
      view.volume !== undefined
        ? `no volume node matches "${view.volume}"`
        : 'no volume to render: the scene has no volume',
    );
  return node;
}

const volumeKeys = new WeakMap<TypedArray, string>();
let nextVolumeKey = 1;
/** A process-unique key per voxel array (render workers cache per-volume data by it). */
function volumeKeyOf(data: TypedArray): string {
  let k = volumeKeys.get(data);
  if (!k) volumeKeys.set(data, (k = `v${process.pid}-${nextVolumeKey++}`));
  return k;
}

export function threeDJob(scene: Scene, view: ThreeDViewState): ThreeDJob {
  // Surfaces without any volume: the camera frames them (see surfacesOnlyJob).
  if (view.volume === undefined && !scene.nodes().some(isVolumeNode)) {
    const only = surfacesOnlyJob(scene, view);
    if (only) return only;
  }
  const node = threeDVolume(scene, view);
  const revision = revisionOf(scene, node.id);
  const volume = shareable(node.volume, revision);
  const stats = volumeStats(node.volume.data, node.volume.components, revision);
  const wl: WindowLevel =
    view.mode === 'composite'
      ? windowLevelFor(scene, node, {})
      : projectionWindow(view.mode, stats);
  return {
    kind: 'threeD',
    volume,
    worldFromLocal: scene.worldFromLocal(node.id),
    camera: view.camera,
    mode: view.mode,
    preset: view.preset,
    size: view.size,
    background: view.background,
    wl,
    stats,
    revision,
    volumeKey: volumeKeyOf(volume.data),
    ...(view.draft ? { draft: true } : {}),
    surfaces: threeDSurfaces(scene),
  };
}
