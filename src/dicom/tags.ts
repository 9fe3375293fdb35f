/**
 * DICOM attribute facts used by the archive: each query/retrieve level's attributes as data
 * (PS3.18 Tables 10.6.3-3/-4/-5 plus the keys OHIF reads), keyword/tag lookup (case-insensitive),
 * transfer syntaxes and their media types (PS3.18 Table 8.7.3-5).
 */
import dcmjs from 'dcmjs';

export type Level = 'study' | 'series' | 'instance';

/** Tags as 8 uppercase hex digits, the DICOM JSON key form. */
export const T = {
  SpecificCharacterSet: '00080005',
  ImageType: '00080008',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  SeriesDate: '00080021',
  StudyTime: '00080030',
  SeriesTime: '00080031',
  AccessionNumber: '00080050',
  InstanceAvailability: '00080056',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  ReferringPhysicianName: '00080090',
  TimezoneOffsetFromUTC: '00080201',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  RetrieveURL: '00081190',
  FailureReason: '00081197',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  PatientName: '00100010',
  PatientID: '00100020',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  BodyPartExamined: '00180015',
  SliceThickness: '00180050',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  ImagePositionPatient: '00200032',
  ImageOrientationPatient: '00200037',
  FrameOfReferenceUID: '00200052',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  SamplesPerPixel: '00280002',
  PhotometricInterpretation: '00280004',
  PlanarConfiguration: '00280006',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  PixelSpacing: '00280030',
  BitsAllocated: '00280100',
  BitsStored: '00280101',
  HighBit: '00280102',
  PixelRepresentation: '00280103',
  WindowCenter: '00281050',
  WindowWidth: '00281051',
  RescaleIntercept: '00281052',
  RescaleSlope: '00281053',
  PerformedProcedureStepStartDate: '00400244',
  PerformedProcedureStepStartTime: '00400245',
  RequestAttributesSequence: '00400275',
  PixelData: '7FE00010',
} as const;

/** Attributes kept at study level (index + QIDO default return set, Table 10.6.3-3). */
export const STUDY_ATTRIBUTES: readonly string[] = [
  T.SpecificCharacterSet,
  T.StudyDate,
  T.StudyTime,
  T.AccessionNumber,
  T.ReferringPhysicianName,
  T.TimezoneOffsetFromUTC,
  T.StudyDescription,
  T.PatientName,
  T.PatientID,
  T.PatientBirthDate,
  T.PatientSex,
  T.StudyInstanceUID,
  T.StudyID,
  '00101010' /* PatientAge */,
  '00081032' /* ProcedureCodeSequence */,
  '00080051' /* IssuerOfAccessionNumberSequence */,
];

/** Attributes kept at series level (Table 10.6.3-4 plus what OHIF reads). */
export const SERIES_ATTRIBUTES: readonly string[] = [
  T.SpecificCharacterSet,
  T.Modality,
  T.TimezoneOffsetFromUTC,
  T.SeriesDescription,
  T.SeriesInstanceUID,
  T.SeriesNumber,
  T.SeriesDate,
  T.SeriesTime,
  T.PerformedProcedureStepStartDate,
  T.PerformedProcedureStepStartTime,
  T.RequestAttributesSequence,
  T.BodyPartExamined,
  '00080070' /* Manufacturer */,
  '00185100' /* PatientPosition */,
  T.StudyInstanceUID,
];

/** Attributes kept at instance level (Table 10.6.3-5). */
export const INSTANCE_ATTRIBUTES: readonly string[] = [
  T.SpecificCharacterSet,
  T.SOPClassUID,
  T.SOPInstanceUID,
  T.TimezoneOffsetFromUTC,
  T.InstanceNumber,
  T.Rows,
  T.Columns,
  T.BitsAllocated,
  T.NumberOfFrames,
  T.StudyInstanceUID,
  T.SeriesInstanceUID,
  T.ImageType,
  T.PhotometricInterpretation,
];

export const LEVEL_ATTRIBUTES: Record<Level, readonly string[]> = {
  study: STUDY_ATTRIBUTES,
  series: SERIES_ATTRIBUTES,
  instance: INSTANCE_ATTRIBUTES,
};

export interface TagInfo {
  tag: string;
  keyword: string;
  vr: string;
}

