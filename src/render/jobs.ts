/**
 * From scene + view state to render jobs (plain data a worker can run): picks the layers through
 * `views/`, resolves window/level and fiducials, and makes volume memory shareable with workers.
 * View geometry and view edits live in `src/views/`.
 */
import { transformPoint, worldToIjkMatrix } from '../imaging/geometry.js';
import type { SliceGeometry } from '../imaging/reslice.js';
import {
  visibleFiducials,
  type SliceJob,
  type SliceLayer,
  type FiducialMark,
} from '../imaging/slice-render.js';
import { projectionWindow, type ThreeDJob } from '../imaging/render3d.js';
import { ARRAY_OF, type ImageVolume, type TypedArray } from '../imaging/types.js';
import { autoWindowLevel, volumeStats, type WindowLevel } from '../imaging/window-level.js';
import type { SegmentationOverlay } from '../imaging/segmentation-overlay.js';
import { isSegmentationNode, isVolumeNode, type Scene, type VolumeNode } from '../scene/scene.js';
import { effectiveFov } from '../views/geometry.js';
import { referenceLayer, sliceLayers, threeDVolume } from '../views/layers.js';
import type { SliceViewState, ThreeDViewState, Views } from '../views/views.js';
import { notFound } from '../errors.js';
import { surfacesOnlyJob, threeDSurfaces } from './surfaces.js';

const sharedCopies = new WeakMap<TypedArray, { revision: number; copy: TypedArray }>();

/**
 * The volume with its voxels in a SharedArrayBuffer (copied once per content revision and cached
 * if they were not).
 */
export function shareable(v: ImageVolume, revision = 0): ImageVolume {
  if (v.data.buffer instanceof SharedArrayBuffer) return v;
  let entry = sharedCopies.get(v.data);
  if (entry?.revision !== revision) {
    const C = ARRAY_OF[v.scalarType] as unknown as new (b: ArrayBufferLike) => TypedArray;
    const copy =
      entry?.copy.length === v.data.length
        ? entry.copy
        : new C(new SharedArrayBuffer(v.data.byteLength));
    copy.set(v.data);
    entry = { revision, copy };
    sharedCopies.set(v.data, entry);
  }
  return { ...v, data: entry.copy };
}

function windowLevelFor(
  scene: Scene,
  node: VolumeNode,
  view: Pick<SliceViewState, 'window' | 'level'>,
): WindowLevel {
  const auto = autoWindowLevel(node.volume.data, node.volume.components, scene.revision(node.id));
  const useAuto = view.window === 'auto';
  const window =
    typeof view.window === 'number'
      ? view.window
      : !useAuto && node.display.window !== undefined
        ? node.display.window
        : auto.window;
  const level =
    view.level ?? (!useAuto && node.display.level !== undefined ? node.display.level : auto.level);
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
  const revision = scene.revision(node.id);
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
export function sliceJob(scene: Scene, views: Views, view: SliceViewState): SliceJob {
  const layers = sliceLayers(scene, views, view);
  const reference = referenceLayer(layers);
  if (!reference)
    throw notFound(
      'no volume to render: the scene has no volume (load one with POST /slicer/volume or /slicer/mrml)',
    );
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
    const revision = scene.revision(n.id);
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

const volumeKeys = new WeakMap<TypedArray, string>();
let nextVolumeKey = 1;
/** A process-unique key per voxel array (render workers cache per-volume data by it). */
function volumeKeyOf(data: TypedArray): string {
  let k = volumeKeys.get(data);
  if (!k) volumeKeys.set(data, (k = `v${process.pid}-${nextVolumeKey++}`));
  return k;
}

export function threeDJob(scene: Scene, views: Views, view: ThreeDViewState): ThreeDJob {
  // Surfaces without any volume: the camera frames them (see surfacesOnlyJob).
  if (view.volume === undefined && !scene.nodes().some(isVolumeNode)) {
    const only = surfacesOnlyJob(scene, view);
    if (only) return only;
  }
  const node = threeDVolume(scene, views, view);
  const revision = scene.revision(node.id);
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
