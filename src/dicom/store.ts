/**
 * The storage area: the only module that touches DICOM files on disk, under `<data>/dicom/`.
 *
 * Every stored version of an instance gets a file name of its own, never reused:
 * `files/<ab>/<study hash>/<sop hash>.<version>.dcm` (one folder per study, names from hashes of
 * the UIDs, never from client input; `<version>` = time, a counter and the writer's process id).
 * A file is written under its final name before any index row names it, and the index row (see
 * `catalog.ts`) is the commit point: a file no row names is garbage after a crash (`sweep`). Since
 * no reader can reach a file before its row exists, and a replaced file is only deleted after the
 * row switched (and its readers finished, see `Archive`), a write never needs temp file + rename.
 *
 * `StorageArea` is what the archive needs from a storage backend (a PostgreSQL or object-store
 * twin implements the same methods); `DicomStore` is the file system one.
 */
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  promises as fsp,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { syncDir } from '../util/atomic-write.js';
import { promiseTry } from '../util/promise.js';

export interface StorageArea {
  /** `fs`, `postgres` or `memory` (logs). */
  readonly kind: string;
  /** A new, never used name for a version of an instance's object (not created yet). */
  newVersion(studyUid: string, sopInstanceUid: string): string;
  /** Creates `rel` with these bytes (not durable until `sync`). Never overwrites. */
  write(rel: string, bytes: Uint8Array): Promise<void>;
  /** Moves a finished temp file (from `tempPath`) to `rel` (not durable until `sync`). */
  adopt(tmp: string, rel: string): Promise<void>;
  /** Makes the named objects durable (file data and the folder entries naming them). */
  sync(rels: readonly string[]): Promise<void>;
  /** The whole object; rejects (ENOENT) when it does not exist. */
  read(rel: string): Promise<Buffer>;
  readRange(rel: string, offset: number, length: number): Promise<Buffer>;
  /** Several byte ranges of one object ([offset, length] each), in order. */
  readRanges(rel: string, ranges: ReadonlyArray<readonly [number, number]>): Promise<Buffer[]>;
  /** A local file path holding the object, for readers that need one (the decode worker); undefined when objects are not files. */
  localPath(rel: string): string | undefined;
  remove(rel: string): Promise<void>;
  /** A fresh local temp file path (this process owns it) for spilling an upload into. */
  tempPath(): string;
  removeTemp(file: string): Promise<void>;
  /**
   * Startup recovery (list-for-recovery): removes temp files and objects that `isReferenced` says
   * no index row names, except those owned by another live writer. Returns what was removed.
   */
  sweep(isReferenced: (rel: string) => boolean, opts?: SweepOptions): Promise<string[]>;
  close?(): Promise<void>;
}

export interface SweepOptions {
  /**
   * Keep unreferenced objects younger than this (ms): with an index shared by replicas another
   * process (on another host, whose liveness cannot be checked) may be about to commit them.
   */
  minAgeMs?: number;
}

/** Owner tag in temp and version names: this process's id (base 36). */
const OWNER = process.pid.toString(36);
let counter = 0;

