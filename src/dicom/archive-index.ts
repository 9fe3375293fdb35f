/**
 * The archive's index contract: what `Archive` needs from a catalog of studies, series and
 * instances, whatever engine keeps it (SQLite in `catalog.ts`, the embedded default; PostgreSQL in
 * `catalog-pg.ts` for several replicas on one database). Records are camelCase; no SQL row shape
 * leaves an implementation.
 *
 * The instance row is the archive's commit point (docs/dicomweb.md "Integrity and durability"):
 * `upsert` switches every row of one ingest session in ONE transaction, and a file version is
 * visible exactly when a row names it.
 *
 * Only `src/dicom` imports this module's implementations; the rest of the code goes through
 * `Archive` (archive.ts).
 */
import type { DicomJson } from './dicom-json.js';
import type { ImageInfo, PixelLocation } from './part10.js';
import type { QidoQuery } from './query.js';
import type { Level } from './tags.js';

/** What an ingest session commits for one instance. */
export interface InstanceRecord {
  sopInstanceUid: string;
  seriesUid: string;
  studyUid: string;
  sopClassUid: string;
  transferSyntax: string;
  /** The storage area's name of this version of the object. */
  file: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the file's bytes (hex). */
  contentHash: string;
  /** When an instance with this SOP Instance UID exists at commit time: replace it, or keep it (and skip this record). */
  existing?: 'replace' | 'keep';
  image?: ImageInfo;
  pixel?: PixelLocation;
  /** Full metadata JSON text (BulkDataURIs with the placeholder base). */
  metadata: string;
  studyAttrs: DicomJson;
  seriesAttrs: DicomJson;
  instanceAttrs: DicomJson;
}

/** An indexed instance as readers see it (the version its row names). */
export interface InstanceRef {
  sopInstanceUid: string;
  seriesUid: string;
  studyUid: string;
  sopClassUid: string;
  transferSyntax: string;
  /** The storage area's name of the stored version. */
  file: string;
  /** Bytes. */
  size: number;
  numberOfFrames: number | null;
  /** ImageInfo as JSON text, or null without pixel data. */
  image: string | null;
  /** PixelLocation as JSON text. */
  pixel: string | null;
  /** Commit time (ms since the epoch). */
  storedAt: number;
}

/** The stored version of an instance. */
export interface VersionRef {
  file: string;
  size: number;
  /** Null for rows made before content hashes (compare bytes then). */
  contentHash: string | null;
}

export interface SearchItem {
  study: string;
  series?: string;
  sop?: string;
  /** The dataset as JSON text (study level: serialized without parsing, for speed) … */
  text?: string;
  /** … or as an object (other levels, or once parsed with `itemJson`). */
  json?: DicomJson;
}

/** The item's dataset as an object (parsed on first use). */
export function itemJson(it: SearchItem): DicomJson {
  return (it.json ??= JSON.parse(it.text!) as DicomJson);
}

export interface SearchResult {
  /** One dataset per match (level attributes plus computed ones, without RetrieveURL). */
  items: SearchItem[];
  /** Matches beyond offset+limit, when the result was cut. */
  remaining: number;
}

export interface PatientSummary {
  patientId: string | null;
  patientName: string | null;
  numStudies: number;
  numInstances: number;
}

export interface ArchiveCounts {
  studies: number;
  series: number;
  instances: number;
}

export interface Index {
  /** `sqlite` or `postgres` (logs, /dicom status). */
  readonly kind: string;
  close(): Promise<void>;
  counts(): Promise<ArchiveCounts>;
  patients(): Promise<PatientSummary[]>;
  hasInstance(sop: string): Promise<boolean>;
  version(sop: string): Promise<VersionRef | undefined>;
  /** Every file an instance row names (startup recovery). */
  allFiles(): Promise<Set<string>>;
  /**
   * Inserts or replaces instances in ONE transaction and refreshes the counters of every touched
   * series and study. Returns the files no row names any more: those of replaced instances
   * (`replaced`) and those of records skipped because their instance exists (`existing: 'keep'`).
   * `durable`: the commit is on stable storage when this resolves.
   */
  upsert(
    records: readonly InstanceRecord[],
    durable: boolean,
  ): Promise<{ replaced: string[]; skipped: string[] }>;
  instance(sop: string): Promise<InstanceRef | undefined>;
  instanceMetadata(sop: string): Promise<string | undefined>;
  seriesMetadata(study: string, series: string): Promise<string[]>;
  studyMetadata(study: string): Promise<string[]>;
  seriesInstances(study: string, series: string): Promise<InstanceRef[]>;
  studyInstances(study: string): Promise<InstanceRef[]>;
  studyExists(study: string): Promise<boolean>;
  /** The study that holds a series, or undefined when the archive has no such series. */
  studyOfSeries(series: string): Promise<string | undefined>;
  /** Instances in SOP Instance UID order after `after` (keyset pages: migration, audits). */
  instancesPage(after: string | undefined, limit: number): Promise<InstanceRef[]>;
  /**
   * Removes these instance rows (and empty series/studies) in one transaction; returns the files
   * the removed rows named (only rows that still named the same file: a concurrent replace wins).
   */
  deleteInstances(rows: readonly InstanceRef[]): Promise<string[]>;
  /** Metadata of an instance that stands for a study/series/instance (includefield extras). */
  representativeMetadata(study: string, series?: string, sop?: string): Promise<string | undefined>;
  /** QIDO search; `scope` pins parent UIDs from the path. */
  search(
    level: Level,
    scope: { study?: string; series?: string },
    q: QidoQuery,
    defaultLimit: number,
  ): Promise<SearchResult>;
}
