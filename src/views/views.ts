/**
 * The views domain module: view state kept between requests as Slicer keeps it in its slice and
 * 3D view nodes (three slice views `red`, `yellow`, `green`, one 3D view `1`, the layout), and
 * every view edit as a function (`edit.ts`: `editSlice(view, edits) → view`), the layers a view
 * shows and active-volume propagation (`layers.ts`), slice geometry (`geometry.ts`), the layout
 * grid (`layout.ts`) and the JSON description of a view (`describe.ts`). Changing a view bumps
 * `version` and notifies listeners (ETags and live streams key on it).
 *
 * May import `scene/`, `imaging/` and `errors.ts`; never hono, `http/` or `render/` (rendering
 * reads views, not the other way round).
 *
 * Slice orientation presets are Slicer's defaults, copied from vtkMRMLSliceNode.cxx
 * (`InitializeAxialMatrix`, `InitializeSagittalMatrix`, `InitializeCoronalMatrix`, Slicer/Slicer
 * `Libs/MRML/Core/vtkMRMLSliceNode.cxx`): the columns of sliceToRAS are screen x (to the right),
 * screen y (up) and the normal.
 *
 *   axial    x = (−1, 0, 0)  y = (0, 1, 0)  n = (0, 0, 1)  → screen left = patient Right, top = Anterior
 *   sagittal x = (0, −1, 0)  y = (0, 0, 1)  n = (1, 0, 0)  → screen left = Anterior, top = Superior
 *   coronal  x = (−1, 0, 0)  y = (0, 0, 1)  n = (0, 1, 0)  → screen left = patient Right, top = Superior
 *
 * (radiological convention; the sagittal view is seen from the patient's right, face to the left).
 */
import type { Interpolation } from '../imaging/reslice.js';
import { DEFAULT_CAMERA, type Camera3D, type Mode3D } from '../imaging/render3d.js';
import type { Mat3, Mat4 } from '../imaging/types.js';
import type { LayoutName } from './layout.js';

/**
 * Pixel size a view renders at when a request gives no `size` (a request's `size` is for that
 * request only: it never changes the view).
 */
export const DEFAULT_VIEW_SIZE: readonly [number, number] = [512, 512];

export type SliceViewName = 'red' | 'yellow' | 'green';
export const SLICE_VIEWS: readonly SliceViewName[] = ['red', 'yellow', 'green'];
export type PresetOrientation = 'axial' | 'sagittal' | 'coronal';
export type Orientation = PresetOrientation | 'reformat';
export const ORIENTATIONS: readonly PresetOrientation[] = ['axial', 'sagittal', 'coronal'];

/** Row-major 3×3, columns = screen x, screen y, normal (Slicer's defaults, see above). */
export const ORIENTATION_MATRICES: Readonly<Record<PresetOrientation, Mat3>> = {
  axial: [-1, 0, 0, 0, 1, 0, 0, 0, 1],
  sagittal: [0, 0, 1, -1, 0, 0, 0, 1, 0],
  coronal: [-1, 0, 0, 0, 0, 1, 0, 1, 0],
};

/** Slicer's default orientation of each slice view. */
export const DEFAULT_ORIENTATION: Readonly<Record<SliceViewName, PresetOrientation>> = {
  red: 'axial',
  yellow: 'sagittal',
  green: 'coronal',
};

export function sliceToRasOf(m: Mat3, centre: readonly number[] = [0, 0, 0]): Mat4 {
  return [
    m[0],
    m[1],
    m[2],
    centre[0]!,
    m[3],
    m[4],
    m[5],
    centre[1]!,
    m[6],
    m[7],
    m[8],
    centre[2]!,
    0,
    0,
    0,
    1,
  ];
}

export interface SliceViewState {
  name: SliceViewName;
  orientation: Orientation;
  /** Row-major; columns = screen x, screen y, normal, centre of the slice (RAS). */
  sliceToRAS: Mat4;
  /** Horizontal and vertical field of view in mm; undefined = fit the background volume. */
  fov?: [number, number];
  /**
   * Pixel size the view's `fov` refers to (always `DEFAULT_VIEW_SIZE`; a request renders at its
   * own size through `atSize`, which keeps the pixel aspect of `fov`).
   */
  size: [number, number];
  /**
   * Layer node ids. background undefined = the active (else first scalar) volume; label
   * undefined = the active volume if it is a label map; '' = no layer.
   */
  background?: string;
  foreground?: string;
  label?: string;
  foregroundOpacity: number;
  labelOpacity: number;
  /** Window/level override: numbers, `auto` (histogram), or undefined (the volume's display, else auto). */
  window?: number | 'auto';
  level?: number;
  interpolation: Interpolation;
  fiducials: boolean;
  /** Segmentation shown: undefined = every segmentation, '' = none, else that node's id. */
  segmentation?: string;
  /** Fill opacity of segments (0..1); undefined = 0.5. */
  segmentationOpacity?: number;
  /** 1-pixel segment outlines; undefined = on. */
  outline?: boolean;
  /** Id of the background volume the view was last fitted to (re-fit when it changes). */
  fittedTo?: string;
}

