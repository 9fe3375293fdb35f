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

/**
 * Voxel index (i + j·di + k·di·dj) sampled by each pixel, −1 outside the grid. Returns undefined
 * when no pixel falls inside (the overlay cannot show anything on this slice).
 */
export function sampleVoxelIndices(
  dims: readonly [number, number, number],
  worldToIjk: Mat4,
  g: SliceGeometry,
): Int32Array | undefined {
  const [W, H] = g.size;
  const m = mul4(worldToIjk, pixelToRasMatrix(g));
  const b0 = m[3],
    b1 = m[7],
    b2 = m[11];
  const c0 = m[0],
    c1 = m[4],
    c2 = m[8];
  const r0 = m[1],
    r1 = m[5],
    r2 = m[9];
  const [di, dj, dk] = dims;
  const maxI = di - 0.5,
    maxJ = dj - 0.5,
    maxK = dk - 0.5;
  const sk = di * dj;
  const out = new Int32Array(W * H);
  let any = false;
  for (let row = 0, o = 0; row < H; row++) {
    let i = b0 + row * r0,
      j = b1 + row * r1,
      k = b2 + row * r2;
    for (let col = 0; col < W; col++, i += c0, j += c1, k += c2, o++) {
      if (i < -0.5 || j < -0.5 || k < -0.5 || i >= maxI || j >= maxJ || k >= maxK) {
        out[o] = -1;
        continue;
      }
      out[o] = ((i + 0.5) | 0) + ((j + 0.5) | 0) * di + ((k + 0.5) | 0) * sk;
      any = true;
    }
  }
  return any ? out : undefined;
}

/**
 * Per layer, the segment shown at each pixel: 0 = none, else 1 + index into `overlay.segments`.
 * Undefined when the slice shows no segment voxel at all.
 */
export function segmentPixels(
  overlay: SegmentationOverlay,
  g: SliceGeometry,
): Uint16Array[] | undefined {
  if (overlay.segments.length === 0) return undefined;
  const lm = overlay.labelmap;
  const idx = sampleVoxelIndices(lm.dimensions, overlay.worldToIjk, g);
  if (!idx) return undefined;
  const nc = lm.components;
  const data = lm.data;
  const n = idx.length;
  const out: Uint16Array[] = [];
  let any = false;
  for (let l = 0; l < nc; l++) {
    const segs = overlay.segments.map((s, i) => ({ s, i })).filter((x) => x.s.layer === l);
    if (segs.length === 0) continue;
    const maxV = Math.max(...segs.map((x) => x.s.labelValue));
    // label value → 1 + segment index (dense table; a Map for huge label values)
    const dense = maxV < 1 << 20 ? new Uint16Array(maxV + 1) : undefined;
    const sparse = dense ? undefined : new Map<number, number>();
    for (const x of segs) {
      if (dense) dense[x.s.labelValue] = x.i + 1;
      else sparse!.set(x.s.labelValue, x.i + 1);
    }
    const px = new Uint16Array(n);
    let hit = false;
    for (let p = 0; p < n; p++) {
      const v = idx[p]!;
      if (v < 0) continue;
      const value = data[v * nc + l]!;
      if (value === 0) continue;
      const s = dense
        ? value > 0 && value <= maxV
          ? dense[value]!
          : 0
        : (sparse!.get(value) ?? 0);
      if (s) {
        px[p] = s;
        hit = true;
      }
    }
    if (hit) {
      out.push(px);
      any = true;
    }
  }
  return any ? out : undefined;
}

/**
 * Blends one overlay's segment pixels (from `segmentPixels`) into an RGB image, layer by layer:
 * fill at `opacity`, outline pixels at full colour.
 */
export function compositeSegments(
  rgb: Uint8Array,
  W: number,
  H: number,
  overlay: SegmentationOverlay,
  layers: Uint16Array[],
): void {
  const a = Math.max(0, Math.min(1, overlay.opacity));
  const colors = overlay.segments.map((s) => s.rgb);
  for (const px of layers) {
    for (let y = 0, p = 0; y < H; y++) {
      for (let x = 0; x < W; x++, p++) {
        const s = px[p]!;
        if (s === 0) continue;
        const c = colors[s - 1]!;
        const edge =
          overlay.outline &&
          ((x > 0 && px[p - 1] !== s) ||
            (x < W - 1 && px[p + 1] !== s) ||
            (y > 0 && px[p - W] !== s) ||
            (y < H - 1 && px[p + W] !== s));
        const o = p * 3;
        if (edge) {
          rgb[o] = c[0];
          rgb[o + 1] = c[1];
          rgb[o + 2] = c[2];
        } else if (a > 0) {
          rgb[o] = Math.round(rgb[o]! * (1 - a) + c[0] * a);
          rgb[o + 1] = Math.round(rgb[o + 1]! * (1 - a) + c[1] * a);
          rgb[o + 2] = Math.round(rgb[o + 2]! * (1 - a) + c[2] * a);
        }
      }
    }
  }
}