const dict = dcmjs.data.DicomMetaDictionary as {
  nameMap: Record<string, { tag: string; vr: string; name: string }>;
  dictionary: Record<string, { tag: string; vr: string; name: string }>;
};

const byLowerKeyword = new Map<string, TagInfo>();
const byTag = new Map<string, TagInfo>();
for (const [name, e] of Object.entries(dict.nameMap)) {
  const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(e.tag);
  if (!m) continue; // repeating groups (60xx) etc.
  const info: TagInfo = { tag: (m[1]! + m[2]!).toUpperCase(), keyword: name, vr: e.vr };
  byLowerKeyword.set(name.toLowerCase(), info);
  if (!byTag.has(info.tag)) byTag.set(info.tag, info);
}
// Computed QIDO attributes that the dictionary may spell differently.
for (const [keyword, tag, vr] of [
  ['ModalitiesInStudy', T.ModalitiesInStudy, 'CS'],
  ['NumberOfStudyRelatedSeries', T.NumberOfStudyRelatedSeries, 'IS'],
  ['NumberOfStudyRelatedInstances', T.NumberOfStudyRelatedInstances, 'IS'],
  ['NumberOfSeriesRelatedInstances', T.NumberOfSeriesRelatedInstances, 'IS'],
] as const) {
  const info = { tag, keyword, vr };
  byLowerKeyword.set(keyword.toLowerCase(), info);
  byTag.set(tag, info);
}

/** Looks up a keyword (any case) or an 8-hex-digit tag (any case). Undefined when unknown. */
export function lookupTag(key: string): TagInfo | undefined {
  const k = key.trim();
  if (/^[0-9A-Fa-f]{8}$/.test(k)) {
    const tag = k.toUpperCase();
    return byTag.get(tag) ?? { tag, keyword: tag, vr: 'UN' };
  }
  return byLowerKeyword.get(k.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Transfer syntaxes

export const TS = {
  ImplicitLE: '1.2.840.10008.1.2',
  ExplicitLE: '1.2.840.10008.1.2.1',
  DeflatedLE: '1.2.840.10008.1.2.1.99',
  ExplicitBE: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  Rle: '1.2.840.10008.1.2.5',
} as const;

/** Uncompressed (native) transfer syntaxes: pixel data are not encapsulated. */
export const NATIVE_TS = new Set<string>([
  TS.ImplicitLE,
  TS.ExplicitLE,
  TS.DeflatedLE,
  TS.ExplicitBE,
]);

/** Media type of a frame/bulk part in a given transfer syntax (PS3.18 Table 8.7.3-5). */
export function frameMediaType(ts: string): string {
  if (NATIVE_TS.has(ts)) return 'application/octet-stream';
  switch (ts) {
    case TS.JpegBaseline:
    case TS.JpegExtended:
    case TS.JpegLossless:
    case TS.JpegLosslessSV1:
      return 'image/jpeg';
    case TS.JpegLsLossless:
    case TS.JpegLsNearLossless:
      return 'image/jls';
    case TS.Jpeg2000Lossless:
    case TS.Jpeg2000:
      return 'image/jp2';
    case '1.2.840.10008.1.2.4.92':
    case '1.2.840.10008.1.2.4.93':
      return 'image/jpx';
    case '1.2.840.10008.1.2.4.201':
    case '1.2.840.10008.1.2.4.202':
    case '1.2.840.10008.1.2.4.203':
      return 'image/jphc';
    case TS.Rle:
      return 'image/dicom-rle';
    default:
      return 'application/octet-stream';
  }
}

/** Media types clients use for compressed frames, mapped to the syntaxes they can carry. */
export function mediaTypeMatchesTs(mediaType: string, ts: string): boolean {
  const m = mediaType.toLowerCase();
  if (m === 'image/x-dicom-rle') return ts === TS.Rle;
  if (m === 'image/jll') return ts === TS.JpegLosslessSV1 || ts === TS.JpegLossless;
  if (m === 'image/x-jls') return ts === TS.JpegLsLossless || ts === TS.JpegLsNearLossless;
  if (m === 'image/jhc') return frameMediaType(ts) === 'image/jphc';
  return frameMediaType(ts) === m;
}

/** A DICOM UID: digits and dots, at most 64 characters. */
export const UID_RE = /^[0-9]+(\.[0-9]+)*$/;
export const isUid = (s: string): boolean => s.length > 0 && s.length <= 64 && UID_RE.test(s);
