/**
 * Reading values out of DICOM JSON (PS3.18 Annex F, as the catalog stores instance metadata) for
 * the bridge: first values, number lists, sequence items, and the functional-group lookup of
 * Enhanced multi-frame objects (PS3.3 C.7.6.16: per-frame item first, then the shared item).
 */
import type { DicomJson } from '../dicom/dicom-json.js';
import { T } from '../dicom/tags.js';

/** Tags the bridge reads (8 uppercase hex digits): the archive's table plus the ones only the bridge needs. */
export const B = {
  ...T,
  SpacingBetweenSlices: '00180088',
  GridFrameOffsetVector: '3004000C',
  SharedFunctionalGroupsSequence: '52009229',
  PerFrameFunctionalGroupsSequence: '52009230',
  PlanePositionSequence: '00209113',
  PlaneOrientationSequence: '00209116',
  PixelMeasuresSequence: '00289110',
  PixelValueTransformationSequence: '00289145',
  FrameVOILUTSequence: '00289132',
} as const;

export function values(j: DicomJson | undefined, tag: string): unknown[] {
  return j?.[tag]?.Value ?? [];
}

export function str(j: DicomJson | undefined, tag: string): string | undefined {
  const v = values(j, tag)[0];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return (v as { Alphabetic?: string }).Alphabetic;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- object values (PN) are handled above; the rest are strings and numbers
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

export function num(j: DicomJson | undefined, tag: string): number | undefined {
  const v = values(j, tag)[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** All values as finite numbers, or undefined when absent, short or not numeric. */
export function nums(j: DicomJson | undefined, tag: string, count?: number): number[] | undefined {
  const vs = values(j, tag).map((v) =>
    typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN,
  );
  if (vs.length === 0 || vs.some((v) => !Number.isFinite(v))) return undefined;
  if (count !== undefined && vs.length < count) return undefined;
  return count !== undefined ? vs.slice(0, count) : vs;
}

export function items(j: DicomJson | undefined, tag: string): DicomJson[] {
  return values(j, tag).filter((v): v is DicomJson => !!v && typeof v === 'object');
}

/**
 * Enhanced multi-frame lookup: the first item of `macro` (e.g. PlanePositionSequence) in the
 * frame's per-frame functional group, else in the shared group.
 */
export function functionalGroup(
  perFrame: DicomJson | undefined,
  shared: DicomJson | undefined,
  macro: string,
): DicomJson | undefined {
  return items(perFrame, macro)[0] ?? items(shared, macro)[0];
}
