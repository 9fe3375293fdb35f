/**
 * DICOM Part 10 files: header parsing through dcmjs (console noise silenced), a small scanner that
 * locates the Pixel Data value and its frames by byte offset (so frames are served by reading a
 * slice of the file, never by re-parsing it), and the rewrite to Explicit VR Little Endian.
 *
 * dcmjs facts relied on (see packages.md §5): it reads Explicit/Implicit LE, Deflated and Explicit
 * BE datasets but leaves 16-bit BE pixel bytes unswapped; it maps Implicit-VR "US or SS"
 * attributes to US (fixed here from PixelRepresentation); it throws on trailing garbage after
 * Pixel Data, which the header-only read avoids.
 */
import dcmjs from 'dcmjs';
import { AppError } from '../errors.js';
import { NATIVE_TS, T, TS } from './tags.js';

/** A dcmjs dataset dict: `{ "00100010": { vr, Value } }`. */
export type DcmDict = Record<string, { vr: string; Value?: unknown[]; _rawValue?: unknown }>;

export interface ImageInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  photometric: string;
  planarConfiguration: number;
  numberOfFrames: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter?: number;
  windowWidth?: number;
}

/** Where Pixel Data sits in the file: native (one block) or encapsulated (fragments per frame). */
export interface PixelLocation {
  /** Byte offset of the value (native) or of the first item (encapsulated). */
  offset: number;
  /** Byte length of the native value; for encapsulated data the span up to the delimiter. */
  length: number;
  encapsulated: boolean;
  /** Encapsulated only: per frame, the [offset, length] of each fragment, in file order. */
  frames?: Array<Array<[number, number]>>;
}

export interface ParsedInstance {
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  /** Dataset dict up to (not including) Pixel Data. */
  dict: DcmDict;
  /** The file meta information dict (group 0002). */
  meta: DcmDict;
  image?: ImageInfo;
  pixel?: PixelLocation;
  /** VR of Pixel Data as stored (OB/OW), when present. */
  pixelVr?: string;
}

const dcm = dcmjs.data as {
  DicomMessage: {
    readFile(ab: ArrayBuffer, opts?: Record<string, unknown>): { meta: DcmDict; dict: DcmDict };
  };
  DicomDict: new (meta: DcmDict) => {
    dict: DcmDict;
    write(opts?: Record<string, unknown>): ArrayBuffer;
  };
};

/**
 * dcmjs allocates the declared length of an element even when the data holds fewer bytes (its
 * BufferView.slice pads with zeros): a 1 KiB file with one damaged length field made it allocate
 * ~775 MB, and a few such STOW parts exhausted the heap (found by fuzzing). Reading past the end
 * of the data now fails (the object is refused as unparsable) instead of allocating.
 */
function guardDcmjsReads(): void {
  const Stream = (
    dcmjs.data as unknown as {
      ReadBufferStream?: new (b: ArrayBuffer, le: boolean) => { view?: object };
    }
  ).ReadBufferStream;
  const proto = Stream
    ? (Object.getPrototypeOf(new Stream(new ArrayBuffer(8), true).view ?? {}) as {
        slice?: (...a: unknown[]) => unknown;
        __vgGuarded?: boolean;
      })
    : undefined;
  if (!proto || typeof proto.slice !== 'function' || proto.__vgGuarded) return;
  const slice = proto.slice;
  proto.slice = function guardedSlice(this: { byteLength: number }, ...args: unknown[]) {
    const end = args[1];
    if (typeof end === 'number' && end > this.byteLength)
      throw new Error(
        `DICOM element runs past the end of the data (${end} > ${this.byteLength} bytes)`,
      );
    return slice.apply(this, args);
  };
  proto.__vgGuarded = true;
}
guardDcmjsReads();

// dcmjs's "validation" logger reports every odd VR on the console, bound at load time; mute it.
(dcmjs as { log?: { getLogger(name: string): { setLevel(l: string): void } } }).log
  ?.getLogger('validation.dcmjs')
  .setLevel('silent');

/** Runs `fn` with console output and dcmjs logging switched off (dcmjs is chatty on bad files). */
export function quietly<R>(fn: () => R): R {
  const saved = [console.log, console.warn, console.error, console.info, console.debug] as const;
  const noop = () => {};
  const log = (dcmjs as { log?: { getLevel(): number; setLevel(l: number | string): void } }).log;
  const level = log?.getLevel();
  console.log = console.warn = console.error = console.info = console.debug = noop;
  log?.setLevel('silent');
  try {
    return fn();
  } finally {
    [console.log, console.warn, console.error, console.info, console.debug] = saved;
    if (log && level !== undefined) log.setLevel(level);
  }
}

