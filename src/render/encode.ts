/** Raw pixels → PNG or JPEG with sharp (1-channel grey stays 8-bit grey: `toColourspace('b-w')`). */
import sharp from 'sharp';
import type { RawImage } from '../imaging/slice-render.js';

export type ImageFormat = 'png' | 'jpeg';

export interface EncodeOptions {
  format: ImageFormat;
  /** JPEG quality 1–100. */
  quality: number;
  /** PNG zlib level 0–9. */
  compressionLevel?: number;
  /** Resize to this size (e.g. 3D renders cast on a coarser ray grid). */
  resize?: [number, number];
}

export interface Encoded {
  body: Uint8Array;
  contentType: string;
  width: number;
  height: number;
}

export async function encode(img: RawImage, o: EncodeOptions): Promise<Encoded> {
  let s = sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: img.channels },
  });
  const [w, h] = o.resize ?? [img.width, img.height];
  if (w !== img.width || h !== img.height) s = s.resize(w, h, { fit: 'fill', kernel: 'linear' });
  if (img.channels === 1) s = s.toColourspace('b-w');
  const body =
    o.format === 'png'
      ? await s
          .png({ compressionLevel: o.compressionLevel ?? 1, adaptiveFiltering: false })
          .toBuffer()
      : await s.jpeg({ quality: o.quality, optimiseCoding: false }).toBuffer(); // 1.7 → 1.1 ms for 512² grey, +8 % bytes
  return {
    body,
    contentType: o.format === 'png' ? 'image/png' : 'image/jpeg',
    width: w,
    height: h,
  };
}
