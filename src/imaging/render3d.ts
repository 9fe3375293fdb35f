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
import { cross3, invert4, normalize3, rasBounds, transformPoint, transformVector } from './geometry.js';
import type { RawImage } from './slice-render.js';
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

export const DEFAULT_CAMERA: Camera3D = { axis: 'a', orbitX: 0, orbitY: 0, roll: 0, panX: 0, panY: 0, zoom: 1 };

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
    description: 'CT bone: transparent below 150 HU, cortical bone opaque',
    opacity: pts([[-3000, 0], [150, 0], [300, 0.15], [700, 0.6], [3000, 0.85]]),
    color: pts([[-3000, 0.3, 0.3, 0.3], [150, 0.55, 0.25, 0.15], [300, 0.88, 0.6, 0.29], [700, 1, 0.94, 0.85], [3000, 1, 1, 1]]),
  },
  'ct-soft-tissue': {
    units: 'hu',
    description: 'CT soft tissue: skin and muscle translucent, bone bright',
    opacity: pts([[-3000, 0], [-500, 0], [-100, 0.01], [40, 0.06], [80, 0.12], [400, 0.6], [3000, 0.8]]),
    color: pts([[-3000, 0, 0, 0], [-100, 0.6, 0.3, 0.2], [40, 0.85, 0.45, 0.35], [80, 0.9, 0.6, 0.5], [400, 1, 0.95, 0.9], [3000, 1, 1, 1]]),
  },
  'mr-default': {
    units: 'relative',
    description: 'MR default: low intensities transparent, ramps to bright tissue',
    opacity: pts([[0, 0], [0.2, 0], [0.5, 0.04], [1, 0.25]]),
    color: pts([[0, 0, 0, 0], [0.2, 0.6, 0.35, 0.3], [0.5, 0.9, 0.75, 0.6], [1, 1, 1, 0.95]]),
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
  const min = stats.min, max = stats.max > stats.min ? stats.max : stats.min + 1;
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

/** Value range of each 8³ block, widened by one voxel on each side (for interpolation/gradients). */
function blockRanges(vol: ImageVolume, revision = 0): Blocks {
  const hit = blockCache.get(vol.data);
  if (hit && hit.revision === revision) return hit;
  const [di, dj, dk] = vol.dimensions;
  const nc = vol.components;
  const bi = Math.ceil(di / BLOCK), bj = Math.ceil(dj / BLOCK), bk = Math.ceil(dk / BLOCK);
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
  for (let c = 0; c < bk; c++) for (let b = 0; b < bj; b++) for (let a = 0; a < bi; a++) {
    const idx = (c * bj + b) * bi + a;
    for (let z = Math.max(0, c - 1); z <= Math.min(bk - 1, c + 1); z++) for (let y = Math.max(0, b - 1); y <= Math.min(bj - 1, b + 1); y++) for (let x = Math.max(0, a - 1); x <= Math.min(bi - 1, a + 1); x++) {
      const n = (z * bj + y) * bi + x;
      if (emin[n]! < min[idx]!) min[idx] = emin[n]!;
      if (emax[n]! > max[idx]!) max[idx] = emax[n]!;
    }
  }
  const blocks = { bi, bj, bk, min, max };
  blockCache.set(vol.data, { ...blocks, revision });
  return blocks;
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
  const c = Math.cos(t), s = Math.sin(t);
  const kv = cross3(k, v);
  const d = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
  return [v[0] * c + kv[0] * s + k[0] * d * (1 - c), v[1] * c + kv[1] * s + k[1] * d * (1 - c), v[2] * c + kv[2] * s + k[2] * d * (1 - c)];
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
export function cameraFrame(vol: ImageVolume, worldFromLocal: Mat4, cam: Camera3D, size: [number, number]): CameraFrame {
  const ijkToWorld = worldToIjkInverse(vol, worldFromLocal);
  const { min, max } = rasBounds([vol.dimensions[0] + 1, vol.dimensions[1] + 1, vol.dimensions[2] + 1], mulTranslate(ijkToWorld, -0.5));
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

function worldToIjkInverse(vol: ImageVolume, worldFromLocal: Mat4): Mat4 {
  // ijk → world = worldFromLocal · ijkToRas
  const d = vol.direction, s = vol.spacing, o = vol.origin;
  const ijkToRas: Mat4 = [d[0] * s[0], d[1] * s[1], d[2] * s[2], o[0], d[3] * s[0], d[4] * s[1], d[5] * s[2], o[1], d[6] * s[0], d[7] * s[1], d[8] * s[2], o[2], 0, 0, 0, 1];
  const r = new Array<number>(16).fill(0) as Mat4;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
    let acc = 0;
    for (let k = 0; k < 4; k++) acc += worldFromLocal[i * 4 + k]! * ijkToRas[k * 4 + j]!;
    r[i * 4 + j] = acc;
  }
  return r;
}

/** m · translate(t, t, t) (shifts the index origin, for voxel-edge bounds). */
function mulTranslate(m: Mat4, t: number): Mat4 {
  const r = [...m] as Mat4;
  for (let row = 0; row < 3; row++) r[row * 4 + 3] = m[row * 4 + 3]! + t * (m[row * 4]! + m[row * 4 + 1]! + m[row * 4 + 2]!);
  return r;
}

/** The ray grid for an output size: no finer than the volume's largest dimension. */
export function rayGrid(vol: ImageVolume, size: [number, number]): [number, number] {
  const cap = Math.max(...vol.dimensions);
  const s = Math.min(1, cap / Math.max(size[0], size[1]));
  return [Math.max(1, Math.round(size[0] * s)), Math.max(1, Math.round(size[1] * s))];
}

/** Renders at the ray-grid resolution, then upsamples bilinearly (pixel-centre aligned) to `job.size`. */
export function renderThreeD(job: ThreeDJob): RawImage {
  const img = castRays(job);
  return img.width === job.size[0] && img.height === job.size[1] ? img : upsample(img, job.size);
}

/** Bilinear resize with pixel centres aligned (libvips' upsizing shifts by half a pixel). */
export function upsample(img: RawImage, size: [number, number]): RawImage {
  const [W, H] = size;
  const c = img.channels;
  const out = new Uint8Array(W * H * c);
  const sx = img.width / W, sy = img.height / H;
  for (let y = 0; y < H; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    if (fy > img.height - 1) fy = img.height - 1;
    const y0 = Math.floor(fy), y1 = Math.min(img.height - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < W; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      if (fx > img.width - 1) fx = img.width - 1;
      const x0 = Math.floor(fx), x1 = Math.min(img.width - 1, x0 + 1), tx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = img.data[(y0 * img.width + x0) * c + k]!, b = img.data[(y0 * img.width + x1) * c + k]!;
        const d = img.data[(y1 * img.width + x0) * c + k]!, e = img.data[(y1 * img.width + x1) * c + k]!;
        out[(y * W + x) * c + k] = Math.round((a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty);
      }
    }
  }
  return { width: W, height: H, channels: img.channels, data: out };
}

function castRays(job: ThreeDJob): RawImage {
  const vol = job.volume;
  const [W, H] = rayGrid(vol, job.size);
  const f = cameraFrame(vol, job.worldFromLocal, job.camera, job.size);
  const ijkToWorld = worldToIjkInverse(vol, job.worldFromLocal);
  const M = invert4(ijkToWorld);
  // One sample per smallest world-space voxel step.
  // One sample per voxel plane crossed along the ray's dominant index axis (the largest index
  // component of a step is 1), so an oblique ray takes as many samples as an axis-aligned one.
  const unit = transformVector(M, f.dir); // index units per mm along the ray
  const major = Math.max(Math.abs(unit[0]), Math.abs(unit[1]), Math.abs(unit[2]));
  const stepMm = 1 / major;
  const dStep = transformVector(M, [f.dir[0] * stepMm, f.dir[1] * stepMm, f.dir[2] * stepMm]);
  // Transfer-function opacities are per smallest voxel spacing; correct for the actual step.
  const refMm = Math.min(...[0, 1, 2].map((a) => Math.hypot(ijkToWorld[a]!, ijkToWorld[4 + a]!, ijkToWorld[8 + a]!)));
  const opacityExponent = stepMm / refMm;
  const [di, dj, dk] = vol.dimensions;
  const nc = vol.components;
  const data = vol.data;
  const sj = di, sk = di * dj;
  const bgGrey = job.background[0] === job.background[1] && job.background[1] === job.background[2];
  const grey = job.mode !== 'composite' && bgGrey;
  const channels = grey ? 1 : 3;
  const out = new Uint8Array(W * H * channels);
  const pw = (2 * f.halfW) / W, ph = (2 * f.halfH) / H;
  const lo = job.wl.level - job.wl.window / 2, wwin = job.wl.window;

  const lut = job.mode === 'composite' ? buildLut(PRESETS[job.preset] ?? PRESETS['ct-bone']!, job.stats, opacityExponent) : undefined;
  let blocks: Blocks | undefined;
  let emptyBlock: Uint8Array | undefined;
  if (lut) {
    blocks = blockRanges(vol, job.revision ?? 0);
    emptyBlock = new Uint8Array(blocks.min.length);
    for (let b = 0; b < blocks.min.length; b++) {
      const a = Math.max(0, Math.min(LUT_SIZE - 1, Math.floor((blocks.min[b]! - lut.min) * lut.scale)));
      const z = Math.max(0, Math.min(LUT_SIZE - 1, Math.ceil((blocks.max[b]! - lut.min) * lut.scale)));
      emptyBlock[b] = blocks.min[b]! > blocks.max[b]! || lut.nonzero[z + 1]! - lut.nonzero[a]! === 0 ? 1 : 0;
    }
  }
  // Gradient (index space) → world normal: g_world = Mᵀ g_ijk.
  const Mt = [M[0], M[4], M[8], M[1], M[5], M[9], M[2], M[6], M[10]];
  const light = [-f.dir[0], -f.dir[1], -f.dir[2]];
  const bg = job.background;

  for (let py = 0; py < H; py++) {
    for (let px = 0; px < W; px++) {
      const u = -f.halfW + (px + 0.5) * pw;
      const v = f.halfH - (py + 0.5) * ph;
      const start: Vec3 = [
        f.focal[0] + u * f.right[0] + v * f.up[0] - f.dir[0] * 2 * f.radius,
        f.focal[1] + u * f.right[1] + v * f.up[1] - f.dir[1] * 2 * f.radius,
        f.focal[2] + u * f.right[2] + v * f.up[2] - f.dir[2] * 2 * f.radius,
      ];
      const o = transformPoint(M, start);
      // Slab intersection with the voxel box [-0.5, dim-0.5] in steps.
      let t0 = -Infinity, t1 = Infinity;
      for (let a = 0; a < 3; a++) {
        const lim = vol.dimensions[a]! - 0.5;
        const oa = o[a]!, da = dStep[a]!;
        if (Math.abs(da) < 1e-12) {
          if (oa < -0.5 || oa >= lim) { t0 = Infinity; break; }
          continue;
        }
        let ta = (-0.5 - oa) / da, tb = (lim - oa) / da;
        if (ta > tb) [ta, tb] = [tb, ta];
        if (ta > t0) t0 = ta;
        if (tb < t1) t1 = tb;
      }
      const pix = py * W + px;
      const n0 = Math.ceil(t0), n1 = Math.floor(t1 - 1e-9);
      if (!(n0 <= n1) || !Number.isFinite(n0) || !Number.isFinite(n1)) {
        writeBg(out, pix, channels, bg);
        continue;
      }
      let x = o[0] + n0 * dStep[0], y = o[1] + n0 * dStep[1], z = o[2] + n0 * dStep[2];
      const sx = dStep[0], sy = dStep[1], sz = dStep[2];
      if (!lut) {
        let best = job.mode === 'mip' ? -Infinity : Infinity;
        const isMax = job.mode === 'mip';
        for (let n = n0; n <= n1; n++, x += sx, y += sy, z += sz) {
          let ii = (x + 0.5) | 0, jj = (y + 0.5) | 0, kk = (z + 0.5) | 0;
          if (ii >= di) ii = di - 1;
          if (jj >= dj) jj = dj - 1;
          if (kk >= dk) kk = dk - 1;
          const val = data[(ii + jj * sj + kk * sk) * nc]!;
          if (isMax ? val > best : val < best) best = val;
        }
        const g = Math.round(((best - lo) * 255) / wwin);
        const gv = g <= 0 ? 0 : g >= 255 ? 255 : g;
        if (channels === 1) out[pix] = gv;
        else out[pix * 3] = out[pix * 3 + 1] = out[pix * 3 + 2] = gv;
        continue;
      }
      // Composite, front to back.
      let ar = 0, ag = 0, ab = 0, aa = 0;
      const rgba = lut.rgba;
      const eb = emptyBlock!, B = blocks!;
      for (let n = n0; n <= n1; n++, x += sx, y += sy, z += sz) {
        let ii = (x + 0.5) | 0, jj = (y + 0.5) | 0, kk = (z + 0.5) | 0;
        if (ii >= di) ii = di - 1;
        if (jj >= dj) jj = dj - 1;
        if (kk >= dk) kk = dk - 1;
        if (eb[((kk >> 3) * B.bj + (jj >> 3)) * B.bi + (ii >> 3)]) continue;
        // Trilinear value (clamped at the border).
        const fx = x < 0 ? 0 : x > di - 1 ? di - 1 : x;
        const fy = y < 0 ? 0 : y > dj - 1 ? dj - 1 : y;
        const fz = z < 0 ? 0 : z > dk - 1 ? dk - 1 : z;
        const i0 = fx | 0, j0 = fy | 0, k0 = fz | 0;
        const i1 = i0 + 1 < di ? i0 + 1 : i0, j1 = j0 + 1 < dj ? j0 + 1 : j0, k1 = k0 + 1 < dk ? k0 + 1 : k0;
        const tx = fx - i0, ty = fy - j0, tz = fz - k0;
        const b00 = j0 * sj + k0 * sk, b10 = j1 * sj + k0 * sk, b01 = j0 * sj + k1 * sk, b11 = j1 * sj + k1 * sk;
        const c00 = data[(i0 + b00) * nc]! * (1 - tx) + data[(i1 + b00) * nc]! * tx;
        const c10 = data[(i0 + b10) * nc]! * (1 - tx) + data[(i1 + b10) * nc]! * tx;
        const c01 = data[(i0 + b01) * nc]! * (1 - tx) + data[(i1 + b01) * nc]! * tx;
        const c11 = data[(i0 + b11) * nc]! * (1 - tx) + data[(i1 + b11) * nc]! * tx;
        const val = (c00 * (1 - ty) + c10 * ty) * (1 - tz) + (c01 * (1 - ty) + c11 * ty) * tz;
        let e = ((val - lut.min) * lut.scale + 0.5) | 0;
        if (e < 0) e = 0;
        else if (e >= LUT_SIZE) e = LUT_SIZE - 1;
        const a = rgba[e * 4 + 3]!;
        if (a <= 0) continue;
        // Gradient by central differences on the nearest voxel.
        const im = ii > 0 ? ii - 1 : 0, ip = ii < di - 1 ? ii + 1 : ii;
        const jm = jj > 0 ? jj - 1 : 0, jp = jj < dj - 1 ? jj + 1 : jj;
        const km = kk > 0 ? kk - 1 : 0, kp = kk < dk - 1 ? kk + 1 : kk;
        const gi = data[(ip + jj * sj + kk * sk) * nc]! - data[(im + jj * sj + kk * sk) * nc]!;
        const gj = data[(ii + jp * sj + kk * sk) * nc]! - data[(ii + jm * sj + kk * sk) * nc]!;
        const gk = data[(ii + jj * sj + kp * sk) * nc]! - data[(ii + jj * sj + km * sk) * nc]!;
        const nx = Mt[0]! * gi + Mt[1]! * gj + Mt[2]! * gk;
        const ny = Mt[3]! * gi + Mt[4]! * gj + Mt[5]! * gk;
        const nz = Mt[6]! * gi + Mt[7]! * gj + Mt[8]! * gk;
        const gl = Math.hypot(nx, ny, nz);
        let shade = 1, spec = 0;
        if (gl > 1e-6) {
          const ndl = Math.abs((nx * light[0]! + ny * light[1]! + nz * light[2]!) / gl);
          shade = 0.3 + 0.7 * ndl;
          const s2 = ndl * ndl, s4 = s2 * s2, s8 = s4 * s4;
          spec = 0.3 * s8 * s8 * s4;
        }
        const w = (1 - aa) * a;
        ar += w * Math.min(1, rgba[e * 4]! * shade + spec);
        ag += w * Math.min(1, rgba[e * 4 + 1]! * shade + spec);
        ab += w * Math.min(1, rgba[e * 4 + 2]! * shade + spec);
        aa += w;
        if (aa > 0.98) break;
      }
      out[pix * 3] = Math.round(ar * 255 + (1 - aa) * bg[0]);
      out[pix * 3 + 1] = Math.round(ag * 255 + (1 - aa) * bg[1]);
      out[pix * 3 + 2] = Math.round(ab * 255 + (1 - aa) * bg[2]);
    }
  }
  return { width: W, height: H, channels, data: out };
}

function writeBg(out: Uint8Array, pix: number, channels: number, bg: readonly number[]): void {
  if (channels === 1) out[pix] = bg[0]!;
  else {
    out[pix * 3] = bg[0]!;
    out[pix * 3 + 1] = bg[1]!;
    out[pix * 3 + 2] = bg[2]!;
  }
}