const toAb = (b: Uint8Array): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

const str = (d: DcmDict, tag: string): string | undefined => {
  const v = d[tag]?.Value?.[0];
  if (v === undefined || v === null) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- dcmjs gives strings and numbers here
  const s = String(v)
    .replace(/[\0\s]+$/, '')
    .trim();
  return s === '' ? undefined : s;
};
const num = (d: DcmDict, tag: string): number | undefined => {
  const v = d[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/**
 * A key UID (study, series, SOP instance, SOP class): a string, or bytes when the element's VR is
 * UN (damaged or private encodings), that names the object in URLs and the index. Anything that
 * is not a plain UID-like token (digits, letters, `.`, `-`, `_`; at most 128 characters) is
 * refused, so a damaged file cannot be stored under a key such as `[object ArrayBuffer]`.
 */
function uid(d: DcmDict, tag: string, name: string): string | undefined {
  let v = d[tag]?.Value?.[0];
  if (v === undefined || v === null) return undefined;
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const bytes =
      v instanceof ArrayBuffer
        ? new Uint8Array(v)
        : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (bytes.byteLength > 256)
      throw new AppError('unprocessable', `${name} is not a valid UID (${bytes.byteLength} bytes)`);
    v = Buffer.from(bytes).toString('latin1');
  }
  if (typeof v !== 'string') throw new AppError('unprocessable', `${name} is not a text value`);
  const s = v.replace(/[\0\s]+$/, '').trim();
  if (s === '') return undefined;
  if (!/^[0-9A-Za-z._-]{1,128}$/.test(s))
    throw new AppError('unprocessable', `${name} "${s.slice(0, 80)}" is not a valid UID`);
  return s;
}

export function hasPreamble(buf: Uint8Array): boolean {
  return (
    buf.length >= 132 &&
    buf[128] === 0x44 &&
    buf[129] === 0x49 &&
    buf[130] === 0x43 &&
    buf[131] === 0x4d
  );
}

/** Parses a Part 10 file header (everything before Pixel Data) and locates the pixel data. */
export function parsePart10(buf: Buffer): ParsedInstance {
  if (!hasPreamble(buf))
    throw new AppError(
      'unprocessable',
      'not a DICOM Part 10 file (no "DICM" after the 128-byte preamble)',
    );
  let parsed: { meta: DcmDict; dict: DcmDict };
  try {
    parsed = quietly(() =>
      dcm.DicomMessage.readFile(toAb(buf), {
        ignoreErrors: true,
        untilTag: '7FE00010',
        includeUntilTagValue: false,
      }),
    );
  } catch (e) {
    throw new AppError(
      'unprocessable',
      `cannot parse DICOM: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const { meta, dict } = parsed;
  delete dict[T.PixelData];
  const transferSyntax = str(meta, '00020010') ?? TS.ExplicitLE;
  const sopInstanceUid =
    uid(dict, T.SOPInstanceUID, 'SOPInstanceUID') ??
    uid(meta, '00020003', 'MediaStorageSOPInstanceUID');
  const sopClassUid =
    uid(dict, T.SOPClassUID, 'SOPClassUID') ?? uid(meta, '00020002', 'MediaStorageSOPClassUID');
  const studyUid = uid(dict, T.StudyInstanceUID, 'StudyInstanceUID');
  const seriesUid = uid(dict, T.SeriesInstanceUID, 'SeriesInstanceUID');
  if (!sopInstanceUid || !sopClassUid || !studyUid || !seriesUid) {
    const missing = [
      !sopInstanceUid && 'SOPInstanceUID',
      !sopClassUid && 'SOPClassUID',
      !studyUid && 'StudyInstanceUID',
      !seriesUid && 'SeriesInstanceUID',
    ].filter(Boolean);
    throw new AppError('unprocessable', `DICOM object lacks ${missing.join(', ')}`);
  }
  const image = imageInfo(dict);
  if (image && transferSyntax === TS.ImplicitLE) fixAmbiguousVrs(dict, image.pixelRepresentation);
  let pixel: PixelLocation | undefined;
  let pixelVr: string | undefined;
  if (transferSyntax !== TS.DeflatedLE) {
    const found = locatePixelData(buf, transferSyntax, image?.numberOfFrames ?? 1);
    if (found) {
      pixel = found.location;
      pixelVr =
        found.vr ?? (pixel.encapsulated ? 'OB' : (image?.bitsAllocated ?? 16) > 8 ? 'OW' : 'OB');
      if (image && !pixel.encapsulated) {
        const need = nativeFrameBytes(image) * image.numberOfFrames;
        if (pixel.length < need)
          throw new AppError(
            'unprocessable',
            `Pixel Data holds ${pixel.length} bytes, ${need} expected (truncated file?)`,
          );
      }
    }
  } else if (image) {
    pixelVr = image.bitsAllocated > 8 ? 'OW' : 'OB';
  }
  return {
    transferSyntax,
    sopClassUid,
    sopInstanceUid,
    studyUid,
    seriesUid,
    dict,
    meta,
    image,
    pixel,
    pixelVr,
  };
}

export function imageInfo(dict: DcmDict): ImageInfo | undefined {
  const rows = num(dict, T.Rows);
  const columns = num(dict, T.Columns);
  const bitsAllocated = num(dict, T.BitsAllocated);
  if (!rows || !columns || !bitsAllocated) return undefined;
  const wc = dict[T.WindowCenter]?.Value?.[0];
  const ww = dict[T.WindowWidth]?.Value?.[0];
  return {
    rows,
    columns,
    samplesPerPixel: num(dict, T.SamplesPerPixel) ?? 1,
    bitsAllocated,
    bitsStored: num(dict, T.BitsStored) ?? bitsAllocated,
    pixelRepresentation: num(dict, T.PixelRepresentation) ?? 0,
    photometric: str(dict, T.PhotometricInterpretation) ?? 'MONOCHROME2',
    planarConfiguration: num(dict, T.PlanarConfiguration) ?? 0,
    numberOfFrames: Math.max(1, Math.floor(num(dict, T.NumberOfFrames) ?? 1)),
    rescaleSlope: num(dict, T.RescaleSlope) ?? 1,
    rescaleIntercept: num(dict, T.RescaleIntercept) ?? 0,
    windowCenter: typeof wc === 'number' && Number.isFinite(wc) ? wc : undefined,
    windowWidth: typeof ww === 'number' && Number.isFinite(ww) ? ww : undefined,
  };
}

export function nativeFrameBytes(im: ImageInfo): number {
  return Math.ceil((im.rows * im.columns * im.samplesPerPixel * im.bitsAllocated) / 8);
}

/** Attributes whose VR is "US or SS" (dcmjs reads them as US in Implicit VR). */
const US_OR_SS = [
  '00280104',
  '00280105',
  '00280106',
  '00280107',
  '00280108',
  '00280109',
  '00280110',
  '00280111',
  '00280120',
  '00280121',
];

function fixAmbiguousVrs(dict: DcmDict, pixelRepresentation: number): void {
  if (pixelRepresentation !== 1) return;
  for (const tag of US_OR_SS) {
    const el = dict[tag];
    if (!el || !Array.isArray(el.Value)) continue;
    el.vr = 'SS';
    el.Value = el.Value.map((v) => (typeof v === 'number' && v > 0x7fff ? v - 0x10000 : v));
  }
}

// ---------------------------------------------------------------------------------------------
// Pixel Data scanner

const LONG_VRS = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'UC',
  'UN',
  'UR',
  'UT',
  'SV',
  'UV',
]);
const UNDEFINED = 0xffffffff;

interface Reader {
  buf: Buffer;
  le: boolean;
  explicit: boolean;
}
const u16 = (r: Reader, p: number) => (r.le ? r.buf.readUInt16LE(p) : r.buf.readUInt16BE(p));
const u32 = (r: Reader, p: number) => (r.le ? r.buf.readUInt32LE(p) : r.buf.readUInt32BE(p));

function truncated(): AppError {
  return new AppError(
    'unprocessable',
    'DICOM file is truncated (an element runs past the end of the file)',
  );
}

/** Reads one element header at `p`: tag, VR (explicit only), value length and header size. */
function elementHeader(
  r: Reader,
  p: number,
): { group: number; element: number; vr?: string; length: number; header: number } {
  if (p + 8 > r.buf.length) throw truncated();
  const group = u16(r, p);
  const element = u16(r, p + 2);
  if (group === 0xfffe) return { group, element, length: u32(r, p + 4), header: 8 };
  if (!r.explicit) return { group, element, length: u32(r, p + 4), header: 8 };
  const vr = r.buf.toString('latin1', p + 4, p + 6);
  if (LONG_VRS.has(vr)) {
    if (p + 12 > r.buf.length) throw truncated();
    return { group, element, vr, length: u32(r, p + 8), header: 12 };
  }
  return { group, element, vr, length: u16(r, p + 6), header: 8 };
}

/** Skips a sequence of undefined length starting at its first item; returns the position after it. */
function skipSequence(r: Reader, p: number, depth: number): number {
  if (depth > 64) throw new AppError('unprocessable', 'DICOM sequences nested too deeply');
  for (;;) {
    const h = elementHeader(r, p);
    if (h.group === 0xfffe && h.element === 0xe0dd) return p + 8;
    if (h.group !== 0xfffe || h.element !== 0xe000)
      throw new AppError('unprocessable', 'malformed sequence item');
    if (h.length === UNDEFINED) p = skipElements(r, p + 8, depth + 1, true);
    else p = p + 8 + h.length;
    if (p > r.buf.length) throw truncated();
  }
}

/** Walks elements until an item delimiter (inside items) and returns the position after it. */
function skipElements(r: Reader, p: number, depth: number, inItem: boolean): number {
  for (;;) {
    if (!inItem && p >= r.buf.length) return p;
    const h = elementHeader(r, p);
    if (h.group === 0xfffe && h.element === 0xe00d) return p + 8;
    if (h.length === UNDEFINED) p = skipSequence(r, p + h.header, depth + 1);
    else p = p + h.header + h.length;
    if (p > r.buf.length) throw truncated();
  }
}

/**
 * Finds Pixel Data (7FE0,0010) at the top level of the dataset. Returns undefined when there is
 * none. Throws `unprocessable` when the file is truncated or malformed.
 */
export function locatePixelData(
  buf: Buffer,
  transferSyntax: string,
  numberOfFrames: number,
): { location: PixelLocation; vr?: string } | undefined {
  // File meta group: always Explicit VR Little Endian.
  const metaReader: Reader = { buf, le: true, explicit: true };
  let p = 132;
  while (p + 8 <= buf.length && buf.readUInt16LE(p) === 0x0002) {
    const h = elementHeader(metaReader, p);
    p += h.header + h.length;
  }
  const r: Reader = {
    buf,
    le: transferSyntax !== TS.ExplicitBE,
    explicit: transferSyntax !== TS.ImplicitLE,
  };
  while (p + 8 <= buf.length) {
    const h = elementHeader(r, p);
    const tag = h.group * 0x10000 + h.element;
    if (tag > 0x7fe00010) return undefined;
    const valuePos = p + h.header;
    if (tag === 0x7fe00010) {
      if (h.length === UNDEFINED)
        return { location: encapsulatedFrames(r, valuePos, numberOfFrames), vr: h.vr };
      if (valuePos + h.length > buf.length) throw truncated();
      return { location: { offset: valuePos, length: h.length, encapsulated: false }, vr: h.vr };
    }
    if (h.length === UNDEFINED) p = skipSequence(r, valuePos, 0);
    else p = valuePos + h.length;
  }
  if (p > buf.length) throw truncated();
  return undefined;
}

const isCodestreamStart = (b: Buffer, p: number) =>
  p + 1 < b.length &&
  b[p] === 0xff &&
  (b[p + 1] === 0xd8 /* JPEG, JPEG-LS SOI */ || b[p + 1] === 0x4f); /* J2K SOC */

function encapsulatedFrames(r: Reader, start: number, numberOfFrames: number): PixelLocation {
  let p = start;
  const bot: number[] = [];
  const fragments: Array<{ item: number; offset: number; length: number }> = [];
  let first = true;
  for (;;) {
    if (p + 8 > r.buf.length) throw truncated();
    const group = u16(r, p);
    const element = u16(r, p + 2);
    const length = u32(r, p + 4);
    if (group === 0xfffe && element === 0xe0dd) {
      p += 8;
      break;
    }
    if (group !== 0xfffe || element !== 0xe000 || length === UNDEFINED)
      throw new AppError('unprocessable', 'malformed encapsulated Pixel Data');
    if (p + 8 + length > r.buf.length) throw truncated();
    if (first) {
      for (let i = 0; i + 4 <= length; i += 4) bot.push(u32(r, p + 8 + i));
      first = false;
    } else fragments.push({ item: p, offset: p + 8, length });
    p += 8 + length;
  }
  const n = numberOfFrames;
  let frames: Array<Array<[number, number]>>;
  const asPairs = (fs: typeof fragments) => fs.map((f) => [f.offset, f.length] as [number, number]);
  if (fragments.length === 0) frames = [];
  else if (n === 1) frames = [asPairs(fragments)];
  else if (bot.length === n) {
    const base = fragments[0]!.item;
    frames = bot.map((off, i) => {
      const end = i + 1 < n ? bot[i + 1]! : Infinity;
      return asPairs(fragments.filter((f) => f.item - base >= off && f.item - base < end));
    });
  } else if (fragments.length === n) frames = fragments.map((f) => [[f.offset, f.length]]);
  else {
    frames = [];
    for (const f of fragments) {
      if (frames.length === 0 || isCodestreamStart(r.buf, f.offset)) frames.push([]);
      frames[frames.length - 1]!.push([f.offset, f.length]);
    }
    if (frames.length !== n)
      throw new AppError(
        'unprocessable',
        `cannot split ${fragments.length} fragments into ${n} frames`,
      );
  }
  return { offset: start, length: p - start, encapsulated: true, frames };
}

/** Swaps 16/32-bit words in place (Explicit VR Big Endian pixel data to little endian). */
export function swapBytes(data: Uint8Array, bitsAllocated: number): Uint8Array {
  const out = Buffer.from(data);
  if (bitsAllocated === 16) out.swap16();
  else if (bitsAllocated === 32) out.swap32();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Full parse and rewrite

/** Full parse (pixel data included); for deflated or big-endian files and for rewriting. */
export function parseFull(buf: Buffer): { meta: DcmDict; dict: DcmDict } {
  try {
    return quietly(() => dcm.DicomMessage.readFile(toAb(buf), { ignoreErrors: true }));
  } catch (e) {
    throw new AppError(
      'unprocessable',
      `cannot parse DICOM: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Native pixel bytes (little endian) of a file that the scanner could not locate (deflated). */
export function nativePixelBytes(
  buf: Buffer,
  transferSyntax: string,
  bitsAllocated: number,
): Uint8Array {
  const { dict } = parseFull(buf);
  const parts = (dict[T.PixelData]?.Value ?? []) as ArrayBuffer[];
  const bytes = Buffer.concat(parts.map((p) => Buffer.from(p)));
  return transferSyntax === TS.ExplicitBE ? swapBytes(bytes, bitsAllocated) : bytes;
}

/**
 * Rewrites a Part 10 file as Explicit VR Little Endian. `decoded` replaces the pixel data (all
 * frames, little endian, stored values) when the stored syntax is compressed.
 */
export function rewriteExplicitLittle(
  buf: Buffer,
  decoded?: { pixels: Uint8Array; photometric?: string },
): Buffer {
  const { meta, dict } = parseFull(buf);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- TransferSyntaxUID is a string
  const ts = String(meta['00020010']?.Value?.[0] ?? '').trim();
  const image = imageInfo(dict);
  const px = dict[T.PixelData];
  if (px && image) {
    if (decoded) {
      px.Value = [toAb(decoded.pixels)];
      if (decoded.photometric)
        dict[T.PhotometricInterpretation] = { vr: 'CS', Value: [decoded.photometric] };
      if (image.samplesPerPixel > 1) dict[T.PlanarConfiguration] = { vr: 'US', Value: [0] };
    } else if (ts === TS.ExplicitBE) {
      const bytes = Buffer.concat(((px.Value ?? []) as ArrayBuffer[]).map((p) => Buffer.from(p)));
      px.Value = [toAb(swapBytes(bytes, image.bitsAllocated))];
    } else if (!NATIVE_TS.has(ts)) {
      throw new AppError('not_acceptable', 'compressed pixel data needs decoding before rewriting');
    }
    px.vr = image.bitsAllocated > 8 ? 'OW' : 'OB';
  }
  if (image && ts === TS.ImplicitLE) fixAmbiguousVrs(dict, image.pixelRepresentation);
  meta['00020010'] = { vr: 'UI', Value: [TS.ExplicitLE] };
  const out = new dcm.DicomDict(meta);
  out.dict = dict;
  try {
    return Buffer.from(quietly(() => out.write({ allowInvalidVRLength: true })));
  } catch (e) {
    throw new AppError(
      'not_acceptable',
      `cannot rewrite the object as Explicit VR Little Endian: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** voxelgate's implementation class UID, written in the file meta of every object it creates. */
const IMPLEMENTATION_CLASS_UID = '2.25.283091512372190155405384361702953925';

/**
 * The File Meta Information (PS3.10 §7.1) of an Explicit VR Little Endian object voxelgate writes,
 * in dcmjs's naturalized form (denaturalize it before writing).
 */
export function fileMetaInformation(sopClassUid: string, sopInstanceUid: string) {
  return {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: TS.ExplicitLE,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'VOXELGATE',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
}
