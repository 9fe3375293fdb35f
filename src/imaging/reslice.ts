/**
 * Reslicing: samples a volume on a plane. Pure (no I/O), works on any `ImageVolume`.
 *
 * A slice plane is given as Slicer's `sliceToRAS` (row-major Mat4 whose columns are the screen x
 * direction, the screen y direction (up), the plane normal, and the RAS position of the centre of
 * the slice), a field of view in mm and an output size in pixels. Output pixel (col, row) — row 0
 * at the top of the image — samples the RAS point at the centre of that pixel:
 *
 *   slice x = (col + 0.5) · fovX/W − fovX/2,   slice y = fovY/2 − (row + 0.5) · fovY/H
 *
 * (Slicer's `XYToSlice` uses pixel corners and puts y = 0 at the bottom; screen-up is the same.)
 * RAS points go to voxel indices through the inverse of the volume's world transform (its parent
 * linear transforms) and the volume's own rasToIjk, composed once per slice so the inner loop only
 * adds increments.
 */
import { invert4, mul4 } from './geometry.js';
import type { ImageVolume, Mat4, TypedArray } from './types.js';
import { windowByte } from './window-level.js';

export type Interpolation = 'nearest' | 'linear';

export interface SliceGeometry {
  /** Row-major; columns = screen x, screen y, normal, centre (RAS). */
  sliceToRAS: Mat4;
  /** Field of view in mm: [horizontal, vertical]. */
  fov: [number, number];
  /** Output size in pixels: [width, height]. */
  size: [number, number];
}

/** (col, row, 0, 1) → RAS of that pixel's centre. */
export function pixelToRasMatrix(g: SliceGeometry): Mat4 {
  const [W, H] = g.size;
  const sx = g.fov[0] / W;
  const sy = g.fov[1] / H;
  const pixelToSlice: Mat4 = [
    sx,
    0,
    0,
    sx / 2 - g.fov[0] / 2,
    0,
    -sy,
    0,
    g.fov[1] / 2 - sy / 2,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
  ];
  return mul4(g.sliceToRAS, pixelToSlice);
}

/** RAS → (col, row) (fractional; pixel centres at integers), ignoring the normal component. */
export function rasToPixelMatrix(g: SliceGeometry): Mat4 {
  return invert4(pixelToRasMatrix(g));
}

/**
 * Samples `volume` on the slice. Returns `W·H·components` float values, pixel-interleaved;
 * pixels outside the volume get NaN (callers turn NaN into the background / transparency).
 * A sample is inside when each index lies in [−0.5, dim − 0.5] (the voxel's own extent).
 */
