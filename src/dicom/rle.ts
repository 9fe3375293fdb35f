/**
 * RLE Lossless decoding (PS3.5 Annex G) in plain JS: a 64-byte header of segment offsets, one
 * PackBits segment per byte plane, most significant byte first, samples in order. Much faster
 * than a round trip through the itk-wasm worker (which costs hundreds of ms per file here), so
 * the scene bridge decodes RLE series itself. Output: little-endian stored values, samples
 * interleaved (as the decode worker returns them).
 */
import { AppError } from '../errors.js';

export function decodeRleFrame(
  src: Uint8Array,
  rows: number,
  columns: number,
  samplesPerPixel: number,
  bitsAllocated: number,
): Uint8Array {
  const bytesPerSample = bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1 || bytesPerSample > 4)
    throw new AppError('unprocessable', `RLE with BitsAllocated ${bitsAllocated} is not supported`);
  if (src.byteLength < 64)
    throw new AppError('unprocessable', 'RLE frame shorter than its 64-byte header');
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const segments = view.getUint32(0, true);
  const expected = samplesPerPixel * bytesPerSample;
  if (segments !== expected)
    throw new AppError('unprocessable', `RLE frame has ${segments} segments, ${expected} expected`);
  const pixels = rows * columns;
  const stride = samplesPerPixel * bytesPerSample;
  const out = new Uint8Array(pixels * stride);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : src.byteLength;
    if (start < 64 || start > end || end > src.byteLength)
      throw new AppError('unprocessable', 'RLE segment offsets out of range');
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // MSB segment first → highest LE byte
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let p = start;
    while (p < end && written < pixels) {
      const h = src[p++]!;
      if (h < 128) {
        const n = Math.min(h + 1, end - p, pixels - written);
        for (let k = 0; k < n; k++, o += stride) out[o] = src[p + k]!;
        p += h + 1;
        written += n;
      } else if (h > 128) {
        const n = Math.min(257 - h, pixels - written);
        const v = src[p++]!;
        for (let k = 0; k < n; k++, o += stride) out[o] = v;
        written += n;
      }
    }
    if (written < pixels)
      throw new AppError(
        'unprocessable',
        `RLE segment ${s + 1} decodes to ${written} of ${pixels} bytes`,
      );
  }
  return out;
}