/** Whether the process that wrote a name (owner tag) is still running (and is not us). */
function ownerAlive(owner: string | undefined): boolean {
  if (!owner) return false;
  const pid = parseInt(owner, 36);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `<sop hash>.<time><counter>-<owner>.dcm` → owner; legacy `<sop hash>.dcm` → undefined. */
const VERSION_NAME = /^[0-9a-f]{40}\.[0-9a-z]+-([0-9a-z]+)\.dcm$/;
const TEMP_NAME = /^p([0-9a-z]+)-[0-9a-f]+\.tmp$/;

export class DicomStore implements StorageArea {
  readonly kind = 'fs';
  readonly root: string;
  readonly tmpDir: string;
  /** Folders known to exist (saves a mkdir per file on bulk writes). */
  private dirs = new Set<string>();
  /** Folders created since the last `sync`: their parents' entries must be made durable too. */
  private newDirs = new Set<string>();

  constructor(root: string) {
    this.root = root;
    this.tmpDir = path.join(root, 'tmp');
  }

  /** Creates the folders (no cleanup: that is `sweep`, run once by a starting server). */
  initSync(): void {
    mkdirSync(path.join(this.root, 'files'), { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  newVersion(studyUid: string, sopInstanceUid: string): string {
    const st = createHash('sha1').update(studyUid).digest('hex');
    const h = createHash('sha1').update(sopInstanceUid).digest('hex');
    const version = `${Date.now().toString(36)}${(counter++ % 1296).toString(36).padStart(2, '0')}-${OWNER}`;
    return `files/${st.slice(0, 2)}/${st.slice(2, 20)}/${h}.${version}.dcm`;
  }

  abs(rel: string): string {
    return path.join(this.root, rel);
  }

  localPath(rel: string): string {
    return this.abs(rel);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first) {
      // every folder from `first` down to `dir` is new
      for (let d = dir; d.length >= first.length; d = path.dirname(d)) this.newDirs.add(d);
    }
    this.dirs.add(dir);
  }

  async write(rel: string, bytes: Uint8Array): Promise<void> {
    const file = this.abs(rel);
    await this.ensureDir(path.dirname(file));
    // 'wx': a version name is never reused; failing loudly beats overwriting a committed file.
    await fsp.writeFile(file, bytes, { flag: 'wx' });
  }

  async adopt(tmp: string, rel: string): Promise<void> {
    const file = this.abs(rel);
    await this.ensureDir(path.dirname(file));
    await fsp.rename(tmp, file);
  }

  /** fdatasyncs files (in parallel, so the file system can merge journal commits), then folders. */
  async sync(rels: readonly string[]): Promise<void> {
    const unique = [...new Set(rels)];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < unique.length; i = next++) {
        const h = await fsp.open(this.abs(unique[i]!), 'r');
        try {
          await h.datasync();
        } finally {
          await h.close();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, unique.length) }, worker));
    const dirs = new Set(unique.map((r) => path.dirname(this.abs(r))));
    for (const d of this.newDirs) dirs.add(path.dirname(d));
    this.newDirs.clear();
    await Promise.all([...dirs].map((d) => syncDir(d)));
  }

  tempPath(): string {
    return path.join(this.tmpDir, `p${OWNER}-${randomBytes(6).toString('hex')}.tmp`);
  }

  async removeTemp(file: string): Promise<void> {
    if (path.dirname(file) === this.tmpDir) await fsp.rm(file, { force: true });
  }

  async read(rel: string): Promise<Buffer> {
    return fsp.readFile(this.abs(rel));
  }

  /** Reads `length` bytes at `offset`. */
  async readRange(rel: string, offset: number, length: number): Promise<Buffer> {
    return (await this.readRanges(rel, [[offset, length]]))[0]!;
  }

  /** Reads several ranges of one file with one open. */
  async readRanges(
    rel: string,
    ranges: ReadonlyArray<readonly [number, number]>,
  ): Promise<Buffer[]> {
    const h = await fsp.open(this.abs(rel), 'r');
    try {
      const out: Buffer[] = [];
      for (const [offset, length] of ranges) {
        const buf = Buffer.allocUnsafe(length);
        const { bytesRead } = await h.read(buf, 0, length, offset);
        out.push(bytesRead === length ? buf : buf.subarray(0, bytesRead));
      }
      return out;
    } finally {
      await h.close();
    }
  }

  stream(rel: string): NodeJS.ReadableStream {
    return createReadStream(this.abs(rel));
  }

  async size(rel: string): Promise<number> {
    return (await fsp.stat(this.abs(rel))).size;
  }

  async remove(rel: string): Promise<void> {
    await fsp.rm(this.abs(rel), { force: true });
  }

  sweep(isReferenced: (rel: string) => boolean, opts: SweepOptions = {}): Promise<string[]> {
    return promiseTry(() => this.#sweep(isReferenced, opts));
  }

  /** The sweep itself, synchronous (readdirSync/statSync/rmSync: startup recovery, see archive.ts). */
  #sweep(isReferenced: (rel: string) => boolean, opts: SweepOptions): string[] {
    const removed: string[] = [];
    const minAge = opts.minAgeMs ?? 0;
    const young = (abs: string) =>
      minAge > 0 && Date.now() - (statSync(abs, { throwIfNoEntry: false })?.mtimeMs ?? 0) < minAge;
    const rm = (abs: string) => {
      try {
        rmSync(abs, { force: true });
        removed.push(path.relative(this.root, abs));
      } catch {
        /* raced with its owner */
      }
    };
    for (const f of readdirSync(this.tmpDir)) {
      if (!ownerAlive(TEMP_NAME.exec(f)?.[1])) rm(path.join(this.tmpDir, f));
    }
    // files/<ab>/<study>/<name>: temp leftovers of any writer, and objects no row names.
    const filesDir = path.join(this.root, 'files');
    const walk = (dir: string, depth: number) => {
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        return;
      }
      for (const e of entries) {
        const abs = path.join(dir, e);
        if (depth < 2) {
          if (statSync(abs, { throwIfNoEntry: false })?.isDirectory()) walk(abs, depth + 1);
          else if (e.endsWith('.tmp')) rm(abs);
          continue;
        }
        const rel = `files/${path.relative(filesDir, abs).split(path.sep).join('/')}`;
        if (e.endsWith('.tmp')) rm(abs);
        else if (!isReferenced(rel) && !ownerAlive(VERSION_NAME.exec(e)?.[1]) && !young(abs))
          rm(abs);
      }
    };
    walk(filesDir, 0);
    return removed;
  }
}