export function reslice(
  volume: ImageVolume,
  worldToIjk: Mat4,
  g: SliceGeometry,
  interpolation: Interpolation,
  out?: Float32Array,
): Float32Array {
  const [W, H] = g.size;
  const nc = volume.components;
  const dst = out && out.length >= W * H * nc ? out : new Float32Array(W * H * nc);
  const m = mul4(worldToIjk, pixelToRasMatrix(g));
  // ijk = base + col·dc + row·dr
  const b0 = m[3],
    b1 = m[7],
    b2 = m[11];
  const c0 = m[0],
    c1 = m[4],
    c2 = m[8];
  const r0 = m[1],
    r1 = m[5],
    r2 = m[9];
  const [di, dj, dk] = volume.dimensions;
  const data = volume.data;
  const maxI = di - 0.5,
    maxJ = dj - 0.5,
    maxK = dk - 0.5;
  if (interpolation === 'nearest' || nc > 4) {
    const sj = di * nc,
      sk = di * dj * nc;
    for (let row = 0; row < H; row++) {
      let i = b0 + row * r0,
        j = b1 + row * r1,
        k = b2 + row * r2;
      let o = row * W * nc;
      for (let col = 0; col < W; col++, i += c0, j += c1, k += c2, o += nc) {
        if (i < -0.5 || j < -0.5 || k < -0.5 || i >= maxI || j >= maxJ || k >= maxK) {
          for (let c = 0; c < nc; c++) dst[o + c] = NaN;
          continue;
        }
        // Inside, i + 0.5 ≥ 0 so truncation is floor: nearest voxel centre (ties round up).
        const idx = ((i + 0.5) | 0) * nc + ((j + 0.5) | 0) * sj + ((k + 0.5) | 0) * sk;
        if (nc === 1) dst[o] = data[idx]!;
        else for (let c = 0; c < nc; c++) dst[o + c] = data[idx + c]!;
      }
    }
    return dst;
  }
  if (nc === 1) {
    const flat = constantAxis([b0, b1, b2], [c0, c1, c2], [r0, r1, r2], [di, dj, dk]);
    if (flat)
      return bilinearPlane(volume, flat, [b0, b1, b2], [c0, c1, c2], [r0, r1, r2], W, H, dst);
    // Inlined trilinear for the common single-component case (clamped at the border).
    const sj = di,
      sk = di * dj;
    const li = di - 1,
      lj = dj - 1,
      lk = dk - 1;
    for (let row = 0; row < H; row++) {
      let i = b0 + row * r0,
        j = b1 + row * r1,
        k = b2 + row * r2;
      let o = row * W;
      for (let col = 0; col < W; col++, i += c0, j += c1, k += c2, o++) {
        if (i < -0.5 || j < -0.5 || k < -0.5 || i > maxI || j > maxJ || k > maxK) {
          dst[o] = NaN;
          continue;
        }
        const x = i < 0 ? 0 : i > li ? li : i;
        const y = j < 0 ? 0 : j > lj ? lj : j;
        const z = k < 0 ? 0 : k > lk ? lk : k;
        const i0 = x | 0,
          j0 = y | 0,
          k0 = z | 0;
        const tx = x - i0,
          ty = y - j0,
          tz = z - k0;
        const di1 = i0 < li ? 1 : 0,
          dj1 = j0 < lj ? sj : 0,
          dk1 = k0 < lk ? sk : 0;
        const p = i0 + j0 * sj + k0 * sk;
        const v000 = data[p]!,
          v100 = data[p + di1]!,
          v010 = data[p + dj1]!,
          v110 = data[p + dj1 + di1]!;
        const v001 = data[p + dk1]!,
          v101 = data[p + dk1 + di1]!,
          v011 = data[p + dk1 + dj1]!,
          v111 = data[p + dk1 + dj1 + di1]!;
        const a0 = v000 + (v100 - v000) * tx,
          a1 = v010 + (v110 - v010) * tx;
        const b0_ = v001 + (v101 - v001) * tx,
          b1_ = v011 + (v111 - v011) * tx;
        const c0_ = a0 + (a1 - a0) * ty,
          c1_ = b0_ + (b1_ - b0_) * ty;
        dst[o] = c0_ + (c1_ - c0_) * tz;
      }
    }
    return dst;
  }
  for (let row = 0; row < H; row++) {
    let i = b0 + row * r0,
      j = b1 + row * r1,
      k = b2 + row * r2;
    let o = row * W * nc;
    for (let col = 0; col < W; col++, i += c0, j += c1, k += c2, o += nc) {
      if (i < -0.5 || j < -0.5 || k < -0.5 || i > maxI || j > maxJ || k > maxK) {
        for (let c = 0; c < nc; c++) dst[o + c] = NaN;
        continue;
      }
      for (let c = 0; c < nc; c++) dst[o + c] = trilinear(data, volume.dimensions, nc, c, i, j, k);
    }
  }
  return dst;
}

/**
 * Trilinear interpolation at fractional index (i, j, k), component c; neighbours beyond the edge
 * are clamped to the edge voxel (so the half voxel at the border repeats the edge value).
 */
