/**
 * Segmentation nodes ⇄ DICOM Segmentation objects (SEG, PS3.3 A.51, C.8.20), binary type.
 *
 * Export (`saveSegmentationAsSeg`): one instance, one bit-packed frame per segment and slice that
 * has voxels (frames ordered by segment, then slice), Segment Sequence with label, algorithm type,
 * category/type codes (from the segment's Slicer `TerminologyEntry` tag, SRT mapped to SCT, else
 * SCT 85756007 "Tissue"), RecommendedDisplayCIELabValue (dcmjs's sRGB → CIELab), Shared
 * functional groups (orientation, pixel measures), per-frame Plane Position, Segment
 * Identification, Frame Content (dimension indices: segment number, slice) and Derivation Image
 * (the source slice at the same position), Multi-frame Dimension, Common Instance Reference. The
 * source series is the reference volume's own series when it came from the archive, else the
 * reference volume is saved as a series first (`saveVolumeAsSeries`). Patient/study attributes
 * and the Frame of Reference come from that series.
 *
 * Hand-written dataset (serialized with dcmjs): dcmjs's `derivations.Segmentation` needs the
 * whole source series normalized into one in-memory multi-frame dataset (pixel data included),
 * allocates one byte per pixel of every frame, and numbers frames in its normalizer's order; here
 * the geometry comes straight from the segmentation's grid and frames are packed as they are made.
 *
 * Import (`readSeg`): geometry from the per-frame Plane Position and shared/per-frame Plane
 * Orientation and Pixel Measures; slices placed on the referenced series' grid when that series is
 * in the archive and the frames sit on its slices, else on a grid spanning the frames. Segments
 * overlap freely in SEG; here they go on the first layer where they overlap nothing.
 */
import dcmjs from 'dcmjs';
import type { Archive } from '../dicom/archive.js';
import type { DicomJson } from '../dicom/dicom-json.js';
import { AppError } from '../errors.js';
import {
  column3,
  cross3,
  decomposeIjkToRas,
  directionLpsToRas,
  directionRasToLps,
  dot3,
  ijkToRasMatrix,
  lpsToRas,
  mul4,
  normalize3,
  rasToLps,
} from '../imaging/geometry.js';
import { sameGrid, type Segment, type Segmentation } from '../imaging/segmentation.js';
import { allocShared, type ImageVolume, type Mat3, type Vec3 } from '../imaging/types.js';
import {
  isVolumeNode,
  type Scene,
  type SegmentationNode,
  type VolumeNode,
} from '../scene/scene.js';
import { B, items, nums, str } from './dicom-values.js';
import { fileMetaInformation } from '../dicom/part10.js';
import { planStudy } from './series-to-volume.js';
import {
  formatDS,
  now,
  PATIENT_STUDY_TAGS,
  saveVolumeAsSeries,
  writeInstance,
} from './volume-to-series.js';

export const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

const dcm = dcmjs.data as unknown as {
  DicomMetaDictionary: {
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
    naturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
    uid(): string;
  };
  DicomMessage: {
    readFile(buf: ArrayBuffer, opts?: Record<string, unknown>): { dict: Record<string, unknown> };
  };
  Colors: {
    rgb2DICOMLAB(rgb: number[]): number[];
    dicomlab2RGB(lab: number[]): number[];
  };
};

const unprocessable = (m: string) => new AppError('unprocessable', m);

// ---------------------------------------------------------------------------------------------
// Terminology

