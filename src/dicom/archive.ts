/**
 * `src/dicom/` is the DICOM archive (a small Orthanc): this file is its only door; behind it the
 * catalog (SQLite index), the store (versioned files), Part 10 and DICOM JSON codecs, QIDO
 * matching, multipart and transcoding. It imports imaging/ (and its decode worker), never the
 * scene, bridge/, http/ or hono.
 *
 * The archive service: ingest (parse, store, index), lookups, frames, Part 10 retrieval with
 * transfer-syntax handling, bulk data and deletion. HTTP handlers and the import command call
 * this; it never knows about HTTP.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { AppError, notFound } from '../errors.js';
import { Catalog, type InstanceRecord, type InstanceRow } from './catalog.js';
import { instanceMetadata, levelAttributes } from './dicom-json.js';
import {
  nativeFrameBytes,
  nativePixelBytes,
  parseFull,
  parsePart10,
  rewriteExplicitLittle,
  swapBytes,
  type DcmDict,
  type ImageInfo,
  type ParsedInstance,
  type PixelLocation,
} from './part10.js';
import { DicomStore, type StorageArea } from './store.js';
import { NATIVE_TS, T, TS } from './tags.js';
import { Decoder } from './transcode.js';
import { renderFrame, type RenderOptions } from './rendered.js';
import { MemoCache } from '../util/memo-cache.js';

export interface IngestResult {
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  transferSyntax: string;
}

export interface SessionOptions {
  /** fsync files and folders before the index commit (default true). */
  durable?: boolean;
  /** Reject objects of another study (STOW-RS to /studies/{st}). */
  expectStudy?: string;
  /**
   * An SOP Instance UID that is already stored with other content: `replace` it atomically at
   * commit (STOW-RS), or `keep` the stored object and skip the new one (import, remote retrieve).
   */
  existing?: 'replace' | 'keep';
}

/** What `IngestSession.add` did with an object. */
export type AddOutcome =
  /** Staged: stored (or replacing the stored version) at commit. */
  | 'staged'
  /** The same bytes are already stored (or staged in this session): nothing to write. */
  | 'unchanged'
  /** Another version is stored and the session keeps it (`existing: 'keep'`). */
  | 'kept';

/** PS3.7 C: "Duplicate SOP Instance" (the same request holds the UID twice with other content). */
export const DUPLICATE_SOP_INSTANCE = 0x0111;

export interface FrameData {
  transferSyntax: string;
  data: Uint8Array;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * One ingest transaction (a STOW-RS request, an import batch, a remote retrieve, a volume saved as
 * a series): `add` validates each object and writes it under a new version name (invisible: no row
 * names it); `commit` makes the files durable and switches every row in one index transaction;
 * `abort` (or a failed commit) removes the staged files. Nothing is visible before `commit`, and
 * everything is after it.
 */
export class IngestSession {
  readonly #archive: Archive;
  readonly #opts: SessionOptions;
  /** Staged records by SOP Instance UID. */
  readonly #staged = new Map<string, InstanceRecord>();
  /** Content hash of every object accepted in this session (staged or unchanged). */
  readonly #seen = new Map<string, string | undefined>();
  #closed = false;

  constructor(archive: Archive, opts: SessionOptions) {
    this.#archive = archive;
    this.#opts = opts;
  }

  /** Instances staged so far. */
  get size(): number {
    return this.#staged.size;
  }