export function trilinear(
  data: TypedArray,
  dims: readonly [number, number, number],
  nc: number,
  c: number,
  i: number,
  j: number,
  k: number,
): number {
  const di = dims[0],
    dj = dims[1],
    dk = dims[2];
  const fi = Math.floor(i),
    fj = Math.floor(j),
    fk = Math.floor(k);
  const ti = i - fi,
    tj = j - fj,
    tk = k - fk;
  const i0 = fi < 0 ? 0 : fi >= di ? di - 1 : fi;
  const i1 = fi + 1 >= di ? di - 1 : fi + 1 < 0 ? 0 : fi + 1;
  const j0 = fj < 0 ? 0 : fj >= dj ? dj - 1 : fj;
  const j1 = fj + 1 >= dj ? dj - 1 : fj + 1 < 0 ? 0 : fj + 1;
  const k0 = fk < 0 ? 0 : fk >= dk ? dk - 1 : fk;
  const k1 = fk + 1 >= dk ? dk - 1 : fk + 1 < 0 ? 0 : fk + 1;
  const sj = di,
    sk = di * dj;
  const v = (a: number, b: number, cc: number) => data[(a + b * sj + cc * sk) * nc + c]!;
  const c00 = v(i0, j0, k0) * (1 - ti) + v(i1, j0, k0) * ti;
  const c10 = v(i0, j1, k0) * (1 - ti) + v(i1, j1, k0) * ti;
  const c01 = v(i0, j0, k1) * (1 - ti) + v(i1, j0, k1) * ti;
  const c11 = v(i0, j1, k1) * (1 - ti) + v(i1, j1, k1) * ti;
  const c0 = c00 * (1 - tj) + c10 * tj;
  const c1 = c01 * (1 - tj) + c11 * tj;
  return c0 * (1 - tk) + c1 * tk;
}

/**
 * An index axis that stays at the same whole voxel over the whole slice (an axis-aligned slice
 * through voxel centres); then linear sampling is bilinear in the other two axes (4 loads, not 8).
 */
function constantAxis(b: number[], c: number[], r: number[], dims: number[]): number | undefined {
  for (let a = 0; a < 3; a++) {
    if (Math.abs(c[a]!) > 1e-9 || Math.abs(r[a]!) > 1e-9) continue;
    const v = b[a]!;
    if (Math.abs(v - Math.round(v)) < 1e-6 && Math.round(v) >= 0 && Math.round(v) < dims[a]!)
      return a;
  }
  return undefined;
}

function bilinearPlane(
  volume: ImageVolume,
  a: number,
  b: number[],
  c: number[],
  r: number[],
  W: number,
  H: number,
  dst: Float32Array,
): Float32Array {
  const dims = volume.dimensions;
  const strides = [1, dims[0], dims[0] * dims[1]];
  const [u, v] = a === 0 ? [1, 2] : a === 1 ? [0, 2] : [0, 1];
  const du = dims[u]!,
    dv = dims[v]!,
    su = strides[u]!,
    sv = strides[v]!;
  const base = Math.round(b[a]!) * strides[a]!;
  const lu = du - 1,
    lv = dv - 1,
    maxU = du - 0.5,
    maxV = dv - 0.5;
  const data = volume.data;
  const bu = b[u]!,
    bv = b[v]!,
    cu = c[u]!,
    cv = c[v]!,
    ru = r[u]!,
    rv = r[v]!;
  for (let row = 0; row < H; row++) {
    let pu = bu + row * ru,
      pv = bv + row * rv;
    let o = row * W;
    for (let col = 0; col < W; col++, pu += cu, pv += cv, o++) {
      if (pu < -0.5 || pv < -0.5 || pu > maxU || pv > maxV) {
        dst[o] = NaN;
        continue;
      }
      const x = pu < 0 ? 0 : pu > lu ? lu : pu;
      const y = pv < 0 ? 0 : pv > lv ? lv : pv;
      const i0 = x | 0,
        j0 = y | 0;
      const tx = x - i0,
        ty = y - j0;
      const p = base + i0 * su + j0 * sv;
      const d1 = i0 < lu ? su : 0,
        d2 = j0 < lv ? sv : 0;
      const v00 = data[p]!,
        v10 = data[p + d1]!,
        v01 = data[p + d2]!,
        v11 = data[p + d1 + d2]!;
      const a0 = v00 + (v10 - v00) * tx,
        a1 = v01 + (v11 - v01) * tx;
      dst[o] = a0 + (a1 - a0) * ty;
    }
  }
  return dst;
}

/**
 * The common case fused: one single-component layer sampled (nearest, or linear on an
 * axis-aligned plane through voxel centres) and mapped through window/level straight to bytes,
 * with no float buffer in between. Exactly `reslice` + `windowLevelToGrey` (values are rounded to
 * float32 first, as the float buffer would). Returns false when the case is not covered.
 */
