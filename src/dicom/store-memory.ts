/**
 * The in-memory twin of the storage area (tests; Orthanc's MemoryStorageArea): same contract as
 * the file system and PostgreSQL ones, nothing durable.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StorageArea } from './store.js';
import { DicomStore } from './store.js';
import { promiseTry } from '../util/promise.js';

export class MemoryStore implements StorageArea {
  readonly kind = 'memory';
  readonly objects = new Map<string, Buffer>();
  readonly #names = new DicomStore(os.tmpdir());

  newVersion(studyUid: string, sopInstanceUid: string): string {
    return this.#names.newVersion(studyUid, sopInstanceUid);
  }

  write(rel: string, bytes: Uint8Array): Promise<void> {
    return promiseTry(() => {
      if (this.objects.has(rel)) throw new Error(`EEXIST: ${rel}`);
      this.objects.set(rel, Buffer.from(bytes));
    });
  }

  async adopt(tmp: string, rel: string): Promise<void> {
    await this.write(rel, await readFile(tmp));
    await rm(tmp, { force: true });
  }

  /** Nothing to do: nothing is durable. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  read(rel: string): Promise<Buffer> {
    return promiseTry(() => {
      const b = this.objects.get(rel);
      if (!b) throw Object.assign(new Error(`ENOENT: ${rel}`), { code: 'ENOENT' });
      return b;
    });
  }

  async readRange(rel: string, offset: number, length: number): Promise<Buffer> {
    return (await this.read(rel)).subarray(offset, offset + length);
  }

  async readRanges(
    rel: string,
    ranges: ReadonlyArray<readonly [number, number]>,
  ): Promise<Buffer[]> {
    const b = await this.read(rel);
    return ranges.map(([o, l]) => b.subarray(o, o + l));
  }

  localPath(): undefined {
    return undefined;
  }

  remove(rel: string): Promise<void> {
    this.objects.delete(rel);
    return Promise.resolve();
  }

  tempPath(): string {
    return path.join(
      os.tmpdir(),
      `voxelgate-m${process.pid.toString(36)}-${randomBytes(6).toString('hex')}.tmp`,
    );
  }

  async removeTemp(file: string): Promise<void> {
    if (path.basename(file).startsWith('voxelgate-m')) await rm(file, { force: true });
  }

  sweep(isReferenced: (rel: string) => boolean): Promise<string[]> {
    // promiseTry: a throwing isReferenced rejects, as in the other stores.
    return promiseTry(() => {
      const gone = [...this.objects.keys()].filter((k) => !isReferenced(k));
      for (const k of gone) this.objects.delete(k);
      return gone;
    });
  }
}
