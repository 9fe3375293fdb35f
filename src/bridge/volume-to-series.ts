/**
 * Scene volume → a new DICOM series in the archive (Explicit VR Little Endian, one instance per
 * slice), through the archive's ingest path (atomic files, one index transaction).
 *
 * - SOP class: CT Image Storage when the source was CT (or the data looks like Hounsfield units),
 *   MR Image Storage when the source was MR, Secondary Capture (Modality OT) otherwise. Label maps
 *   are Secondary Capture OT series with 8-bit (labels ≤ 255) or 16-bit unsigned pixels, no
 *   rescale, ImageType DERIVED\SECONDARY\LABELMAP and full geometry, which voxelgate reloads as a
 *   label map and viewers show as a stack. Segmentation nodes are saved as DICOM SEG
 *   (`segmentation-to-seg.ts`).
 * - Geometry: RAS → LPS once (geometry.ts); IOP = the direction's first two columns in LPS;
 *   IPP of slice k = origin + k·spacing_k·(third column); PixelSpacing = [row spacing, column
 *   spacing] = [spacing_j, spacing_i]; SliceThickness = SpacingBetweenSlices = spacing_k. Linear
 *   parent transforms are applied (the series holds world coordinates).
 * - Values: 8/16-bit integer data is stored as is; other data that fits int16/uint16 exactly is
 *   converted; anything else (float, wide integers) is stored as int16 with a Rescale
 *   Slope/Intercept chosen to use the full int16 range (error ≤ slope / 2). DS values are
 *   formatted to 16 characters first and the formatted numbers are the ones used.
 * - UIDs: new `2.25.` UIDs (dcmjs); the study is the one given, else the volume's source study
 *   when it is still in the archive, else a new one. The Frame of Reference UID is kept when the
 *   series goes back to its source study, new otherwise.
 */
import dcmjs from 'dcmjs';
import type { Archive } from '../dicom/archive.js';
import type { DicomJson } from '../dicom/dicom-json.js';
import { isUid } from '../dicom/tags.js';
import { fileMetaInformation } from '../dicom/part10.js';
import { AppError, invalidParameter, notFound } from '../errors.js';
import {
  column3,
  cross3,
  decomposeIjkToRas,
  directionRasToLps,
  dot3,
  ijkToWorldMatrix,
  normalize3,
  rasToLps,
} from '../imaging/geometry.js';
import type { ImageVolume, Mat3, TypedArray, Vec3 } from '../imaging/types.js';
import type { Scene, VolumeNode } from '../scene/scene.js';

export const SOP = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  SC: '1.2.840.10008.5.1.4.1.1.7',
} as const;

const dcm = dcmjs.data as {
  DicomMetaDictionary: {
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
    uid(): string;
  };
  DicomDict: new (meta: Record<string, unknown>) => {
    dict: Record<string, unknown>;
    write(opts?: Record<string, unknown>): ArrayBuffer;
  };
};

export interface SaveOptions {
  seriesDescription?: string;
  /** Target study; must exist in the archive. */
  studyUid?: string;
}

export interface SaveResult {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopClassUID: string;
  instances: number;
  newStudy: boolean;
  warnings: string[];
}

/** A DS value (≤ 16 characters, PS3.5 6.2) and the number it denotes. */
export function formatDS(x: number): string {
  if (!Number.isFinite(x))
    throw new AppError('unprocessable', `cannot write ${x} as a DICOM decimal string`);
  if (Object.is(x, -0) || Math.abs(x) < 1e-300) return '0';
  for (let p = 16; p >= 1; p--) {
    let s = x.toPrecision(p);
    if (s.includes('e')) s = Number(s).toString();
    if (s.includes('.') && !s.includes('e')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    if (s.length <= 16) return s;
    const e = x
      .toExponential(Math.max(0, p - 1))
      .replace(/\.?0+e/, 'e')
      .replace('e+', 'e');
    if (e.length <= 16) return e;
  }
  throw new AppError('unprocessable', `cannot write ${x} as a DICOM decimal string`);
}
const ds = (x: number) => formatDS(x);
const dsNum = (x: number) => Number(formatDS(x));

interface Encoding {
  bits: 8 | 16;
  signed: boolean;
  slope: number;
  intercept: number;
  /** Stored values of slice k. */
  slice(k: number): Uint8Array;
  lossy: boolean;
}

function range(a: TypedArray): [number, number, boolean] {
  let lo = Infinity;
  let hi = -Infinity;
  let ints = true;
  for (const v of a) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (ints && !Number.isInteger(v)) ints = false;
  }
  return [lo, hi, ints];
}

