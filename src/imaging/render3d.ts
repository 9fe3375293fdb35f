/**
 * Volume rendering by ray casting (CPU, orthographic camera): maximum and minimum intensity
 * projection and front-to-back compositing through a named transfer-function preset with
 * gradient (Phong, headlight) shading. Pure; runs in render workers.
 *
 * Camera: `lookFromAxis` places the camera on that side of the volume looking at its centre, with
 * the view-up vectors of ctkVTKRenderView::lookFromAxis (CTK): R, L, A, P → up = Superior;
 * S, I → up = Anterior. Then, all in degrees and absolute (not incremental, so equal requests give
 * equal images): `orbitX` turns the camera about the view-up axis (positive moves the camera to
 * the screen right, like VTK's Azimuth), `orbitY` about the screen-right axis (positive moves it
 * up, like Elevation), `roll` about the viewing direction (positive tilts the camera clockwise, so the image content turns counter-clockwise).
 * `panX`/`panY` move the camera in mm along screen right/up; `zoom` divides the field of view
 * (1 = the whole volume's bounding sphere fits the shorter image side).
 *
 * Speed: rays are cast on a grid no finer than the volume's largest dimension (a 512² request of
 * a 256³ volume casts 256² rays; the caller upsamples), one sample per smallest voxel spacing,
 * with early ray termination (composite, accumulated opacity > 0.98) and empty-space skipping over
 * 8³ blocks whose value range is transparent in the transfer function.
 */
import {
  cross3,
  ijkToWorldMatrix,
  invert4,
  normalize3,
  rasBounds,
  transformPoint,
  transformVector,
} from './geometry.js';
import type { RawImage } from './slice-render.js';
import { rasterize, type RasterMesh } from './rasterize.js';
import type { ImageVolume, Mat4, Vec3 } from './types.js';
import type { VolumeStats, WindowLevel } from './window-level.js';

export type Axis = 'r' | 'l' | 'a' | 'p' | 's' | 'i';
export type Mode3D = 'mip' | 'minip' | 'composite';

export interface Camera3D {
  axis: Axis;
  orbitX: number;
  orbitY: number;
  roll: number;
  panX: number;
  panY: number;
  zoom: number;
}

export const DEFAULT_CAMERA: Camera3D = {
  axis: 'a',
  orbitX: 0,
  orbitY: 0,
  roll: 0,
  panX: 0,
  panY: 0,
  zoom: 1,
};

interface TfPoint {
  x: number;
  v: number[];
}
export interface TransferPreset {
  /** `hu`: x in the volume's own units (CT Hounsfield); `relative`: 0..1 across the 1st–99th percentile. */
  units: 'hu' | 'relative';
  opacity: TfPoint[];
  color: TfPoint[];
  description: string;
}

const pts = (a: Array<[number, ...number[]]>): TfPoint[] => a.map(([x, ...v]) => ({ x, v }));

export const PRESETS: Record<string, TransferPreset> = {
  'ct-bone': {
    units: 'hu',
    description: 'CT bone: soft tissue hidden, bone from 200 HU opaque, ivory',
    opacity: pts([
      [-3000, 0],
      [180, 0],
      [320, 0.3],
      [600, 0.85],
      [3000, 0.95],
    ]),
    color: pts([
      [-3000, 0.6, 0.35, 0.25],
      [180, 0.75, 0.45, 0.32],
      [350, 0.92, 0.8, 0.6],
      [700, 1, 0.96, 0.86],
      [3000, 1, 1, 1],
    ]),
  },
  'ct-soft-tissue': {
    units: 'hu',
    description: 'CT soft tissue: skin and soft tissue visible (skin tones), bone bright',
    opacity: pts([
      [-3000, 0],
      [-600, 0],
      [-300, 0.03],
      [-100, 0.1],
      [40, 0.22],
      [200, 0.3],
      [400, 0.6],
      [3000, 0.9],
    ]),
    color: pts([
      [-3000, 0.7, 0.4, 0.3],
      [-300, 0.75, 0.45, 0.35],
      [-100, 0.85, 0.6, 0.45],
      [40, 0.9, 0.65, 0.55],
      [200, 0.95, 0.8, 0.7],
      [400, 1, 0.95, 0.9],
      [3000, 1, 1, 1],
    ]),
  },
  'mr-default': {
    units: 'relative',
    description:
      'MR default: background transparent, tissue from ~15% of the 1st–99th percentile range, bright tissue opaque',
    opacity: pts([
      [0, 0],
      [0.12, 0],
      [0.3, 0.08],
      [0.6, 0.2],
      [1, 0.5],
    ]),
    color: pts([
      [0, 0.5, 0.3, 0.25],
      [0.3, 0.8, 0.55, 0.45],
      [0.6, 0.92, 0.78, 0.68],
      [1, 1, 0.97, 0.92],
    ]),
  },
};
export const PRESET_NAMES = Object.keys(PRESETS);

