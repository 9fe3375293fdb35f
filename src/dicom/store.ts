/**
 * The storage area: the only module that touches DICOM files on disk, under `<data>/dicom/`.
 * Files live in one folder per study, named by hashes of the UIDs
 * (`files/<ab>/<study hash>/<sop hash>.dcm`), so paths never come from client input. Writes are atomic (temp file + rename); `durable` adds fsyncs.
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
import { syncDir, writeFileAtomic } from '../util/atomic-write.js';

export class DicomStore {
  readonly root: string;
  readonly tmpDir: string;
  /** Folders known to exist (saves a mkdir per file on bulk writes). */
  private dirs = new Set<string>();

  constructor(root: string) {
    this.root = root;
    this.tmpDir = path.join(root, 'tmp');
  }

  /**
   * Creates the folders. Temp files older than an hour are removed (younger ones may belong to
   * an upload or import running in another process on the same data folder).
   */
  initSync(): void {
    mkdirSync(path.join(this.root, 'files'), { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
    const cutoff = Date.now() - 3600_000;
    for (const f of readdirSync(this.tmpDir)) {
      const p = path.join(this.tmpDir, f);
      try {
        if (statSync(p).mtimeMs < cutoff) rmSync(p, { force: true });
      } catch {
        /* raced with its owner */
      }
    }
  }

  /**
   * Relative path of an instance's file: one folder per study (so a STOW or import batch of one
   * study fsyncs one folder), files named by hashes, never by client input.
   */
  relPathFor(studyUid: string, sopInstanceUid: string): string {
    const st = createHash('sha1').update(studyUid).digest('hex');
    const h = createHash('sha1').update(sopInstanceUid).digest('hex');
    return `files/${st.slice(0, 2)}/${st.slice(2, 20)}/${h}.dcm`;
  }

  abs(rel: string): string {
    return path.join(this.root, rel);
  }

  /** Writes an instance atomically; `durable` fsyncs file and folder (STOW, import). */
  async write(
    studyUid: string,
    sopInstanceUid: string,
    bytes: Uint8Array,
    durable = true,
  ): Promise<string> {
    const rel = this.relPathFor(studyUid, sopInstanceUid);
    const file = this.abs(rel);
    if (durable) await writeFileAtomic(file, bytes);
    else {
      const dir = path.dirname(file);
      if (!this.dirs.has(dir)) {
        await fsp.mkdir(dir, { recursive: true });
        this.dirs.add(dir);
      }
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await fsp.writeFile(tmp, bytes);
      await fsp.rename(tmp, file);
    }
    return rel;
  }

  /** fsyncs files (in parallel, so the file system can merge journal commits) and their folders. */
  async syncFiles(rels: readonly string[]): Promise<void> {
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
    await Promise.all(
      [...new Set(unique.map((r) => path.dirname(this.abs(r))))].map((d) => syncDir(d)),
    );
  }

  /** A fresh temp file path for streaming an upload part into (same file system as the store). */
  tempPath(): string {
    return path.join(this.tmpDir, `part-${Date.now()}-${randomBytes(6).toString('hex')}.tmp`);
  }

  async removeTemp(file: string): Promise<void> {
    if (path.dirname(file) === this.tmpDir) await fsp.rm(file, { force: true });
  }

  async read(rel: string): Promise<Buffer> {
    return fsp.readFile(this.abs(rel));
  }

  /** Reads `length` bytes at `offset`. */
  async readRange(rel: string, offset: number, length: number): Promise<Buffer> {
    const h = await fsp.open(this.abs(rel), 'r');
    try {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await h.read(buf, 0, length, offset);
      return bytesRead === length ? buf : buf.subarray(0, bytesRead);
    } finally {
      await h.close();
    }
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
}

/** Moves a finished temp file into place as the instance's file (no copy). */
export async function adoptTemp(
  store: DicomStore,
  tmp: string,
  studyUid: string,
  sopInstanceUid: string,
  durable = true,
): Promise<string> {
  const rel = store.relPathFor(studyUid, sopInstanceUid);
  const file = store.abs(rel);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  if (durable) {
    const h = await fsp.open(tmp, 'r+');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }
  await fsp.rename(tmp, file);
  return rel;
}