function encodeValues(vol: ImageVolume, opts: { label: boolean; force16: boolean }): Encoding {
  const [ni, nj] = vol.dimensions;
  const plane = ni * nj;
  const src = vol.data;
  const bytesOf = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const convert =
    (
      C: Int16ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor,
      map?: (v: number) => number,
    ) =>
    (k: number) => {
      const out = new C(plane);
      const off = k * plane;
      if (map) for (let i = 0; i < plane; i++) out[i] = map(src[off + i]!);
      else for (let i = 0; i < plane; i++) out[i] = src[off + i]!;
      return bytesOf(out);
    };
  const direct = (k: number) => bytesOf(src.slice(k * plane, (k + 1) * plane));
  const t = vol.scalarType;
  if (!opts.force16 && !opts.label && (t === 'uint8' || t === 'int8'))
    return { bits: 8, signed: t === 'int8', slope: 1, intercept: 0, slice: direct, lossy: false };
  if (t === 'uint16' || t === 'int16')
    return { bits: 16, signed: t === 'int16', slope: 1, intercept: 0, slice: direct, lossy: false };
  const [lo, hi, ints] = range(src);
  if (opts.label) {
    if (!ints || lo < 0 || hi > 65535)
      throw new AppError(
        'unprocessable',
        `a label map saved as DICOM needs whole labels 0..65535; this one spans ${lo}..${hi}`,
      );
    return hi <= 255 && !opts.force16
      ? { bits: 8, signed: false, slope: 1, intercept: 0, slice: convert(Uint8Array), lossy: false }
      : {
          bits: 16,
          signed: false,
          slope: 1,
          intercept: 0,
          slice: convert(Uint16Array),
          lossy: false,
        };
  }
  if (ints && lo >= -32768 && hi <= 32767)
    return {
      bits: 16,
      signed: true,
      slope: 1,
      intercept: 0,
      slice: convert(Int16Array),
      lossy: false,
    };
  if (ints && lo >= 0 && hi <= 65535)
    return {
      bits: 16,
      signed: false,
      slope: 1,
      intercept: 0,
      slice: convert(Uint16Array),
      lossy: false,
    };
  // Rescaled int16: the full stored range [-32767, 32767] spans [lo, hi].
  if (!Number.isFinite(lo) || !Number.isFinite(hi))
    throw new AppError(
      'unprocessable',
      'the volume holds NaN or infinite values, which DICOM cannot store',
    );
  const intercept = dsNum((lo + hi) / 2);
  let slope = hi > lo ? dsNum(Math.max((hi - intercept) / 32766, (intercept - lo) / 32766)) : 1;
  if (!(slope > 0)) slope = 1;
  const map = (v: number) => Math.max(-32768, Math.min(32767, Math.round((v - intercept) / slope)));
  return { bits: 16, signed: true, slope, intercept, slice: convert(Int16Array, map), lossy: true };
}

/** The world (RAS) geometry of a node: its parent linear transforms applied. */
function worldGeometry(
  scene: Scene,
  node: VolumeNode,
  warnings: string[],
): Pick<ImageVolume, 'origin' | 'spacing' | 'direction'> {
  const grids = scene.nonLinearParents(node.id);
  if (grids.length)
    warnings.push(
      `non-linear parent transform(s) ${grids.join(', ')} ignored; the series has the volume's linear geometry`,
    );
  const m = ijkToWorldMatrix(node.volume, scene.worldFromLocal(node.id));
  return decomposeIjkToRas(m);
}

function chooseSopClass(node: VolumeNode, label: boolean): { sop: string; modality: string } {
  if (label) return { sop: SOP.SC, modality: 'OT' };
  const modality = node.attributes['DICOM.Modality'];
  if (modality === 'CT') return { sop: SOP.CT, modality: 'CT' };
  if (modality === 'MR') return { sop: SOP.MR, modality: 'MR' };
  if (modality === undefined && !node.volume.scalarType.startsWith('uint')) {
    // CT-like: integer or float data reaching down to air (≤ −900 HU).
    let min = Infinity;
    const d = node.volume.data;
    for (let i = 0; i < d.length; i += 97) if (d[i]! < min) min = d[i]!;
    if (min <= -900) return { sop: SOP.CT, modality: 'CT' };
  }
  return { sop: SOP.SC, modality: 'OT' };
}

export const PATIENT_STUDY_TAGS = [
  '00100010',
  '00100020',
  '00100030',
  '00100040',
  '00101010',
  '0020000D',
  '00080020',
  '00080030',
  '00080050',
  '00080090',
  '00200010',
  '00081030',
];