export interface ThreeDJob {
  kind: 'threeD';
  volume: ImageVolume;
  /** Local RAS → world RAS of the volume (parent transforms). */
  worldFromLocal: Mat4;
  camera: Camera3D;
  mode: Mode3D;
  preset: string;
  /** Requested output size; the ray grid may be coarser (see `rayGrid`). */
  size: [number, number];
  /** Background colour 0..255. */
  background: [number, number, number];
  /** Grey mapping for MIP / MinIP. */
  wl: WindowLevel;
  stats: VolumeStats;
  /** Content revision of the volume (in-place voxel edits bump it; invalidates cached block ranges). */
  revision?: number;
  /** Identifies the voxel array across threads (typed arrays arrive as new objects in workers), for caches. */
  volumeKey?: string;
  /** Coarse ray grid (no finer than the volume), upsampled: for interaction. */
  draft?: boolean;
  /** Render only output rows [start, end) (a band, for splitting one image across workers; not with `draft`). */
  rows?: [number, number];
  /**
   * Surfaces (models, segment surfaces) in world RAS: z-buffered with the volume, which is
   * composited only in front of them (they take the place of the background behind the volume).
   */
  surfaces?: RasterMesh[];
  /** No volume to draw (a stand-in volume only frames the camera): surfaces and background. */
  surfacesOnly?: boolean;
}

/**
 * Grey window of a projection: MIP spans the 1st → 99.9th percentile (the maximum would let a few
 * hot voxels darken everything; a slice display window such as CT 400/40 would saturate it),
 * MinIP the minimum → 99th percentile.
 */
export function projectionWindow(mode: 'mip' | 'minip', stats: VolumeStats): WindowLevel {
  if (mode === 'minip')
    return { window: Math.max(1, stats.p99 - stats.min), level: (stats.p99 + stats.min) / 2 };
  const hi = stats.p999 !== undefined && stats.p999 > stats.p1 ? stats.p999 : stats.max;
  return { window: Math.max(1, hi - stats.p1), level: (hi + stats.p1) / 2 };
}

function lerpTable(points: TfPoint[], x: number, dim: number): number[] {
  if (x <= points[0]!.x) return points[0]!.v.slice(0, dim);
  for (let i = 1; i < points.length; i++) {
    const b = points[i]!;
    if (x <= b.x) {
      const a = points[i - 1]!;
      const t = (x - a.x) / (b.x - a.x || 1);
      return a.v.map((av, c) => av + (b.v[c]! - av) * t);
    }
  }
  return points[points.length - 1]!.v.slice(0, dim);
}

const LUT_SIZE = 4096;

interface Lut {
  rgba: Float32Array;
  min: number;
  scale: number;
  /** prefix count of entries with opacity > 0 (for range queries). */
  nonzero: Uint32Array;
}

function buildLut(preset: TransferPreset, stats: VolumeStats, opacityExponent = 1): Lut {
  const min = stats.min,
    max = stats.max > stats.min ? stats.max : stats.min + 1;
  const rgba = new Float32Array(LUT_SIZE * 4);
  const nonzero = new Uint32Array(LUT_SIZE + 1);
  const span = stats.p99 > stats.p1 ? stats.p99 - stats.p1 : max - min;
  const base = stats.p99 > stats.p1 ? stats.p1 : min;
  for (let e = 0; e < LUT_SIZE; e++) {
    const v = min + ((max - min) * e) / (LUT_SIZE - 1);
    const x = preset.units === 'hu' ? v : (v - base) / span;
    const c = lerpTable(preset.color, x, 3);
    const a0 = lerpTable(preset.opacity, x, 1)[0]!;
    const a = opacityExponent === 1 ? a0 : 1 - Math.pow(1 - Math.min(a0, 0.9999), opacityExponent);
    rgba.set([c[0]!, c[1]!, c[2]!, a], e * 4);
    nonzero[e + 1] = nonzero[e]! + (a > 0 ? 1 : 0);
  }
  return { rgba, min, scale: (LUT_SIZE - 1) / (max - min), nonzero };
}

const BLOCK = 8;
interface Blocks {
  bi: number;
  bj: number;
  bk: number;
  min: Float32Array;
  max: Float32Array;
}
const blockCache = new WeakMap<object, Blocks & { revision: number }>();
/** By `volumeKey` (workers receive a new typed-array object per job): the last few volumes. */
const keyedBlocks = new Map<string, Blocks & { revision: number }>();

