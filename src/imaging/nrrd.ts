/**
 * NRRD codec (http://teem.sourceforge.net/nrrd/format.html), own code (nrrd-js is broken, see
 * packages.md §4). Reads what teem, ITK, Slicer and pynrrd write; writes NRRD0004 with
 * `space: left-posterior-superior`, the exact scalar type, and `raw` or `gzip` encoding.
 *
 * Reading is streaming: `NrrdDecoder.push()` takes body chunks as they arrive, parses the header
 * from the first chunk(s), allocates the voxel array once in shared memory (`allocShared`) and
 * copies bytes straight into it (raw), through `zlib` (gzip) or a tokenizer (ascii/hex). Big-endian
 * data is byte-swapped in place at the end. Any problem is an `AppError` (`unprocessable`, or
 * `payload_too_large` for a volume over the limit) naming what is wrong.
 *
 * Geometry: the file's `space` frame (LPS, RAS, LAS; `scanner-xyz`, `3D-right-handed`, bare
 * `space dimension` and no space at all are read as LPS, like ITK) is converted to RAS through
 * `geometry.ts`. A non-spatial axis (`none` direction, or a kind such as `vector`, `RGB-color`,
 * `3-vector`, `covariant-vector`) becomes the volume's components (interleaved). It may be any
 * axis (teem and ITK write it last too): the data is then moved to the component position at the
 * end of decoding, as teem's `unu permute` would (which costs a second copy of the voxels).
 * 2-D images become one slice; 1-D images one row.
 */
