/**
 * Decode worker: turns a compressed DICOM file into stored pixel values (little endian, all
 * frames) with itk-wasm (GDCM), off the main thread. ITK applies RescaleSlope/Intercept; this
 * inverts it so callers get the values a native file would hold.
 */
import { parentPort } from 'node:worker_threads';
import { readImageNode } from '@itk-wasm/image-io';

export interface DecodeRequest {
  id: number;
  file: string;
  bitsAllocated: number;
  pixelRepresentation: number;
  rescaleSlope: number;
  rescaleIntercept: number;
}

export type DecodeResponse =
  | { id: number; ok: true; pixels: Uint8Array; components: number }
  | { id: number; ok: false; message: string };

function silence(): () => void {
  const saved = [console.log, console.warn, console.error, console.info];
  const noop = () => {};
  console.log = console.warn = console.error = console.info = noop;
  return () => {
    [console.log, console.warn, console.error, console.info] = saved as [
      typeof console.log,
      typeof console.log,
      typeof console.log,
      typeof console.log,
    ];
  };
}

export async function decode(
  req: DecodeRequest,
): Promise<{ pixels: Uint8Array; components: number }> {
  const restore = silence();
  let image;
  try {
    image = await readImageNode(req.file);
  } catch (e) {
    throw new Error(
      typeof e === 'number'
        ? `itk-wasm could not decode the file (native exception ${e})`
        : e instanceof Error
          ? e.message
          : String(e),
    );
  } finally {
    restore();
  }
  const src = image.data as ArrayLike<number> | null;
  if (!src) throw new Error('itk-wasm returned no pixel data');
  const n = src.length;
  const slope = req.rescaleSlope || 1;
  const intercept = req.rescaleIntercept || 0;
  const identity = slope === 1 && intercept === 0;
  const signed = req.pixelRepresentation === 1;
  const bits = req.bitsAllocated <= 8 ? 8 : req.bitsAllocated <= 16 ? 16 : 32;
  const out =
    bits === 8
      ? signed
        ? new Int8Array(n)
        : new Uint8Array(n)
      : bits === 16
        ? signed
          ? new Int16Array(n)
          : new Uint16Array(n)
        : signed
          ? new Int32Array(n)
          : new Uint32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = identity ? src[i]! : Math.round((src[i]! - intercept) / slope);
  return {
    pixels: new Uint8Array(out.buffer, 0, out.byteLength),
    components: image.imageType.components,
  };
}

parentPort?.on('message', (req: DecodeRequest) => {
  decode(req).then(
    ({ pixels, components }) =>
      parentPort!.postMessage(
        { id: req.id, ok: true, pixels, components } satisfies DecodeResponse,
        [pixels.buffer as ArrayBuffer],
      ),
    (e: unknown) =>
      parentPort!.postMessage({
        id: req.id,
        ok: false,
        message: e instanceof Error ? e.message : String(e),
      } satisfies DecodeResponse),
  );
});
