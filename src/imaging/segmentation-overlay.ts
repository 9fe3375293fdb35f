/**
 * Segmentation overlay for slice views: resamples a segmentation's layered labelmap onto the slice
 * grid (nearest neighbour, so segment edges stay on voxel boundaries) and composites each visible
 * segment into an RGB image: filled with its colour at `opacity`, plus a 1-pixel outline at full
 * colour where a pixel's 4-neighbour belongs to another segment (or none). Pure; runs in render
 * workers too (labelmaps arrive in shared memory).
 *
 * Sampling follows `reslice.ts` exactly: pixel (col, row) samples the RAS point at its centre,
 * goes to voxel indices through `worldToIjk` (the segmentation's parent transforms and grid), and
 * takes the nearest voxel centre (ties round up); a sample is inside when every index lies in
 * [−0.5, dim − 0.5).
 */
import { mul4 } from './geometry.js';
import { pixelToRasMatrix, type SliceGeometry } from './reslice.js';
import type { ImageVolume, Mat4 } from './types.js';

export interface SegmentationOverlay {
  /** The layered labelmap (components = layers), in shared memory for workers. */
  labelmap: ImageVolume;
  /** World RAS → the labelmap's voxel index. */
  worldToIjk: Mat4;
  /** Visible segments: layer, label value, colour 0..255. Hidden segments are left out. */
  segments: Array<{ layer: number; labelValue: number; rgb: [number, number, number] }>;
  /** Fill opacity 0..1 (the outline is drawn at full colour). */
  opacity: number;
  outline: boolean;
  /** Node id and content revision (part of the render key). */
  source?: string;
}

/** Occupied voxel box (inclusive, over every layer), cached per voxel array and `source` revision. */
const boxCache = new WeakMap<object, { source: string | undefined; box: number[] | null }>();

function occupiedBox(lm: ImageVolume, source: string | undefined): number[] | null {
  const hit = boxCache.get(lm.data);
  if (hit && hit.source === source) return hit.box;
  const [di, dj, dk] = lm.dimensions;
  const nc = lm.components;
  const d = lm.data;
  let i0 = di,
    i1 = -1,
    j0 = dj,
    j1 = -1,
    k0 = dk,
    k1 = -1;
  let o = 0;
  for (let k = 0; k < dk; k++)
    for (let j = 0; j < dj; j++) {
      const rowEnd = o + di * nc;
      // Fast skip of empty rows.
      let first = -1,
        last = -1;
      for (let q = o; q < rowEnd; q++)
        if (d[q] !== 0) {
          if (first < 0) first = q;
          last = q;
        }
      if (first >= 0) {
        const a = ((first - o) / nc) | 0,
          b = ((last - o) / nc) | 0;
        if (a < i0) i0 = a;
        if (b > i1) i1 = b;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (k < k0) k0 = k;
        if (k > k1) k1 = k;
      }
      o = rowEnd;
    }
  const box = i1 < 0 ? null : [i0, i1, j0, j1, k0, k1];
  boxCache.set(lm.data, { source, box });
  return box;
}

/** Pixels of one overlay: per layer, 0 = none or 1 + index into `overlay.segments`. */
export interface SegmentPixels {
  layers: Uint16Array[];
  /** Pixel box holding every hit (inclusive): x0, y0, x1, y1. */
  box: [number, number, number, number];
}

/**
 * Samples the overlay on the slice (nearest voxel, as `reslice.ts`) and maps voxel values to
 * segments. Only the columns of each row that can fall inside the occupied voxel box are visited.
 * Undefined when the slice shows no segment voxel.
 */
export function segmentPixels(
  overlay: SegmentationOverlay,
  g: SliceGeometry,
): SegmentPixels | undefined {
  if (overlay.segments.length === 0) return undefined;
  const lm = overlay.labelmap;
  const ob = occupiedBox(lm, overlay.source);
  if (!ob) return undefined;
  const [W, H] = g.size;
  const m = mul4(overlay.worldToIjk, pixelToRasMatrix(g));
  const b = [m[3], m[7], m[11]];
  const cc = [m[0], m[4], m[8]];
  const rr = [m[1], m[5], m[9]];
  const nc = lm.components;
  const data = lm.data;
  // Per layer: label value → 1 + segment index (dense tables; values above the table are no segment).
  const tables: Array<Uint16Array | null> = [];
  for (let l = 0; l < nc; l++) {
    const segs = overlay.segments.map((s, i) => ({ s, i })).filter((x) => x.s.layer === l);
    if (segs.length === 0) {
      tables.push(null);
      continue;
    }
    const maxV = Math.min(Math.max(...segs.map((x) => x.s.labelValue)), 1 << 24);
    const t = new Uint16Array(maxV + 1);
    for (const x of segs) if (x.s.labelValue <= maxV) t[x.s.labelValue] = x.i + 1;
    tables.push(t);
  }
  const lo = [ob[0]! - 0.5, ob[2]! - 0.5, ob[4]! - 0.5];
  const hi = [ob[1]! + 0.5, ob[3]! + 0.5, ob[5]! + 0.5];
  // Per row: the column range where every index can lie in the occupied box (one column margin).
  const ranges = new Int32Array(H * 2);
  for (let row = 0; row < H; row++) {
    let cmin = 0,
      cmax = W - 1;
    for (let a = 0; a < 3 && cmin <= cmax; a++) {
      const base = b[a]! + row * rr[a]!;
      const step = cc[a]!;
      if (Math.abs(step) < 1e-12) {
        if (base < lo[a]! || base >= hi[a]!) cmin = W;
        continue;
      }
      let u = (lo[a]! - base) / step,
        v = (hi[a]! - base) / step;
      if (u > v) [u, v] = [v, u];
      cmin = Math.max(cmin, Math.floor(u) - 1);
      cmax = Math.min(cmax, Math.ceil(v) + 1);
    }
    ranges[row * 2] = cmin;
    ranges[row * 2 + 1] = cmax;
  }
  const box = new Int32Array([W, H, -1, -1]);
  const layers: Uint16Array[] = [];
  for (let l = 0; l < nc; l++) {
    const t = tables[l];
    if (!t) continue;
    const px = new Uint16Array(W * H);
    const hit = sampleLayer(px, t, data, nc, l, lm.dimensions, b, cc, rr, W, H, ranges, box);
    if (hit) layers.push(px);
  }
  const [x0, y0, x1, y1] = box as unknown as [number, number, number, number];
  if (x1 < 0 || layers.length === 0) return undefined;
  return { layers, box: [x0, y0, x1, y1] };
}