/** Value range of each 8³ block, widened by one block on each side (for interpolation/gradients). Cached per volume and revision. */
function blockRanges(vol: ImageVolume, revision = 0, key?: string): Blocks {
  const hit = key !== undefined ? keyedBlocks.get(key) : blockCache.get(vol.data);
  if (hit?.revision === revision && hit.bi === Math.ceil(vol.dimensions[0] / BLOCK)) return hit;
  const computed = computeBlockRanges(vol);
  const entry = { ...computed, revision };
  if (key !== undefined) {
    keyedBlocks.delete(key);
    keyedBlocks.set(key, entry);
    while (keyedBlocks.size > 4) keyedBlocks.delete(keyedBlocks.keys().next().value!);
  } else blockCache.set(vol.data, entry);
  return computed;
}

function computeBlockRanges(vol: ImageVolume): Blocks {
  const [di, dj, dk] = vol.dimensions;
  const nc = vol.components;
  const bi = Math.ceil(di / BLOCK),
    bj = Math.ceil(dj / BLOCK),
    bk = Math.ceil(dk / BLOCK);
  const min = new Float32Array(bi * bj * bk).fill(Infinity);
  const max = new Float32Array(bi * bj * bk).fill(-Infinity);
  const d = vol.data;
  // Exact range of each block, then widened by the 26 neighbouring blocks (covers the one-voxel margin).
  const emin = new Float32Array(bi * bj * bk).fill(Infinity);
  const emax = new Float32Array(bi * bj * bk).fill(-Infinity);
  for (let k = 0; k < dk; k++) {
    for (let j = 0; j < dj; j++) {
      const rowBase = (k * dj + j) * di;
      const bRow = ((k >> 3) * bj + (j >> 3)) * bi;
      for (let i = 0; i < di; i++) {
        const v = d[(rowBase + i) * nc]!;
        const idx = bRow + (i >> 3);
        if (v < emin[idx]!) emin[idx] = v;
        if (v > emax[idx]!) emax[idx] = v;
      }
    }
  }
  for (let c = 0; c < bk; c++)
    for (let b = 0; b < bj; b++)
      for (let a = 0; a < bi; a++) {
        const idx = (c * bj + b) * bi + a;
        for (let z = Math.max(0, c - 1); z <= Math.min(bk - 1, c + 1); z++)
          for (let y = Math.max(0, b - 1); y <= Math.min(bj - 1, b + 1); y++)
            for (let x = Math.max(0, a - 1); x <= Math.min(bi - 1, a + 1); x++) {
              const n = (z * bj + y) * bi + x;
              if (emin[n]! < min[idx]!) min[idx] = emin[n]!;
              if (emax[n]! > max[idx]!) max[idx] = emax[n]!;
            }
      }
  return { bi, bj, bk, min, max };
}

const AXES: Record<Axis, { pos: Vec3; up: Vec3 }> = {
  r: { pos: [1, 0, 0], up: [0, 0, 1] },
  l: { pos: [-1, 0, 0], up: [0, 0, 1] },
  a: { pos: [0, 1, 0], up: [0, 0, 1] },
  p: { pos: [0, -1, 0], up: [0, 0, 1] },
  s: { pos: [0, 0, 1], up: [0, 1, 0] },
  i: { pos: [0, 0, -1], up: [0, 1, 0] },
};

/** Rodrigues rotation of v about unit axis k by `deg` degrees. */
function rotate(v: Vec3, k: Vec3, deg: number): Vec3 {
  const t = (deg * Math.PI) / 180;
  const c = Math.cos(t),
    s = Math.sin(t);
  const kv = cross3(k, v);
  const d = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
  return [
    v[0] * c + kv[0] * s + k[0] * d * (1 - c),
    v[1] * c + kv[1] * s + k[1] * d * (1 - c),
    v[2] * c + kv[2] * s + k[2] * d * (1 - c),
  ];
}

export interface CameraFrame {
  /** Unit vectors in world RAS. */
  dir: Vec3;
  right: Vec3;
  up: Vec3;
  /** World point at the image centre. */
  focal: Vec3;
  /** Half the image width and height in mm. */
  halfW: number;
  halfH: number;
  /** Bounding-sphere radius of the volume in mm. */
  radius: number;
}