export function resliceGrey(
  volume: ImageVolume,
  worldToIjk: Mat4,
  g: SliceGeometry,
  interpolation: Interpolation,
  wl: { window: number; level: number },
  out: Uint8Array,
): boolean {
  if (volume.components !== 1) return false;
  const [W, H] = g.size;
  const m = mul4(worldToIjk, pixelToRasMatrix(g));
  const b = [m[3], m[7], m[11]],
    c = [m[0], m[4], m[8]],
    r = [m[1], m[5], m[9]];
  const dims = volume.dimensions;
  const lo = wl.level - wl.window / 2,
    w = wl.window,
    scale = 255 / w;
  const data = volume.data;
  const fround = Math.fround;
  if (interpolation === 'nearest') {
    const [di, dj, dk] = dims;
    const sj = di,
      sk = di * dj;
    const maxI = di - 0.5,
      maxJ = dj - 0.5,
      maxK = dk - 0.5;
    for (let row = 0; row < H; row++) {
      let i = b[0]! + row * r[0]!,
        j = b[1]! + row * r[1]!,
        k = b[2]! + row * r[2]!;
      let o = row * W;
      for (let col = 0; col < W; col++, i += c[0]!, j += c[1]!, k += c[2]!, o++) {
        if (i < -0.5 || j < -0.5 || k < -0.5 || i >= maxI || j >= maxJ || k >= maxK) {
          out[o] = 0;
          continue;
        }
        const v = fround(data[((i + 0.5) | 0) + ((j + 0.5) | 0) * sj + ((k + 0.5) | 0) * sk]!);
        out[o] = windowByte(v, lo, scale, w);
      }
    }
    return true;
  }
  const a = constantAxis(b, c, r, dims);
  if (a === undefined) return false;
  const strides = [1, dims[0], dims[0] * dims[1]];
  const [u, v] = a === 0 ? [1, 2] : a === 1 ? [0, 2] : [0, 1];
  const du = dims[u]!,
    dv = dims[v]!,
    su = strides[u]!,
    sv = strides[v]!;
  const base = Math.round(b[a]!) * strides[a]!;
  const lu = du - 1,
    lv = dv - 1,
    maxU = du - 0.5,
    maxV = dv - 0.5;
  const bu = b[u]!,
    bv = b[v]!,
    cu = c[u]!,
    cv = c[v]!,
    ru = r[u]!,
    rv = r[v]!;
  if (cv === 0 && ru === 0) {
    separableGrey(data, W, H, base, su, sv, lu, lv, maxU, maxV, bu, cu, bv, rv, lo, scale, w, out);
    return true;
  }
  for (let row = 0; row < H; row++) {
    let pu = bu + row * ru,
      pv = bv + row * rv;
    let o = row * W;
    for (let col = 0; col < W; col++, pu += cu, pv += cv, o++) {
      if (pu < -0.5 || pv < -0.5 || pu > maxU || pv > maxV) {
        out[o] = 0;
        continue;
      }
      const xx = pu < 0 ? 0 : pu > lu ? lu : pu;
      const yy = pv < 0 ? 0 : pv > lv ? lv : pv;
      const i0 = xx | 0,
        j0 = yy | 0;
      const tx = xx - i0,
        ty = yy - j0;
      const p = base + i0 * su + j0 * sv;
      const d1 = i0 < lu ? su : 0,
        d2 = j0 < lv ? sv : 0;
      const v00 = data[p]!,
        v10 = data[p + d1]!,
        v01 = data[p + d2]!,
        v11 = data[p + d1 + d2]!;
      const a0 = v00 + (v10 - v00) * tx,
        a1 = v01 + (v11 - v01) * tx;
      const val = fround(a0 + (a1 - a0) * ty);
      out[o] = windowByte(val, lo, scale, w);
    }
  }
  return true;
}

/** Per-thread scratch tables of `separableGrey` (renders are synchronous, one at a time). */
const scratchRows = {
  colIndex: new Int32Array(0),
  colStep: new Int32Array(0),
  colT: new Float64Array(0),
  rowA: new Float64Array(0),
  rowB: new Float64Array(0),
};

