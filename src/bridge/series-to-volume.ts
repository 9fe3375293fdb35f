/**
 * DICOM series → scene volumes, the way careful readers (ITK/GDCM, Slicer's scalar volume plugin)
 * do it:
 *
 * - frames come from single-frame instances, Enhanced multi-frame objects (per-frame and shared
 *   functional groups: PlanePosition, PlaneOrientation, PixelMeasures, PixelValueTransformation,
 *   FrameVOILUT; PS3.3 C.7.6.16) and simple multi-frame objects (one IPP plus
 *   SpacingBetweenSlices or GridFrameOffsetVector);
 * - frames are grouped by orientation, size, pixel spacing and pixel format (one volume per
 *   group, reported), sorted along the slice normal by ImagePositionPatient (never by
 *   InstanceNumber), with the slice spacing measured from the positions (never SliceThickness);
 * - varying slice spacing (missing slices) makes a group unloadable, with the reason; gantry tilt
 *   (positions sliding in-plane) is reported and resampled onto an orthogonal grid (bilinear);
 * - Rescale Slope/Intercept is applied into an exact type: stored type when every frame is
 *   slope 1 / intercept 0, else int16 when integer rescale keeps all values in int16, else float32;
 * - pixel bytes come from the archive: native syntaxes read by byte range (big endian swapped by
 *   the archive), RLE decoded in JS (`dicom/rle.ts`), other compressed syntaxes by the archive's
 *   itk-wasm decode worker;
 * - LPS → RAS happens once, through `imaging/geometry.ts`.
 *
 * `planSeries` reads only the catalog's metadata (no pixels): it backs `/slicer/dicom/loadables`.
 */
import type { Archive, InstanceRef } from '../dicom/archive.js';
import type { ImageInfo } from '../dicom/part10.js';
import type { DicomJson } from '../dicom/dicom-json.js';
import { AppError } from '../errors.js';
import {
  cross3,
  directionLpsToRas,
  dot3,
  fromColumns3,
  lpsToRas,
  normalize3,
} from '../imaging/geometry.js';
import {
  ARRAY_OF,
  type ImageVolume,
  type Mat3,
  type ScalarType,
  type TypedArray,
  type Vec3,
} from '../imaging/types.js';
import type { VolumeClass, VolumeDisplay } from '../scene/scene.js';
import { decodeRleFrame } from '../dicom/rle.js';
import { rescaleInto, storedScalarType, storedValues } from '../dicom/pixel-values.js';
import { NATIVE_TS as NATIVE, TS } from '../dicom/tags.js';
import { B, functionalGroup, items, num, nums, str, values } from './dicom-values.js';

/** One 2-D frame of the series, with its geometry in LPS. */
/** One frame to place in a volume: the pixel-module fields of its instance (as part10's ImageInfo) plus geometry. */
export interface FrameInfo extends Pick<
  ImageInfo,
  | 'rows'
  | 'columns'
  | 'samplesPerPixel'
  | 'bitsAllocated'
  | 'bitsStored'
  | 'pixelRepresentation'
  | 'planarConfiguration'
  | 'photometric'
> {
  row: InstanceRef;
  meta: DicomJson;
  /** 1-based frame number inside its instance. */
  frame: number;
  /** LPS position (mm) of the centre of the first transmitted pixel. */
  ipp?: Vec3;
  /** Row direction then column direction (LPS unit vectors). */
  iop?: [number, number, number, number, number, number];
  /** [row spacing (between rows), column spacing (between columns)] in mm, DICOM order. */
  pixelSpacing?: [number, number];
  slope: number;
  intercept: number;
  instanceNumber: number;
  window?: { center: number; width: number };
  /** Spacing declared for a simple multi-frame/single slice (SpacingBetweenSlices or SliceThickness). */
  declaredSliceSpacing?: number;
}

/** What one group of frames becomes (a volume), or why it cannot. */
export interface VolumePlan {
  /** Human description of the group (size, orientation). */
  label: string;
  frames: FrameInfo[];
  dimensions: Vec3;
  spacing: Vec3;
  originLps: Vec3;
  /** Columns = LPS unit directions of i (row direction), j (column direction), k (slice normal). */
  directionLps: Mat3;
  /** Per-slice in-plane shift in pixels [Δi, Δj] when positions slide in-plane (gantry tilt). */
  tiltShifts?: Array<[number, number]>;
  tiltDegrees?: number;
  warnings: string[];
  loadable: boolean;
  reason?: string;
}

