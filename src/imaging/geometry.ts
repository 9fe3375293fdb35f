/**
 * Geometry in one place: RAS⇄LPS at the file-format edges, index⇄world matrices, small 3×3/4×4
 * linear algebra. Conventions are stated in `types.ts` (row-major, RAS inside).
 */
import type { ImageVolume, Mat3, Mat4, Vec3 } from './types.js';

export const IDENTITY3: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
export const IDENTITY4: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** LPS and RAS differ by the sign of x and y; the map is its own inverse. */
export const lpsToRas = (p: readonly number[]): Vec3 => [-p[0]!, -p[1]!, p[2]!];
export const rasToLps = lpsToRas;

/** A direction matrix (columns = axis directions) expressed in LPS, converted to RAS, or back. */
export function directionLpsToRas(m: Mat3): Mat3 {
  return [-m[0], -m[1], -m[2], -m[3], -m[4], -m[5], m[6], m[7], m[8]];
}
export const directionRasToLps = directionLpsToRas;

/** Converts an affine 4×4 acting on LPS points into the same transform acting on RAS points. */
export function mat4LpsToRas(m: Mat4): Mat4 {
  const f = diag4([-1, -1, 1]);
  return mul4(mul4(f, m), f);
}

/**
 * itk-wasm's `direction` (a flat Float64Array of 9) is **row-major** — element `[row * 3 + col]`,
 * columns = axis directions, in LPS — verified by reading a NRRD with `space directions:
 * (0,1,0) (-1,0,0) (0,0,1)`, which gives `[0,-1,0, 1,0,0, 0,0,1]`. So the layout equals our Mat3;
 * these copy (the frame conversion is `directionLpsToRas`).
 */
export function mat3FromItkDirection(d: ArrayLike<number>): Mat3 {
  return [d[0]!, d[1]!, d[2]!, d[3]!, d[4]!, d[5]!, d[6]!, d[7]!, d[8]!];
}
export function mat3ToItkDirection(m: Mat3): Float64Array {
  return Float64Array.from(m);
}

export const column3 = (m: Mat3, c: number): Vec3 => [m[c]!, m[3 + c]!, m[6 + c]!];

export function fromColumns3(
  a: readonly number[],
  b: readonly number[],
  c: readonly number[],
): Mat3 {
  return [a[0]!, b[0]!, c[0]!, a[1]!, b[1]!, c[1]!, a[2]!, b[2]!, c[2]!];
}

export function mul3(a: Mat3, b: Mat3): Mat3 {
  const r = new Array<number>(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      r[i * 3 + j] = a[i * 3]! * b[j]! + a[i * 3 + 1]! * b[3 + j]! + a[i * 3 + 2]! * b[6 + j]!;
  return r;
}

export function mul4(a: Mat4, b: Mat4): Mat4 {
  const r = new Array<number>(16).fill(0) as Mat4;
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[i * 4 + k]! * b[k * 4 + j]!;
      r[i * 4 + j] = s;
    }
  }
  return r;
}

export function diag4(d: readonly [number, number, number]): Mat4 {
  return [d[0], 0, 0, 0, 0, d[1], 0, 0, 0, 0, d[2], 0, 0, 0, 0, 1];
}

export function transformPoint(m: Mat4, p: readonly number[]): Vec3 {
  const x = p[0]!,
    y = p[1]!,
    z = p[2]!;
  const w = m[12] * x + m[13] * y + m[14] * z + m[15];
  return [
    (m[0] * x + m[1] * y + m[2] * z + m[3]) / w,
    (m[4] * x + m[5] * y + m[6] * z + m[7]) / w,
    (m[8] * x + m[9] * y + m[10] * z + m[11]) / w,
  ];
}

/** Applies only the linear part (for direction vectors). */
export function transformVector(m: Mat4, v: readonly number[]): Vec3 {
  return [
    m[0] * v[0]! + m[1] * v[1]! + m[2] * v[2]!,
    m[4] * v[0]! + m[5] * v[1]! + m[6] * v[2]!,
    m[8] * v[0]! + m[9] * v[1]! + m[10] * v[2]!,
  ];
}

