/**
 * A slice view image from its layers: background, foreground (blended with `foregroundOpacity`)
 * and label map (colour table, blended with `labelOpacity`), plus a fiducial overlay. Pure: the
 * same function runs on the main thread and in render workers.
 *
 * Output is 8-bit grey (1 channel) when only a grey background shows and no fiducial is drawn;
 * otherwise RGB (3 channels). Pixels outside every layer are black.
 */
import { drawText, textWidth } from './bitmap-font.js';
import { labelTable } from './colormap.js';
import { dot3, transformPoint } from './geometry.js';
import {
  reslice,
  resliceGrey,
  rasToPixelMatrix,
  type Interpolation,
  type SliceGeometry,
} from './reslice.js';
import {
  compositeSegments,
  segmentPixels,
  type SegmentationOverlay,
} from './segmentation-overlay.js';
import type { ImageVolume, Mat4, Vec3 } from './types.js';
import { windowLevelToGrey, type WindowLevel } from './window-level.js';

export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export interface SliceLayer {
  volume: ImageVolume;
  /** World RAS → this volume's voxel index. */
  worldToIjk: Mat4;
  /** `grey` maps the first component through window/level; `rgb` maps 3 components; `label` uses the colour table. */
  type: 'grey' | 'rgb' | 'label';
  wl: WindowLevel;
  opacity: number;
  interpolation: Interpolation;
  /** Node id and content revision (part of the render key; voxels may be edited in place). */
  source?: string;
}

export interface FiducialMark {
  /** World RAS. */
  ras: Vec3;
  label: string;
  /** 0..255. */
  color: [number, number, number];
}

export interface SliceJob {
  kind: 'slice';
  geometry: SliceGeometry;
  background?: SliceLayer;
  foreground?: SliceLayer;
  label?: SliceLayer;
  fiducials: FiducialMark[];
  /** Segmentations drawn over the layers (fill + outline), in order. */
  segmentations?: SegmentationOverlay[];
  /** Points at most this far (mm) from the plane are drawn. */
  slabHalfThickness: number;
}