export interface Code {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

const TISSUE: Code = {
  CodeValue: '85756007',
  CodingSchemeDesignator: 'SCT',
  CodeMeaning: 'Tissue',
};

/** `SCT^85756007^Tissue` → a code (SRT, the retired SNOMED designator, becomes SCT). */
function parseCode(text: string | undefined): Code | undefined {
  if (!text) return undefined;
  const [scheme, value, meaning] = text.split('^');
  if (!scheme || !value || !meaning) return undefined;
  return {
    CodeValue: value,
    CodingSchemeDesignator: scheme === 'SRT' ? 'SCT' : scheme,
    CodeMeaning: meaning.slice(0, 64),
  };
}

const codeText = (c: Code | undefined) =>
  c ? `${c.CodingSchemeDesignator}^${c.CodeValue}^${c.CodeMeaning}` : '^^';

/**
 * Slicer's `TerminologyEntry` tag: `context~category~type~typeModifier~anatomicContext~
 * anatomicRegion~anatomicRegionModifier`, each code `scheme^value^meaning`.
 */
export function segmentCodes(seg: Segment): {
  category: Code;
  type: Code;
  typeModifier?: Code;
  region?: Code;
} {
  const parts = (seg.tags.TerminologyEntry ?? '').split('~');
  const category = parseCode(parts[1]);
  const type = parseCode(parts[2]);
  if (!category || !type) return { category: TISSUE, type: TISSUE };
  return { category, type, typeModifier: parseCode(parts[3]), region: parseCode(parts[5]) };
}

function terminologyEntry(category: Code, type: Code, region?: Code): string {
  return [
    'Segmentation category and type - DICOM master list',
    codeText(category),
    codeText(type),
    '^^',
    'Anatomic codes - DICOM master list',
    codeText(region),
    '^^',
  ].join('~');
}

// ---------------------------------------------------------------------------------------------
// Export

export interface SaveSegOptions {
  seriesDescription?: string;
}

export interface SaveSegResult {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  frames: number;
  segments: number;
  referencedSeriesInstanceUID: string;
  /** True when the reference volume was saved as a new series first. */
  referenceSaved: boolean;
  warnings: string[];
}

interface SourceSlice {
  sopClass: string;
  sopInstance: string;
  /** Position along the normal (mm). */
  pos: number;
}

/** The segmentation's reference volume: the named one, else a volume on the same grid. */
export function referenceVolumeOf(scene: Scene, node: SegmentationNode): VolumeNode {
  if (node.referenceVolumeId !== undefined) {
    const v = scene.byId(node.referenceVolumeId);
    if (isVolumeNode(v)) return v;
    throw unprocessable(
      `${node.id}: its reference volume ${node.referenceVolumeId} is no longer in the scene; PUT the segmentation again with referenceVolume=`,
    );
  }
  const same = scene
    .nodes()
    .filter(isVolumeNode)
    .find((v) => sameGrid(v.volume, node.segmentation.labelmap));
  if (same) return same;
  throw unprocessable(
    `${node.id} has no reference volume and no volume in the scene has its grid; a DICOM SEG must reference source images: PUT the segmentation with referenceVolume=<volume id>`,
  );
}

/** The archive series holding the reference volume, or undefined when it did not come from there. */
async function archivedSeries(
  archive: Archive,
  v: VolumeNode,
): Promise<{ study: string; series: string } | undefined> {
  const study = v.attributes['DICOM.StudyInstanceUID'];
  const series = v.attributes['DICOM.SeriesInstanceUID'];
  if (!study || !series) return undefined;
  if ((await archive.studyOfSeries(series)) !== study) return undefined;
  const have = new Set((await archive.instances(study, series)).map((r) => r.sopInstanceUid));
  const want = (v.attributes['DICOM.instanceUIDs'] ?? '').split(' ').filter(Boolean);
  return want.every((u) => have.has(u)) ? { study, series } : undefined;
}

function worldGrid(scene: Scene, node: SegmentationNode, warnings: string[]) {
  if (scene.nonLinearParents(node.id).length)
    warnings.push('non-linear parent transforms ignored; the SEG has the linear geometry');
  const m = mul4(scene.worldFromLocal(node.id), ijkToRasMatrix(node.segmentation.labelmap));
  return decomposeIjkToRas(m);
}

/** Saves a segmentation node as a DICOM SEG instance in the archive. */
export async function saveSegmentationAsSeg(
  scene: Scene,
  archive: Archive,
  node: SegmentationNode,
  opts: SaveSegOptions = {},
): Promise<SaveSegResult> {
  const s = node.segmentation;
  const warnings: string[] = [];
  if (s.segments.length === 0) throw unprocessable(`${node.id} has no segments to save`);
  if (s.segments.length > 65535) throw unprocessable('a DICOM SEG holds at most 65535 segments');
  const ref = referenceVolumeOf(scene, node);

  // Geometry (LPS) of the segmentation grid, in world coordinates.
  const geo = worldGrid(scene, node, warnings);
  const dirLps: Mat3 = directionRasToLps(geo.direction);
  const originLps = rasToLps(geo.origin);
  const r = column3(dirLps, 0);
  const c = column3(dirLps, 1);
  const n = column3(dirLps, 2);
  if (Math.abs(dot3(r, c)) > 1e-4)
    throw unprocessable(
      `${node.id}: the grid's i and j axes are not orthogonal; DICOM cannot express that`,
    );
  const normal = normalize3(cross3(r, c));
  const [si, sj, sk] = geo.spacing;
  const [ni, nj, nk] = s.labelmap.dimensions;

  // Frames: which (segment, slice) pairs have voxels.
  const lm = s.labelmap;
  const nc = lm.components;
  const plane = ni * nj;
  const voxels = s.labelmap.data;
  // One pass over the labelmap: which segments have voxels on which slice.
  const nSeg = s.segments.length;
  const present = new Uint8Array(nSeg * nk);
  const tables = Array.from({ length: nc }, (_, l) => {
    const segs = s.segments.map((x, i) => ({ x, i })).filter((y) => y.x.layer === l);
    const maxV = Math.max(0, ...segs.map((y) => y.x.labelValue));
    const t = new Int32Array(maxV + 1).fill(-1);
    for (const y of segs) t[y.x.labelValue] = y.i;
    return t;
  });
  for (let k = 0, o = 0; k < nk; k++) {
    const end = o + plane * nc;
    for (; o < end; o++) {
      const v = voxels[o]!;
      if (v === 0) continue;
      const t = tables[o % nc]!;
      const idx = v > 0 && v < t.length ? t[v]! : -1;
      if (idx >= 0) present[idx * nk + k] = 1;
    }
  }
  const frames: Array<{ seg: number; k: number }> = [];
  for (let i = 0; i < nSeg; i++)
    for (let k = 0; k < nk; k++) if (present[i * nk + k]) frames.push({ seg: i, k });
  if (frames.length === 0)
    throw unprocessable(`${node.id}: no segment has any voxel; nothing to save`);
  const empty = s.segments.filter((_, i) => !frames.some((f) => f.seg === i)).map((x) => x.id);
  if (empty.length)
    warnings.push(`segments without voxels are listed with no frames: ${empty.join(', ')}`);

  // Source series: the reference volume's own, else saved first.
  let source = await archivedSeries(archive, ref);
  let referenceSaved = false;
  if (!source) {
    const saved = await saveVolumeAsSeries(scene, archive, ref, {});
    warnings.push(...saved.warnings);
    source = { study: saved.studyInstanceUID, series: saved.seriesInstanceUID };
    referenceSaved = true;
  }
  const rows = await archive.instances(source.study, source.series);
  const metas = await archive.metadataOf(rows);
  const slices: SourceSlice[] = [];
  let forUid: string | undefined;
  let sourceIop: number[] | undefined;
  rows.forEach((row, i) => {
    const m = metas[i]!;
    forUid ??= str(m, B.FrameOfReferenceUID);
    const ipp = nums(m, B.ImagePositionPatient, 3);
    sourceIop ??= nums(m, B.ImageOrientationPatient, 6);
    if ((row.numberOfFrames ?? 1) <= 1 && ipp)
      slices.push({
        sopClass: row.sopClassUid,
        sopInstance: row.sopInstanceUid,
        pos: dot3(normal, ipp),
      });
  });
  const sameOrientation =
    sourceIop !== undefined && [...r, ...c].every((x, i) => Math.abs(x - sourceIop![i]!) < 1e-3);
  if (!sameOrientation)
    warnings.push(
      'the source series has another orientation: frames carry no per-frame source image reference',
    );
  if (slices.length < rows.length)
    warnings.push(
      'multi-frame source instances are referenced by series only (no per-frame source image)',
    );
  forUid ??= dcm.DicomMetaDictionary.uid();
  const studyJson = JSON.parse(
    (await archive.representativeMetadata(source.study)) ?? '{}',
  ) as DicomJson;
  const studyElements: Record<string, unknown> = {};
  for (const tag of PATIENT_STUDY_TAGS) {
    const el = studyJson[tag];
    if (el) studyElements[tag] = { vr: el.vr, Value: el.Value ?? [] };
  }
  const seriesCount = new Set((await archive.instances(source.study)).map((x) => x.seriesUid)).size;

  // Pixel data: frames bit-packed back to back (PS3.5 8.1.1, least significant bit first).
  const packed = new Uint8Array(Math.ceil((frames.length * plane) / 8) + 1);
  let bit = 0;
  const perFrame: Array<Record<string, unknown>> = [];
  const tol = Math.max(1e-3, sk * 0.01);
  for (const f of frames) {
    const seg = s.segments[f.seg]!;
    const base = f.k * plane * nc + seg.layer;
    for (let p = 0; p < plane; p++, bit++)
      if (voxels[base + p * nc] === seg.labelValue) packed[bit >> 3]! |= 1 << (bit & 7);
    const ipp: Vec3 = [
      originLps[0] + f.k * sk * n[0],
      originLps[1] + f.k * sk * n[1],
      originLps[2] + f.k * sk * n[2],
    ];
    const pos = dot3(normal, ipp);
    const src = sameOrientation ? slices.find((x) => Math.abs(x.pos - pos) <= tol) : undefined;
    const item: Record<string, unknown> = {
      FrameContentSequence: [{ DimensionIndexValues: [f.seg + 1, f.k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: ipp.map(formatDS) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.seg + 1 }],
    };
    if (src)
      item.DerivationImageSequence = [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: src.sopClass,
              ReferencedSOPInstanceUID: src.sopInstance,
              PurposeOfReferenceCodeSequence: [
                {
                  CodeValue: '121322',
                  CodingSchemeDesignator: 'DCM',
                  CodeMeaning: 'Source image for image processing operation',
                },
              ],
            },
          ],
          DerivationCodeSequence: [
            { CodeValue: '113076', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Segmentation' },
          ],
        },
      ];
    perFrame.push(item);
  }
  const pixelBytes = packed.subarray(0, Math.ceil(bit / 8));