export interface SeriesPlan {
  studyUid: string;
  seriesUid: string;
  seriesNumber?: number;
  seriesDescription?: string;
  modality?: string;
  sopClassUid?: string;
  instances: number;
  volumes: VolumePlan[];
  loadable: boolean;
  reason?: string;
  warnings: string[];
}

export interface LoadedVolume {
  name: string;
  className: VolumeClass;
  volume: ImageVolume;
  display: VolumeDisplay;
  attributes: Record<string, string>;
  componentKind?: string;
  warnings: string[];
}

const POSITION_TOL = 1e-3; // mm: two frames closer than this along the normal share a position
const SHIFT_TOL = 0.25; // pixels: smaller in-plane slides are rounding noise of positions (ITK ignores them too)

// ---------------------------------------------------------------------------------------------
// Frames from metadata

function windowOf(j: DicomJson | undefined): { center: number; width: number } | undefined {
  const c = num(j, B.WindowCenter);
  const w = num(j, B.WindowWidth);
  return c !== undefined && w !== undefined && w > 0 ? { center: c, width: w } : undefined;
}

/** Expands one instance into its frames (Enhanced, simple multi-frame or single frame). */
export function framesOf(row: InstanceRef, meta: DicomJson): FrameInfo[] {
  const rows = num(meta, B.Rows);
  const columns = num(meta, B.Columns);
  const bitsAllocated = num(meta, B.BitsAllocated);
  if (!rows || !columns || !bitsAllocated) return [];
  const n = Math.max(1, Math.floor(num(meta, B.NumberOfFrames) ?? 1));
  const base = {
    row,
    meta,
    rows,
    columns,
    samplesPerPixel: num(meta, B.SamplesPerPixel) ?? 1,
    bitsAllocated,
    bitsStored: num(meta, B.BitsStored) ?? bitsAllocated,
    pixelRepresentation: num(meta, B.PixelRepresentation) ?? 0,
    planarConfiguration: num(meta, B.PlanarConfiguration) ?? 0,
    photometric: str(meta, B.PhotometricInterpretation) ?? 'MONOCHROME2',
    instanceNumber: num(meta, B.InstanceNumber) ?? 0,
  };
  const topIpp = nums(meta, B.ImagePositionPatient, 3) as Vec3 | undefined;
  const topIop = nums(meta, B.ImageOrientationPatient, 6) as FrameInfo['iop'];
  const topPs = nums(meta, B.PixelSpacing, 2) as [number, number] | undefined;
  const topSlope = num(meta, B.RescaleSlope) ?? 1;
  const topIntercept = num(meta, B.RescaleIntercept) ?? 0;
  const declared = num(meta, B.SpacingBetweenSlices) ?? num(meta, B.SliceThickness);
  const perFrame = items(meta, B.PerFrameFunctionalGroupsSequence);
  const shared = items(meta, B.SharedFunctionalGroupsSequence)[0];
  const out: FrameInfo[] = [];
  if (perFrame.length > 0 || shared) {
    // Enhanced multi-frame: every frame carries (or shares) its own geometry and rescale.
    for (let f = 1; f <= n; f++) {
      const pf = perFrame[f - 1];
      const pos = functionalGroup(pf, shared, B.PlanePositionSequence);
      const ori = functionalGroup(pf, shared, B.PlaneOrientationSequence);
      const px = functionalGroup(pf, shared, B.PixelMeasuresSequence);
      const pvt = functionalGroup(pf, shared, B.PixelValueTransformationSequence);
      const voi = functionalGroup(pf, shared, B.FrameVOILUTSequence);
      out.push({
        ...base,
        frame: f,
        ipp:
          (nums(pos, B.ImagePositionPatient, 3) as Vec3 | undefined) ??
          (n === 1 ? topIpp : undefined),
        iop: (nums(ori, B.ImageOrientationPatient, 6) as FrameInfo['iop']) ?? topIop,
        pixelSpacing: (nums(px, B.PixelSpacing, 2) as [number, number] | undefined) ?? topPs,
        slope: num(pvt, B.RescaleSlope) ?? topSlope,
        intercept: num(pvt, B.RescaleIntercept) ?? topIntercept,
        window: windowOf(voi) ?? windowOf(meta),
        declaredSliceSpacing:
          num(px, B.SpacingBetweenSlices) ?? num(px, B.SliceThickness) ?? declared,
      });
    }
    return out;
  }
  // Simple multi-frame: one position, frames stacked along the normal by SpacingBetweenSlices or
  // GridFrameOffsetVector (RT Dose). Without a position there is no geometry (cine, XA).
  const offsets = nums(meta, B.GridFrameOffsetVector);
  const normal = topIop ? safeNormal(topIop) : undefined;
  for (let f = 1; f <= n; f++) {
    let ipp: Vec3 | undefined;
    if (topIpp && normal) {
      const d =
        n === 1
          ? 0
          : offsets && offsets.length >= n
            ? offsets[f - 1]! - offsets[0]!
            : declared !== undefined
              ? (f - 1) * declared
              : undefined;
      ipp =
        d === undefined
          ? f === 1
            ? topIpp
            : undefined
          : [topIpp[0] + d * normal[0], topIpp[1] + d * normal[1], topIpp[2] + d * normal[2]];
    }
    out.push({
      ...base,
      frame: f,
      ipp,
      iop: topIop,
      pixelSpacing: topPs,
      slope: topSlope,
      intercept: topIntercept,
      window: windowOf(meta),
      declaredSliceSpacing: declared,
    });
  }
  return out;
}