let scratch = new Float32Array(0);
/** A reusable sample buffer (renders are synchronous, one at a time per thread). */
function scratchFloats(n: number): Float32Array {
  if (n > 4 * 1024 * 1024) return new Float32Array(n); // do not keep huge buffers alive
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

/** Layer → RGBA (premultiplication not used; alpha 0 outside the volume). */
function layerRgba(
  layer: SliceLayer,
  g: SliceGeometry,
  greyOnly = false,
): { rgb: Uint8Array; alpha: Uint8Array; grey?: Uint8Array } {
  const n = g.size[0] * g.size[1];
  const interp = layer.type === 'label' ? 'nearest' : layer.interpolation;
  if (greyOnly && layer.type === 'grey') {
    // Fused fast path (no float buffer): nearest, or linear on an axis-aligned voxel-centre plane.
    const grey = new Uint8Array(n);
    if (resliceGrey(layer.volume, layer.worldToIjk, g, interp, layer.wl, grey))
      return { rgb: grey, alpha: new Uint8Array(0), grey };
  }
  const values = reslice(
    layer.volume,
    layer.worldToIjk,
    g,
    interp,
    scratchFloats(n * layer.volume.components),
  );
  const nc = layer.volume.components;
  const alpha = new Uint8Array(n);
  if (layer.type === 'grey') {
    const grey = new Uint8Array(n);
    if (greyOnly) windowLevelToGrey(values, layer.wl, grey, undefined, nc, 0);
    else windowLevelToGrey(values, layer.wl, grey, alpha, nc, 0);
    return { rgb: grey, alpha, grey };
  }
  const rgb = new Uint8Array(n * 3);
  if (layer.type === 'label') {
    const t = labelTable();
    for (let p = 0; p < n; p++) {
      const v = values[p * nc]!;
      if (v !== v) continue;
      const idx = ((Math.round(v) + 32768) & 0xffff) * 4;
      rgb[p * 3] = t[idx]!;
      rgb[p * 3 + 1] = t[idx + 1]!;
      rgb[p * 3 + 2] = t[idx + 2]!;
      alpha[p] = t[idx + 3]!;
    }
    return { rgb, alpha };
  }
  const tmp = new Uint8Array(n);
  for (let c = 0; c < 3; c++) {
    windowLevelToGrey(values, layer.wl, tmp, c === 0 ? alpha : undefined, nc, Math.min(c, nc - 1));
    for (let p = 0; p < n; p++) rgb[p * 3 + c] = tmp[p]!;
  }
  return { rgb, alpha };
}

/** Fiducials within the slab, as pixel positions. */
export function visibleFiducials(job: SliceJob): Array<FiducialMark & { x: number; y: number }> {
  const m = job.geometry.sliceToRAS;
  const normal = [m[2], m[6], m[10]];
  const centre = [m[3], m[7], m[11]];
  const toPixel = rasToPixelMatrix(job.geometry);
  const out: Array<FiducialMark & { x: number; y: number }> = [];
  for (const f of job.fiducials) {
    const d = dot3(normal, [f.ras[0] - centre[0]!, f.ras[1] - centre[1]!, f.ras[2] - centre[2]!]);
    if (Math.abs(d) > job.slabHalfThickness) continue;
    const [x, y] = transformPoint(toPixel, f.ras);
    out.push({ ...f, x, y });
  }
  return out;
}

export function renderSlice(job: SliceJob): RawImage {
  const g = job.geometry;
  const [W, H] = g.size;
  const n = W * H;
  const marks = visibleFiducials(job);
  const alone = !job.foreground && !job.label && marks.length === 0;
  // Segment pixels first: a slice that shows no segment stays a plain (grey) render.
  const segs = (job.segmentations ?? []).flatMap((o) => {
    const pixels = segmentPixels(o, g);
    return pixels ? [{ o, pixels }] : [];
  });
  const bg = job.background
    ? layerRgba(job.background, g, alone && job.background.type === 'grey')
    : undefined;
  if (bg?.grey && !job.foreground && !job.label && marks.length === 0 && segs.length === 0) {
    return { width: W, height: H, channels: 1, data: bg.grey };
  }
  // A background writes every byte: no need to zero the memory first.
  const covered = bg && (bg.grey ? bg.grey.length === n : bg.rgb.length === n * 3);
  const out = covered ? Buffer.allocUnsafe(n * 3) : new Uint8Array(n * 3);
  if (bg) {
    if (bg.grey) greyToRgb(bg.grey, out);
    else out.set(bg.rgb);
  }
  for (const layer of [job.foreground, job.label]) {
    if (!layer || layer.opacity <= 0) continue;
    const l = layerRgba(layer, g);
    const op = Math.min(1, layer.opacity);
    for (let p = 0; p < n; p++) {
      const a = (l.alpha[p]! / 255) * op;
      if (a === 0) continue;
      for (let c = 0; c < 3; c++) {
        const src = l.grey ? l.grey[p]! : l.rgb[p * 3 + c]!;
        out[p * 3 + c] = Math.round(out[p * 3 + c]! * (1 - a) + src * a);
      }
    }
  }
  for (const { o, pixels } of segs) compositeSegments(out, W, H, o, pixels);
  if (marks.length > 0) drawFiducials(out, W, H, marks);
  return { width: W, height: H, channels: 3, data: out };
}

/**
 * Grey bytes → RGB bytes (its own small function: a tight loop V8 optimizes on its own). Four
 * pixels are written as three little-endian 32-bit words when `out` is aligned: it was the
 * largest part of drawing a segmentation over a slice (a profile of `npm run bench --
 * segmentation`), a third of the stores this way.
 */
export function greyToRgb(grey: Uint8Array, out: Uint8Array): void {
  const n = grey.length;
  let p = 0;
  if (out.byteOffset % 4 === 0 && HOST_LITTLE) {
    const words = new Uint32Array(out.buffer, out.byteOffset, (n >> 2) * 3);
    for (let w = 0; p + 3 < n; p += 4, w += 3) {
      const a = grey[p]!,
        b = grey[p + 1]!,
        c = grey[p + 2]!,
        d = grey[p + 3]!;
      words[w] = (a | (a << 8) | (a << 16) | (b << 24)) >>> 0;
      words[w + 1] = (b | (b << 8) | (c << 16) | (c << 24)) >>> 0;
      words[w + 2] = (c | (d << 8) | (d << 16) | (d << 24)) >>> 0;
    }
  }
  for (let o = p * 3; p < n; p++, o += 3) {
    const v = grey[p]!;
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
  }
}

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function drawFiducials(
  rgb: Uint8Array,
  W: number,
  H: number,
  marks: Array<FiducialMark & { x: number; y: number }>,
): void {
  const rgba = new Uint8Array(W * H * 4);
  const put = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = (y * W + x) * 3;
    rgb[o] = c[0]!;
    rgb[o + 1] = c[1]!;
    rgb[o + 2] = c[2]!;
  };
  const r = Math.max(4, Math.round(Math.min(W, H) / 80));
  for (const m of marks) {
    const cx = Math.round(m.x),
      cy = Math.round(m.y);
    // Ring of width ~1.5 px.
    for (let dy = -r - 1; dy <= r + 1; dy++) {
      for (let dx = -r - 1; dx <= r + 1; dx++) {
        const d = Math.hypot(dx, dy);
        if (Math.abs(d - r) <= 0.75) put(cx + dx, cy + dy, m.color);
      }
    }
    put(cx, cy, m.color);
    if (m.label) {
      rgba.fill(0);
      const tx = cx + r + 3,
        ty = cy - 3;
      drawText(rgba, W, H, m.label, tx, ty, [m.color[0], m.color[1], m.color[2], 255]);
      const tw = textWidth(m.label);
      for (let y = Math.max(0, ty); y < Math.min(H, ty + 7); y++) {
        for (let x = Math.max(0, tx); x < Math.min(W, tx + tw); x++) {
          const o = (y * W + x) * 4;
          if (rgba[o + 3]) put(x, y, [rgba[o]!, rgba[o + 1]!, rgba[o + 2]!]);
        }
      }
    }
  }
}
