/**
 * Every view edit as a function: `editSlice` and `editThreeD` apply a request's edits (already
 * parsed and validated by the HTTP layer) to a copy of the view, store it, and return it; an
 * error (an unknown layer volume, scrollTo without a volume) is thrown before anything changes.
 *
 * Fixes relative to Slicer: `scrollTo=0` and `offset=0` work; changing the orientation re-centres
 * first and then applies scrollTo/offset from the same request (Slicer's fit ran last and undid
 * them); the 3D view honours every camera parameter. A request's pixel `size` is not an edit.
 */
import { invalidParameter } from '../errors.js';
import type { Axis, Mode3D } from '../imaging/render3d.js';
import type { Interpolation } from '../imaging/reslice.js';
import type { Mat4 } from '../imaging/types.js';
import { isSegmentationNode, type Scene } from '../scene/scene.js';
import {
  effectiveFov,
  fovForSize,
  refit,
  sliceBounds,
  snapToSlice,
  withOffset,
  withOrientation,
} from './geometry.js';
import { matchVolume, referenceLayer, sliceLayers } from './layers.js';
import type {
  PresetOrientation,
  SliceViewName,
  SliceViewState,
  ThreeDViewState,
  Views,
} from './views.js';

/** A layer edit: a volume id/name/glob, or `null` = no layer (for the background: the default). */
type LayerEdit = string | null;

/** The edits one `/slice` request makes; absent fields leave the view as it is. */
export interface SliceEdits {
  background?: LayerEdit;
  foreground?: LayerEdit;
  label?: LayerEdit;
  foregroundOpacity?: number;
  labelOpacity?: number;
  window?: number | 'auto';
  level?: number | 'auto';
  interpolation?: Interpolation;
  fiducials?: boolean;
  /** A segmentation node id/name/glob; `all` = every segmentation; `null` = none. */
  segmentation?: string | null;
  /** Fill opacity of segments, 0..1. */
  segmentationOpacity?: number;
  /** 1-pixel segment outlines. */
  outline?: boolean;
  /** mm: `auto` (fit the background), the width (height follows the image aspect), or both. */
  fov?: 'auto' | [number] | [number, number];
  copySliceGeometryFrom?: SliceViewName;
  orientation?: PresetOrientation;
  /** Row-major, orthonormal rotation part, last row 0 0 0 1 (checked by the parser). */
  sliceToRAS?: Mat4;
  /** 0..1 through the reference volume along the normal. */
  scrollTo?: number;
  /** mm along the normal. */
  offset?: number;
}

function layerId(scene: Scene, name: string, edit: LayerEdit): string | undefined {
  if (edit === null) return name === 'background' ? undefined : '';
  const node = matchVolume(scene, edit);
  if (!node) throw invalidParameter(name, `no volume node matches "${edit}"`);
  return node.id;
}

/**
 * Applies `edits` to slice view `name` and stores the result. `size` is the pixel size the request
 * renders at: an explicit `fov` W×H is meant at that size (see `fovForSize`).
 */