/** The camera frame for a volume under `worldFromLocal`, for an output of `size`. */
export function cameraFrame(
  vol: ImageVolume,
  worldFromLocal: Mat4,
  cam: Camera3D,
  size: [number, number],
): CameraFrame {
  const ijkToWorld = ijkToWorldMatrix(vol, worldFromLocal);
  const { min, max } = rasBounds(
    [vol.dimensions[0] + 1, vol.dimensions[1] + 1, vol.dimensions[2] + 1],
    mulTranslate(ijkToWorld, -0.5),
  );
  const centre: Vec3 = [(min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2];
  const radius = Math.hypot(max[0] - min[0], max[1] - min[1], max[2] - min[2]) / 2 || 1;
  const a = AXES[cam.axis];
  let c: Vec3 = a.pos; // focal → camera
  let up: Vec3 = a.up;
  let right = cross3([-c[0], -c[1], -c[2]], up);
  c = rotate(c, up, cam.orbitX);
  right = rotate(right, up, cam.orbitX);
  c = rotate(c, right, -cam.orbitY);
  up = rotate(up, right, -cam.orbitY);
  const dir = normalize3([-c[0], -c[1], -c[2]]);
  up = rotate(up, dir, cam.roll);
  right = normalize3(cross3(dir, up));
  up = normalize3(cross3(right, dir));
  const focal: Vec3 = [
    centre[0] + cam.panX * right[0] + cam.panY * up[0],
    centre[1] + cam.panX * right[1] + cam.panY * up[1],
    centre[2] + cam.panX * right[2] + cam.panY * up[2],
  ];
  const [W, H] = size;
  const half = radius / (cam.zoom > 0 ? cam.zoom : 1);
  const halfW = W >= H ? (half * W) / H : half;
  const halfH = W >= H ? half : (half * H) / W;
  return { dir, right, up, focal, halfW, halfH, radius };
}

/** m · translate(t, t, t) (shifts the index origin, for voxel-edge bounds). */
function mulTranslate(m: Mat4, t: number): Mat4 {
  const r = [...m] as Mat4;
  for (let row = 0; row < 3; row++)
    r[row * 4 + 3] = m[row * 4 + 3]! + t * (m[row * 4]! + m[row * 4 + 1]! + m[row * 4 + 2]!);
  return r;
}

/**
 * The ray grid for an output size: one ray per output pixel, or (`draft`, while interacting) no
 * finer than the volume's largest dimension (the caller upsamples).
 */
export function rayGrid(vol: ImageVolume, size: [number, number], draft = false): [number, number] {
  if (!draft) return [size[0], size[1]];
  const cap = Math.max(...vol.dimensions);
  const s = Math.min(1, cap / Math.max(size[0], size[1]));
  return [Math.max(1, Math.round(size[0] * s)), Math.max(1, Math.round(size[1] * s))];
}

/** Renders one ray per pixel (or, for `draft` jobs, on a coarser grid upsampled bilinearly to `job.size`). */
export function renderThreeD(job: ThreeDJob): RawImage {
  const img = castRays(job);
  if (job.rows && !job.draft) return img;
  return img.width === job.size[0] && img.height === job.size[1] ? img : upsample(img, job.size);
}

/** Bilinear resize with pixel centres aligned (libvips' upsizing shifts by half a pixel). */
export function upsample(img: RawImage, size: [number, number]): RawImage {
  const [W, H] = size;
  const c = img.channels;
  const out = new Uint8Array(W * H * c);
  const sx = img.width / W,
    sy = img.height / H;
  for (let y = 0; y < H; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    if (fy > img.height - 1) fy = img.height - 1;
    const y0 = Math.floor(fy),
      y1 = Math.min(img.height - 1, y0 + 1),
      ty = fy - y0;
    for (let x = 0; x < W; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      if (fx > img.width - 1) fx = img.width - 1;
      const x0 = Math.floor(fx),
        x1 = Math.min(img.width - 1, x0 + 1),
        tx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = img.data[(y0 * img.width + x0) * c + k]!,
          b = img.data[(y0 * img.width + x1) * c + k]!;
        const d = img.data[(y1 * img.width + x0) * c + k]!,
          e = img.data[(y1 * img.width + x1) * c + k]!;
        out[(y * W + x) * c + k] = Math.round(
          (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty,
        );
      }
    }
  }
  return { width: W, height: H, channels: img.channels, data: out };
}

/** Deterministic per-pixel jitter in [0, 1) (breaks the wood-grain rings of a fixed sampling phase). */
function jitter(x: number, y: number): number {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** Trilinear value at index point (x, y, z) of a single-component-strided array, clamped at the border. */
function trilinear(
  data: ImageVolume['data'],
  si: number,
  sj: number,
  sk: number,
  dimI: number,
  dimJ: number,
  dimK: number,
  x: number,
  y: number,
  z: number,
): number {
  if (x < 0) x = 0;
  else if (x > dimI) x = dimI;
  if (y < 0) y = 0;
  else if (y > dimJ) y = dimJ;
  if (z < 0) z = 0;
  else if (z > dimK) z = dimK;
  const i0 = x | 0,
    j0 = y | 0,
    k0 = z | 0;
  const oi = i0 < dimI ? si : 0,
    oj = j0 < dimJ ? sj : 0,
    ok = k0 < dimK ? sk : 0;
  const tx = x - i0,
    ty = y - j0,
    tz = z - k0;
  const b = i0 * si + j0 * sj + k0 * sk;
  const c00 = data[b]!,
    c10 = data[b + oj]!,
    c01 = data[b + ok]!,
    c11 = data[b + oj + ok]!;
  const a00 = c00 + (data[b + oi]! - c00) * tx;
  const a10 = c10 + (data[b + oj + oi]! - c10) * tx;
  const a01 = c01 + (data[b + ok + oi]! - c01) * tx;
  const a11 = c11 + (data[b + oj + ok + oi]! - c11) * tx;
  const e0 = a00 + (a10 - a00) * ty,
    e1 = a01 + (a11 - a01) * ty;
  return e0 + (e1 - e0) * tz;
}

interface ProjectParams {
  data: ImageVolume['data'];
  si: number;
  sj: number;
  sk: number;
  dimI: number;
  dimJ: number;
  dimK: number;
  sx: number;
  sy: number;
  sz: number;
  bmin: Float32Array;
  bmax: Float32Array;
  bbi: number;
  bbj: number;
  satHi: number;
  lo: number;
}

/** Steps (≥ 1) from the sample at (x, y, z), nearest voxel (ii, jj, kk), to the first sample outside its 8³ block. */
function blockExit(
  sx: number,
  sy: number,
  sz: number,
  x: number,
  y: number,
  z: number,
  ii: number,
  jj: number,
  kk: number,
): number {
  let t = Infinity;
  if (sx > 1e-12) t = ((ii | 7) + 0.5 - x) / sx;
  else if (sx < -1e-12) t = ((ii & ~7) - 0.5 - x) / sx;
  if (sy > 1e-12) {
    const u = ((jj | 7) + 0.5 - y) / sy;
    if (u < t) t = u;
  } else if (sy < -1e-12) {
    const u = ((jj & ~7) - 0.5 - y) / sy;
    if (u < t) t = u;
  }
  if (sz > 1e-12) {
    const u = ((kk | 7) + 0.5 - z) / sz;
    if (u < t) t = u;
  } else if (sz < -1e-12) {
    const u = ((kk & ~7) - 0.5 - z) / sz;
    if (u < t) t = u;
  }
  const k = Math.ceil(t - 1e-7);
  return k >= 1 ? k : 1;
}

/** Maximum (or minimum) of trilinear samples n0..n1 along one ray, skipping 8³ blocks that cannot change it. */
function projectRay(
  P: ProjectParams,
  isMip: boolean,
  n0: number,
  n1: number,
  x: number,
  y: number,
  z: number,
): number {
  const { data, si, sj, sk, dimI, dimJ, dimK, sx, sy, sz, bmin, bmax, bbi, bbj, satHi, lo } = P;
  let best = isMip ? -Infinity : Infinity;
  for (let n = n0; n <= n1;) {
    let ii = (x + 0.5) | 0,
      jj = (y + 0.5) | 0,
      kk = (z + 0.5) | 0;
    if (ii > dimI) ii = dimI;
    if (jj > dimJ) jj = dimJ;
    if (kk > dimK) kk = dimK;
    const b = ((kk >> 3) * bbj + (jj >> 3)) * bbi + (ii >> 3);
    if (isMip ? bmax[b]! <= best : bmin[b]! >= best) {
      const k = blockExit(sx, sy, sz, x, y, z, ii, jj, kk);
      n += k;
      x += k * sx;
      y += k * sy;
      z += k * sz;
      continue;
    }
    const val = trilinear(data, si, sj, sk, dimI, dimJ, dimK, x, y, z);
    if (isMip ? val > best : val < best) {
      best = val;
      // Past the top (bottom) of the grey window the pixel is white (black) whatever follows.
      if (isMip ? best >= satHi : best <= lo) break;
    }
    n++;
    x += sx;
    y += sy;
    z += sz;
  }
  return best;
}

/**
 * The surfaces seen by the volume's orthographic camera, on the ray grid: colour and the distance
 * (mm) from each ray's origin plane along the view direction.
 */
function surfaceLayer(
  job: ThreeDJob,
  f: CameraFrame,
  W: number,
  H: number,
  rows: [number, number],
): { color: Uint8Array; depth: Float32Array } {
  const far = 2 * f.radius;
  const e = [0, 1, 2].map((a) => f.focal[a]! - f.dir[a]! * far);
  const pw = (2 * f.halfW) / W,
    ph = (2 * f.halfH) / H;
  const img = rasterize({
    kind: 'raster',
    width: W,
    height: H,
    output: 'color',
    withDepth: true,
    rows,
    meshes: job.surfaces ?? [],
    background: job.background,
    camera: {
      kind: 'orthographic',
      // Camera axes in world: X = right, Y = up, Z = −view direction; origin on the rays' start plane.
      worldFromCamera: [
        f.right[0],
        f.up[0],
        -f.dir[0],
        e[0]!,
        f.right[1],
        f.up[1],
        -f.dir[1],
        e[1]!,
        f.right[2],
        f.up[2],
        -f.dir[2],
        e[2]!,
        0,
        0,
        0,
        1,
      ],
      fx: 1 / pw,
      fy: 1 / ph,
      cx: W / 2,
      cy: H / 2,
      near: 0,
      far: Infinity,
    },
  });
  return { color: img.data as Uint8Array, depth: img.depth! };
}

function castRays(job: ThreeDJob): RawImage {
  const vol = job.volume;
  const [W, H] = rayGrid(vol, job.size, job.draft === true);
  const f = cameraFrame(vol, job.worldFromLocal, job.camera, job.size);
  const ijkToWorld = ijkToWorldMatrix(vol, job.worldFromLocal);
  const M = invert4(ijkToWorld);
  // One sample per voxel plane crossed along the ray's dominant index axis (the largest index
  // component of a step is 1), so an oblique ray takes as many samples as an axis-aligned one.
  const unit = transformVector(M, f.dir); // index units per mm along the ray
  const major = Math.max(Math.abs(unit[0]), Math.abs(unit[1]), Math.abs(unit[2]));
  const stepMm = 1 / major;
  const dStep = transformVector(M, [f.dir[0] * stepMm, f.dir[1] * stepMm, f.dir[2] * stepMm]);
  // Transfer-function opacities are per smallest voxel spacing; correct for the actual step.
  const refMm = Math.min(
    ...[0, 1, 2].map((a) => Math.hypot(ijkToWorld[a]!, ijkToWorld[4 + a]!, ijkToWorld[8 + a]!)),
  );
  const opacityExponent = stepMm / refMm;
  const [di, dj, dk] = vol.dimensions;
  const nc = vol.components;
  const data = vol.data;
  const sj = di * nc,
    sk = di * dj * nc,
    si = nc;
  const bgGrey = job.background[0] === job.background[1] && job.background[1] === job.background[2];
  const hasSurfaces = (job.surfaces?.length ?? 0) > 0;
  const grey = job.mode !== 'composite' && bgGrey && !hasSurfaces;
  const channels = grey ? 1 : 3;
  const r0 = job.rows && !job.draft ? Math.max(0, job.rows[0]) : 0;
  const r1 = job.rows && !job.draft ? Math.min(H, job.rows[1]) : H;
  const out = new Uint8Array(W * (r1 - r0) * channels);
  const pw = (2 * f.halfW) / W,
    ph = (2 * f.halfH) / H;
  const surf = hasSurfaces ? surfaceLayer(job, f, W, H, [r0, r1]) : undefined;
  const lo = job.wl.level - job.wl.window / 2,
    wwin = job.wl.window,
    satHi = lo + wwin;
  const isMip = job.mode === 'mip';

  const lut =
    job.mode === 'composite'
      ? buildLut(PRESETS[job.preset] ?? PRESETS['ct-bone']!, job.stats, opacityExponent)
      : undefined;
  const blocks = blockRanges(vol, job.revision ?? 0, job.volumeKey);
  const nb = blocks.min.length;
  const bmin = blocks.min,
    bmax = blocks.max,
    bbi = blocks.bi,
    bbj = blocks.bj;
  let emptyBlock: Uint8Array | undefined;
  if (lut) {
    emptyBlock = new Uint8Array(nb);
    for (let b = 0; b < nb; b++) {
      const a = Math.max(0, Math.min(LUT_SIZE - 1, Math.floor((bmin[b]! - lut.min) * lut.scale)));
      const z = Math.max(0, Math.min(LUT_SIZE - 1, Math.ceil((bmax[b]! - lut.min) * lut.scale)));
      emptyBlock[b] = bmin[b]! > bmax[b]! || lut.nonzero[z + 1] === lut.nonzero[a] ? 1 : 0;
    }
  }
  // Gradient (index space) → world normal: g_world = Mᵀ g_ijk.
  const Mt = [M[0], M[4], M[8], M[1], M[5], M[9], M[2], M[6], M[10]];
  const light = [-f.dir[0], -f.dir[1], -f.dir[2]];
  const bg = job.background;
  const span =
    job.stats.p99 > job.stats.p1 ? job.stats.p99 - job.stats.p1 : job.stats.max - job.stats.min;
  const gradRef = Math.max(1e-6, 0.05 * span);
  const sx = dStep[0],
    sy = dStep[1],
    sz = dStep[2];
  const dimI = di - 1,
    dimJ = dj - 1,
    dimK = dk - 1;

  const tri = (x: number, y: number, z: number): number =>
    trilinear(data, si, sj, sk, dimI, dimJ, dimK, x, y, z);
  /** Steps (≥ 1) from the sample at (x, y, z) to the first sample outside its 8³ block. */
  const stepsOutOfBlock = (
    x: number,
    y: number,
    z: number,
    ii: number,
    jj: number,
    kk: number,
  ): number => {
    let t = Infinity;
    if (sx > 1e-12) t = ((ii | 7) + 0.5 - x) / sx;
    else if (sx < -1e-12) t = ((ii & ~7) - 0.5 - x) / sx;
    if (sy > 1e-12) t = Math.min(t, ((jj | 7) + 0.5 - y) / sy);
    else if (sy < -1e-12) t = Math.min(t, ((jj & ~7) - 0.5 - y) / sy);
    if (sz > 1e-12) t = Math.min(t, ((kk | 7) + 0.5 - z) / sz);
    else if (sz < -1e-12) t = Math.min(t, ((kk & ~7) - 0.5 - z) / sz);
    const k = Math.ceil(t - 1e-7);
    return k >= 1 ? k : 1;
  };

  const P: ProjectParams = {
    data,
    si,
    sj,
    sk,
    dimI,
    dimJ,
    dimK,
    sx,
    sy,
    sz,
    bmin,
    bmax,
    bbi,
    bbj,
    satHi,
    lo,
  };
  // Ray origins in index space are affine in (px, py): o = O + u·Ru + v·Rv.
  const far = 2 * f.radius;
  const O = transformPoint(M, [
    f.focal[0] - f.dir[0] * far,
    f.focal[1] - f.dir[1] * far,
    f.focal[2] - f.dir[2] * far,
  ]);
  const Ru = transformVector(M, f.right),
    Rv = transformVector(M, f.up);
  const par0 = Math.abs(sx) < 1e-12,
    par1 = Math.abs(sy) < 1e-12,
    par2 = Math.abs(sz) < 1e-12;
  const inv0 = par0 ? 0 : 1 / sx,
    inv1 = par1 ? 0 : 1 / sy,
    inv2 = par2 ? 0 : 1 / sz;
  const lim0 = di - 0.5,
    lim1 = dj - 0.5,
    lim2 = dk - 0.5;
  // 16×16 tiles: neighbouring rays reuse cached voxels (the volume is far bigger than the caches).
  const TILE = 16;
  for (let ty = r0; ty < r1; ty += TILE)
    for (let tx = 0; tx < W; tx += TILE) {
      const yEnd = Math.min(r1, ty + TILE),
        xEnd = Math.min(W, tx + TILE);
      for (let py = ty; py < yEnd; py++) {
        const v = f.halfH - (py + 0.5) * ph;
        for (let px = tx; px < xEnd; px++) {
          const u = -f.halfW + (px + 0.5) * pw;
          const o0 = O[0] + u * Ru[0] + v * Rv[0],
            o1 = O[1] + u * Ru[1] + v * Rv[1],
            o2 = O[2] + u * Ru[2] + v * Rv[2];
          // Slab intersection with the voxel box [-0.5, dim-0.5] in steps.
          let t0 = -Infinity,
            t1 = Infinity;
          if (par0) {
            if (o0 < -0.5 || o0 >= lim0) t0 = Infinity;
          } else {
            const ta = (-0.5 - o0) * inv0,
              tb = (lim0 - o0) * inv0;
            t0 = ta < tb ? ta : tb;
            t1 = ta < tb ? tb : ta;
          }
          if (par1) {
            if (o1 < -0.5 || o1 >= lim1) t0 = Infinity;
          } else {
            const ta = (-0.5 - o1) * inv1,
              tb = (lim1 - o1) * inv1;
            const lo1 = ta < tb ? ta : tb,
              hi1 = ta < tb ? tb : ta;
            if (lo1 > t0) t0 = lo1;
            if (hi1 < t1) t1 = hi1;
          }
          if (par2) {
            if (o2 < -0.5 || o2 >= lim2) t0 = Infinity;
          } else {
            const ta = (-0.5 - o2) * inv2,
              tb = (lim2 - o2) * inv2;
            const lo2 = ta < tb ? ta : tb,
              hi2 = ta < tb ? tb : ta;
            if (lo2 > t0) t0 = lo2;
            if (hi2 < t1) t1 = hi2;
          }
          const pix = (py - r0) * W + px;
          // Samples at t = n + j (n integer) with a per-pixel phase j.
          const jit = jitter(px, py);
          const n0 = Math.ceil(t0 - jit);
          let n1 = Math.floor(t1 - 1e-9 - jit);
          // Behind the volume: the background, or the nearest surface (which also ends the ray).
          let pb: readonly number[] = bg;
          if (surf) {
            const zs = surf.depth[py * W + px]!;
            if (zs < Infinity) {
              const sp = 3 * (py * W + px);
              pb = [surf.color[sp]!, surf.color[sp + 1]!, surf.color[sp + 2]!];
              // Last sample strictly in front of the surface: (n + jit)·stepMm < zs.
              const nMax = Math.ceil(zs / stepMm - jit) - 1;
              if (nMax < n1) n1 = nMax;
              if (!lut) {
                writeBg(out, pix, channels, pb);
                continue;
              }
            }
          }
          if (!(n0 <= n1) || n0 === -Infinity || n1 === Infinity || job.surfacesOnly) {
            writeBg(out, pix, channels, pb);
            continue;
          }
          const ts = n0 + jit;
          let x = o0 + ts * sx,
            y = o1 + ts * sy,
            z = o2 + ts * sz;
          if (!lut) {
            // MIP / MinIP on trilinear samples, skipping blocks that cannot beat the current extreme.
            const best = projectRay(P, isMip, n0, n1, x, y, z);
            const g = Math.round(((best - lo) * 255) / wwin);
            const gv = g <= 0 ? 0 : g >= 255 ? 255 : g;
            if (channels === 1) out[pix] = gv;
            else out[pix * 3] = out[pix * 3 + 1] = out[pix * 3 + 2] = gv;
            continue;
          }
          // Composite, front to back.
          let ar = 0,
            ag = 0,
            ab = 0,
            aa = 0;
          const rgba = lut.rgba;
          const eb = emptyBlock!;
          for (let n = n0; n <= n1;) {
            let ii = (x + 0.5) | 0,
              jj = (y + 0.5) | 0,
              kk = (z + 0.5) | 0;
            if (ii > dimI) ii = dimI;
            if (jj > dimJ) jj = dimJ;
            if (kk > dimK) kk = dimK;
            if (eb[((kk >> 3) * bbj + (jj >> 3)) * bbi + (ii >> 3)]) {
              const k = stepsOutOfBlock(x, y, z, ii, jj, kk);
              n += k;
              x += k * sx;
              y += k * sy;
              z += k * sz;
              continue;
            }
            const val = tri(x, y, z);
            let e = ((val - lut.min) * lut.scale + 0.5) | 0;
            if (e < 0) e = 0;
            else if (e >= LUT_SIZE) e = LUT_SIZE - 1;
            const a = rgba[e * 4 + 3]!;
            if (a > 0) {
              const w = (1 - aa) * a;
              // Gradient: central differences of trilinear samples one voxel either side (smooth,
              // continuous normals; not the blocky nearest-voxel differences).
              const gi = tri(x + 1, y, z) - tri(x - 1, y, z);
              const gj = tri(x, y + 1, z) - tri(x, y - 1, z);
              const gk = tri(x, y, z + 1) - tri(x, y, z - 1);
              const nx = Mt[0]! * gi + Mt[1]! * gj + Mt[2]! * gk;
              const ny = Mt[3]! * gi + Mt[4]! * gj + Mt[5]! * gk;
              const nz = Mt[6]! * gi + Mt[7]! * gj + Mt[8]! * gk;
              const gl = Math.sqrt(nx * nx + ny * ny + nz * nz);
              let shade = 1,
                spec = 0;
              if (gl > 1e-6) {
                // Headlight Blinn-Phong (light = view direction, so the half vector is the light).
                const ndl = Math.abs((nx * light[0]! + ny * light[1]! + nz * light[2]!) / gl);
                // Weak gradients (homogeneous interiors) are lit less directionally.
                const s = gl > gradRef ? 1 : gl / gradRef;
                shade = 1 - s + s * (0.22 + 0.78 * ndl);
                const s2 = ndl * ndl,
                  s4 = s2 * s2,
                  s8 = s4 * s4,
                  s16 = s8 * s8;
                spec = 0.25 * s * s16 * s8;
              }
              const r = rgba[e * 4]! * shade + spec,
                gg = rgba[e * 4 + 1]! * shade + spec,
                bb = rgba[e * 4 + 2]! * shade + spec;
              ar += w * (r < 1 ? r : 1);
              ag += w * (gg < 1 ? gg : 1);
              ab += w * (bb < 1 ? bb : 1);
              aa += w;
              if (aa > 0.985) break;
            }
            n++;
            x += sx;
            y += sy;
            z += sz;
          }
          out[pix * 3] = Math.round(ar * 255 + (1 - aa) * pb[0]!);
          out[pix * 3 + 1] = Math.round(ag * 255 + (1 - aa) * pb[1]!);
          out[pix * 3 + 2] = Math.round(ab * 255 + (1 - aa) * pb[2]!);
        }
      }
    }
  return { width: W, height: r1 - r0, channels, data: out };
}

function writeBg(out: Uint8Array, pix: number, channels: number, bg: readonly number[]): void {
  if (channels === 1) out[pix] = bg[0]!;
  else {
    out[pix * 3] = bg[0]!;
    out[pix * 3 + 1] = bg[1]!;
    out[pix * 3 + 2] = bg[2]!;
  }
}
