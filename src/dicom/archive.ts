/**
 * The archive service: ingest (parse, store, index), lookups, frames, Part 10 retrieval with
 * transfer-syntax handling, bulk data and deletion. HTTP handlers and the import command call
 * this; it never knows about HTTP.
 */
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
import { adoptTemp, DicomStore } from './store.js';
import { NATIVE_TS, T, TS } from './tags.js';
import { Decoder } from './transcode.js';

export interface IngestResult {
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  transferSyntax: string;
}

export interface IngestOptions {
  /** fsync files (default true). */
  durable?: boolean;
  /** Reject objects of another study (STOW-RS to /studies/{st}). */
  expectStudy?: string;
  /** The bytes already sit in this store temp file: move it instead of writing a copy. */
  tempFile?: string;
  /** Skip objects whose SOP Instance UID is already stored (import). */
  skipExisting?: boolean;
  /** With skipExisting: SOP Instance UIDs staged but not committed yet (also skipped). */
  pending?: Set<string>;
}

export interface Staged {
  record: InstanceRecord;
  result: IngestResult;
}

export interface FrameData {
  transferSyntax: string;
  data: Uint8Array;
}

export class Archive {
  readonly store: DicomStore;
  readonly catalog: Catalog;
  readonly decoder: Decoder;

  private constructor(store: DicomStore, catalog: Catalog, decoder: Decoder) {
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

  async close(): Promise<void> {
    await this.decoder.close();
    this.catalog.close();
  }

  /** Parses and validates a Part 10 object and builds its index record (no disk writes). */
  prepare(
    buf: Buffer,
    opts: IngestOptions = {},
  ): { parsed: ParsedInstance; record: Omit<InstanceRecord, 'file' | 'size'> } {
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

  /** Stores one object durably; returns undefined when skipped because it exists (`skipExisting`). */
  async ingest(buf: Buffer, opts: IngestOptions = {}): Promise<IngestResult | undefined> {
    const staged = await this.stage(buf, opts);
    if (!staged) return undefined;
    await this.commit([staged], opts.durable ?? true);
    return staged.result;
  }

  /**
   * First half of a batched ingest: validates the object and moves/writes its file into place
   * without fsync. Nothing is visible until `commit`.
   */
  async stage(buf: Buffer, opts: IngestOptions = {}): Promise<Staged | undefined> {
    const { parsed, record } = this.prepare(buf, opts);
    if (
      opts.skipExisting &&
      (opts.pending?.has(parsed.sopInstanceUid) || this.catalog.hasInstance(parsed.sopInstanceUid))
    )
      return undefined;
    opts.pending?.add(parsed.sopInstanceUid);
    const file = opts.tempFile
      ? await adoptTemp(this.store, opts.tempFile, parsed.studyUid, parsed.sopInstanceUid, false)
      : await this.store.write(parsed.studyUid, parsed.sopInstanceUid, buf, false);
    return {
      record: { ...record, file, size: buf.length },
      result: {
        sopClassUid: parsed.sopClassUid,
        sopInstanceUid: parsed.sopInstanceUid,
        studyUid: parsed.studyUid,
        seriesUid: parsed.seriesUid,
        transferSyntax: parsed.transferSyntax,
      },
    };
  }

  /** Second half: fsyncs the staged files (in parallel) and indexes them in one transaction. */
  async commit(staged: readonly Staged[], durable = true): Promise<void> {
    if (staged.length === 0) return;
    if (durable) await this.store.syncFiles(staged.map((s) => s.record.file));
    const orphans = this.catalog.upsert(staged.map((s) => s.record));
    const live = new Set(staged.map((s) => s.record.file));
    for (const o of orphans) if (!live.has(o)) await this.store.remove(o);
  }

  /** Bulk path (bench, big imports): many objects, one transaction, no fsync. */
  async ingestMany(bufs: readonly Buffer[]): Promise<number> {
    const prepared = bufs.map((buf) => ({ buf, ...this.prepare(buf) }));
    const records = new Array<InstanceRecord>(prepared.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < prepared.length; i = next++) {
        const { buf, parsed, record } = prepared[i]!;
        records[i] = {
          ...record,
          file: await this.store.write(parsed.studyUid, parsed.sopInstanceUid, buf, false),
          size: buf.length,
        };
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    this.catalog.upsert(records);
    return records.length;
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
  async storedFrames(row: InstanceRow, frames: readonly number[]): Promise<FrameData[]> {
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
  async nativeFrames(row: InstanceRow, frames: readonly number[]): Promise<FrameData[]> {
    if (NATIVE_TS.has(row.transfer_syntax)) return this.storedFrames(row, frames);
    const im = this.checkFrames(row, frames);
    const decoded = await this.decodeAll(row, im);
    const size = (decoded.pixels.byteLength / im.numberOfFrames) | 0;
    return frames.map((f) => ({
      transferSyntax: TS.ExplicitLE,
      data: decoded.pixels.subarray((f - 1) * size, f * size),
    }));
  }

  private decodeAll(row: InstanceRow, im: ImageInfo) {
    return this.decoder.decode(`${row.sop_uid}@${row.stored_at}`, {
      file: this.store.abs(row.file),
      bitsAllocated: im.bitsAllocated,
      pixelRepresentation: im.pixelRepresentation,
      rescaleSlope: im.rescaleSlope,
      rescaleIntercept: im.rescaleIntercept,
    });
  }

  /** The Part 10 bytes, as stored or rewritten as Explicit VR Little Endian. */
  async part10(row: InstanceRow, asStored: boolean): Promise<Buffer> {
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
  async bulk(row: InstanceRow, tagPath: string): Promise<Buffer> {
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

  /** Deletes instances' rows and files. */
  async delete(rows: readonly InstanceRow[]): Promise<number> {
    const files = this.catalog.deleteInstances(rows);
    for (const f of files) await this.store.remove(f);
    return rows.length;
  }
}