export interface ThreeDViewState {
  name: '1';
  camera: Camera3D;
  mode: Mode3D;
  preset: string;
  background: [number, number, number];
  size: [number, number];
  /** Volume node id; undefined = the scene's default volume. */
  volume?: string;
  /** Coarse ray grid (no finer than the volume), upsampled: faster, for interaction. */
  draft?: boolean;
}

export type ViewName = SliceViewName | '1';

export class Views {
  #slices: Record<SliceViewName, SliceViewState>;
  #threeD: ThreeDViewState;
  #layout: LayoutName = 'FourUp';
  #contents: 'viewers' | 'full' = 'full';
  #version = 0;
  /**
   * The last active volume that was not a label map: the default background while a label map is
   * active (Slicer keeps ActiveVolumeID and ActiveLabelVolumeID apart). Kept by `layers.ts`.
   */
  #activeBackground: string | undefined;
  #viewVersions = new Map<ViewName, number>();
  #listeners = new Set<(view: ViewName | 'layout', version: number) => void>();

  constructor() {
    this.#slices = Views.#defaultSlices();
    this.#threeD = Views.defaultThreeD();
  }

  static #defaultSlices(): Record<SliceViewName, SliceViewState> {
    return {
      red: Views.defaultSlice('red'),
      yellow: Views.defaultSlice('yellow'),
      green: Views.defaultSlice('green'),
    };
  }

  static defaultThreeD(): ThreeDViewState {
    return {
      name: '1',
      camera: { ...DEFAULT_CAMERA },
      mode: 'composite',
      preset: 'ct-bone',
      background: [0, 0, 0],
      size: [...DEFAULT_VIEW_SIZE],
    };
  }

  /** Every view and the layout back to their defaults (one change notification). */
  reset(): void {
    this.#slices = Views.#defaultSlices();
    this.#threeD = Views.defaultThreeD();
    this.#layout = 'FourUp';
    this.#contents = 'full';
    this.#activeBackground = undefined;
    this.#bump('layout');
  }

  /** See `#activeBackground`. */
  get activeBackground(): string | undefined {
    return this.#activeBackground;
  }

  set activeBackground(id: string | undefined) {
    this.#activeBackground = id;
  }

  static defaultSlice(name: SliceViewName): SliceViewState {
    const orientation = DEFAULT_ORIENTATION[name];
    return {
      name,
      orientation,
      sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES[orientation]),
      size: [...DEFAULT_VIEW_SIZE],
      foregroundOpacity: 0.5,
      labelOpacity: 1,
      interpolation: 'linear',
      fiducials: true,
    };
  }

  /** Increases on every view or layout change. */
  get version(): number {
    return this.#version;
  }

  /** Version of one view's last change (0 = never changed). */
  viewVersion(view: ViewName): number {
    return this.#viewVersions.get(view) ?? 0;
  }

  slice(name: SliceViewName): Readonly<SliceViewState> {
    return this.#slices[name];
  }

  get threeD(): Readonly<ThreeDViewState> {
    return this.#threeD;
  }

  get layout(): LayoutName {
    return this.#layout;
  }

  get contents(): 'viewers' | 'full' {
    return this.#contents;
  }

  /** Replaces a slice view's state; notifies only when something changed. */
  setSlice(name: SliceViewName, next: SliceViewState): void {
    if (JSON.stringify(next) === JSON.stringify(this.#slices[name])) return;
    this.#slices[name] = structuredClone(next);
    this.#bump(name);
  }

  setThreeD(next: ThreeDViewState): void {
    if (JSON.stringify(next) === JSON.stringify(this.#threeD)) return;
    this.#threeD = structuredClone(next);
    this.#bump('1');
  }

  setLayout(layout: LayoutName | undefined, contents?: 'viewers' | 'full'): void {
    const l = layout ?? this.#layout;
    const c = contents ?? this.#contents;
    if (l === this.#layout && c === this.#contents) return;
    this.#layout = l;
    this.#contents = c;
    this.#bump('layout');
  }

  onChange(listener: (view: ViewName | 'layout', version: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #bump(view: ViewName | 'layout'): void {
    this.#version++;
    if (view !== 'layout') this.#viewVersions.set(view, this.#version);
    for (const l of this.#listeners) {
      try {
        l(view, this.#version);
      } catch {
        /* listeners must not break view updates */
      }
    }
  }
}