export function editSlice(
  scene: Scene,
  views: Views,
  name: SliceViewName,
  edits: SliceEdits,
  size?: [number, number],
): SliceViewState {
  // Resolve the layers first: an unknown volume is an error before anything changes.
  let segmentation: string | undefined | null = null; // null: not given
  if (edits.segmentation === null) segmentation = '';
  else if (edits.segmentation === 'all') segmentation = undefined;
  else if (edits.segmentation !== undefined) {
    const node = scene.findNodes(edits.segmentation).find(isSegmentationNode);
    if (!node)
      throw invalidParameter(
        'segmentation',
        `no segmentation node matches "${edits.segmentation}"`,
      );
    segmentation = node.id;
  }
  const layers: Partial<Record<'background' | 'foreground' | 'label', string | undefined>> = {};
  for (const layer of ['background', 'foreground', 'label'] as const) {
    const e = edits[layer];
    if (e !== undefined) layers[layer] = layerId(scene, layer, e);
  }
  let v = structuredClone(views.slice(name)) as SliceViewState;

  // Layers and display; re-fit on a new background; then geometry in a fixed order:
  // copySliceGeometryFrom → orientation / sliceToRAS → scrollTo → offset → fov.
  for (const [layer, id] of Object.entries(layers) as Array<
    [keyof typeof layers, string | undefined]
  >) {
    if (id === undefined) delete v[layer];
    else v[layer] = id;
  }
  if (edits.foregroundOpacity !== undefined) v.foregroundOpacity = edits.foregroundOpacity;
  if (edits.labelOpacity !== undefined) v.labelOpacity = edits.labelOpacity;
  if (edits.window !== undefined) {
    v.window = edits.window;
    if (edits.window === 'auto') delete v.level;
  }
  if (edits.level !== undefined) {
    if (edits.level === 'auto') delete v.level;
    else v.level = edits.level;
  }
  if (edits.interpolation !== undefined) v.interpolation = edits.interpolation;
  if (edits.fiducials !== undefined) v.fiducials = edits.fiducials;
  if (segmentation === undefined) delete v.segmentation;
  else if (segmentation !== null) v.segmentation = segmentation;
  if (edits.segmentationOpacity !== undefined) v.segmentationOpacity = edits.segmentationOpacity;
  if (edits.outline !== undefined) v.outline = edits.outline;
  v = refit(scene, views, v);
  const reference = referenceLayer(sliceLayers(scene, views, v));
  if (edits.copySliceGeometryFrom !== undefined) {
    // The other view as it would render now (fitted to its background if it never was).
    const other = refit(scene, views, structuredClone(views.slice(edits.copySliceGeometryFrom)));
    const otherFov = effectiveFov(scene, other, reference);
    v.sliceToRAS = [...other.sliceToRAS] as Mat4;
    v.orientation = other.orientation;
    v.fov = [otherFov[0], (otherFov[0] * v.size[1]) / v.size[0]];
  }
  if (edits.orientation !== undefined && edits.orientation !== v.orientation)
    v = withOrientation(scene, v, edits.orientation, reference);
  if (edits.sliceToRAS !== undefined) {
    v.sliceToRAS = edits.sliceToRAS;
    v.orientation = 'reformat';
  }
  if (edits.scrollTo !== undefined) {
    if (!reference)
      throw invalidParameter('scrollTo', 'needs a volume in the view to scroll through');
    const [lo, hi] = sliceBounds(scene, reference, v);
    v = withOffset(v, snapToSlice(scene, reference, v, lo + edits.scrollTo * (hi - lo)));
  }
  if (edits.offset !== undefined) v = withOffset(v, edits.offset);
  const fov = edits.fov;
  if (fov === 'auto') delete v.fov;
  else if (fov?.length === 2) v.fov = fovForSize(v, fov, size);
  else if (fov) v.fov = [fov[0], (fov[0] * v.size[1]) / v.size[0]];
  views.setSlice(name, v);
  return v;
}

/** The edits one `/threeD` request makes; absent fields leave the view as it is. */
export interface ThreeDEdits {
  /** Resets the camera to look from this axis (as ctk's lookFromAxis); angles are absolute. */
  lookFromAxis?: Axis;
  orbitX?: number;
  orbitY?: number;
  roll?: number;
  panX?: number;
  panY?: number;
  zoom?: number;
  mode?: Mode3D;
  preset?: string;
  background?: [number, number, number];
  draft?: boolean;
  /** A volume id/name/glob, or `null` = the scene's default volume. */
  volume?: string | null;
}

/** Applies `edits` to the 3D view and stores the result. */
export function editThreeD(scene: Scene, views: Views, edits: ThreeDEdits): ThreeDViewState {
  let volume: string | undefined | null = null;
  if (edits.volume === null) volume = undefined;
  else if (edits.volume !== undefined) {
    const node = matchVolume(scene, edits.volume);
    if (!node) throw invalidParameter('volume', `no volume node matches "${edits.volume}"`);
    volume = node.id;
  }
  const v = structuredClone(views.threeD) as ThreeDViewState;
  if (edits.lookFromAxis !== undefined)
    v.camera = {
      ...v.camera,
      axis: edits.lookFromAxis,
      orbitX: 0,
      orbitY: 0,
      roll: 0,
      panX: 0,
      panY: 0,
    };
  for (const k of ['orbitX', 'orbitY', 'roll', 'panX', 'panY', 'zoom'] as const) {
    const x = edits[k];
    if (x !== undefined) v.camera[k] = x;
  }
  if (edits.mode !== undefined) v.mode = edits.mode;
  if (edits.preset !== undefined) v.preset = edits.preset;
  if (edits.background !== undefined) v.background = edits.background;
  if (edits.draft !== undefined) {
    if (edits.draft) v.draft = true;
    else delete v.draft;
  }
  if (volume !== null) {
    if (volume === undefined) delete v.volume;
    else v.volume = volume;
  }
  views.setThreeD(v);
  return v;
}
