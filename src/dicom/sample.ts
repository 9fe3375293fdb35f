/**
 * Synthetic DICOM written with dcmjs: a CT phantom series (air, body 40 HU, two lungs −600 HU, a
 * bone sphere 700 HU) with real geometry, used as the sample study shipped at first start, as
 * test data and by the benchmark (tiny instances). UIDs derive from a seed, so a seed gives the
 * same UIDs every time.
 */
import { createHash } from 'node:crypto';
import dcmjs from 'dcmjs';
import { fileMetaInformation } from './part10.js';

export interface SyntheticSeriesOptions {
  rows?: number;
  columns?: number;
  slices?: number;
  /** Seed for the UIDs (same seed → same UIDs). */
  seed?: string;
  patientName?: string;
  patientId?: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyDescription?: string;
  seriesDescription?: string;
  seriesNumber?: number;
  modality?: string;
  /** mm */
  pixelSpacing?: number;
  /** mm */
  sliceSpacing?: number;
  /** Fill with a flat value instead of the phantom (faster, for benchmarks). */
  flat?: boolean;
  /** Added to every stored pixel value (versions of the same instance with other pixels). */
  pixelOffset?: number;
  /** ImageComments (0020,4000), when given. */
  imageComments?: string;
}

const dcm = dcmjs.data as {
  DicomMetaDictionary: {
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
  };
  DicomDict: new (meta: Record<string, unknown>) => {
    dict: Record<string, unknown>;
    write(): ArrayBuffer;
  };
};

/** A UID under 2.25 derived from a string (≤ 64 characters with the suffixes used here). */
export function uidFromSeed(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 28);
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

export interface SyntheticSeries {
  studyUid: string;
  seriesUid: string;
  sopUids: string[];
  files: Buffer[];
}

/** Hounsfield value of the phantom at normalized coordinates (−1..1 in x, y; 0..1 in z). */
function phantomHu(x: number, y: number, z: number): number {
  if ((x * x) / 0.81 + (y * y) / 0.56 > 1) return -1000;
  const bx = x - 0.1,
    by = y + 0.25,
    bz = (z - 0.5) * 1.6;
  if (bx * bx + by * by + bz * bz < 0.05) return 700;
  for (const cx of [-0.42, 0.42])
    if ((x - cx) ** 2 / 0.06 + (y + 0.02) ** 2 / 0.16 < 1) return -600;
  return 40;
}

export function syntheticSeries(opts: SyntheticSeriesOptions = {}): SyntheticSeries {
  const rows = opts.rows ?? 128;
  const columns = opts.columns ?? 128;
  const slices = opts.slices ?? 32;
  const seed = opts.seed ?? 'voxelgate-sample';
  const studyUid = uidFromSeed(`${seed}/study`);
  const seriesUid = `${studyUid}.${opts.seriesNumber ?? 1}`;
  const forUid = `${studyUid}.0`;
  const ps = opts.pixelSpacing ?? 2;
  const ss = opts.sliceSpacing ?? 2;
  const studyDate = opts.studyDate ?? '20240101';
  const files: Buffer[] = [];
  const sopUids: string[] = [];
  const pixels = new Uint16Array(rows * columns);
  for (let k = 0; k < slices; k++) {
    const sop = `${seriesUid}.${k + 1}`;
    sopUids.push(sop);
    if (opts.flat) pixels.fill(1024 + 40);
    else {
      for (let j = 0; j < rows; j++) {
        for (let i = 0; i < columns; i++) {
          const hu = phantomHu(
            (2 * i) / (columns - 1) - 1,
            (2 * j) / (rows - 1) - 1,
            slices > 1 ? k / (slices - 1) : 0.5,
          );
          pixels[j * columns + i] = hu + 1024 + (opts.pixelOffset ?? 0);
        }
      }
    }
    const z = k * ss;
    const ds: Record<string, unknown> = {
      SpecificCharacterSet: 'ISO_IR 192',
      ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: sop,
      StudyDate: studyDate,
      SeriesDate: studyDate,
      StudyTime: opts.studyTime ?? '120000',
      SeriesTime: opts.studyTime ?? '120000',
      AccessionNumber: opts.accessionNumber ?? 'ACC0001',
      Modality: opts.modality ?? 'CT',
      Manufacturer: 'voxelgate',
      ReferringPhysicianName: '',
      StudyDescription: opts.studyDescription ?? 'Synthetic phantom',
      SeriesDescription: opts.seriesDescription ?? 'Phantom axial 2 mm',
      PatientName: opts.patientName ?? 'Phantom^Synthetic',
      PatientID: opts.patientId ?? 'PHANTOM001',
      PatientBirthDate: '19700101',
      PatientSex: 'O',
      SliceThickness: ss,
      KVP: 120,
      PatientPosition: 'HFS',
      StudyInstanceUID: studyUid,
      SeriesInstanceUID: seriesUid,
      StudyID: '1',
      SeriesNumber: opts.seriesNumber ?? 1,
      InstanceNumber: k + 1,
      ImagePositionPatient: [-((columns - 1) * ps) / 2, -((rows - 1) * ps) / 2, z],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      FrameOfReferenceUID: forUid,
      PositionReferenceIndicator: '',
      SliceLocation: z,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: rows,
      Columns: columns,
      PixelSpacing: [ps, ps],
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      WindowCenter: 40,
      WindowWidth: 400,
      RescaleIntercept: -1024,
      RescaleSlope: 1,
      RescaleType: 'HU',
      ...(opts.imageComments !== undefined ? { ImageComments: opts.imageComments } : {}),
      PixelData: pixels.slice().buffer,
      _vrMap: { PixelData: 'OW' },
    };
    const meta = fileMetaInformation(CT_IMAGE_STORAGE, sop);
    const dict = new dcm.DicomDict(dcm.DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = dcm.DicomMetaDictionary.denaturalizeDataset(ds);
    files.push(Buffer.from(dict.write()));
  }
  return { studyUid, seriesUid, sopUids, files };
}