/** dst[col] = source row `j` interpolated at each column's position (columns first..last). */
function lerpRow(
  data: TypedArray,
  rowBase: number,
  first: number,
  last: number,
  colIndex: Int32Array,
  colStep: Int32Array,
  colT: Float64Array,
  dst: Float64Array,
): void {
  for (let col = first; col <= last; col++) {
    const p = rowBase + colIndex[col]!;
    const v0 = data[p]!;
    dst[col] = v0 + (data[p + colStep[col]!]! - v0) * colT[col]!;
  }
}

/**
 * `resliceGrey`'s linear case when screen columns run along one voxel axis (u) and screen rows
 * along the other (v), as in every view of a volume whose axes are the patient axes. Each
 * u-interpolated source row is computed once and shared by the output rows between it and the
 * next (two for a 2× zoom), and the per-column index/weight come from a table: the same
 * operations in the same order as the general loop above (bit-identical bytes), about half the
 * work. Hand-written: no library reslices into window/levelled bytes in one pass.
 */
function separableGrey(
  data: TypedArray,
  W: number,
  H: number,
  base: number,
  su: number,
  sv: number,
  lu: number,
  lv: number,
  maxU: number,
  maxV: number,
  bu: number,
  cu: number,
  bv: number,
  rv: number,
  lo: number,
  scale: number,
  w: number,
  out: Uint8Array,
): void {
  // Locals, not module bindings, in the loops (V8 then keeps them in registers: measured 2× faster).
  const t = scratchRows;
  if (t.colIndex.length < W) {
    t.colIndex = new Int32Array(W);
    t.colStep = new Int32Array(W);
    t.colT = new Float64Array(W);
    t.rowA = new Float64Array(W);
    t.rowB = new Float64Array(W);
  }
  const { colIndex, colStep, colT } = t;
  let rowA = t.rowA,
    rowB = t.rowB;
  // Columns: the same running sum as the general loop (pu += cu), so the same positions.
  let first = W,
    last = -1;
  let pu = bu;
  for (let col = 0; col < W; col++, pu += cu) {
    if (pu < -0.5 || pu > maxU) continue;
    if (col < first) first = col;
    last = col;
    const xx = pu < 0 ? 0 : pu > lu ? lu : pu;
    const i0 = xx | 0;
    colIndex[col] = i0 * su;
    colStep[col] = i0 < lu ? su : 0;
    colT[col] = xx - i0;
  }
  let keyA = -1,
    keyB = -1;
  const fround = Math.fround;
  for (let row = 0; row < H; row++) {
    const pv = bv + row * rv;
    const o = row * W;
    if (pv < -0.5 || pv > maxV || first > last) {
      out.fill(0, o, o + W);
      continue;
    }
    const yy = pv < 0 ? 0 : pv > lv ? lv : pv;
    const j0 = yy | 0;
    const ty = yy - j0;
    const j1 = j0 < lv ? j0 + 1 : j0;
    // Two cached source rows: make rowA hold j0 and rowB hold j1 (swapping when the rows move
    // up the image, where the new j1 is the old j0).
    if ((keyB === j0 && keyA !== j0) || (keyA === j1 && keyB !== j1)) {
      const swap = rowA;
      rowA = rowB;
      rowB = swap;
      const k = keyA;
      keyA = keyB;
      keyB = k;
    }
    if (keyA !== j0) {
      lerpRow(data, base + j0 * sv, first, last, colIndex, colStep, colT, rowA);
      keyA = j0;
    }
    if (keyB !== j1) {
      lerpRow(data, base + j1 * sv, first, last, colIndex, colStep, colT, rowB);
      keyB = j1;
    }
    const a = rowA,
      bb = rowB;
    // Columns inside the volume are one run (positions are monotonic).
    out.fill(0, o, o + first);
    out.fill(0, o + last + 1, o + W);
    for (let col = first; col <= last; col++) {
      const a0 = a[col]!;
      const val = fround(a0 + (bb[col]! - a0) * ty);
      out[o + col] = windowByte(val, lo, scale, w);
    }
  }
}
