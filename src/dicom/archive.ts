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
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AppError, notFound } from '../errors.js';
import type {
  ArchiveCounts,
  Index,
  InstanceRecord,
  InstanceRef,
  PatientSummary,
  SearchResult,
} from './archive-index.js';
import { Catalog } from './catalog.js';

export { itemJson } from './archive-index.js';
export type { InstanceRef, SearchResult } from './archive-index.js';
import { instanceMetadata, levelAttributes, type DicomJson } from './dicom-json.js';
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
import type { QidoQuery } from './query.js';
import type { Level } from './tags.js';
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
    if (keep && (this.#seen.has(sop) || (await archive.catalog.hasInstance(sop)))) {
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

  /**
   * A writer for one object arriving in pieces (a STOW-RS part): held in memory up to
   * `IN_MEMORY_PART` bytes, then spilled to a temp file of the store; `finish` stages it as `add`.
   */
  part(): PartWriter {
    return new PartWriter(this, this.#archive.store);
  }

  /** Makes the staged files durable and indexes them in one transaction; then the session is empty again. */
  async commit(): Promise<void> {
    const records = [...this.#staged.values()];
    if (records.length === 0) return;
    try {
      const durable = this.#opts.durable ?? true;
      if (durable) await this.#archive.store.sync(records.map((r) => r.file));
      const { replaced, skipped } = await this.#archive.catalog.upsert(records, durable);
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

/** Where the archive lives (see `Archive.open`). */
export interface ArchiveLocation {
  /** The data folder (SQLite index and files under `<data>/dicom` by default). */
  data: string;
  /** A postgres:// URL for the PostgreSQL index. */
  index?: string;
  /** `fs` (default), `fs:DIR`, or `postgres`. */
  storage?: string;
}

/**
 * With an index shared by replicas: how long a replaced or deleted file version stays readable,
 * so that a request on another replica that read the old row just before finishes with the bytes
 * that row named (the reader lease only covers this process).
 */
export const SHARED_RETIRE_DELAY_MS = 60_000;

/** With a shared index, recovery removes unreferenced objects only once older than this. */
export const RECOVERY_GRACE_MS = 60 * 60 * 1000;

/** Parts up to this size are held in memory; bigger ones stream to a temp file. */
export const IN_MEMORY_PART = 16 * 1024 * 1024;

/** One object arriving in pieces (see `IngestSession.part`). */
export class PartWriter {
  readonly #session: IngestSession;
  readonly #store: StorageArea;
  #chunks: Buffer[] = [];
  #held = 0;
  #tmp: string | undefined;
  #handle: FileHandle | undefined;

  constructor(session: IngestSession, store: StorageArea) {
    this.#session = session;
    this.#store = store;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#handle) {
      await this.#handle.write(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#held += chunk.length;
    if (this.#held > IN_MEMORY_PART) {
      // A big part: spill to a temp file and stream the rest there.
      this.#tmp = this.#store.tempPath();
      this.#handle = await open(this.#tmp, 'wx');
      for (const c of this.#chunks) await this.#handle.write(c);
      this.#chunks = [];
    }
  }

  /** Stages the object (see `IngestSession.add`); the writer is spent afterwards. */
  async finish(): Promise<{ outcome: AddOutcome; result: IngestResult }> {
    const tmp = this.#tmp;
    this.#tmp = undefined;
    try {
      await this.#handle?.close();
      this.#handle = undefined;
      const buf = tmp ? await readFile(tmp) : Buffer.concat(this.#chunks);
      this.#chunks = [];
      return await this.#session.add(buf, tmp);
    } catch (e) {
      if (tmp) await this.#store.removeTemp(tmp);
      throw e;
    }
  }

  /** Drops what was received (an unwanted part, an aborted request). */
  async discard(): Promise<void> {
    this.#chunks = [];
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
    if (this.#tmp) await this.#store.removeTemp(this.#tmp);
    this.#tmp = undefined;
  }
}

/** Instances up to this size are read whole (through `Archive.files`) for their frames. */
const WHOLE_FILE_MAX = 4 * 1024 * 1024;

export class Archive {
  /** The storage backend (file system, PostgreSQL, memory: anything implementing StorageArea). */
  readonly store: StorageArea;
  /** The index (SQLite or PostgreSQL). Only src/dicom uses it; the rest calls Archive's methods. */
  readonly catalog: Index;
  readonly decoder: Decoder;
  /**
   * Rendered frames (JPEG/PNG) by file version, frame and options: a version's bytes never
   * change, so a kept image is always right, and a replaced instance gets a new key.
   */
  readonly rendered = new MemoCache<Buffer>({
    maxBytes: 64 * 1024 * 1024,
    sizeOf: (b) => b.length,
  });
  /**
   * Recently read instance files by stored version (a version's bytes never change, like
   * `rendered`): retrieving a hot instance skips the open/read/close round trips. Orthanc keeps
   * a storage cache of its own (MaximumStorageCacheSize). Callers never modify the buffers.
   */
  readonly files = new MemoCache<Buffer>({
    maxBytes: 64 * 1024 * 1024,
    sizeOf: (b) => b.length,
  });
  /** Stored [min, max] per file version and frame (immutable like `rendered`). */
  readonly #frameRanges = new MemoCache<[number, number]>({
    maxBytes: 1024 * 1024,
    sizeOf: () => 64, // a key and two numbers, roughly
  });
  /** Readers per file version (see `lease`). */
  readonly #readers = new Map<string, number>();
  /** Files no row names any more, deleted when their last reader finishes. */
  readonly #retired = new Set<string>();

  constructor(store: StorageArea, catalog: Index, decoder: Decoder) {
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

  /**
   * Opens the archive an `ArchiveLocation` names: SQLite + files under `<data>/dicom` by default;
   * a PostgreSQL index (schema migrated) with files under `<data>/dicom`, a shared folder, or in
   * the database. With a shared index, replaced/deleted files stay readable for a grace period
   * (other replicas' readers, see `retireDelayMs`).
   */
  static async open(where: string | ArchiveLocation): Promise<Archive> {
    const loc = typeof where === 'string' ? { data: where } : where;
    if (!loc.index && (loc.storage ?? 'fs') === 'fs') return Archive.openSync(loc.data);
    const storage = loc.storage ?? 'fs';
    const [{ PgIndex }, { PgStore }] = await Promise.all([
      import('./catalog-pg.js'),
      import('./store-pg.js'),
    ]);
    const index = loc.index ? await PgIndex.open(loc.index) : undefined;
    try {
      let store: StorageArea;
      if (storage === 'postgres') {
        if (!index)
          throw new AppError('bad_request', '--storage postgres needs a PostgreSQL --index');
        store = await PgStore.open(index.pool);
      } else {
        const fsStore = new DicomStore(
          storage.startsWith('fs:') ? storage.slice(3) : path.join(loc.data, 'dicom'),
        );
        fsStore.initSync();
        store = fsStore;
      }
      const catalog = index ?? new Catalog(path.join(loc.data, 'dicom', 'index.sqlite'));
      const archive = new Archive(store, catalog, new Decoder());
      if (index) archive.retireDelayMs = SHARED_RETIRE_DELAY_MS;
      return archive;
    } catch (e) {
      await index?.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.decoder.close();
    await this.catalog.close();
    await this.store.close?.();
  }

  /**
   * Startup recovery (a starting server, before it answers): removes temp files and files that no
   * index row names (staged by a request the crash cut short, or replaced versions whose deletion
   * did not happen). Returns the removed paths, relative to `<data>/dicom`.
   */
  async recover(): Promise<string[]> {
    const referenced = await this.catalog.allFiles();
    // A shared index: objects of sessions in flight on other replicas are young; keep those.
    return this.store.sweep((rel) => referenced.has(rel), {
      minAgeMs: this.catalog.kind === 'sqlite' ? 0 : RECOVERY_GRACE_MS,
    });
  }

  /** Starts an ingest transaction (see `IngestSession`). */
  session(opts: SessionOptions = {}): IngestSession {
    return new IngestSession(this, opts);
  }

  /** Content hash of the stored version of an instance (hashing the file for rows made before hashes). */
  async storedHash(sop: string): Promise<string | undefined> {
    const v = await this.catalog.version(sop);
    if (!v) return undefined;
    if (v.contentHash) return v.contentHash;
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
  lease(rows: readonly InstanceRef[]): () => void {
    const releases = rows.map((r) => this.#acquire(r.file));
    return () => {
      for (const r of releases) r();
    };
  }

  /** Files no row names any more: deleted now, or when their last reader finishes. */
  retire(files: readonly string[]): void {
    if (files.length === 0) return;
    // Decided on a later turn of the event loop: a reader that got a row from an index call that
    // resolved before the commit leases its file in the continuation of that call (a microtask),
    // so it holds the file by then. Other replicas' readers are covered by `retireDelayMs`.
    const run = () => {
      for (const f of files) {
        if (this.#readers.has(f)) this.#retired.add(f);
        else void this.store.remove(f).catch(() => {});
      }
    };
    if (this.retireDelayMs > 0) setTimeout(run, this.retireDelayMs).unref();
    else setImmediate(run);
  }

  /**
   * How long a file no row names any more stays readable (ms). 0 for one process; an index shared
   * by several replicas sets a grace period so that a reader on another replica that read the row
   * just before a replace or delete still finds the file (see docs/scaling.md).
   */
  retireDelayMs = 0;

  /** Runs `fn` holding the row's file (acquired synchronously, before `fn` starts). */
  async #holding<T>(row: InstanceRef, fn: () => Promise<T>): Promise<T> {
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

  async counts(): Promise<ArchiveCounts> {
    return this.catalog.counts();
  }

  async patients(): Promise<PatientSummary[]> {
    return this.catalog.patients();
  }

  async studyExists(study: string): Promise<boolean> {
    return this.catalog.studyExists(study);
  }

  /** The study that holds a series, or undefined. */
  async studyOfSeries(series: string): Promise<string | undefined> {
    return this.catalog.studyOfSeries(series);
  }

  /** An instance by its UIDs (series optional); not_found otherwise. */
  async instance(study: string, series: string | undefined, sop: string): Promise<InstanceRef> {
    const row = await this.catalog.instance(sop);
    if (row?.studyUid !== study || (series !== undefined && row.seriesUid !== series))
      throw notFound(`no instance ${sop} in ${series ? `series ${series} of ` : ''}study ${study}`);
    return row;
  }

  /** An instance by SOP Instance UID alone (WADO-URI), or undefined. */
  async findInstance(sop: string): Promise<InstanceRef | undefined> {
    return this.catalog.instance(sop);
  }

  /** The instances of a study or series, in a natural order; not_found when there are none. */
  async instances(study: string, series?: string): Promise<InstanceRef[]> {
    const rows = series
      ? await this.catalog.seriesInstances(study, series)
      : await this.catalog.studyInstances(study);
    if (rows.length === 0)
      throw notFound(series ? `no series ${series} in study ${study}` : `no study ${study}`);
    return rows;
  }

  /**
   * WADO-RS metadata: one DICOM JSON text per instance (BulkDataURIs with the placeholder base;
   * see `withBase`). not_found for an unknown study/series/instance.
   */
  async metadata(study: string, series?: string, sop?: string): Promise<string[]> {
    if (sop !== undefined) {
      await this.instance(study, series, sop);
      const m = await this.catalog.instanceMetadata(sop);
      if (m === undefined) throw notFound(`no instance ${sop} in study ${study}`);
      return [m];
    }
    const items = series
      ? await this.catalog.seriesMetadata(study, series)
      : await this.catalog.studyMetadata(study);
    if (items.length === 0)
      throw notFound(series ? `no series ${series} in study ${study}` : `no study ${study}`);
    return items;
  }

  /** The metadata of each row (same order; `{}` for a row deleted meanwhile). */
  async metadataOf(rows: readonly InstanceRef[]): Promise<DicomJson[]> {
    return Promise.all(
      rows.map(
        async (r) =>
          JSON.parse((await this.catalog.instanceMetadata(r.sopInstanceUid)) ?? '{}') as DicomJson,
      ),
    );
  }

  /** Metadata of an instance that stands for a study/series/instance (includefield extras). */
  representativeMetadata(
    study: string,
    series?: string,
    sop?: string,
  ): Promise<string | undefined> {
    return this.catalog.representativeMetadata(study, series, sop);
  }

  /** QIDO-RS search (filtering in the index). */
  search(
    level: Level,
    scope: { study?: string; series?: string },
    q: QidoQuery,
    defaultLimit: number,
  ): Promise<SearchResult> {
    return this.catalog.search(level, scope, q, defaultLimit);
  }

  imageOf(row: InstanceRef): ImageInfo {
    if (!row.image)
      throw new AppError('not_found', `instance ${row.sopInstanceUid} has no pixel data`);
    return JSON.parse(row.image) as ImageInfo;
  }

  private pixelOf(row: InstanceRef): PixelLocation | undefined {
    return row.pixel ? (JSON.parse(row.pixel) as PixelLocation) : undefined;
  }

  /** Checks 1-based frame numbers against the instance. */
  checkFrames(row: InstanceRef, frames: readonly number[]): ImageInfo {
    const im = this.imageOf(row);
    for (const f of frames) {
      if (f < 1 || f > im.numberOfFrames)
        throw notFound(
          `frame ${f} does not exist; instance ${row.sopInstanceUid} has ${im.numberOfFrames} frame(s)`,
        );
    }
    return im;
  }

  /** Frames as stored: native (little-endian) values or the compressed bitstreams. */
  storedFrames(row: InstanceRef, frames: readonly number[]): Promise<FrameData[]> {
    return this.#holding(row, () => this.#storedFrames(row, frames));
  }

  async #storedFrames(row: InstanceRef, frames: readonly number[]): Promise<FrameData[]> {
    const im = this.checkFrames(row, frames);
    const px = this.pixelOf(row);
    const ts = row.transferSyntax;
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
      const ranges = frames.map((f) => [px.offset + (f - 1) * size, size] as const);
      // A small instance (its frames are most of the file) is read whole through the file cache,
      // so a frame asked for again (viewers scroll back and forth) is a slice of memory; a big
      // multi-frame file is read by ranges.
      let parts: Buffer[];
      if (row.size <= WHOLE_FILE_MAX) {
        const whole = await this.#readFile(row.file);
        parts = ranges.map(([offset, length]) => whole.subarray(offset, offset + length));
      } else parts = await this.store.readRanges(row.file, ranges);
      return parts.map((data) => ({
        transferSyntax: TS.ExplicitLE,
        data: ts === TS.ExplicitBE ? swapBytes(data, im.bitsAllocated) : data,
      }));
    }
    const all = nativePixelBytes(await this.#readFile(row.file), ts, im.bitsAllocated);
    return frames.map((f) => ({
      transferSyntax: TS.ExplicitLE,
      data: all.subarray((f - 1) * size, f * size),
    }));
  }

  /** Frames as uncompressed little-endian stored values (decoding compressed data in the worker). */
  nativeFrames(row: InstanceRef, frames: readonly number[]): Promise<FrameData[]> {
    return this.#holding(row, () => this.#nativeFrames(row, frames));
  }

  async #nativeFrames(row: InstanceRef, frames: readonly number[]): Promise<FrameData[]> {
    if (NATIVE_TS.has(row.transferSyntax)) return this.#storedFrames(row, frames);
    const im = this.checkFrames(row, frames);
    const decoded = await this.decodeAll(row, im);
    const size = (decoded.pixels.byteLength / im.numberOfFrames) | 0;
    return frames.map((f) => ({
      transferSyntax: TS.ExplicitLE,
      data: decoded.pixels.subarray((f - 1) * size, f * size),
    }));
  }

  private async decodeAll(row: InstanceRef, im: ImageInfo) {
    const req = {
      bitsAllocated: im.bitsAllocated,
      pixelRepresentation: im.pixelRepresentation,
      rescaleSlope: im.rescaleSlope,
      rescaleIntercept: im.rescaleIntercept,
    };
    // Keyed by file version (never reused, on any replica): a replaced instance never gets the
    // old version's pixels, so the decoded-frame cache needs no invalidation.
    const local = this.store.localPath(row.file);
    if (local) return this.decoder.decode(row.file, { ...req, file: local });
    // A store without local files (PostgreSQL, memory): the decode worker reads a temp copy.
    const tmp = this.store.tempPath();
    try {
      await writeFile(tmp, await this.store.read(row.file), { flag: 'wx' });
      return await this.decoder.decode(row.file, { ...req, file: tmp });
    } finally {
      await this.store.removeTemp(tmp);
    }
  }

  /** The cache key (and ETag source) of a rendered frame: file version, frame, options. */
  renderedKey(row: InstanceRef, frame: number, opts: RenderOptions): string {
    return `${row.file}#${frame}#${opts.format}#${opts.quality ?? ''}#${opts.viewport?.width ?? ''}x${opts.viewport?.height ?? ''}#${opts.window ? `${opts.window.center},${opts.window.width},${opts.window.fn}` : ''}`;
  }

  /** One frame rendered to JPEG/PNG (PS3.18 §9.5), kept in `rendered`. */
  renderedFrame(row: InstanceRef, frame: number, opts: RenderOptions): Promise<Buffer> {
    return this.rendered.get(this.renderedKey(row, frame, opts), async () => {
      const im = this.checkFrames(row, [frame]);
      const [data] = await this.nativeFrames(row, [frame]);
      const compressed = !NATIVE_TS.has(row.transferSyntax);
      const image =
        compressed && im.samplesPerPixel >= 3
          ? { ...im, photometric: 'RGB', planarConfiguration: 0 }
          : im;
      // The stored range of this frame version, kept: a window dragged over one frame renders it
      // again and again, and the range pass was a third of the mapping's time.
      const key = `${row.file}#${frame}`;
      const known = { range: this.#frameRanges.peek(key) };
      const out = await renderFrame(data!.data, image, opts, undefined, known);
      if (known.range) this.#frameRanges.set(key, known.range);
      return out;
    });
  }

  /** The Part 10 bytes, as stored or rewritten as Explicit VR Little Endian. */
  part10(row: InstanceRef, asStored: boolean): Promise<Buffer> {
    return this.#holding(row, () => this.#part10(row, asStored));
  }

  /** An instance file version's bytes, through `files`. */
  #readFile(file: string): Promise<Buffer> {
    return this.files.get(file, () => this.store.read(file));
  }

  async #part10(row: InstanceRef, asStored: boolean): Promise<Buffer> {
    const buf = await this.#readFile(row.file);
    if (asStored || row.transferSyntax === TS.ExplicitLE) return buf;
    if (NATIVE_TS.has(row.transferSyntax) || !row.image) return rewriteExplicitLittle(buf);
    const im = this.imageOf(row);
    const decoded = await this.decodeAll(row, im);
    return rewriteExplicitLittle(buf, {
      pixels: decoded.pixels,
      photometric: decoded.components >= 3 ? 'RGB' : undefined,
    });
  }

  /** A bulk data value by tag path (`7FE00010`, `00420011`, `00540016.0.00181234`). */
  bulk(row: InstanceRef, tagPath: string): Promise<Buffer> {
    return this.#holding(row, () => this.#bulk(row, tagPath));
  }

  async #bulk(row: InstanceRef, tagPath: string): Promise<Buffer> {
    if (!/^[0-9A-Fa-f]{8}(\.\d+\.[0-9A-Fa-f]{8})*$/.test(tagPath))
      throw notFound(`no bulk data ${tagPath}`);
    const parts = tagPath.toUpperCase().split('.');
    if (parts.length === 1 && parts[0] === T.PixelData) {
      const px = this.pixelOf(row);
      if (px && !px.encapsulated) {
        const data = await this.store.readRange(row.file, px.offset, px.length);
        return row.transferSyntax === TS.ExplicitBE
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
      throw notFound(`no bulk data ${tagPath} in instance ${row.sopInstanceUid}`);
    return Buffer.concat(values.map((v) => Buffer.from(v)));
  }

  /** Deletes instances' rows, then their files (once their readers finish). */
  async delete(rows: readonly InstanceRef[]): Promise<number> {
    const files = await this.catalog.deleteInstances(rows);
    this.retire(files);
    return files.length;
  }
}