/** Writes one instance: the dataset through dcmjs, then Pixel Data appended (no copy through dcmjs). */
export function writeInstance(
  meta: Record<string, unknown>,
  dict: Record<string, unknown>,
  pixels: Uint8Array,
  vr: 'OB' | 'OW',
): Buffer {
  const d = new dcm.DicomDict(meta);
  d.dict = dict;
  const head = Buffer.from(d.write({ allowInvalidVRLength: true }));
  const len = pixels.byteLength + (pixels.byteLength % 2);
  const el = Buffer.alloc(12);
  el.writeUInt16LE(0x7fe0, 0);
  el.writeUInt16LE(0x0010, 2);
  el.write(vr, 4, 'latin1');
  el.writeUInt32LE(len, 8);
  const parts = [head, el, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength)];
  if (len !== pixels.byteLength) parts.push(Buffer.alloc(1));
  return Buffer.concat(parts);
}

export const now = () => {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return {
    date: `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`,
    time: `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`,
  };
};

/** Saves a volume node into the archive as a new series; returns its UIDs. */
export async function saveVolumeAsSeries(
  scene: Scene,
  archive: Archive,
  node: VolumeNode,
  opts: SaveOptions = {},
): Promise<SaveResult> {
  const vol = node.volume;
  const warnings: string[] = [];
  if (vol.components !== 1)
    throw new AppError(
      'unprocessable',
      `${node.id} has ${vol.components} components; only scalar volumes and label maps can be saved as DICOM`,
    );
  const label = node.className === 'vtkMRMLLabelMapVolumeNode';
  // Target study.
  const sourceStudy = node.attributes['DICOM.StudyInstanceUID'];
  let studyUid = opts.studyUid;
  if (studyUid !== undefined) {
    if (!isUid(studyUid)) throw invalidParameter('studyInstanceUID', `"${studyUid}" is not a UID`);
    if (!(await archive.studyExists(studyUid)))
      throw notFound(
        `no study ${studyUid} in the archive; omit studyInstanceUID to create a new study`,
      );
  } else if (sourceStudy && (await archive.studyExists(sourceStudy))) studyUid = sourceStudy;
  const newStudy = studyUid === undefined;
  studyUid ??= dcm.DicomMetaDictionary.uid();
  const studyJson: DicomJson = newStudy
    ? {}
    : (JSON.parse((await archive.representativeMetadata(studyUid)) ?? '{}') as DicomJson);
  let existingSeries = 0;
  if (!newStudy)
    existingSeries = new Set((await archive.instances(studyUid)).map((r) => r.seriesUid)).size;

  // Geometry in LPS.
  const geo = worldGeometry(scene, node, warnings);
  const dirLps: Mat3 = directionRasToLps(geo.direction);
  const originLps = rasToLps(geo.origin);
  const r = column3(dirLps, 0);
  const c = column3(dirLps, 1);
  const n = column3(dirLps, 2);
  if (Math.abs(dot3(r, c)) > 1e-4)
    throw new AppError(
      'unprocessable',
      `${node.id}: the i and j axes are not orthogonal, which DICOM ImageOrientationPatient cannot express`,
    );
  const handed = dot3(n, normalize3(cross3(r, c)));
  if (handed < 0)
    warnings.push(
      'the volume is left-handed (k runs against i × j): the series is correct, but reloads with the slice order reversed',
    );
  else if (handed < 1 - 1e-4)
    warnings.push(
      'the k axis is not perpendicular to the slices: the series has tilted positions and reloads resampled',
    );
  const [si, sj, sk] = geo.spacing;
  const { sop, modality } = chooseSopClass(node, label);
  const enc = encodeValues(vol, { label, force16: sop === SOP.CT });
  if (enc.lossy)
    warnings.push(
      `values stored as int16 with RescaleSlope ${enc.slope} and RescaleIntercept ${enc.intercept} (maximum error ${enc.slope / 2})`,
    );

  const seriesUid = dcm.DicomMetaDictionary.uid();
  const keepFor =
    !newStudy && studyUid === sourceStudy && node.attributes['DICOM.FrameOfReferenceUID'];
  const forUid = keepFor
    ? node.attributes['DICOM.FrameOfReferenceUID']!
    : dcm.DicomMetaDictionary.uid();
  const { date, time } = now();
  const description = opts.seriesDescription ?? node.name;
  const window =
    node.display.window !== undefined && node.display.window > 0 && node.display.level !== undefined
      ? node.display
      : undefined;
  const [ni, nj, nk] = vol.dimensions;
  const studyElements: Record<string, unknown> = {};
  for (const tag of PATIENT_STUDY_TAGS) {
    const el = studyJson[tag];
    if (el) studyElements[tag] = { vr: el.vr, Value: el.Value ?? [] };
  }
  // One ingest session: the series appears whole at the commit, or not at all.
  const session = archive.session();
  let instances = 0;
  try {
    for (let k = 0; k < nk; k++) {
      const sopUid = dcm.DicomMetaDictionary.uid();
      const ipp: Vec3 = [
        originLps[0] + k * sk * n[0],
        originLps[1] + k * sk * n[1],
        originLps[2] + k * sk * n[2],
      ];
      const ds0: Record<string, unknown> = {
        SpecificCharacterSet: 'ISO_IR 192',
        // CT Image IOD: value 3 is required (AXIAL or LOCALIZER; a reconstructed stack is AXIAL).
        ImageType: label
          ? ['DERIVED', 'SECONDARY', 'LABELMAP']
          : sop === SOP.CT
            ? ['DERIVED', 'SECONDARY', 'AXIAL']
            : sop === SOP.MR
              ? ['DERIVED', 'SECONDARY', 'OTHER']
              : ['DERIVED', 'SECONDARY'],
        SOPClassUID: sop,
        SOPInstanceUID: sopUid,
        StudyDate: date,
        StudyTime: time,
        SeriesDate: date,
        SeriesTime: time,
        ContentDate: date,
        ContentTime: time,
        Modality: modality,
        // General Series: Laterality and (CT/MR) Patient Position are type 2C: present, empty
        // (unknown) rather than absent.
        Laterality: '',
        Manufacturer: 'voxelgate',
        ReferringPhysicianName: '',
        AccessionNumber: '',
        SeriesDescription: description.slice(0, 64),
        PatientName: 'Anonymous',
        PatientID: 'VOXELGATE',
        PatientBirthDate: '',
        PatientSex: '',
        StudyInstanceUID: studyUid,
        SeriesInstanceUID: seriesUid,
        StudyID: '1',
        SeriesNumber: 1000 + existingSeries + 1,
        InstanceNumber: k + 1,
        ImagePositionPatient: ipp.map(ds),
        ImageOrientationPatient: [...r, ...c].map(ds),
        FrameOfReferenceUID: forUid,
        PositionReferenceIndicator: '',
        SliceLocation: ds(dot3(ipp, normalize3(cross3(r, c)))),
        SliceThickness: ds(sk),
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        Rows: nj,
        Columns: ni,
        PixelSpacing: [ds(sj), ds(si)],
        BitsAllocated: enc.bits,
        BitsStored: enc.bits,
        HighBit: enc.bits - 1,
        PixelRepresentation: enc.signed ? 1 : 0,
        RescaleIntercept: ds(enc.intercept),
        RescaleSlope: ds(enc.slope),
      };
      if (sop !== SOP.CT) ds0.SpacingBetweenSlices = ds(sk);
      if (sop === SOP.CT || sop === SOP.MR) ds0.PatientPosition = '';
      if (sop === SOP.CT) Object.assign(ds0, { KVP: '', AcquisitionNumber: '', RescaleType: 'HU' });
      if (sop === SOP.MR)
        Object.assign(ds0, {
          ScanningSequence: 'RM',
          SequenceVariant: 'NONE',
          ScanOptions: '',
          MRAcquisitionType: '3D',
          EchoTime: '',
          RepetitionTime: '',
          EchoTrainLength: '',
        });
      // SC: Patient Orientation is type 2C (empty: not known in patient terms); the Modality LUT
      // macro needs RescaleType with the rescale pair (US = unspecified).
      if (sop === SOP.SC)
        Object.assign(ds0, { ConversionType: 'WSD', PatientOrientation: '', RescaleType: 'US' });
      if (window && !label)
        Object.assign(ds0, { WindowCenter: ds(window.level!), WindowWidth: ds(window.window!) });
      const dict = dcm.DicomMetaDictionary.denaturalizeDataset(ds0);
      Object.assign(dict, studyElements);
      const meta = dcm.DicomMetaDictionary.denaturalizeDataset(fileMetaInformation(sop, sopUid));
      const buf = writeInstance(meta, dict, enc.slice(k), enc.bits === 8 ? 'OB' : 'OW');
      await session.add(buf);
    }
    const count = session.size;
    await session.commit();
    instances = count;
  } catch (e) {
    await session.abort();
    throw e;
  }
  return {
    studyInstanceUID: studyUid,
    seriesInstanceUID: seriesUid,
    sopClassUID: sop,
    instances,
    newStudy,
    warnings,
  };
}