  /**
   * Validates an object and stages it. Throws AppError for an object that cannot be stored
   * (details name its SOP class/instance when known, and `failureReason` when it is not 0xC000).
   * `tempFile`: the bytes already sit in this store temp file (moved, not copied).
   */
  async add(
    buf: Buffer,
    tempFile?: string,
  ): Promise<{ outcome: AddOutcome; result: IngestResult }> {
    if (this.#closed) throw new Error('ingest session already closed');
    const archive = this.#archive;
    const { parsed, record } = archive.prepare(buf, this.#opts);
    const sop = parsed.sopInstanceUid;
    const result: IngestResult = {
      sopClassUid: parsed.sopClassUid,
      sopInstanceUid: sop,
      studyUid: parsed.studyUid,
      seriesUid: parsed.seriesUid,
      transferSyntax: parsed.transferSyntax,
    };
    const keep = this.#opts.existing === 'keep';
    const drop = async () => {
      if (tempFile) await archive.store.removeTemp(tempFile);
    };
    if (keep && (this.#seen.has(sop) || archive.catalog.hasInstance(sop))) {
      await drop();
      return { outcome: 'kept', result };
    }
    const hash = sha256(buf);
    if (this.#seen.has(sop)) {
      await drop();
      if (this.#seen.get(sop) === hash) return { outcome: 'unchanged', result };
      throw new AppError(
        'conflict',
        `SOP Instance UID ${sop} appears twice in this request with different content`,
        {
          sopClassUid: parsed.sopClassUid,
          sopInstanceUid: sop,
          failureReason: DUPLICATE_SOP_INSTANCE,
        },
      );
    }
    this.#seen.set(sop, hash);
    if (!keep && (await archive.storedHash(sop)) === hash) {
      await drop();
      return { outcome: 'unchanged', result };
    }
    const file = archive.store.newVersion(parsed.studyUid, sop);
    // Registered before the write, so that abort removes a half-written file too.
    this.#staged.set(sop, {
      ...record,
      file,
      size: buf.length,
      contentHash: hash,
      existing: this.#opts.existing ?? 'replace',
    });
    try {
      if (tempFile) await archive.store.adopt(tempFile, file);
      else await archive.store.write(file, buf);
    } catch (e) {
      this.#staged.delete(sop);
      this.#seen.delete(sop);
      await archive.store.remove(file).catch(() => {});
      throw e;
    }
    return { outcome: 'staged', result };
  }

  /** Makes the staged files durable and indexes them in one transaction; then the session is empty again. */
  async commit(): Promise<void> {
    const records = [...this.#staged.values()];
    if (records.length === 0) return;
    try {
      const durable = this.#opts.durable ?? true;
      if (durable) await this.#archive.store.sync(records.map((r) => r.file));
      const { replaced, skipped } = this.#archive.catalog.upsert(records, durable);
      this.#staged.clear();
      this.#seen.clear(); // from here on the index tells what is stored
      this.#archive.retire([...replaced, ...skipped]);
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Removes every staged (uncommitted) file. */
  async abort(): Promise<void> {
    this.#closed = true;
    const files = [...this.#staged.values()].map((r) => r.file);
    this.#staged.clear();
    for (const f of files) await this.#archive.store.remove(f).catch(() => {});
  }
}

export class Archive {
  /** The storage backend (file system here; anything implementing StorageArea). */
  readonly store: StorageArea;
  readonly catalog: Catalog;
  readonly decoder: Decoder;
  /**
   * Rendered frames (JPEG/PNG) by file version, frame and options: a version's bytes never
   * change, so a kept image is always right, and a replaced instance gets a new key.
   */
  readonly rendered = new MemoCache<Buffer>({
    maxBytes: 64 * 1024 * 1024,
    sizeOf: (b) => b.length,
  });
  /** Readers per file version (see `lease`). */
  readonly #readers = new Map<string, number>();
  /** Files no row names any more, deleted when their last reader finishes. */
  readonly #retired = new Set<string>();

  constructor(store: StorageArea, catalog: Catalog, decoder: Decoder) {
    this.store = store;
    this.catalog = catalog;
    this.decoder = decoder;
  }

  /** Opens (creating if needed) the archive under `<data>/dicom`. */
  static openSync(dataDir: string): Archive {
    const root = path.join(dataDir, 'dicom');
    const store = new DicomStore(root);
    store.initSync();
    return new Archive(store, new Catalog(path.join(root, 'index.sqlite')), new Decoder());
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async by contract: callers await it, other storage backends do I/O here
  static async open(dataDir: string): Promise<Archive> {
    return Archive.openSync(dataDir);
  }

  async close(): Promise<void> {
    await this.decoder.close();
    this.catalog.close();
  }

  /**
   * Startup recovery (a starting server, before it answers): removes temp files and files that no
   * index row names (staged by a request the crash cut short, or replaced versions whose deletion
   * did not happen). Returns the removed paths, relative to `<data>/dicom`.
   */
  async recover(): Promise<string[]> {
    const referenced = this.catalog.allFiles();
    return this.store.sweep((rel) => referenced.has(rel));
  }

  /** Starts an ingest transaction (see `IngestSession`). */
  session(opts: SessionOptions = {}): IngestSession {
    return new IngestSession(this, opts);
  }

  /** Content hash of the stored version of an instance (hashing the file for rows made before hashes). */
  async storedHash(sop: string): Promise<string | undefined> {
    const v = this.catalog.version(sop);
    if (!v) return undefined;
    if (v.content_hash) return v.content_hash;
    const release = this.#acquire(v.file);
    try {
      return sha256(await this.store.read(v.file));
    } catch {
      return undefined;
    } finally {
      release();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Readers and retired files

  #acquire(file: string): () => void {
    this.#readers.set(file, (this.#readers.get(file) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#readers.get(file) ?? 1) - 1;
      if (n > 0) {
        this.#readers.set(file, n);
        return;
      }
      this.#readers.delete(file);
      if (this.#retired.delete(file)) void this.store.remove(file).catch(() => {});
    };
  }

  /**
   * Holds the files of these rows until the returned function is called: a commit that replaces
   * or deletes them defers the deletion. Call it in the same tick as reading the rows (before any
   * await), so the files cannot go in between. Used by readers that read a row, then await.
   */
  lease(rows: readonly InstanceRow[]): () => void {
    const releases = rows.map((r) => this.#acquire(r.file));
    return () => {
      for (const r of releases) r();
    };
  }

  /** Files no row names any more: deleted now, or when their last reader finishes. */
  retire(files: readonly string[]): void {
    for (const f of files) {
      if (this.#readers.has(f)) this.#retired.add(f);
      else void this.store.remove(f).catch(() => {});
    }
  }

  /** Runs `fn` holding the row's file (acquired synchronously, before `fn` starts). */
  async #holding<T>(row: InstanceRow, fn: () => Promise<T>): Promise<T> {
    const release = this.#acquire(row.file);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Parses and validates a Part 10 object and builds its index record (no disk writes). */
  prepare(
    buf: Buffer,
    opts: SessionOptions = {},
  ): {
    parsed: ParsedInstance;
    record: Omit<InstanceRecord, 'file' | 'size' | 'contentHash'>;
  } {
    const parsed = parsePart10(buf);
    if (opts.expectStudy && parsed.studyUid !== opts.expectStudy) {
      throw new AppError(
        'conflict',
        `StudyInstanceUID ${parsed.studyUid} differs from the study in the request path (${opts.expectStudy})`,
        {
          sopClassUid: parsed.sopClassUid,
          sopInstanceUid: parsed.sopInstanceUid,
        },
      );
    }
    const meta = instanceMetadata(parsed);
    // The keys the object is indexed and addressed under are in its metadata as such (a damaged
    // element, e.g. one read as UN, or a SOP UID known only from the file meta header, would
    // otherwise leave QIDO results without the UIDs that address the instance).
    const keys: Array<[string, string]> = [
      [T.StudyInstanceUID, parsed.studyUid],
      [T.SeriesInstanceUID, parsed.seriesUid],
      [T.SOPInstanceUID, parsed.sopInstanceUid],
      [T.SOPClassUID, parsed.sopClassUid],
    ];
    for (const [tag, value] of keys) {
      const el = meta[tag];
      if (el?.vr !== 'UI' || el.Value?.[0] !== value) meta[tag] = { vr: 'UI', Value: [value] };
    }
    return {
      parsed,
      record: {
        sopInstanceUid: parsed.sopInstanceUid,
        seriesUid: parsed.seriesUid,
        studyUid: parsed.studyUid,
        sopClassUid: parsed.sopClassUid,
        transferSyntax: parsed.transferSyntax,
        image: parsed.image,
        pixel: parsed.pixel,
        metadata: JSON.stringify(meta),
        studyAttrs: levelAttributes(meta, 'study'),
        seriesAttrs: levelAttributes(meta, 'series'),
        instanceAttrs: levelAttributes(meta, 'instance'),
      },
    };
  }

  /** Stores one object (a session of one; replaces a stored version with other content). */
  async ingest(buf: Buffer, opts: SessionOptions = {}): Promise<IngestResult> {
    const session = this.session(opts);
    try {
      const { result } = await session.add(buf);
      await session.commit();
      return result;
    } catch (e) {
      await session.abort();
      throw e;
    }
  }

  /** Bulk path (bench, big imports): many objects, one transaction, no fsync. */
  async ingestMany(bufs: readonly Buffer[]): Promise<number> {
    const session = this.session({ durable: false });
    let next = 0;
    let n = 0;
    const worker = async () => {
      for (let i = next++; i < bufs.length; i = next++) {
        if ((await session.add(bufs[i]!)).outcome === 'staged') n++;
      }
    };
    try {
      await Promise.all(Array.from({ length: 8 }, worker));
      await session.commit();
    } catch (e) {
      await session.abort();
      throw e;
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  instance(study: string, series: string | undefined, sop: string): InstanceRow {
    const row = this.catalog.instance(sop);
    if (row?.study_uid !== study || (series !== undefined && row.series_uid !== series))
      throw notFound(`no instance ${sop} in ${series ? `series ${series} of ` : ''}study ${study}`);
    return row;
  }

  instances(study: string, series?: string): InstanceRow[] {
    const rows = series
      ? this.catalog.seriesInstances(study, series)
      : this.catalog.studyInstances(study);
    if (rows.length === 0)
      throw notFound(series ? `no series ${series} in study ${study}` : `no study ${study}`);
    return rows;
  }

  imageOf(row: InstanceRow): ImageInfo {
    if (!row.image) throw new AppError('not_found', `instance ${row.sop_uid} has no pixel data`);
    return JSON.parse(row.image) as ImageInfo;
  }

  private pixelOf(row: InstanceRow): PixelLocation | undefined {
    return row.pixel ? (JSON.parse(row.pixel) as PixelLocation) : undefined;
  }

  /** Checks 1-based frame numbers against the instance. */
  checkFrames(row: InstanceRow, frames: readonly number[]): ImageInfo {
    const im = this.imageOf(row);
    for (const f of frames) {
      if (f < 1 || f > im.numberOfFrames)
        throw notFound(
          `frame ${f} does not exist; instance ${row.sop_uid} has ${im.numberOfFrames} frame(s)`,
        );
    }
    return im;
  }

  /** Frames as stored: native (little-endian) values or the compressed bitstreams. */
  storedFrames(row: InstanceRow, frames: readonly number[]): Promise<FrameData[]> {
    return this.#holding(row, () => this.#storedFrames(row, frames));
  }

  async #storedFrames(row: InstanceRow, frames: readonly number[]): Promise<FrameData[]> {
    const im = this.checkFrames(row, frames);
    const px = this.pixelOf(row);
    const ts = row.transfer_syntax;
    if (px?.encapsulated) {
      return Promise.all(
        frames.map(async (f) => {
          const ranges = px.frames?.[f - 1];
          if (!ranges) throw notFound(`frame ${f} is missing from the encapsulated pixel data`);
          return {
            transferSyntax: ts,
            data: Buffer.concat(await this.store.readRanges(row.file, ranges)),
          };
        }),
      );
    }
    const size = nativeFrameBytes(im);
    if (px && (ts === TS.ExplicitLE || ts === TS.ImplicitLE || ts === TS.ExplicitBE)) {
      const parts = await this.store.readRanges(
        row.file,
        frames.map((f) => [px.offset + (f - 1) * size, size] as const),
      );
      return parts.map((data) => ({
        transferSyntax: TS.ExplicitLE,
        data: ts === TS.ExplicitBE ? swapBytes(data, im.bitsAllocated) : data,
      }));
    }
    const all = nativePixelBytes(await this.store.read(row.file), ts, im.bitsAllocated);
    return frames.map((f) => ({
      transferSyntax: TS.ExplicitLE,
      data: all.subarray((f - 1) * size, f * size),
    }));
  }

  /** Frames as uncompressed little-endian stored values (decoding compressed data in the worker). */
  nativeFrames(row: InstanceRow, frames: readonly number[]): Promise<FrameData[]> {
    return this.#holding(row, () => this.#nativeFrames(row, frames));
  }

  async #nativeFrames(row: InstanceRow, frames: readonly number[]): Promise<FrameData[]> {
    if (NATIVE_TS.has(row.transfer_syntax)) return this.#storedFrames(row, frames);
    const im = this.checkFrames(row, frames);
    const decoded = await this.decodeAll(row, im);
    const size = (decoded.pixels.byteLength / im.numberOfFrames) | 0;
    return frames.map((f) => ({
      transferSyntax: TS.ExplicitLE,
      data: decoded.pixels.subarray((f - 1) * size, f * size),
    }));
  }

  private decodeAll(row: InstanceRow, im: ImageInfo) {
    // keyed by file version: a replaced instance never gets the old version's pixels
    return this.decoder.decode(row.file, {
      file: this.store.abs(row.file),
      bitsAllocated: im.bitsAllocated,
      pixelRepresentation: im.pixelRepresentation,
      rescaleSlope: im.rescaleSlope,
      rescaleIntercept: im.rescaleIntercept,
    });
  }

  /** The cache key (and ETag source) of a rendered frame: file version, frame, options. */
  renderedKey(row: InstanceRow, frame: number, opts: RenderOptions): string {
    return `${row.file}#${frame}#${opts.format}#${opts.quality ?? ''}#${opts.viewport?.width ?? ''}x${opts.viewport?.height ?? ''}#${opts.window ? `${opts.window.center},${opts.window.width},${opts.window.fn}` : ''}`;
  }

  /** One frame rendered to JPEG/PNG (PS3.18 §9.5), kept in `rendered`. */
  renderedFrame(row: InstanceRow, frame: number, opts: RenderOptions): Promise<Buffer> {
    return this.rendered.get(this.renderedKey(row, frame, opts), async () => {
      const im = this.checkFrames(row, [frame]);
      const [data] = await this.nativeFrames(row, [frame]);
      const compressed = !NATIVE_TS.has(row.transfer_syntax);
      const image =
        compressed && im.samplesPerPixel >= 3
          ? { ...im, photometric: 'RGB', planarConfiguration: 0 }
          : im;
      return renderFrame(data!.data, image, opts);
    });
  }

  /** The Part 10 bytes, as stored or rewritten as Explicit VR Little Endian. */
  part10(row: InstanceRow, asStored: boolean): Promise<Buffer> {
    return this.#holding(row, () => this.#part10(row, asStored));
  }

  async #part10(row: InstanceRow, asStored: boolean): Promise<Buffer> {
    const buf = await this.store.read(row.file);
    if (asStored || row.transfer_syntax === TS.ExplicitLE) return buf;
    if (NATIVE_TS.has(row.transfer_syntax) || !row.image) return rewriteExplicitLittle(buf);
    const im = this.imageOf(row);
    const decoded = await this.decodeAll(row, im);
    return rewriteExplicitLittle(buf, {
      pixels: decoded.pixels,
      photometric: decoded.components >= 3 ? 'RGB' : undefined,
    });
  }

  /** A bulk data value by tag path (`7FE00010`, `00420011`, `00540016.0.00181234`). */
  bulk(row: InstanceRow, tagPath: string): Promise<Buffer> {
    return this.#holding(row, () => this.#bulk(row, tagPath));
  }

  async #bulk(row: InstanceRow, tagPath: string): Promise<Buffer> {
    if (!/^[0-9A-Fa-f]{8}(\.\d+\.[0-9A-Fa-f]{8})*$/.test(tagPath))
      throw notFound(`no bulk data ${tagPath}`);
    const parts = tagPath.toUpperCase().split('.');
    if (parts.length === 1 && parts[0] === T.PixelData) {
      const px = this.pixelOf(row);
      if (px && !px.encapsulated) {
        const data = await this.store.readRange(row.file, px.offset, px.length);
        return row.transfer_syntax === TS.ExplicitBE
          ? Buffer.from(swapBytes(data, this.imageOf(row).bitsAllocated))
          : data;
      }
      if (px?.encapsulated)
        return Buffer.concat(await this.store.readRanges(row.file, (px.frames ?? []).flat()));
    }
    const { dict } = parseFull(await this.store.read(row.file));
    let cur: DcmDict | undefined = dict;
    let el: DcmDict[string] | undefined;
    for (let i = 0; i < parts.length; i += 2) {
      el = cur?.[parts[i]!];
      if (i + 1 < parts.length) cur = el?.Value?.[Number(parts[i + 1])] as DcmDict | undefined;
    }
    const values = (el?.Value ?? []).filter((v): v is ArrayBuffer => v instanceof ArrayBuffer);
    if (!el || values.length === 0)
      throw notFound(`no bulk data ${tagPath} in instance ${row.sop_uid}`);
    return Buffer.concat(values.map((v) => Buffer.from(v)));
  }

  /** Deletes instances' rows, then their files (once their readers finish). */
  // eslint-disable-next-line @typescript-eslint/require-await -- async by contract: callers await it, other storage backends do I/O here
  async delete(rows: readonly InstanceRow[]): Promise<number> {
    this.retire(this.catalog.deleteInstances(rows));
    return rows.length;
  }
}