export function invert4(m: Mat4): Mat4 {
  const a = m;
  const inv = new Array<number>(16) as Mat4;
  inv[0] =
    a[5] * a[10] * a[15] -
    a[5] * a[11] * a[14] -
    a[9] * a[6] * a[15] +
    a[9] * a[7] * a[14] +
    a[13] * a[6] * a[11] -
    a[13] * a[7] * a[10];
  inv[4] =
    -a[4] * a[10] * a[15] +
    a[4] * a[11] * a[14] +
    a[8] * a[6] * a[15] -
    a[8] * a[7] * a[14] -
    a[12] * a[6] * a[11] +
    a[12] * a[7] * a[10];
  inv[8] =
    a[4] * a[9] * a[15] -
    a[4] * a[11] * a[13] -
    a[8] * a[5] * a[15] +
    a[8] * a[7] * a[13] +
    a[12] * a[5] * a[11] -
    a[12] * a[7] * a[9];
  inv[12] =
    -a[4] * a[9] * a[14] +
    a[4] * a[10] * a[13] +
    a[8] * a[5] * a[14] -
    a[8] * a[6] * a[13] -
    a[12] * a[5] * a[10] +
    a[12] * a[6] * a[9];
  inv[1] =
    -a[1] * a[10] * a[15] +
    a[1] * a[11] * a[14] +
    a[9] * a[2] * a[15] -
    a[9] * a[3] * a[14] -
    a[13] * a[2] * a[11] +
    a[13] * a[3] * a[10];
  inv[5] =
    a[0] * a[10] * a[15] -
    a[0] * a[11] * a[14] -
    a[8] * a[2] * a[15] +
    a[8] * a[3] * a[14] +
    a[12] * a[2] * a[11] -
    a[12] * a[3] * a[10];
  inv[9] =
    -a[0] * a[9] * a[15] +
    a[0] * a[11] * a[13] +
    a[8] * a[1] * a[15] -
    a[8] * a[3] * a[13] -
    a[12] * a[1] * a[11] +
    a[12] * a[3] * a[9];
  inv[13] =
    a[0] * a[9] * a[14] -
    a[0] * a[10] * a[13] -
    a[8] * a[1] * a[14] +
    a[8] * a[2] * a[13] +
    a[12] * a[1] * a[10] -
    a[12] * a[2] * a[9];
  inv[2] =
    a[1] * a[6] * a[15] -
    a[1] * a[7] * a[14] -
    a[5] * a[2] * a[15] +
    a[5] * a[3] * a[14] +
    a[13] * a[2] * a[7] -
    a[13] * a[3] * a[6];
  inv[6] =
    -a[0] * a[6] * a[15] +
    a[0] * a[7] * a[14] +
    a[4] * a[2] * a[15] -
    a[4] * a[3] * a[14] -
    a[12] * a[2] * a[7] +
    a[12] * a[3] * a[6];
  inv[10] =
    a[0] * a[5] * a[15] -
    a[0] * a[7] * a[13] -
    a[4] * a[1] * a[15] +
    a[4] * a[3] * a[13] +
    a[12] * a[1] * a[7] -
    a[12] * a[3] * a[5];
  inv[14] =
    -a[0] * a[5] * a[14] +
    a[0] * a[6] * a[13] +
    a[4] * a[1] * a[14] -
    a[4] * a[2] * a[13] -
    a[12] * a[1] * a[6] +
    a[12] * a[2] * a[5];
  inv[3] =
    -a[1] * a[6] * a[11] +
    a[1] * a[7] * a[10] +
    a[5] * a[2] * a[11] -
    a[5] * a[3] * a[10] -
    a[9] * a[2] * a[7] +
    a[9] * a[3] * a[6];
  inv[7] =
    a[0] * a[6] * a[11] -
    a[0] * a[7] * a[10] -
    a[4] * a[2] * a[11] +
    a[4] * a[3] * a[10] +
    a[8] * a[2] * a[7] -
    a[8] * a[3] * a[6];
  inv[11] =
    -a[0] * a[5] * a[11] +
    a[0] * a[7] * a[9] +
    a[4] * a[1] * a[11] -
    a[4] * a[3] * a[9] -
    a[8] * a[1] * a[7] +
    a[8] * a[3] * a[5];
  inv[15] =
    a[0] * a[5] * a[10] -
    a[0] * a[6] * a[9] -
    a[4] * a[1] * a[10] +
    a[4] * a[2] * a[9] +
    a[8] * a[1] * a[6] -
    a[8] * a[2] * a[5];
  const det = a[0] * inv[0] + a[1] * inv[4] + a[2] * inv[8] + a[3] * inv[12];
  if (det === 0 || !Number.isFinite(det)) throw new Error('matrix is singular');
  return inv.map((x) => x / det) as Mat4;
}