function safeNormal(iop: readonly number[]): Vec3 | undefined {
  try {
    return normalize3(cross3(iop.slice(0, 3), iop.slice(3, 6)));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning

const r4 = (x: number) => (Math.round(x * 1e4) / 1e4).toFixed(4);

function groupKey(f: FrameInfo): string {
  const fmt = `${f.columns}x${f.rows}x${f.samplesPerPixel}/${f.bitsAllocated}${f.pixelRepresentation ? 's' : 'u'}`;
  const geo = f.ipp && f.iop ? `iop ${f.iop.map(r4).join(',')}` : 'no-geometry';
  const ps = f.pixelSpacing ? `ps ${f.pixelSpacing.map(r4).join(',')}` : 'ps ?';
  return `${fmt} ${geo} ${ps}`;
}

function unloadable(f: FrameInfo): string | undefined {
  if (f.bitsAllocated === 1)
    return '1-bit (binary segmentation) pixel data is not supported; load it as a segmentation';
  if (![8, 16, 32].includes(f.bitsAllocated))
    return `BitsAllocated ${f.bitsAllocated} is not supported`;
  if (f.samplesPerPixel !== 1 && f.samplesPerPixel !== 3)
    return `SamplesPerPixel ${f.samplesPerPixel} is not supported`;
  if (f.samplesPerPixel === 1 && !/^MONOCHROME[12]$/.test(f.photometric))
    return `PhotometricInterpretation ${f.photometric} is not supported`;
  if (f.samplesPerPixel === 3 && f.bitsAllocated !== 8) return 'colour images must be 8-bit';
  return undefined;
}

/** Plans the volumes of one series from its instances' metadata (no pixel reads). */
export function planSeries(rows: readonly InstanceRef[], metas: readonly DicomJson[]): SeriesPlan {
  const first = metas[0];
  const plan: SeriesPlan = {
    studyUid: rows[0]?.studyUid ?? '',
    seriesUid: rows[0]?.seriesUid ?? '',
    seriesNumber: num(first, B.SeriesNumber),
    seriesDescription: str(first, B.SeriesDescription),
    modality: str(first, B.Modality),
    sopClassUid: rows[0]?.sopClassUid,
    instances: rows.length,
    volumes: [],
    loadable: false,
    warnings: [],
  };
  const frames = rows.flatMap((r, i) => framesOf(r, metas[i]!));
  if (frames.length === 0) {
    plan.reason = `no image pixel data (SOP class ${plan.sopClassUid ?? '?'})`;
    return plan;
  }
  const groups = new Map<string, FrameInfo[]>();
  for (const f of frames) {
    const k = groupKey(f);
    const g = groups.get(k);
    if (g) g.push(f);
    else groups.set(k, [f]);
  }
  if (groups.size > 1) {
    plan.warnings.push(
      `series ${plan.seriesUid} holds ${groups.size} groups of frames with different size/orientation/spacing/format: ${[...groups.keys()].map((k, i) => `[${i + 1}] ${k} (${groups.get(k)!.length} frames)`).join('; ')}; each loads as its own volume`,
    );
  }
  for (const [key, g] of groups) plan.volumes.push(planGroup(key, g));
  plan.loadable = plan.volumes.some((v) => v.loadable);
  if (!plan.loadable)
    plan.reason = plan.volumes
      .map((v) => v.reason)
      .filter(Boolean)
      .join('; ');
  return plan;
}

function planGroup(label: string, frames: FrameInfo[]): VolumePlan {
  const f0 = frames[0]!;
  const warnings: string[] = [];
  const ps = f0.pixelSpacing;
  if (!ps) warnings.push('no PixelSpacing: in-plane spacing set to 1 mm');
  const colSpacing = ps?.[1] ?? 1;
  const rowSpacing = ps?.[0] ?? 1;
  const bad = unloadable(f0);
  const plan: VolumePlan = {
    label,
    frames,
    dimensions: [f0.columns, f0.rows, frames.length],
    spacing: [colSpacing, rowSpacing, 1],
    originLps: [0, 0, 0],
    directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    warnings,
    loadable: !bad,
    reason: bad,
  };
  if (!(colSpacing > 0 && rowSpacing > 0))
    return { ...plan, loadable: false, reason: `PixelSpacing ${ps?.join('\\')} is not positive` };
  const withGeometry = frames.every((f) => f.ipp && f.iop);
  if (!withGeometry) {
    // No patient geometry (cine/XA multi-frame, secondary capture): stack in stored order.
    frames.sort(
      (a, b) =>
        a.instanceNumber - b.instanceNumber ||
        (a.row.sopInstanceUid < b.row.sopInstanceUid
          ? -1
          : a.row.sopInstanceUid > b.row.sopInstanceUid
            ? 1
            : 0) ||
        a.frame - b.frame,
    );
    plan.spacing[2] =
      f0.declaredSliceSpacing && f0.declaredSliceSpacing > 0 ? f0.declaredSliceSpacing : 1;
    warnings.push(
      `no ImagePositionPatient/ImageOrientationPatient: ${frames.length} frame(s) stacked in stored order with identity direction, origin 0 and slice spacing ${plan.spacing[2]} mm`,
    );
    return plan;
  }
  const iop = f0.iop!;
  let r: Vec3, c: Vec3, n: Vec3;
  try {
    r = normalize3(iop.slice(0, 3));
    c = normalize3(iop.slice(3, 6));
    n = normalize3(cross3(r, c));
  } catch {
    return {
      ...plan,
      loadable: false,
      reason: `ImageOrientationPatient ${iop.join('\\')} is degenerate`,
    };
  }
  if (Math.abs(dot3(r, c)) > 1e-3)
    warnings.push(
      `ImageOrientationPatient row and column directions are not orthogonal (cos = ${dot3(r, c).toFixed(4)})`,
    );
  const keyed = frames.map((f) => ({ f, d: dot3(f.ipp!, n) }));
  keyed.sort(
    (a, b) => a.d - b.d || a.f.instanceNumber - b.f.instanceNumber || a.f.frame - b.f.frame,
  );
  const unique: typeof keyed = [];
  for (const k of keyed)
    if (unique.length === 0 || k.d - unique[unique.length - 1]!.d > POSITION_TOL) unique.push(k);
  if (unique.length < keyed.length) {
    warnings.push(
      `${keyed.length - unique.length} of ${keyed.length} frames repeat a slice position (multi-echo, temporal or duplicate frames?); the first frame at each position was loaded`,
    );
  }
  plan.frames = unique.map((k) => k.f);
  const count = unique.length;
  plan.dimensions = [f0.columns, f0.rows, count];
  plan.originLps = [...unique[0]!.f.ipp!] as Vec3;
  plan.directionLps = fromColumns3(r, c, n);
  if (count === 1) {
    plan.spacing[2] =
      f0.declaredSliceSpacing && f0.declaredSliceSpacing > 0 ? f0.declaredSliceSpacing : 1;
    return plan;
  }
  const span = unique[count - 1]!.d - unique[0]!.d;
  const mean = span / (count - 1);
  const gaps = unique.slice(1).map((k, i) => k.d - unique[i]!.d);
  const minGap = Math.min(...gaps);
  const maxGap = Math.max(...gaps);
  const deviation = Math.max(maxGap - mean, mean - minGap);
  if (deviation > 0.1 * mean) {
    return {
      ...plan,
      loadable: false,
      reason: `slice spacing varies from ${minGap.toFixed(4)} to ${maxGap.toFixed(4)} mm along the normal (missing or irregular slices); refusing to load a volume with wrong geometry`,
      warnings: [
        ...warnings,
        `irregular slice spacing: ${minGap.toFixed(4)}..${maxGap.toFixed(4)} mm`,
      ],
    };
  }
  // Small jitter (rounded positions) is normal: load with the mean spacing, but say so.
  if (deviation > Math.max(1e-2, 1e-3 * mean))
    warnings.push(
      `slice spacing varies slightly (${minGap.toFixed(4)}..${maxGap.toFixed(4)} mm); the mean ${mean.toFixed(4)} mm is used`,
    );
  plan.spacing[2] = mean;
  // In-plane slide of each slice relative to the first: gantry tilt (or table shift).
  const p0 = unique[0]!.f.ipp!;
  const shifts = unique.map((k): [number, number] => {
    const d = [k.f.ipp![0] - p0[0], k.f.ipp![1] - p0[1], k.f.ipp![2] - p0[2]];
    return [dot3(d, r) / colSpacing, dot3(d, c) / rowSpacing];
  });
  if (shifts.some(([a, b]) => Math.abs(a) > SHIFT_TOL || Math.abs(b) > SHIFT_TOL)) {
    const last = unique[count - 1]!.f.ipp!;
    const step = [
      (last[0] - p0[0]) / (count - 1),
      (last[1] - p0[1]) / (count - 1),
      (last[2] - p0[2]) / (count - 1),
    ];
    const inPlane = Math.hypot(dot3(step, r), dot3(step, c));
    plan.tiltDegrees = (Math.atan2(inPlane, dot3(step, n)) * 180) / Math.PI;
    plan.tiltShifts = shifts;
    warnings.push(
      `gantry tilt of ${plan.tiltDegrees.toFixed(2)}° detected (slice positions slide in-plane by up to ${Math.max(...shifts.map(([a, b]) => Math.hypot(a, b))).toFixed(2)} pixels); slices were resampled onto an orthogonal grid (bilinear)`,
    );
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Pixels

/**
 * Reads every planned frame's stored values (native, RLE in JS, or decoded by the worker), a few
 * instances at a time, handing each frame to `onFrame` as soon as it arrives (so the stored
 * bytes of the whole series are never held at once).
 */
async function readFrames(
  archive: Archive,
  frames: readonly FrameInfo[],
  onFrame: (index: number, stored: TypedArray) => void,
): Promise<void> {
  const byInstance = new Map<string, { row: InstanceRef; idx: number[] }>();
  frames.forEach((f, i) => {
    const e = byInstance.get(f.row.sopInstanceUid) ?? { row: f.row, idx: [] };
    e.idx.push(i);
    byInstance.set(f.row.sopInstanceUid, e);
  });
  const jobs = [...byInstance.values()];
  let next = 0;
  const worker = async () => {
    for (let j = next++; j < jobs.length; j = next++) {
      const { row, idx } = jobs[j]!;
      const numbers = idx.map((i) => frames[i]!.frame);
      let data: Array<{ data: Uint8Array }>;
      if (NATIVE.has(row.transferSyntax)) {
        // Native pixels: the stored values, read by range (no decoding).
        data = await archive.storedFrames(row, numbers);
      } else if (row.transferSyntax === TS.Rle) {
        // RLE in JS (fast); other compressed syntaxes through the archive's itk-wasm worker.
        const f = frames[idx[0]!]!;
        data = (await archive.storedFrames(row, numbers)).map((s) => ({
          data: decodeRleFrame(s.data, f.rows, f.columns, f.samplesPerPixel, f.bitsAllocated),
        }));
      } else data = await archive.nativeFrames(row, numbers);
      idx.forEach((i, n) => {
        const f = frames[i]!;
        const need = f.rows * f.columns * f.samplesPerPixel * (f.bitsAllocated / 8);
        const bytes = data[n]!.data;
        if (bytes.byteLength < need)
          throw new AppError(
            'unprocessable',
            `frame ${f.frame} of instance ${row.sopInstanceUid} holds ${bytes.byteLength} bytes, ${need} expected`,
          );
        onFrame(i, storedValues(bytes.subarray(0, need), f));
      });
    }
  };
  // Native reads overlap well; compressed ones queue on the single decode worker, whose bounded
  // queue is shared with WADO-RS requests, so keep at most two of ours in it.
  const compressed = jobs.some(
    (j) => !NATIVE.has(j.row.transferSyntax) && j.row.transferSyntax !== TS.Rle,
  );
  await Promise.all(Array.from({ length: Math.min(compressed ? 2 : 8, jobs.length) }, worker));
}

function minMax(a: TypedArray): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * The output type before reading: stored type when every frame is slope 1 / intercept 0
 * (or colour); int16 when all slopes and intercepts are integers (checked while converting:
 * values outside int16 switch to float32); float32 otherwise.
 */
function plannedType(frames: readonly FrameInfo[]): ScalarType {
  const f0 = frames[0]!;
  if (f0.samplesPerPixel > 1 || frames.every((f) => f.slope === 1 && f.intercept === 0))
    return storedScalarType(f0);
  return frames.every((f) => Number.isInteger(f.slope) && Number.isInteger(f.intercept))
    ? 'int16'
    : 'float32';
}

function allocOut(type: ScalarType, length: number): TypedArray {
  const C = ARRAY_OF[type] as unknown as {
    new (b: ArrayBufferLike): TypedArray;
    BYTES_PER_ELEMENT: number;
  };
  return new C(new SharedArrayBuffer(length * C.BYTES_PER_ELEMENT));
}

/** Reads and converts all frames into one array of `type`; undefined when int16 overflowed. */
async function assemble(
  archive: Archive,
  frames: readonly FrameInfo[],
  type: ScalarType,
): Promise<TypedArray | undefined> {
  const f0 = frames[0]!;
  const comps = f0.samplesPerPixel;
  const sliceLen = f0.rows * f0.columns * comps;
  const out = allocOut(type, sliceLen * frames.length);
  let lo = Infinity;
  let hi = -Infinity;
  await readFrames(archive, frames, (k, src) => {
    const f = frames[k]!;
    const at = k * sliceLen;
    if (comps === 3 && f.planarConfiguration === 1 && !isCompressedDecodedInterleaved(f)) {
      const plane = f.rows * f.columns;
      for (let p = 0; p < plane; p++)
        for (let s = 0; s < 3; s++) out[at + p * 3 + s] = src[s * plane + p]!;
    } else if (f.slope === 1 && f.intercept === 0 && storedScalarType(f) === type) out.set(src, at);
    else {
      const [a, b] = rescaleInto(out, at, src, f.slope, f.intercept);
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
  });
  if (type === 'int16' && (lo < -32768 || hi > 32767)) return undefined;
  return out;
}

/** Loads one planned volume (pixels read through the archive). */
export async function loadVolume(
  archive: Archive,
  series: SeriesPlan,
  plan: VolumePlan,
  index = 0,
): Promise<LoadedVolume> {
  if (!plan.loadable)
    throw new AppError(
      'unprocessable',
      `series ${series.seriesUid} cannot be loaded: ${plan.reason}`,
    );
  const frames = plan.frames;
  const f0 = frames[0]!;
  const comps = f0.samplesPerPixel;
  let type = plannedType(frames);
  let out = await assemble(archive, frames, type);
  if (!out) {
    // Integer rescale left the int16 range: read again into float32 (exact for 16-bit stored values).
    type = 'float32';
    out = (await assemble(archive, frames, type))!;
  }
  const warnings = [...plan.warnings];
  let data: TypedArray = out;
  if (plan.tiltShifts) data = resampleTilt(out, plan.dimensions, plan.tiltShifts, type);
  const first = f0.meta;
  const className: VolumeClass =
    comps > 1
      ? 'vtkMRMLVectorVolumeNode'
      : isLabelMap(first) && !type.startsWith('float')
        ? 'vtkMRMLLabelMapVolumeNode'
        : 'vtkMRMLScalarVolumeNode';
  const display: VolumeDisplay = {};
  if (f0.window && comps === 1) {
    display.window = f0.window.width;
    display.level = f0.window.center;
  }
  if (className === 'vtkMRMLLabelMapVolumeNode') display.colorTable = 'GenericAnatomyColors';
  const attributes: Record<string, string> = {
    'DICOM.StudyInstanceUID': series.studyUid,
    'DICOM.SeriesInstanceUID': series.seriesUid,
    'DICOM.instanceUIDs': [...new Set(frames.map((f) => f.row.sopInstanceUid))].join(' '),
  };
  const forUid = str(first, B.FrameOfReferenceUID);
  if (forUid) attributes['DICOM.FrameOfReferenceUID'] = forUid;
  if (series.modality) attributes['DICOM.Modality'] = series.modality;
  if (series.seriesDescription) attributes['DICOM.SeriesDescription'] = series.seriesDescription;
  if (series.seriesNumber !== undefined)
    attributes['DICOM.SeriesNumber'] = String(series.seriesNumber);
  const baseName = [
    series.seriesNumber !== undefined ? `${series.seriesNumber}:` : '',
    series.seriesDescription ?? series.modality ?? 'DICOM volume',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    name: series.volumes.length > 1 ? `${baseName} [${index + 1}]` : baseName,
    className,
    volume: {
      scalarType: type,
      components: comps,
      dimensions: [...plan.dimensions] as Vec3,
      spacing: [...plan.spacing] as Vec3,
      origin: lpsToRas(plan.originLps),
      direction: directionLpsToRas(plan.directionLps),
      data,
    },
    display,
    attributes,
    componentKind: comps > 1 ? 'RGB-color' : undefined,
    warnings,
  };
}

/** The decode worker always returns interleaved samples; native planar data needs reordering. */
function isCompressedDecodedInterleaved(f: FrameInfo): boolean {
  return !NATIVE.has(f.row.transferSyntax); // (the RLE decoder interleaves too)
}

/** Label maps written by `volume-to-series` carry LABELMAP in ImageType. */
export function isLabelMap(meta: DicomJson): boolean {
  return values(meta, B.ImageType).some((v) => String(v).trim().toUpperCase() === 'LABELMAP');
}

/**
 * Moves each slice back by its in-plane shift so that the volume sits on an orthogonal grid
 * (gantry tilt correction): out(i, j, k) = in_k(i − Δi_k, j − Δj_k), bilinear, outside = minimum.
 */
function resampleTilt(
  src: TypedArray,
  dims: Vec3,
  shifts: ReadonlyArray<[number, number]>,
  type: ScalarType,
): TypedArray {
  const [ni, nj, nk] = dims;
  const C = ARRAY_OF[type] as unknown as new (n: number) => TypedArray;
  const out = new C(src.length);
  const [fill] = minMax(src);
  const round = !type.startsWith('float');
  for (let k = 0; k < nk; k++) {
    const [di, dj] = shifts[k]!;
    const base = k * ni * nj;
    for (let j = 0; j < nj; j++) {
      const y = j - dj;
      const y0 = Math.floor(y);
      const fy = y - y0;
      for (let i = 0; i < ni; i++) {
        const x = i - di;
        const x0 = Math.floor(x);
        const fx = x - x0;
        const at = (xx: number, yy: number) =>
          xx >= 0 && xx < ni && yy >= 0 && yy < nj ? src[base + yy * ni + xx]! : fill;
        const v =
          (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
          fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        out[base + j * ni + i] = round ? Math.round(v) : v;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Archive-level entry points

/** Plans every series of a study (or one series). Throws not_found for unknown UIDs. */
export async function planStudy(
  archive: Archive,
  studyUid: string,
  seriesUid?: string,
): Promise<SeriesPlan[]> {
  const rows = await archive.instances(studyUid, seriesUid);
  const bySeries = new Map<string, InstanceRef[]>();
  for (const r of rows) {
    const list = bySeries.get(r.seriesUid) ?? [];
    list.push(r);
    bySeries.set(r.seriesUid, list);
  }
  const plans: SeriesPlan[] = [];
  for (const list of bySeries.values())
    plans.push(planSeries(list, await archive.metadataOf(list)));
  plans.sort(
    (a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0) || (a.seriesUid < b.seriesUid ? -1 : 1),
  );
  return plans;
}