/** One layer's segment pixels over the row ranges; widens `box`; true when anything was hit. */
function sampleLayer(
  px: Uint16Array,
  t: Uint16Array,
  data: ArrayLike<number>,
  nc: number,
  l: number,
  dims: readonly [number, number, number],
  b: number[],
  cc: number[],
  rr: number[],
  W: number,
  H: number,
  ranges: Int32Array,
  box: Int32Array,
): boolean {
  const [di, dj, dk] = dims;
  const maxI = di - 0.5,
    maxJ = dj - 0.5,
    maxK = dk - 0.5;
  const sj = di,
    sk = di * dj;
  const tl = t.length;
  const c0 = cc[0]!,
    c1 = cc[1]!,
    c2 = cc[2]!;
  let x0 = box[0]!,
    y0 = box[1]!,
    x1 = box[2]!,
    y1 = box[3]!;
  let any = false;
  for (let row = 0; row < H; row++) {
    const cmin = ranges[row * 2]!,
      cmax = ranges[row * 2 + 1]!;
    if (cmin > cmax) continue;
    let i = b[0]! + row * rr[0]! + cmin * c0,
      j = b[1]! + row * rr[1]! + cmin * c1,
      k = b[2]! + row * rr[2]! + cmin * c2;
    let rowHit = false;
    for (let col = cmin, o = row * W + cmin; col <= cmax; col++, o++, i += c0, j += c1, k += c2) {
      if (i < -0.5 || j < -0.5 || k < -0.5 || i >= maxI || j >= maxJ || k >= maxK) continue;
      const value = data[(((i + 0.5) | 0) + ((j + 0.5) | 0) * sj + ((k + 0.5) | 0) * sk) * nc + l]!;
      if (value <= 0 || value >= tl) continue;
      const s = t[value]!;
      if (s === 0) continue;
      px[o] = s;
      rowHit = true;
      if (col < x0) x0 = col;
      if (col > x1) x1 = col;
    }
    if (rowHit) {
      any = true;
      if (row < y0) y0 = row;
      if (row > y1) y1 = row;
    }
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1;
  box[3] = y1;
  return any;
}

/**
 * Blends one overlay's segment pixels (from `segmentPixels`) into an RGB image, layer by layer:
 * fill at `opacity` (per-segment lookup tables of round(v·(1 − a) + c·a)), outline pixels at full
 * colour.
 */
export function compositeSegments(
  rgb: Uint8Array,
  W: number,
  H: number,
  overlay: SegmentationOverlay,
  pixels: SegmentPixels,
): void {
  const a = Math.max(0, Math.min(1, overlay.opacity));
  const colors = overlay.segments.map((s) => s.rgb);
  const blend = colors.map((c) => {
    const t = new Uint8Array(768);
    for (let ch = 0; ch < 3; ch++)
      for (let v = 0; v < 256; v++) t[ch * 256 + v] = Math.round(v * (1 - a) + c[ch]! * a);
    return t;
  });
  const [x0, y0, x1, y1] = pixels.box;
  const outline = overlay.outline;
  const fill = a > 0;
  for (const px of pixels.layers)
    compositeLayer(rgb, W, H, px, x0, y0, x1, y1, outline, fill, colors, blend);
}

/** One layer: a separate function keeps V8's view of the loop monomorphic. */
function compositeLayer(
  rgb: Uint8Array,
  W: number,
  H: number,
  px: Uint16Array,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  outline: boolean,
  fill: boolean,
  colors: Array<[number, number, number]>,
  blend: Uint8Array[],
): void {
  const last = W - 1,
    bottom = H - 1;
  for (let y = y0; y <= y1; y++) {
    const up = y > 0,
      down = y < bottom;
    for (let x = x0, p = y * W + x0; x <= x1; x++, p++) {
      const s = px[p]!;
      if (s === 0) continue;
      const o = p * 3;
      let edge = false;
      if (outline) {
        if (x > 0 && px[p - 1] !== s) edge = true;
        else if (x < last && px[p + 1] !== s) edge = true;
        else if (up && px[p - W] !== s) edge = true;
        else if (down && px[p + W] !== s) edge = true;
      }
      if (edge) {
        const c = colors[s - 1]!;
        rgb[o] = c[0];
        rgb[o + 1] = c[1];
        rgb[o + 2] = c[2];
      } else if (fill) {
        const t = blend[s - 1]!;
        rgb[o] = t[rgb[o]!]!;
        rgb[o + 1] = t[256 + rgb[o + 1]!]!;
        rgb[o + 2] = t[512 + rgb[o + 2]!]!;
      }
    }
  }
}