/** Index (i, j, k) → RAS (mm): `[direction · diag(spacing) | origin]`. */
export function ijkToRasMatrix(v: Pick<ImageVolume, 'direction' | 'spacing' | 'origin'>): Mat4 {
  const d = v.direction;
  const s = v.spacing;
  return [
    d[0] * s[0],
    d[1] * s[1],
    d[2] * s[2],
    v.origin[0],
    d[3] * s[0],
    d[4] * s[1],
    d[5] * s[2],
    v.origin[1],
    d[6] * s[0],
    d[7] * s[1],
    d[8] * s[2],
    v.origin[2],
    0,
    0,
    0,
    1,
  ];
}

export const rasToIjkMatrix = (v: Pick<ImageVolume, 'direction' | 'spacing' | 'origin'>): Mat4 =>
  invert4(ijkToRasMatrix(v));

/**
 * Index (i, j, k) → world RAS for a volume under `worldFromLocal` (its parent transforms, local
 * RAS → world RAS): `worldFromLocal · ijkToRas`. The one place this product is formed.
 */
export function ijkToWorldMatrix(
  volume: Pick<ImageVolume, 'direction' | 'spacing' | 'origin'>,
  worldFromLocal: Mat4,
): Mat4 {
  return mul4(worldFromLocal, ijkToRasMatrix(volume));
}

/** World RAS → index (continuous) for a volume under `worldFromLocal`: `rasToIjk · worldFromLocal⁻¹`. */
export function worldToIjkMatrix(
  volume: Pick<ImageVolume, 'direction' | 'spacing' | 'origin'>,
  worldFromLocal: Mat4,
): Mat4 {
  return mul4(rasToIjkMatrix(volume), invert4(worldFromLocal));
}

/** Splits an affine ijk→RAS matrix into spacing (column norms), direction (unit columns) and origin. */
export function decomposeIjkToRas(m: Mat4): Pick<ImageVolume, 'direction' | 'spacing' | 'origin'> {
  const cols = [0, 1, 2].map((c) => [m[c]!, m[4 + c]!, m[8 + c]!]);
  const spacing = cols.map((v) => Math.hypot(v[0]!, v[1]!, v[2]!)) as Vec3;
  if (spacing.some((s) => !(s > 0))) throw new Error('matrix has a zero-length axis');
  const unit = cols.map((v, i) => v.map((x) => x / spacing[i]!));
  return {
    spacing,
    direction: fromColumns3(unit[0]!, unit[1]!, unit[2]!),
    origin: [m[3], m[7], m[11]],
  };
}

export const dot3 = (a: readonly number[], b: readonly number[]) =>
  a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
export const cross3 = (a: readonly number[], b: readonly number[]): Vec3 => [
  a[1]! * b[2]! - a[2]! * b[1]!,
  a[2]! * b[0]! - a[0]! * b[2]!,
  a[0]! * b[1]! - a[1]! * b[0]!,
];
export const norm3 = (a: readonly number[]) => Math.hypot(a[0]!, a[1]!, a[2]!);
export function normalize3(a: readonly number[]): Vec3 {
  const n = norm3(a);
  if (!(n > 0)) throw new Error('zero-length vector');
  return [a[0]! / n, a[1]! / n, a[2]! / n];
}