  const segmentSequence = s.segments.map((seg, i) => {
    const codes = segmentCodes(seg);
    const lab = dcm.Colors.rgb2DICOMLAB(seg.color).map((x) =>
      Math.max(0, Math.min(65535, Math.round(x))),
    );
    const item: Record<string, unknown> = {
      SegmentNumber: i + 1,
      SegmentLabel: seg.name.slice(0, 64) || seg.id.slice(0, 64),
      SegmentDescription: seg.id.slice(0, 64),
      SegmentAlgorithmType: 'MANUAL',
      SegmentedPropertyCategoryCodeSequence: [codes.category],
      SegmentedPropertyTypeCodeSequence: [
        codes.typeModifier
          ? { ...codes.type, SegmentedPropertyTypeModifierCodeSequence: [codes.typeModifier] }
          : codes.type,
      ],
      RecommendedDisplayCIELabValue: lab,
    };
    if (codes.region) item.AnatomicRegionSequence = [codes.region];
    return item;
  });

  const seriesUid = dcm.DicomMetaDictionary.uid();
  const sopUid = dcm.DicomMetaDictionary.uid();
  const dimensionUid = dcm.DicomMetaDictionary.uid();
  const { date, time } = now();
  const ds0: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'PRIMARY'],
    SOPClassUID: SEG_SOP_CLASS,
    SOPInstanceUID: sopUid,
    StudyDate: date,
    StudyTime: time,
    SeriesDate: date,
    SeriesTime: time,
    ContentDate: date,
    ContentTime: time,
    Modality: 'SEG',
    Manufacturer: 'voxelgate',
    ManufacturerModelName: 'voxelgate',
    DeviceSerialNumber: '1',
    SoftwareVersions: 'voxelgate',
    ReferringPhysicianName: '',
    AccessionNumber: '',
    SeriesDescription: (opts.seriesDescription ?? node.name).slice(0, 64),
    PatientName: 'Anonymous',
    PatientID: 'VOXELGATE',
    PatientBirthDate: '',
    PatientSex: '',
    StudyInstanceUID: source.study,
    SeriesInstanceUID: seriesUid,
    StudyID: '1',
    SeriesNumber: 1000 + seriesCount + 1,
    InstanceNumber: 1,
    FrameOfReferenceUID: forUid,
    PositionReferenceIndicator: '',
    ContentLabel: 'SEGMENTATION',
    ContentDescription: node.name.slice(0, 64),
    ContentCreatorName: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: nj,
    Columns: ni,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    NumberOfFrames: frames.length,
    SegmentSequence: segmentSequence,
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionUid,
        DimensionIndexPointer: 0x0062000b, // ReferencedSegmentNumber
        FunctionalGroupPointer: 0x0062000a, // SegmentIdentificationSequence
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionUid,
        DimensionIndexPointer: 0x00200032, // ImagePositionPatient
        FunctionalGroupPointer: 0x00209113, // PlanePositionSequence
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [...r, ...c].map(formatDS) }],
        PixelMeasuresSequence: [
          {
            PixelSpacing: [formatDS(sj), formatDS(si)],
            SliceThickness: formatDS(sk),
            SpacingBetweenSlices: formatDS(sk),
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: source.series,
        ReferencedInstanceSequence: rows.map((row) => ({
          ReferencedSOPClassUID: row.sopClassUid,
          ReferencedSOPInstanceUID: row.sopInstanceUid,
        })),
      },
    ],
  };
  const dict = dcm.DicomMetaDictionary.denaturalizeDataset(ds0);
  Object.assign(dict, studyElements);
  const meta = dcm.DicomMetaDictionary.denaturalizeDataset(
    fileMetaInformation(SEG_SOP_CLASS, sopUid),
  );
  const buf = writeInstance(meta, dict, pixelBytes, 'OB');
  // One ingest session: the SEG appears at the commit, or not at all.
  const session = archive.session();
  try {
    await session.add(buf);
    await session.commit();
  } catch (e) {
    await session.abort();
    throw e;
  }
  return {
    studyInstanceUID: source.study,
    seriesInstanceUID: seriesUid,
    sopInstanceUID: sopUid,
    sopClassUID: SEG_SOP_CLASS,
    frames: frames.length,
    segments: s.segments.length,
    referencedSeriesInstanceUID: source.series,
    referenceSaved,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Import

export interface LoadedSegmentation {
  name: string;
  segmentation: Segmentation;
  attributes: Record<string, string>;
  /** Series the SEG references (its source images). */
  referencedSeriesUid?: string;
  warnings: string[];
}

type Natural = Record<string, unknown>;
const arr = <T = Natural>(v: unknown): T[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? (v as T[]) : [v as T];
const first = (v: unknown): Natural | undefined => arr(v)[0];
const numbers = (v: unknown): number[] => arr<unknown>(v).map((x) => Number(x));

/** Reads a SEG instance (Part 10 bytes) into a segmentation; throws 422 naming what is wrong. */
export async function readSeg(part10: Buffer, archive?: Archive): Promise<LoadedSegmentation> {
  let ds: Natural;
  try {
    const ab = part10.buffer.slice(
      part10.byteOffset,
      part10.byteOffset + part10.byteLength,
    ) as ArrayBuffer;
    ds = dcm.DicomMetaDictionary.naturalizeDataset(dcm.DicomMessage.readFile(ab).dict);
  } catch (e) {
    throw unprocessable(`SEG: cannot parse the instance (${(e as Error).message})`);
  }
  const warnings: string[] = [];
  if (ds.SOPClassUID !== SEG_SOP_CLASS)
    throw unprocessable(`SEG: SOP class ${String(ds.SOPClassUID)} is not Segmentation Storage`);
  if (ds.SegmentationType !== 'BINARY')
    throw unprocessable(
      `SEG: SegmentationType ${String(ds.SegmentationType)} is not supported (BINARY only)`,
    );
  const rowsN = Number(ds.Rows),
    colsN = Number(ds.Columns),
    nFrames = Number(ds.NumberOfFrames ?? 1);
  if (!(rowsN > 0 && colsN > 0 && nFrames > 0))
    throw unprocessable('SEG: Rows, Columns or NumberOfFrames missing');
  if (Number(ds.BitsAllocated) !== 1)
    throw unprocessable(`SEG: BitsAllocated ${String(ds.BitsAllocated)} (binary SEG has 1)`);
  const segSeq = arr(ds.SegmentSequence);
  if (segSeq.length === 0) throw unprocessable('SEG: the Segment Sequence is empty');
  const perFrame = arr(ds.PerFrameFunctionalGroupsSequence);
  const shared = first(ds.SharedFunctionalGroupsSequence);
  if (perFrame.length !== nFrames)
    throw unprocessable(
      `SEG: NumberOfFrames is ${nFrames} but the per-frame functional groups have ${perFrame.length} items`,
    );
  const pixelRaw = arr<ArrayBuffer>(ds.PixelData)[0];
  const pixel = pixelRaw ? new Uint8Array(pixelRaw) : new Uint8Array(0);
  const plane = rowsN * colsN;
  if (pixel.byteLength < Math.ceil((nFrames * plane) / 8))
    throw unprocessable(
      `SEG: the pixel data has ${pixel.byteLength} bytes, ${nFrames} frames of ${colsN}×${rowsN} need ${Math.ceil((nFrames * plane) / 8)} (missing frames)`,
    );
  const fg = (f: Natural, name: string): Natural | undefined =>
    first(f[name]) ?? (shared ? first(shared[name]) : undefined);
  const iop = numbers(fg(perFrame[0]!, 'PlaneOrientationSequence')?.ImageOrientationPatient);
  const measures = fg(perFrame[0]!, 'PixelMeasuresSequence');
  const ps = numbers(measures?.PixelSpacing);
  if (iop.length !== 6 || iop.some((x) => !Number.isFinite(x)))
    throw unprocessable('SEG: no ImageOrientationPatient (Plane Orientation functional group)');
  if (ps.length !== 2 || !(ps[0]! > 0 && ps[1]! > 0))
    throw unprocessable('SEG: no PixelSpacing (Pixel Measures functional group)');
  const r = normalize3(iop.slice(0, 3));
  const c = normalize3(iop.slice(3, 6));
  const normal = normalize3(cross3(r, c));
  // Frames: position and segment.
  const info = perFrame.map((f, i) => {
    const o = numbers(fg(f, 'PlaneOrientationSequence')?.ImageOrientationPatient);
    if (o.length === 6 && o.some((x, j) => Math.abs(x - iop[j]!) > 1e-4))
      throw unprocessable(
        `SEG: frame ${i + 1} has another orientation than frame 1 (not one stack)`,
      );
    const ipp = numbers(first(f.PlanePositionSequence)?.ImagePositionPatient);
    if (ipp.length !== 3 || ipp.some((x) => !Number.isFinite(x)))
      throw unprocessable(
        `SEG: frame ${i + 1} has no ImagePositionPatient (Plane Position functional group)`,
      );
    const segNo = Number(first(f.SegmentIdentificationSequence)?.ReferencedSegmentNumber);
    const segIdx = segSeq.findIndex((x) => Number(x.SegmentNumber) === segNo);
    if (segIdx < 0)
      throw unprocessable(
        `SEG: frame ${i + 1} refers to segment ${segNo}, which the Segment Sequence does not list`,
      );
    return { ipp: ipp as Vec3, segIdx };
  });
  const refSeries = first(ds.ReferencedSeriesSequence)?.SeriesInstanceUID as string | undefined;

  // Grid: the referenced series' when the frames sit on its slices, else spanning the frames.
  let grid: { originLps: Vec3; spacing: Vec3; dims: Vec3 } | undefined;
  if (archive && refSeries)
    grid = await referencedGrid(archive, refSeries, r, c, ps, colsN, rowsN, info, warnings);
  grid ??= ownGrid(info, r, c, normal, ps, colsN, rowsN, measures);
  const [di, dj, dk] = grid.dims;
  const sk = grid.spacing[2];
  const toIndex = (ipp: Vec3) => {
    const d = [ipp[0] - grid.originLps[0], ipp[1] - grid.originLps[1], ipp[2] - grid.originLps[2]];
    return { i: dot3(d, r) / ps[1]!, j: dot3(d, c) / ps[0]!, k: dot3(d, normal) / sk };
  };
  // Frames → slices; each segment goes on the first layer where none of its set pixels meets
  // another segment (checked slice by slice, no full-volume masks); label value = segment number.
  const nVox = di * dj * dk;
  const sliceOf = info.map((f, fi) => {
    const { i, j, k } = toIndex(f.ipp);
    const kk = Math.round(k);
    if (Math.abs(i) > 1e-2 || Math.abs(j) > 1e-2 || Math.abs(k - kk) > 1e-2 || kk < 0 || kk >= dk)
      throw unprocessable(
        `SEG: frame ${fi + 1} at (${f.ipp.map((x) => x.toFixed(2)).join(', ')}) is not on the slice grid`,
      );
    return kk;
  });
  const framesOf = segSeq.map(() => [] as number[]);
  info.forEach((f, fi) => framesOf[f.segIdx]!.push(fi));
  const segments: Segment[] = [];
  const used = new Set<string>();
  const maxNo = Math.max(...segSeq.map((x) => Number(x.SegmentNumber)));
  const wide = maxNo > 255;
  const layerData: Array<Uint8Array | Uint16Array> = [];
  const newLayer = () => {
    layerData.push(wide ? new Uint16Array(nVox) : new Uint8Array(nVox));
    return layerData.length - 1;
  };
  const overlaps = (L: Uint8Array | Uint16Array, fis: number[]) => {
    for (const fi of fis) {
      const base = sliceOf[fi]! * plane;
      let bit = fi * plane;
      for (let p = 0; p < plane; p++, bit++)
        if ((pixel[bit >> 3]! >> (bit & 7)) & 1 && L[base + p]) return true;
    }
    return false;
  };
  segSeq.forEach((item, idx) => {
    const fis = framesOf[idx]!;
    const value = Number(item.SegmentNumber);
    let layer = 0;
    if (fis.length) {
      layer = layerData.findIndex((L) => !overlaps(L, fis));
      if (layer < 0) layer = newLayer();
      const L = layerData[layer]!;
      for (const fi of fis) {
        const base = sliceOf[fi]! * plane;
        let bit = fi * plane;
        for (let p = 0; p < plane; p++, bit++)
          if ((pixel[bit >> 3]! >> (bit & 7)) & 1) L[base + p] = value;
      }
    } else if (layerData.length === 0) newLayer();
    const lab = numbers(item.RecommendedDisplayCIELabValue);
    const rgb = lab.length === 3 ? dcm.Colors.dicomlab2RGB(lab) : [0.5, 0.5, 0.5];
    let id =
      typeof item.SegmentDescription === 'string' && item.SegmentDescription.trim()
        ? item.SegmentDescription.trim()
        : `Segment_${value}`;
    if (used.has(id)) id = `Segment_${value}`;
    for (let n2 = 2; used.has(id); n2++) id = `Segment_${value}_${n2}`;
    used.add(id);
    const category = first(item.SegmentedPropertyCategoryCodeSequence) as Code | undefined;
    const type = first(item.SegmentedPropertyTypeCodeSequence) as Code | undefined;
    const region = first(item.AnatomicRegionSequence) as Code | undefined;
    const tags: Record<string, string> = {};
    if (category && type) tags.TerminologyEntry = terminologyEntry(category, type, region);
    segments.push({
      id,
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- dcmjs gives strings for LO/UI/SH values
      name: String(item.SegmentLabel ?? id),
      color: rgb.map((x) => Number(Math.min(1, Math.max(0, x)).toPrecision(6))) as Vec3,
      labelValue: value,
      layer,
      tags,
    });
  });
  const nl = Math.max(1, layerData.length);
  const type = wide ? 'uint16' : 'uint8';
  const data = allocShared(type, nVox * nl);
  if (nl === 1 && layerData[0]) data.set(layerData[0]);
  else
    for (let l = 0; l < layerData.length; l++) {
      const L = layerData[l]!;
      for (let p = 0; p < nVox; p++) if (L[p]) data[p * nl + l] = L[p]!;
    }
  const dirLps: Mat3 = [r[0], c[0], normal[0], r[1], c[1], normal[1], r[2], c[2], normal[2]];
  const labelmap: ImageVolume = {
    scalarType: type,
    components: nl,
    dimensions: [di, dj, dk],
    spacing: [ps[1]!, ps[0]!, sk],
    origin: lpsToRas(grid.originLps),
    direction: directionLpsToRas(dirLps),
    data,
  };
  /* eslint-disable @typescript-eslint/no-base-to-string -- dcmjs gives strings for UI/LO values */
  const attributes: Record<string, string> = {
    'DICOM.StudyInstanceUID': String(ds.StudyInstanceUID ?? ''),
    'DICOM.SeriesInstanceUID': String(ds.SeriesInstanceUID ?? ''),
    'DICOM.SOPInstanceUID': String(ds.SOPInstanceUID ?? ''),
    'DICOM.Modality': 'SEG',
  };
  if (refSeries) attributes['DICOM.ReferencedSeriesInstanceUID'] = refSeries;
  if (ds.FrameOfReferenceUID)
    attributes['DICOM.FrameOfReferenceUID'] = String(ds.FrameOfReferenceUID);
  const name = String(ds.SeriesDescription ?? ds.ContentLabel ?? 'Segmentation');
  /* eslint-enable @typescript-eslint/no-base-to-string */
  return {
    name,
    segmentation: { labelmap, segments },
    attributes,
    referencedSeriesUid: refSeries,
    warnings,
  };
}

function ownGrid(
  info: Array<{ ipp: Vec3 }>,
  r: Vec3,
  c: Vec3,
  normal: Vec3,
  ps: number[],
  cols: number,
  rows: number,
  measures: Natural | undefined,
): { originLps: Vec3; spacing: Vec3; dims: Vec3 } {
  const pos = info.map((f) => dot3(normal, f.ipp));
  const lo = Math.min(...pos);
  const origin = info[pos.indexOf(lo)]!.ipp;
  // Every frame must sit on the line through the first position along the normal.
  for (const f of info) {
    const d = [f.ipp[0] - origin[0], f.ipp[1] - origin[1], f.ipp[2] - origin[2]];
    if (Math.abs(dot3(d, r)) > 1e-2 || Math.abs(dot3(d, c)) > 1e-2)
      throw unprocessable('SEG: frame positions slide in-plane (not one stack of slices)');
  }
  const distinct = [...new Set(pos.map((p) => Math.round((p - lo) * 1e4) / 1e4))].sort(
    (a, b) => a - b,
  );
  const declared = Number(measures?.SpacingBetweenSlices ?? measures?.SliceThickness);
  let sk = declared > 0 ? declared : Infinity;
  if (!(declared > 0))
    for (let i = 1; i < distinct.length; i++) sk = Math.min(sk, distinct[i]! - distinct[i - 1]!);
  if (!Number.isFinite(sk) || !(sk > 0)) sk = 1;
  const dk = Math.round(distinct[distinct.length - 1]! / sk) + 1;
  return { originLps: origin, spacing: [ps[1]!, ps[0]!, sk], dims: [cols, rows, dk] };
}

async function referencedGrid(
  archive: Archive,
  seriesUid: string,
  r: Vec3,
  c: Vec3,
  ps: number[],
  cols: number,
  rows: number,
  info: Array<{ ipp: Vec3 }>,
  warnings: string[],
): Promise<{ originLps: Vec3; spacing: Vec3; dims: Vec3 } | undefined> {
  const study = await archive.studyOfSeries(seriesUid);
  if (!study) {
    warnings.push(
      `the referenced series ${seriesUid} is not in the archive; the grid spans the SEG's frames`,
    );
    return undefined;
  }
  const plan = (await planStudy(archive, study, seriesUid))[0];
  const v = plan?.volumes.find((x) => x.loadable);
  if (!v) return undefined;
  const d = v.directionLps;
  const same =
    v.dimensions[0] === cols &&
    v.dimensions[1] === rows &&
    Math.abs(v.spacing[0] - ps[1]!) < 1e-4 &&
    Math.abs(v.spacing[1] - ps[0]!) < 1e-4 &&
    [d[0], d[3], d[6]].every((x, i) => Math.abs(x - r[i]!) < 1e-4) &&
    [d[1], d[4], d[7]].every((x, i) => Math.abs(x - c[i]!) < 1e-4);
  if (!same) return undefined;
  const n: Vec3 = [d[2], d[5], d[8]];
  const sk = v.spacing[2];
  for (const f of info) {
    const dd = [f.ipp[0] - v.originLps[0], f.ipp[1] - v.originLps[1], f.ipp[2] - v.originLps[2]];
    const k = dot3(dd, n) / sk;
    if (Math.abs(dot3(dd, r)) > 1e-2 || Math.abs(dot3(dd, c)) > 1e-2) return undefined;
    if (Math.abs(k - Math.round(k)) > 1e-2 || Math.round(k) < 0 || Math.round(k) >= v.dimensions[2])
      return undefined;
  }
  // The frames' normal must be the series' k axis (same direction), for our index formula.
  const normal = normalize3(cross3(r, c));
  if (dot3(normal, n) < 1 - 1e-4) return undefined;
  return { originLps: v.originLps, spacing: [ps[1]!, ps[0]!, sk], dims: [...v.dimensions] as Vec3 };
}

/** What `/slicer/dicom/loadables` says about a SEG series. */
export function segLoadableInfo(meta: DicomJson): { segments: string[]; frames: number } {
  const segs = items(meta, '00620002').map((it) => str(it, '00620005') ?? '?');
  return { segments: segs, frames: Number(str(meta, B.NumberOfFrames) ?? 0) };
}