import zlib from 'node:zlib';
import { AppError } from '../errors.js';
import { completeDirection, cross3, frameToRas, norm3, type WorldFrame } from './geometry.js';
import {
  allocShared,
  ARRAY_OF,
  BYTES_OF,
  type ImageVolume,
  type Mat3,
  type ScalarType,
  type TypedArray,
  type Vec3,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Names

/** NRRD `type:` spellings (NRRD spec "type") → our scalar types; 64-bit integers are refused. */
const TYPE_ALIASES: Record<string, ScalarType | 'int64' | 'uint64' | 'block'> = {};
function alias(t: ScalarType | 'int64' | 'uint64' | 'block', names: string[]) {
  for (const n of names) TYPE_ALIASES[n] = t;
}
alias('int8', ['signed char', 'int8', 'int8_t']);
alias('uint8', ['uchar', 'unsigned char', 'uint8', 'uint8_t']);
alias('int16', ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t']);
alias('uint16', ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t']);
alias('int32', ['int', 'signed int', 'int32', 'int32_t']);
alias('uint32', ['uint', 'unsigned int', 'uint32', 'uint32_t']);
alias('int64', [
  'longlong',
  'long long',
  'long long int',
  'signed long long',
  'signed long long int',
  'int64',
  'int64_t',
]);
alias('uint64', [
  'ulonglong',
  'unsigned long long',
  'unsigned long long int',
  'uint64',
  'uint64_t',
]);
alias('float32', ['float']);
alias('float64', ['double']);
alias('block', ['block']);

/** The canonical teem name written for each scalar type. */
export const NRRD_TYPE_NAME: Record<ScalarType, string> = {
  int8: 'signed char',
  uint8: 'unsigned char',
  int16: 'short',
  uint16: 'unsigned short',
  int32: 'int',
  uint32: 'unsigned int',
  float32: 'float',
  float64: 'double',
};

export type NrrdEncoding = 'raw' | 'gzip' | 'ascii' | 'hex';
const ENCODINGS: Record<string, NrrdEncoding | 'bzip2'> = {
  raw: 'raw',
  txt: 'ascii',
  text: 'ascii',
  ascii: 'ascii',
  hex: 'hex',
  gz: 'gzip',
  gzip: 'gzip',
  bz2: 'bzip2',
  bzip2: 'bzip2',
};

/** `space:` values (full and abbreviated) → the frame they are read in, or why not. */
const SPACES: Record<string, WorldFrame | 'time'> = {
  'right-anterior-superior': 'RAS',
  ras: 'RAS',
  'left-anterior-superior': 'LAS',
  las: 'LAS',
  'left-posterior-superior': 'LPS',
  lps: 'LPS',
  'scanner-xyz': 'LPS',
  '3d-right-handed': 'LPS',
  '3d-left-handed': 'LPS',
  'right-anterior-superior-time': 'time',
  rast: 'time',
  'left-anterior-superior-time': 'time',
  last: 'time',
  'left-posterior-superior-time': 'time',
  lpst: 'time',
  'scanner-xyz-time': 'time',
  '3d-right-handed-time': 'time',
  '3d-left-handed-time': 'time',
};

/** Kinds of spatial (domain) axes; any other kind on the first axis makes it the component axis. */
const SPATIAL_KINDS = new Set(['domain', 'space', 'time', '???', 'none']);

const unprocessable = (msg: string) => new AppError('unprocessable', `NRRD: ${msg}`);

// ---------------------------------------------------------------------------------------------
// Header

export interface NrrdHeader {
  /** The magic line, e.g. `NRRD0004`. */
  magic: string;
  /** Field name (lower-case, single spaces, as in the spec) → raw value text. */
  fields: Map<string, string>;
  /** `key:=value` pairs, unescaped (`\n` and `\\`). */
  keyValues: Record<string, string>;
  /** Comment lines without the leading `#`. */
  comments: string[];
}

/** Unescapes a key/value string (NRRD spec: `\n` → newline, `\\` → backslash). */
function unescapeKv(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}
function escapeKv(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Parses the header text (magic line up to, not including, the blank line). */
export function parseNrrdHeader(text: string): NrrdHeader {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const magic = (lines[0] ?? '').trim();
  if (!/^NRRD000[1-5]$/.test(magic)) {
    throw unprocessable(
      `not a NRRD file (the first line is "${magic.slice(0, 40)}", expected NRRD0001…NRRD0005)`,
    );
  }
  const fields = new Map<string, string>();
  const keyValues: Record<string, string> = {};
  const comments: string[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') break;
    if (line.startsWith('#')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    const kv = line.indexOf(':=');
    const colon = line.indexOf(':');
    if (kv >= 0 && kv === colon) {
      keyValues[unescapeKv(line.slice(0, kv))] = unescapeKv(line.slice(kv + 2));
      continue;
    }
    if (colon <= 0)
      throw unprocessable(
        `header line ${n + 1} is neither "field: value", "key:=value" nor a comment: "${line.slice(0, 60)}"`,
      );
    const name = line.slice(0, colon).trim().toLowerCase().replace(/\s+/g, ' ');
    fields.set(name, line.slice(colon + 1).trim());
  }
  return { magic, fields, keyValues, comments };
}

/** Everything needed to read the data and build the volume, derived from a header. */
export interface NrrdLayout {
  scalarType: ScalarType;
  components: number;
  /** Kind of the component axis (`vector`, `RGB-color`, …) when there is one. */
  componentKind?: string;
  /**
   * The file's component axis when it is not the first one: the data is stored with
   * `inner` = product of the sizes of the axes before it (faster), so it must be permuted.
   */
  permute?: { inner: number; outer: number };
  dimensions: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  encoding: NrrdEncoding;
  endian: 'little' | 'big';
  byteSkip: number;
  lineSkip: number;
  /** Bytes of decoded voxel data. */
  byteLength: number;
  /** The frame the file's vectors (and vector-valued voxels) are expressed in. */
  frame: WorldFrame;
  /** `measurement frame` (columns = measurement axes in `frame`), when given and not identity. */
  measurementFrame?: Mat3;
}

const parseIntField = (name: string, raw: string, min: number): number => {
  if (!/^[-+]?\d+$/.test(raw)) throw unprocessable(`${name} must be an integer, got "${raw}"`);
  const v = Number(raw);
  if (v < min) throw unprocessable(`${name} must be ≥ ${min}, got ${v}`);
  return v;
};

function parseNumber(name: string, raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v))
    throw unprocessable(`${name} has a value that is not a finite number: "${raw}"`);
  return v;
}

/** `(1,0,0) none (0,1,0)` → [[1,0,0], null, [0,1,0]]. */
function parseVectors(name: string, raw: string): Array<number[] | null> {
  const out: Array<number[] | null> = [];
  const re = /\(([^)]*)\)|none|\S+/gi;
  for (const m of raw.matchAll(re)) {
    if (m[0].toLowerCase() === 'none') out.push(null);
    else if (m[1] !== undefined) out.push(m[1].split(',').map((x) => parseNumber(name, x.trim())));
    else throw unprocessable(`${name}: expected "(x,y,z)" vectors or none, got "${m[0]}"`);
  }
  return out;
}

const words = (raw: string) => raw.split(/\s+/).filter(Boolean);

/** Derives the data layout and RAS geometry from a header; throws naming the bad field. */
export function nrrdLayout(h: NrrdHeader, opts: { maxBytes?: number } = {}): NrrdLayout {
  const f = h.fields;
  const need = (name: string) => {
    const v = f.get(name);
    if (v === undefined) throw unprocessable(`the required field "${name}" is missing`);
    return v;
  };
  if (f.has('data file') || f.has('datafile')) {
    throw unprocessable(
      'detached headers ("data file:") are not supported here; send a NRRD with attached data (one .nrrd file)',
    );
  }
  const typeRaw = need('type');
  const type = TYPE_ALIASES[typeRaw.toLowerCase().replace(/\s+/g, ' ')];
  if (!type) throw unprocessable(`unknown type "${typeRaw}"`);
  if (type === 'int64' || type === 'uint64' || type === 'block')
    throw unprocessable(
      `type "${typeRaw}" is not supported (use 8, 16 or 32-bit integers, float or double)`,
    );
  const dimension = parseIntField('dimension', need('dimension'), 1);
  if (dimension > 4)
    throw unprocessable(
      `dimension ${dimension} is not supported (at most 4: a vector axis and 3 spatial axes)`,
    );
  const sizes = words(need('sizes')).map((s) => parseIntField('sizes', s, 1));
  if (sizes.length !== dimension)
    throw unprocessable(`sizes has ${sizes.length} values but dimension is ${dimension}`);

  const encRaw = (f.get('encoding') ?? '').toLowerCase();
  if (!encRaw) throw unprocessable('the required field "encoding" is missing');
  const encoding = ENCODINGS[encRaw];
  if (!encoding) throw unprocessable(`unknown encoding "${encRaw}"`);
  if (encoding === 'bzip2') throw unprocessable('bzip2 encoding is not supported; use raw or gzip');
  const endianRaw = (f.get('endian') ?? 'little').toLowerCase();
  if (endianRaw !== 'little' && endianRaw !== 'big')
    throw unprocessable(`endian must be little or big, got "${endianRaw}"`);
  const byteSkip = f.has('byte skip') ? parseIntField('byte skip', f.get('byte skip')!, -1) : 0;
  if (byteSkip === -1 && encoding !== 'raw')
    throw unprocessable('byte skip: -1 is only allowed with raw encoding');
  const lineSkip = f.has('line skip') ? parseIntField('line skip', f.get('line skip')!, 0) : 0;

  // World frame.
  let frame: WorldFrame = 'LPS';
  let spaceDim: number | undefined;
  const spaceRaw = f.get('space');
  if (spaceRaw !== undefined) {
    const s = SPACES[spaceRaw.toLowerCase()];
    if (!s) throw unprocessable(`unknown space "${spaceRaw}"`);
    if (s === 'time') throw unprocessable(`space "${spaceRaw}" (space-time) is not supported`);
    frame = s;
    spaceDim = 3;
    if (f.has('space dimension'))
      throw unprocessable('"space" and "space dimension" must not both be given');
  } else if (f.has('space dimension')) {
    spaceDim = parseIntField('space dimension', f.get('space dimension')!, 1);
    if (spaceDim > 3)
      throw unprocessable(`space dimension ${spaceDim} is not supported (at most 3)`);
  }

  let directions: Array<number[] | null> | undefined;
  if (f.has('space directions')) {
    if (spaceDim === undefined)
      throw unprocessable('"space directions" needs "space" or "space dimension"');
    directions = parseVectors('space directions', f.get('space directions')!);
    // Slicer's grid transform writer gives 3 directions for a 4-D array; read the first as none.
    if (directions.length === dimension - 1 && dimension === 4) directions.unshift(null);
    if (directions.length !== dimension)
      throw unprocessable(
        `space directions has ${directions.length} entries but dimension is ${dimension}`,
      );
    for (const d of directions)
      if (d && d.length !== spaceDim)
        throw unprocessable(
          `space directions vectors must have ${spaceDim} values (space dimension), got (${d.join(',')})`,
        );
  }
  const kinds = f.has('kinds') ? words(f.get('kinds')!) : undefined;
  if (kinds && kinds.length !== dimension)
    throw unprocessable(`kinds has ${kinds.length} values but dimension is ${dimension}`);

  // Which axes are spatial.
  const nonSpatial: number[] = [];
  for (let a = 0; a < dimension; a++) {
    const kind = kinds?.[a]?.toLowerCase();
    const isVectorKind = kind !== undefined && !SPATIAL_KINDS.has(kind);
    if (directions ? directions[a] === null : isVectorKind) nonSpatial.push(a);
  }
  if (!directions && !kinds && dimension === 4) nonSpatial.push(0);
  if (nonSpatial.length > 1)
    throw unprocessable(
      `only one non-spatial (vector) axis is supported, got axes ${nonSpatial.join(', ')}`,
    );
  const hasComponents = nonSpatial.length === 1;
  const componentAxis = hasComponents ? nonSpatial[0]! : 0;
  const spatialAxes = [...Array(dimension).keys()].filter((a) => !nonSpatial.includes(a));
  if (spatialAxes.length === 0) throw unprocessable('there is no spatial axis');
  if (spatialAxes.length > 3)
    throw unprocessable(`${spatialAxes.length} spatial axes are not supported (at most 3)`);
  const components = hasComponents ? sizes[componentAxis]! : 1;
  const dimensions = [1, 1, 1] as Vec3;
  spatialAxes.forEach((a, i) => (dimensions[i] = sizes[a]!));

  // Geometry in RAS.
  const pad3 = (v: readonly number[]): Vec3 => [v[0] ?? 0, v[1] ?? 0, v[2] ?? 0];
  const spacing: Vec3 = [1, 1, 1];
  const cols: Vec3[] = [];
  let origin: Vec3 = [0, 0, 0];
  if (directions) {
    spatialAxes.forEach((a, i) => {
      const v = frameToRas(frame, pad3(directions[a]!));
      const len = norm3(v);
      if (!(len > 0))
        throw unprocessable(`space directions: axis ${a} has a zero-length direction`);
      spacing[i] = len;
      cols.push([v[0] / len, v[1] / len, v[2] / len]);
    });
    if (cols.length === 3 && Math.abs(norm3(cross3(cols[0]!, cols[1]!))) < 1e-9)
      throw unprocessable('space directions: axes are parallel');
  } else {
    const spacings = f.has('spacings') ? words(f.get('spacings')!) : undefined;
    if (spacings && spacings.length !== dimension)
      throw unprocessable(`spacings has ${spacings.length} values but dimension is ${dimension}`);
    spatialAxes.forEach((a, i) => {
      const s = spacings?.[a];
      const v =
        s === undefined || s.toLowerCase() === 'nan' ? 1 : Math.abs(parseNumber('spacings', s));
      spacing[i] = v > 0 ? v : 1;
      const axis: Vec3 = [0, 0, 0];
      axis[i] = 1;
      cols.push(frameToRas(frame, axis));
    });
    const mins = f.has('axis mins') ? words(f.get('axis mins')!) : undefined;
    if (mins?.length === dimension) {
      origin = frameToRas(
        frame,
        pad3(
          spatialAxes.map((a) =>
            mins[a]!.toLowerCase() === 'nan' ? 0 : parseNumber('axis mins', mins[a]!),
          ),
        ),
      );
    }
  }
  if (f.has('space origin')) {
    if (spaceDim === undefined)
      throw unprocessable('"space origin" needs "space" or "space dimension"');
    const o = parseVectors('space origin', f.get('space origin')!);
    if (o.length !== 1 || o[0]?.length !== spaceDim)
      throw unprocessable(
        `space origin must be one vector of ${spaceDim} values, got "${f.get('space origin')}"`,
      );
    origin = frameToRas(frame, pad3(o[0]));
  }
  const direction = completeDirection(cols);
  let measurementFrame: Mat3 | undefined;
  if (f.has('measurement frame')) {
    const mf = parseVectors('measurement frame', f.get('measurement frame')!);
    if (mf.length !== 3 || mf.some((v) => v?.length !== 3))
      throw unprocessable('measurement frame must be three 3-vectors');
    const m: Mat3 = [
      mf[0]![0]!,
      mf[1]![0]!,
      mf[2]![0]!,
      mf[0]![1]!,
      mf[1]![1]!,
      mf[2]![1]!,
      mf[0]![2]!,
      mf[1]![2]!,
      mf[2]![2]!,
    ];
    if (m.some((x, i) => x !== [1, 0, 0, 0, 1, 0, 0, 0, 1][i])) measurementFrame = m;
  }

  const bytes = BYTES_OF[type];
  const byteLength = dimensions[0] * dimensions[1] * dimensions[2] * components * bytes;
  const maxBytes = opts.maxBytes ?? 2 ** 33;
  if (byteLength > maxBytes) {
    throw new AppError(
      'payload_too_large',
      `NRRD: the volume (sizes ${sizes.join(' ')}, ${NRRD_TYPE_NAME[type]}) needs ${byteLength} bytes, more than the limit of ${maxBytes}`,
    );
  }
  return {
    scalarType: type,
    components,
    componentKind: hasComponents ? (kinds?.[componentAxis] ?? 'vector') : undefined,
    permute:
      hasComponents && componentAxis > 0 && components > 1
        ? {
            inner: sizes.slice(0, componentAxis).reduce((a, b) => a * b, 1),
            outer: sizes.slice(componentAxis + 1).reduce((a, b) => a * b, 1),
          }
        : undefined,
    dimensions,
    spacing,
    origin,
    direction,
    encoding,
    endian: endianRaw,
    byteSkip,
    lineSkip,
    byteLength,
    frame,
    measurementFrame,
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming decoder

export interface DecodedNrrd {
  volume: ImageVolume;
  header: NrrdHeader;
  layout: NrrdLayout;
}

export interface NrrdDecoderOptions {
  /** Largest decoded voxel data accepted (bytes); bigger volumes are refused with 413. */
  maxBytes?: number;
  /** Largest header accepted (bytes). */
  maxHeaderBytes?: number;
  /**
   * Total size of the file when the sender declared it (HTTP Content-Length): a raw body too short
   * for the sizes in the header is refused before the voxel array is allocated.
   */
  declaredBytes?: number;
  /** Where the voxel memory comes from (zeroed; default a new SharedArrayBuffer). */
  alloc?: (bytes: number) => SharedArrayBuffer;
}

const NL = 0x0a;
const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Push-based NRRD reader: `await push(chunk)` for each body chunk, then `await end()`.
 * Memory: the voxel array (allocated once, shared) plus at most one chunk.
 */
export class NrrdDecoder {
  readonly #opts: NrrdDecoderOptions;
  #headerBuf: Buffer[] = [];
  #headerLen = 0;
  #header?: NrrdHeader;
  #layout?: NrrdLayout;
  #data?: TypedArray;
  #bytes?: Uint8Array;
  /** Decoded bytes written into `#bytes` (or values for ascii). */
  #filled = 0;
  #linesToSkip = 0;
  #bytesToSkip = 0;
  /** byte skip -1: keep everything, take the tail at the end. */
  #tail?: Buffer[];
  #gunzip?: zlib.Gunzip;
  #gzError?: Error;
  #gzEnded?: Promise<void>;
  #text = '';
  #overflow = false;

  constructor(opts: NrrdDecoderOptions = {}) {
    this.#opts = opts;
  }

  get layout(): NrrdLayout | undefined {
    return this.#layout;
  }

  /**
   * Bytes of the voxel array that already hold their final value (a prefix), for writers that
   * stream the data elsewhere while it arrives. 0 until then, and always 0 when the final bytes are
   * only known at `end()` (ascii, byte-swapped big-endian data, `byte skip: -1`, a component
   * axis that is not the first).
   */
  get settledBytes(): number {
    const l = this.#layout;
    if (
      !l ||
      l.encoding === 'ascii' ||
      l.permute ||
      this.#tail ||
      (BYTES_OF[l.scalarType] > 1 && (l.endian === 'little') !== HOST_LITTLE)
    )
      return 0;
    return this.#filled;
  }

  /** The voxel array's bytes (shared memory), once the header is parsed. */
  get voxelBytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  async push(chunk: Uint8Array): Promise<void> {
    if (!this.#layout) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.#headerBuf.push(Buffer.from(buf));
      this.#headerLen += buf.length;
      const all =
        this.#headerBuf.length === 1 ? this.#headerBuf[0]! : Buffer.concat(this.#headerBuf);
      this.#headerBuf = [all];
      if (all.length >= 4 && all.subarray(0, 4).toString('latin1') !== 'NRRD') {
        throw unprocessable(
          `not a NRRD file (it starts with ${JSON.stringify(all.subarray(0, 8).toString('latin1'))}, expected "NRRD000x")`,
        );
      }
      const end = findHeaderEnd(all);
      if (end === -1) {
        const max = this.#opts.maxHeaderBytes ?? 1 << 20;
        if (this.#headerLen > max)
          throw unprocessable(`no end of header (blank line) within the first ${max} bytes`);
        return;
      }
      this.#start(all.subarray(0, end.headerEnd).toString('latin1'), end.dataStart);
      this.#headerBuf = [];
      const rest = all.subarray(end.dataStart);
      if (rest.length) await this.#body(rest);
      return;
    }
    await this.#body(chunk);
  }

  #start(headerText: string, dataStart: number): void {
    this.#header = parseNrrdHeader(headerText);
    const layout = nrrdLayout(this.#header, { maxBytes: this.#opts.maxBytes });
    const declared = this.#opts.declaredBytes;
    if (
      declared !== undefined &&
      layout.encoding === 'raw' &&
      layout.lineSkip === 0 &&
      layout.byteSkip >= 0
    ) {
      const available = declared - dataStart - layout.byteSkip;
      if (available < layout.byteLength) {
        throw unprocessable(
          `NRRD: the header declares ${layout.byteLength} bytes of raw voxel data, but the body has only ${Math.max(0, available)} after the header (Content-Length ${declared})`,
        );
      }
    }
    this.#layout = layout;
    const count = layout.byteLength / BYTES_OF[layout.scalarType];
    try {
      // file order first when the components must be moved (see `end`), else the final array
      this.#data = layout.permute
        ? new (ARRAY_OF[layout.scalarType] as unknown as new (n: number) => TypedArray)(count)
        : allocShared(layout.scalarType, count, this.#opts.alloc?.(layout.byteLength));
    } catch {
      throw new AppError(
        'payload_too_large',
        `NRRD: cannot allocate ${layout.byteLength} bytes for the volume`,
      );
    }
    this.#bytes = new Uint8Array(this.#data.buffer, this.#data.byteOffset, this.#data.byteLength);
    this.#linesToSkip = layout.lineSkip;
    this.#bytesToSkip = layout.byteSkip > 0 ? layout.byteSkip : 0;
    if (layout.byteSkip === -1) this.#tail = [];
    if (layout.encoding === 'gzip') {
      const gz = zlib.createGunzip({ chunkSize: 1 << 20 });
      gz.on('data', (d: Buffer) => this.#decoded(d));
      this.#gzEnded = new Promise((resolve) => {
        gz.on('end', resolve);
        gz.on('error', (e) => {
          this.#gzError ??= e;
          resolve();
        });
      });
      this.#gunzip = gz;
    }
  }

  /** Raw body bytes (after the header): line skip, then per encoding. */
  async #body(chunk: Uint8Array): Promise<void> {
    let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (this.#linesToSkip > 0 && c.length > 0) {
      const nl = c.indexOf(NL);
      if (nl < 0) return;
      c = c.subarray(nl + 1);
      this.#linesToSkip--;
    }
    if (c.length === 0) return;
    const enc = this.#layout!.encoding;
    if (enc === 'gzip') {
      if (this.#gzError) throw this.#gzipProblem();
      const gz = this.#gunzip!;
      await new Promise<void>((resolve) => {
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          gz.off('error', finish);
          resolve();
        };
        gz.once('error', finish);
        gz.write(c, finish);
      });
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the 'error' listener while awaiting
      if (this.#gzError) throw this.#gzipProblem();
      if (this.#overflow) throw this.#tooLong();
      return;
    }
    if (enc === 'raw') {
      if (this.#tail) {
        this.#tail.push(Buffer.from(c));
        return;
      }
      this.#decoded(c);
      if (this.#overflow) throw this.#tooLong();
      return;
    }
    // Text encodings: skip raw bytes first.
    if (this.#bytesToSkip > 0) {
      const n = Math.min(this.#bytesToSkip, c.length);
      this.#bytesToSkip -= n;
      c = c.subarray(n);
    }
    if (enc === 'ascii') this.#ascii(c.toString('latin1'), false);
    else this.#hex(c.toString('latin1'), false);
  }

  /** Decoded (decompressed) bytes: byte skip, then copy into the voxel array. */
  #decoded(d: Buffer): void {
    let c = d;
    if (this.#bytesToSkip > 0) {
      const n = Math.min(this.#bytesToSkip, c.length);
      this.#bytesToSkip -= n;
      c = c.subarray(n);
      if (c.length === 0) return;
    }
    const bytes = this.#bytes!;
    const room = bytes.length - this.#filled;
    if (c.length > room) {
      this.#overflow = true;
      c = c.subarray(0, room);
    }
    bytes.set(c, this.#filled);
    this.#filled += c.length;
  }

  #ascii(text: string, final: boolean): void {
    const all = this.#text + text;
    let cut = all.length;
    if (!final) {
      // keep a possibly incomplete last token for the next chunk
      const m = /[^\s,]*$/.exec(all);
      cut = m ? m.index : all.length;
    }
    this.#text = all.slice(cut);
    const data = this.#data!;
    const isInt = !this.#layout!.scalarType.startsWith('float');
    for (const tok of all.slice(0, cut).split(/[\s,]+/)) {
      if (tok === '') continue;
      const v = Number(tok);
      if (!Number.isFinite(v) && !/^[-+]?(inf|nan)/i.test(tok))
        throw unprocessable(`ascii data: "${tok.slice(0, 20)}" is not a number`);
      if (this.#filled >= data.length) throw this.#tooLong();
      if (isInt && !Number.isInteger(v))
        throw unprocessable(
          `ascii data: "${tok}" is not an integer (type ${this.#layout!.scalarType})`,
        );
      data[this.#filled++] = /^[-+]?nan/i.test(tok)
        ? NaN
        : /^-inf/i.test(tok)
          ? -Infinity
          : /^\+?inf/i.test(tok)
            ? Infinity
            : v;
    }
  }

  #hex(text: string, final: boolean): void {
    const all = (this.#text + text).replace(/\s+/g, '');
    const even = final ? all.length : all.length - (all.length % 2);
    if (final && all.length % 2) throw unprocessable('hex data has an odd number of digits');
    this.#text = all.slice(even);
    const part = all.slice(0, even);
    if (!/^[0-9a-fA-F]*$/.test(part))
      throw unprocessable('hex data contains a character that is not a hex digit');
    const buf = Buffer.from(part, 'hex');
    this.#decoded(buf);
    if (this.#overflow) throw this.#tooLong();
  }

  #tooLong(): AppError {
    return unprocessable(
      `the data is longer than sizes × type (${this.#layout!.byteLength} bytes); check sizes, type and encoding`,
    );
  }

  #gzipProblem(): AppError {
    const e = this.#gzError!;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') return unprocessable(`gzip data is truncated (${e.message})`);
    return unprocessable(`gzip data is corrupt (${e.message})`);
  }

  /** Finishes decoding: checks the size, swaps bytes, returns the volume. */
  async end(): Promise<DecodedNrrd> {
    if (!this.#layout) {
      if (this.#headerLen === 0) throw unprocessable('the body is empty; expected a NRRD file');
      throw unprocessable('the header is not terminated by a blank line (truncated header?)');
    }
    const layout = this.#layout;
    if (layout.encoding === 'gzip') {
      this.#gunzip!.end();
      await this.#gzEnded;
      if (this.#gzError) throw this.#gzipProblem();
      if (this.#overflow) throw this.#tooLong();
    } else if (layout.encoding === 'ascii') {
      this.#ascii('', true);
    } else if (layout.encoding === 'hex') {
      this.#hex('', true);
    } else if (this.#tail) {
      const all = Buffer.concat(this.#tail);
      this.#tail = undefined;
      if (all.length < layout.byteLength) throw this.#truncated(all.length);
      this.#decoded(all.subarray(all.length - layout.byteLength));
    }
    const got =
      layout.encoding === 'ascii' ? this.#filled * BYTES_OF[layout.scalarType] : this.#filled;
    if (got < layout.byteLength) throw this.#truncated(got);
    const bytesPer = BYTES_OF[layout.scalarType];
    if (
      bytesPer > 1 &&
      layout.encoding !== 'ascii' &&
      (layout.endian === 'little') !== HOST_LITTLE
    ) {
      const b = Buffer.from(this.#bytes!.buffer, this.#bytes!.byteOffset, this.#bytes!.byteLength);
      if (bytesPer === 2) b.swap16();
      else if (bytesPer === 4) b.swap32();
      else b.swap64();
    }
    if (layout.permute) {
      const data = allocShared(layout.scalarType, this.#data!.length);
      permuteComponents(this.#bytes!, data, layout.components, layout.permute, bytesPer);
      this.#data = data;
      this.#bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
    const volume: ImageVolume = {
      scalarType: layout.scalarType,
      components: layout.components,
      dimensions: layout.dimensions,
      spacing: layout.spacing,
      origin: layout.origin,
      direction: layout.direction,
      data: this.#data!,
    };
    return { volume, header: this.#header!, layout };
  }

  #truncated(got: number): AppError {
    const l = this.#layout!;
    return unprocessable(
      `the data is truncated: got ${got} of ${l.byteLength} bytes (sizes ${l.dimensions.join('×')}${l.components > 1 ? `×${l.components}` : ''}, ${NRRD_TYPE_NAME[l.scalarType]}, ${l.encoding})`,
    );
  }
}

/**
 * Moves the component axis of file-ordered data (`inner` values of the faster axes, then
 * `components`, then `outer`) to the fastest position: dst[(o·inner + i)·C + c] =
 * src[(o·C + c)·inner + i]. Copies bit patterns (integer views), so float payloads stay exact.
 */
function permuteComponents(
  src: Uint8Array,
  dst: TypedArray,
  components: number,
  { inner, outer }: { inner: number; outer: number },
  bytesPer: number,
): void {
  const words = bytesPer === 8 ? 2 : 1;
  const View = (bytesPer === 1 ? Uint8Array : bytesPer === 2 ? Uint16Array : Uint32Array) as new (
    b: ArrayBufferLike,
    o: number,
    n: number,
  ) => Uint32Array;
  const w = bytesPer === 1 ? 1 : bytesPer === 2 ? 2 : 4;
  const s = new View(src.buffer, src.byteOffset, src.byteLength / w);
  const d = new View(dst.buffer, dst.byteOffset, dst.byteLength / w);
  const C = components;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const from = (o * C + c) * inner;
      for (let i = 0; i < inner; i++) {
        const a = (from + i) * words;
        const b = ((o * inner + i) * C + c) * words;
        d[b] = s[a]!;
        if (words === 2) d[b + 1] = s[a + 1]!;
      }
    }
  }
}

/** Finds the blank line ending the header: returns where the header text ends and data starts. */
function findHeaderEnd(buf: Buffer): { headerEnd: number; dataStart: number } | -1 {
  let from = 0;
  for (;;) {
    const nl = buf.indexOf(NL, from);
    if (nl < 0 || nl + 1 >= buf.length) return -1;
    if (buf[nl + 1] === NL) return { headerEnd: nl, dataStart: nl + 2 };
    if (buf[nl + 1] === 0x0d && nl + 2 < buf.length && buf[nl + 2] === NL)
      return { headerEnd: nl, dataStart: nl + 3 };
    if (buf[nl + 1] === 0x0d && nl + 2 >= buf.length) return -1;
    from = nl + 1;
  }
}

/** Decodes a whole NRRD held in memory (tests, local files). */
export async function decodeNrrd(
  bytes: Uint8Array,
  opts: NrrdDecoderOptions = {},
): Promise<DecodedNrrd> {
  const d = new NrrdDecoder(opts);
  await d.push(bytes);
  return d.end();
}

/** Decodes from an async iterable of chunks (request bodies, file streams). */
export async function decodeNrrdStream(
  chunks: AsyncIterable<Uint8Array>,
  opts: NrrdDecoderOptions = {},
): Promise<DecodedNrrd> {
  const d = new NrrdDecoder(opts);
  for await (const c of chunks) await d.push(c);
  return d.end();
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface NrrdWriteOptions {
  encoding?: 'raw' | 'gzip';
  /** zlib level for gzip (default 1: fast; the data is usually smooth enough). */
  gzipLevel?: number;
  /** Kind of the component axis when components > 1 (default by content: RGB(A)-color for uint8 3/4, else vector). */
  componentKind?: string;
  /** `key:=value` pairs to write. */
  keyValues?: Record<string, string>;
  /** `content:` field. */
  content?: string;
  /** Write `kinds`/directions for a 4-D vector NRRD even when components = 1. */
  forceVectorAxis?: boolean;
}

const fmt = (x: number) => (Object.is(x, -0) ? '0' : String(x));
const vec = (v: readonly number[]) => `(${v.map(fmt).join(',')})`;

export function defaultComponentKind(v: Pick<ImageVolume, 'components' | 'scalarType'>): string {
  if (v.scalarType === 'uint8' && v.components === 3) return 'RGB-color';
  if (v.scalarType === 'uint8' && v.components === 4) return 'RGBA-color';
  return 'vector';
}

/** The header text of a volume written as LPS NRRD0004, ending with the blank line. */
export function nrrdHeaderText(v: ImageVolume, opts: NrrdWriteOptions = {}): string {
  const vectorAxis = v.components > 1 || opts.forceVectorAxis === true;
  const dirs = [0, 1, 2].map((c) =>
    frameToRas('LPS', [
      v.direction[c]! * v.spacing[c]!,
      v.direction[3 + c]! * v.spacing[c]!,
      v.direction[6 + c]! * v.spacing[c]!,
    ]),
  );
  const lines = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    `type: ${NRRD_TYPE_NAME[v.scalarType]}`,
    `dimension: ${vectorAxis ? 4 : 3}`,
    'space: left-posterior-superior',
    `sizes: ${vectorAxis ? `${v.components} ` : ''}${v.dimensions.join(' ')}`,
    `space directions: ${vectorAxis ? 'none ' : ''}${dirs.map(vec).join(' ')}`,
    `kinds: ${vectorAxis ? `${opts.componentKind ?? defaultComponentKind(v)} ` : ''}domain domain domain`,
    `endian: ${HOST_LITTLE ? 'little' : 'big'}`,
    `encoding: ${opts.encoding ?? 'raw'}`,
    `space origin: ${vec(frameToRas('LPS', v.origin))}`,
  ];
  if (opts.content) lines.push(`content: ${opts.content.replace(/[\r\n]+/g, ' ')}`);
  for (const [k, val] of Object.entries(opts.keyValues ?? {})) {
    if (k === '' || k.includes(':=') || /[\r\n]/.test(k)) continue;
    lines.push(`${escapeKv(k)}:=${escapeKv(val)}`);
  }
  return lines.join('\n') + '\n\n';
}

/** The voxel bytes of a volume as views (no copy), `chunk` bytes at a time. */
export function* voxelByteChunks(v: ImageVolume, chunk = 4 << 20): Generator<Uint8Array> {
  const d = v.data;
  for (let off = 0; off < d.byteLength; off += chunk) {
    yield new Uint8Array(d.buffer, d.byteOffset + off, Math.min(chunk, d.byteLength - off));
  }
}

/** Total size of a raw NRRD (header + data), for Content-Length. */
export function rawNrrdSize(v: ImageVolume, opts: NrrdWriteOptions = {}): number {
  return (
    Buffer.byteLength(nrrdHeaderText(v, { ...opts, encoding: 'raw' }), 'latin1') + v.data.byteLength
  );
}

/**
 * The NRRD file as a stream of chunks: the header, then the voxel data as views (raw) or through
 * gzip. Never holds more than one chunk of compressed output at a time.
 */
export async function* nrrdChunks(
  v: ImageVolume,
  opts: NrrdWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  yield Buffer.from(nrrdHeaderText(v, opts), 'latin1');
  if ((opts.encoding ?? 'raw') === 'raw') {
    yield* voxelByteChunks(v);
    return;
  }
  const gz = zlib.createGzip({ level: opts.gzipLevel ?? 1, chunkSize: 1 << 20 });
  const pending: Buffer[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let error: Error | undefined;
  gz.on('data', (d: Buffer) => {
    pending.push(d);
    if (pending.length >= 8) gz.pause(); // the consumer is slower than zlib: stop producing
    wake?.();
  });
  gz.on('end', () => {
    ended = true;
    wake?.();
  });
  gz.on('error', (e) => {
    error = e;
    wake?.();
  });
  const feed = (async () => {
    for (const c of voxelByteChunks(v, 1 << 20)) {
      if (error) return;
      if (!gz.write(c)) await new Promise<void>((r) => gz.once('drain', r));
    }
    gz.end();
  })();
  try {
    for (;;) {
      if (error) throw error;
      const next = pending.shift();
      if (pending.length < 2 && gz.isPaused()) gz.resume();
      if (next) {
        yield next;
        continue;
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the 'end' listener
      if (ended) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    await feed;
  } finally {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the 'end' listener
    if (!ended) gz.destroy();
  }
}

/** The whole NRRD in one buffer (small volumes, tests). */
export async function encodeNrrd(v: ImageVolume, opts: NrrdWriteOptions = {}): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of nrrdChunks(v, opts)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
