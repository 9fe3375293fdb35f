/**
 * Slice-view geometry on the scene: fitting a view to its volume, orientation presets, moving
 * along the normal (offset, scrollTo with Slicer's voxel snapping), the field of view a render
 * uses, and `atSize` (a view rendered at a request's pixel size without changing the view).
 */
import { dot3, ijkToWorldMatrix, transformPoint } from '../imaging/geometry.js';
import type { Mat4, Vec3 } from '../imaging/types.js';
import type { Scene, VolumeNode } from '../scene/scene.js';
import { referenceLayer, sliceLayers } from './layers.js';
import {
  ORIENTATION_MATRICES,
  sliceToRasOf,
  type PresetOrientation,
  type SliceViewState,
  type Views,
} from './views.js';

/** ijk → world RAS of a volume node (through its parent transforms). */
export const nodeIjkToWorld = (scene: Scene, node: VolumeNode): Mat4 =>
  ijkToWorldMatrix(node.volume, scene.worldFromLocal(node.id));

/** World RAS of the voxel-centre box's corners (`edge`: of the voxel-edge box). */
function corners(scene: Scene, node: VolumeNode, edge = false): Vec3[] {
  const m = nodeIjkToWorld(scene, node);
  const d = node.volume.dimensions;
  const lo = edge ? -0.5 : 0;
  const out: Vec3[] = [];
  for (const i of [lo, d[0] - 1 - lo])
    for (const j of [lo, d[1] - 1 - lo])
      for (const k of [lo, d[2] - 1 - lo]) out.push(transformPoint(m, [i, j, k]));
  return out;
}

function worldCentre(scene: Scene, node: VolumeNode): Vec3 {
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
  const m = nodeIjkToWorld(scene, node);
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
function fitTo(scene: Scene, view: SliceViewState, node: VolumeNode | undefined): SliceViewState {
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
  const rotated: SliceViewState = {
    ...view,
    orientation,
    sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES[orientation], column(view.sliceToRAS, 3)),
  };
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
    const d: Vec3 = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
    ex = Math.max(ex, Math.abs(dot3(x, d)));
    ey = Math.max(ey, Math.abs(dot3(y, d)));
  }
  const ps = Math.max((2 * ex) / W, (2 * ey) / H) || 1;
  return [W * ps, H * ps];
}

/** Re-fits the view when its background changed since the last fit (as Slicer does on selection). */
export function refit(scene: Scene, views: Views, view: SliceViewState): SliceViewState {
  const ref = referenceLayer(sliceLayers(scene, views, view));
  if (!ref || ref.id === view.fittedTo) return view;
  return fitTo(scene, view, ref);
}

/**
 * The view rendered at `size` pixels (a request's `size`, which never changes the view): a fixed
 * fov keeps its horizontal extent and its pixel aspect (square pixels stay square); an automatic
 * fov is fitted at that size.
 */
export function atSize(view: SliceViewState, size: [number, number] | undefined): SliceViewState {
  if (!size || (size[0] === view.size[0] && size[1] === view.size[1])) return view;
  const out: SliceViewState = { ...view, size };
  if (view.fov) {
    const [f0, f1] = view.fov;
    const [Ws, Hs] = view.size;
    out.fov =
      f1 * Ws === f0 * Hs
        ? [f0, (f0 * size[1]) / size[0]]
        : [f0, (f1 * size[1] * Ws) / (size[0] * Hs)];
  }
  return out;
}

/** The fov to store so that `atSize(view, size)` renders exactly `fov` (inverse of `atSize`). */
export function fovForSize(
  view: SliceViewState,
  fov: [number, number],
  size: [number, number] | undefined,
): [number, number] {
  if (!size || (size[0] === view.size[0] && size[1] === view.size[1])) return fov;
  const [Ws, Hs] = view.size;
  if (fov[1] * size[0] === fov[0] * size[1]) return [fov[0], (fov[0] * Hs) / Ws];
  return [fov[0], (fov[1] * size[0] * Hs) / (size[1] * Ws)];
}
