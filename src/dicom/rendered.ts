/**
 * Rendered and thumbnail images (PS3.18 §9.5 "Rendered Resources"): stored values → modality LUT
 * (rescale; both through `pixel-values.ts`, the loader's path too) → VOI window (from the query, else the instance, else the data's min/max when the
 * instance has no usable window, e.g. WC/WW 0/0) → 8 bit → JPEG/PNG with sharp. Grey output uses
 * `.toColourspace('b-w')` (sharp otherwise writes 3 channels).
 */
import sharp from 'sharp';
import { invalidParameter } from '../errors.js';
import type { ImageInfo } from './part10.js';
import { mapModalityToBytes, storedRange, storedValues } from './pixel-values.js';

export interface Window {
  center: number;
  width: number;
  fn: 'linear' | 'linear-exact' | 'sigmoid';
}

export interface RenderOptions {
  format: 'jpeg' | 'png';
  /** Fit inside this box, keeping the aspect ratio. */
  viewport?: { width: number; height: number };
  window?: Window;
  quality?: number;
}

/** Parses `viewport`, `window`, `quality` query parameters (PS3.18 §8.3.5). */
export function parseRenderQuery(
  q: (name: string) => string | undefined,
  format: 'jpeg' | 'png',
  thumbnail: boolean,
): RenderOptions {
  const opts: RenderOptions = { format };
  const vp = q('viewport');
  if (vp !== undefined) {
    const parts = vp.split(',').map((s) => s.trim());
    const w = Number(parts[0]);
    const h = Number(parts[1] ?? parts[0]);
    if (
      !(parts.length === 2 || parts.length === 6) ||
      !Number.isInteger(w) ||
      !Number.isInteger(h) ||
      w < 1 ||
      h < 1 ||
      w > 4096 ||
      h > 4096
    ) {
      throw invalidParameter('viewport', `expected vw,vh (1..4096), got "${vp}"`);
    }
    opts.viewport = { width: w, height: h };
  } else if (thumbnail) opts.viewport = { width: 128, height: 128 };
  const win = q('window');
  if (win !== undefined) {
    const parts = win.split(',').map((s) => s.trim());
    const center = Number(parts[0]);
    const width = Number(parts[1]);
    const fn = (parts[2] ?? 'linear').toLowerCase().replace('_', '-');
    if (
      parts.length < 2 ||
      parts.length > 3 ||
      !Number.isFinite(center) ||
      !Number.isFinite(width) ||
      width <= 0 ||
      !['linear', 'linear-exact', 'sigmoid'].includes(fn)
    ) {
      throw invalidParameter(
        'window',
        `expected center,width[,linear|linear-exact|sigmoid] with width > 0, got "${win}"`,
      );
    }
    opts.window = { center, width, fn: fn as Window['fn'] };
  }
  const quality = q('quality');
  if (quality !== undefined) {
    const n = Number(quality);
    if (!Number.isInteger(n) || n < 1 || n > 100)
      throw invalidParameter('quality', `expected 1..100, got "${quality}"`);
    opts.quality = n;
  }
  return opts;
}

/**
 * Renders one frame (stored values, little endian) to JPEG or PNG. `known.range` is the frame's
 * stored [min, max] when the caller has it; else it is computed and left there for next time.
 */
export async function renderFrame(
  frame: Uint8Array,
  im: ImageInfo,
  opts: RenderOptions,
  components = im.samplesPerPixel,
  known: { range?: [number, number] } = {},
): Promise<Buffer> {
  const { rows, columns } = im;
  let channels: 1 | 3;
  let out: Uint8Array;
  if (components >= 3) {
    channels = 3;
    const v = storedValues(frame, { ...im, pixelRepresentation: 0 });
    const n = rows * columns;
    out = new Uint8Array(n * 3);
    const shift = Math.max(0, im.bitsStored - 8);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        const x = im.planarConfiguration === 1 ? v[c * n + i]! : v[i * 3 + c]!;
        out[i * 3 + c] = x >> shift;
      }
    }
    if (im.photometric === 'YBR_FULL') {
      for (let i = 0; i < n * 3; i += 3) {
        const y = out[i]!,
          cb = out[i + 1]! - 128,
          cr = out[i + 2]! - 128;
        out[i] = clamp8(y + 1.402 * cr);
        out[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
        out[i + 2] = clamp8(y + 1.772 * cb);
      }
    }
  } else {
    channels = 1;
    // Stored values → modality values (rescale) → VOI window → bytes, through the one pixel path
    // and one table over the stored range.
    const bytes = Math.ceil(im.bitsAllocated / 8);
    const stored = storedValues(frame.subarray(0, rows * columns * bytes), im);
    out = greyBuffer(rows * columns);
    if (stored.length < out.length) out.fill(0, stored.length); // a short frame: the rest black
    const invert = im.photometric === 'MONOCHROME1';
    known.range ??= storedRange(stored);
    mapModalityToBytes(
      stored,
      im.rescaleSlope || 1,
      im.rescaleIntercept || 0,
      out,
      (min, max) => {
        let win = opts.window;
        if (
          !win &&
          im.windowWidth !== undefined &&
          im.windowWidth > 0 &&
          im.windowCenter !== undefined
        )
          win = { center: im.windowCenter, width: im.windowWidth, fn: 'linear' };
        // no usable window: the data's range
        win ??= { center: (min + max) / 2, width: Math.max(1, max - min), fn: 'linear-exact' };
        const { center: c, width: w, fn } = win;
        return (x) => {
          let y: number;
          if (fn === 'linear')
            y = w <= 1 ? (x <= c - 0.5 ? 0 : 1) : (x - (c - 0.5)) / (w - 1) + 0.5;
          else if (fn === 'linear-exact') y = (x - c) / w + 0.5;
          else y = 1 / (1 + Math.exp((-4 * (x - c)) / w));
          const g = clamp8(y * 255);
          return invert ? 255 - g : g;
        };
      },
      known.range,
    );
  }
  let img = sharp(out, { raw: { width: columns, height: rows, channels } });
  if (opts.viewport) img = img.resize(opts.viewport.width, opts.viewport.height, { fit: 'inside' });
  if (channels === 1) img = img.toColourspace('b-w');
  try {
    return await (opts.format === 'png'
      ? img.png({ compressionLevel: 3 }).toBuffer()
      : // Huffman tables optimised per image cost ~40 % of the encode time for ~5 % smaller files;
        // a viewer asking for rendered frames wants them fast (Orthanc does not optimise either).
        img.jpeg({ quality: opts.quality ?? 90, optimiseCoding: false }).toBuffer());
  } finally {
    // sharp has read its input once its promise settles
    if (channels === 1) spareGrey(out);
  }
}

/**
 * Grey 8-bit frame buffers kept between renders (a few, by size), instead of a new 256 KB buffer
 * per rendered frame: with every request rendering, GC took 0.4 ms per 512² frame (a profile),
 * and reusing the buffers took an A/B at 1 client from 325–359 to 355–398 renders/s. Every byte
 * is written before use.
 */
const greyBuffers: Uint8Array[] = [];
function greyBuffer(n: number): Uint8Array {
  const i = greyBuffers.findIndex((b) => b.length === n);
  return i >= 0 ? greyBuffers.splice(i, 1)[0]! : new Uint8Array(n);
}
function spareGrey(b: Uint8Array): void {
  if (greyBuffers.length < 4) greyBuffers.push(b);
}

const clamp8 = (x: number) => (x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x));