/** True when the columns of `m` are orthonormal within `tol`. */
export function isOrthonormal(m: Mat3, tol = 1e-4): boolean {
  const c = [column3(m, 0), column3(m, 1), column3(m, 2)];
  for (let i = 0; i < 3; i++) {
    if (Math.abs(norm3(c[i]!) - 1) > tol) return false;
    for (let j = i + 1; j < 3; j++) if (Math.abs(dot3(c[i]!, c[j]!)) > tol) return false;
  }
  return true;
}

/** RAS bounds [min, max] of the voxel-centre corners of a volume (through `ijkToRas`). */
export function rasBounds(dimensions: Vec3, ijkToRas: Mat4): { min: Vec3; max: Vec3 } {
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const i of [0, dimensions[0] - 1])
    for (const j of [0, dimensions[1] - 1])
      for (const k of [0, dimensions[2] - 1]) {
        const p = transformPoint(ijkToRas, [i, j, k]);
        for (let a = 0; a < 3; a++) {
          min[a] = Math.min(min[a]!, p[a]!);
          max[a] = Math.max(max[a]!, p[a]!);
        }
      }
  return { min, max };
}

/**
 * Named world frames that file formats use. Each maps to RAS by flipping axis signs; the map is
 * its own inverse. (NRRD `scanner-xyz`, `3D-right-handed` and a bare `space dimension` are read as
 * LPS, as ITK does.)
 */
export type WorldFrame = 'RAS' | 'LAS' | 'LPS';
const FRAME_SIGNS: Record<WorldFrame, Vec3> = { RAS: [1, 1, 1], LAS: [-1, 1, 1], LPS: [-1, -1, 1] };

/** A point or vector given in `frame` → RAS (also RAS → `frame`: the map is an involution). */
export function frameToRas(frame: WorldFrame, p: readonly number[]): Vec3 {
  const s = FRAME_SIGNS[frame];
  return [s[0] * p[0]!, s[1] * p[1]!, s[2] * p[2]!];
}

/**
 * Vectors stored interleaved (x, y, z per voxel, e.g. displacement fields) converted from `frame`
 * to RAS (or back: the map is an involution), optionally through a measurement frame first
 * (`frameFromMeasurement`, row-major, columns = measurement axes in `frame`). Writes into `out`
 * (may be `data` itself for in-place).
 */
export function vectorsFrameToRas<T extends { length: number; [i: number]: number }>(
  frame: WorldFrame,
  data: T,
  out: T,
  frameFromMeasurement?: Mat3,
): T {
  const s = FRAME_SIGNS[frame];
  const m = frameFromMeasurement;
  for (let i = 0; i + 2 < data.length; i += 3) {
    let x = data[i]!,
      y = data[i + 1]!,
      z = data[i + 2]!;
    if (m)
      [x, y, z] = [
        m[0] * x + m[1] * y + m[2] * z,
        m[3] * x + m[4] * y + m[5] * z,
        m[6] * x + m[7] * y + m[8] * z,
      ];
    out[i] = s[0] * x;
    out[i + 1] = s[1] * y;
    out[i + 2] = s[2] * z;
  }
  return out;
}
export const vectorsRasToFrame = vectorsFrameToRas;

/**
 * Completes a direction matrix from the unit directions of its first one or two axes (for 1-D and
 * 2-D images placed in 3-D space): the missing columns are orthonormal, right-handed.
 */
export function completeDirection(cols: readonly Vec3[]): Mat3 {
  const a = cols[0] ?? [1, 0, 0];
  let b = cols[1];
  if (!b) {
    const helper: Vec3 = Math.abs(a[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
    b = normalize3(cross3(cross3(a, helper), a));
    const c0 = cross3(a, b);
    b = normalize3(cross3(c0, a));
  }
  const c = cols[2] ?? normalize3(cross3(a, b));
  return fromColumns3(a, b, c);
}
