/**
 * Scene persistence under `<data>/scene/`:
 *
 *   index.json                      the commit point: node order, ids, names, classes, parents,
 *                                   attributes, exact geometry, transforms, fiducials, id counters,
 *                                   active volume
 *   volumes/<id>-<generation>.nrrd  voxel data of volumes, grid transforms and segmentation
 *                                   labelmaps (NRRD, raw or gzip; a segmentation's segments and
 *                                   layers are in the index)
 *   volumes/<id>-<generation>.mesh  model surfaces: float32 positions, uint32 indices, then float32
 *                                   normals if any, little-endian; counts in the index
 *
 * Every file is written atomically (temp + fsync + rename + dir fsync). A changed volume goes to a
 * new file name, then the index is replaced, then files the index no longer names are deleted, so
 * a crash at any point leaves the previous or the next complete scene, never a mix. `flush()`
 * coalesces: callers that arrive while a write is queued share it, and a write never starts before
 * the changes of the callers waiting for it; HTTP handlers await it before replying, so an
 * acknowledged change is on disk. Other changes (e.g. samples at startup) are written after a
 * short debounce.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  decodeNrrdStream,
  NrrdDecoder,
  nrrdChunks,
  nrrdHeaderText,
  type DecodedNrrd,
  type NrrdDecoderOptions,
} from '../imaging/nrrd.js';
import type { Segment } from '../imaging/segmentation.js';
import type { ImageVolume, Mat3, Vec3 } from '../imaging/types.js';
import type { TriangleMesh } from '../imaging/mesh.js';
import { syncDir, writeFileAtomic } from '../util/atomic-write.js';
import type {
  FiducialNode,
  GridTransformNode,
  LinearTransformNode,
  ModelNode,
  Scene,
  SceneNode,
  SegmentationNode,
  VolumeNode,
} from './scene.js';

export interface SceneStoreOptions {
  /** Encoding of stored volume files (default raw: fastest; gzip saves disk). */
  encoding?: 'raw' | 'gzip';
  /** Milliseconds to wait before writing changes nobody awaits. */
  debounceMs?: number;
  /** Called with errors of background writes (they are retried on the next change). */
  onError?: (e: unknown) => void;
}

interface StoredGeometry {
  file: string;
  scalarType: ImageVolume['scalarType'];
  components: number;
  dimensions: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
}

interface StoredMesh {
  file: string;
  points: number;
  triangles: number;
  normals: boolean;
}

type StoredNode = Omit<SceneNode, 'volume' | 'grid' | 'segmentation' | 'mesh'> & {
  volume?: StoredGeometry;
  grid?: StoredGeometry;
  /** Segmentations: the labelmap file and the segments (metadata only). */
  labelmap?: StoredGeometry;
  segments?: Segment[];
  /** Models: the surface file and its counts. */
  mesh?: StoredMesh;
};

const fileOf = (s: StoredNode) => (s.volume ?? s.grid ?? s.labelmap ?? s.mesh)?.file;

interface StoredIndex {
  format: 'voxelgate-scene';
  version: 1;
  counters: Record<string, number>;
  activeVolumeId?: string;
  nodes: StoredNode[];
}

export const INDEX_FILE = 'index.json';

export class SceneStore {
  readonly dir: string;
  readonly #scene: Scene;
  readonly #opts: SceneStoreOptions;
  /** ImageVolume object → the file holding it, and the content version that file holds. */
  #files = new WeakMap<ImageVolume, { file: string; version: number }>();
  /** Mesh object → its file (meshes are replaced, never edited in place). */
  #meshFiles = new WeakMap<TriangleMesh, string>();
  /** Content version of volumes edited in place (`update(id, {})`); absent = 0. */
  #contentVersion = new WeakMap<ImageVolume, number>();
  #generation = 0;
  #chain: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #dirty = false;
  /** Files removed by recovery when the saved scene was loaded (unreferenced or temp). */
  #removedAtLoad: string[] = [];
  /** Staged files not yet named by a written index: cleanup must not remove them. */
  #protected = new Set<string>();

  constructor(scene: Scene, dataDir: string, opts: SceneStoreOptions = {}) {
    this.#scene = scene;
    this.dir = path.join(dataDir, 'scene');
    this.#opts = opts;
  }

  /** Loads the saved scene (if any) into the (empty) scene, then starts following changes. */
  async open(): Promise<{ loaded: number; existed: boolean; removed: string[] }> {
    await fsp.mkdir(path.join(this.dir, 'volumes'), { recursive: true });
    const loaded = await this.#load();
    this.#unsubscribe = this.#scene.onChange((change) => {
      this.#dirty = true;
      if (change.type === 'update' && change.fields?.length === 0) {
        // content edited in place: the stored file no longer matches
        for (const id of change.ids) {
          const n = this.#scene.byId(id);
          const v =
            n?.kind === 'volume'
              ? n.volume
              : n?.kind === 'gridTransform'
                ? n.grid
                : n?.kind === 'segmentation'
                  ? n.segmentation.labelmap
                  : undefined;
          if (v) this.#contentVersion.set(v, (this.#contentVersion.get(v) ?? 0) + 1);
        }
      }
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        // skipped when a flush (e.g. awaited by a request) already wrote every change
        if (this.#dirty) this.flush().catch((e: unknown) => this.#opts.onError?.(e));
      }, this.#opts.debounceMs ?? 200);
    });
    return { loaded: loaded ?? 0, existed: loaded !== undefined, removed: this.#removedAtLoad };
  }

  /** Writes the current scene; resolves once every change made before the call is durable. */
  flush(): Promise<void> {
    if (this.#queued) return this.#queued;
    const run = this.#chain.then(() => {
      this.#queued = undefined;
      return this.#write();
    });
    // The caller waits for the index only; removing the files it no longer names follows in the
    // chain, before the next write (timed inside a PUT: the flush took ~10 ms of which the index
    // write was 1.5–2 ms; the rest was the removal of the replaced 32 MB file, by difference).
    this.#queued = run.then(() => {});
    this.#chain = run
      .then(async (cleanup) => {
        await cleanup();
      })
      .catch(() => {});
    return this.#queued;
  }

  /** Stops following changes and writes what is pending. */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty) await this.flush();
    await this.#chain;
  }

  /** Writes the index (durable when this resolves); returns the clean-up of unreferenced files. */
  async #write(): Promise<() => Promise<unknown>> {
    this.#dirty = false;
    const nodes = this.#scene.nodes();
    const stored: StoredNode[] = [];
    for (const n of nodes) {
      if (n.kind === 'volume') {
        const { volume, ...rest } = n;
        stored.push({ ...rest, volume: await this.#volumeFile(n.id, volume, n.componentKind) });
      } else if (n.kind === 'gridTransform') {
        const { grid, ...rest } = n;
        stored.push({ ...rest, grid: await this.#volumeFile(n.id, grid, 'vector') });
      } else if (n.kind === 'model') {
        const { mesh, ...rest } = n;
        stored.push({ ...rest, mesh: await this.#meshFile(n.id, mesh) });
      } else if (n.kind === 'segmentation') {
        const { segmentation, ...rest } = n;
        stored.push({
          ...rest,
          labelmap: await this.#volumeFile(n.id, segmentation.labelmap, 'list'),
          segments: segmentation.segments,
        });
      } else stored.push(n);
    }
    const index: StoredIndex = {
      format: 'voxelgate-scene',
      version: 1,
      counters: this.#scene.idCounters(),
      activeVolumeId: this.#scene.activeVolumeId,
      nodes: stored,
    };
    await writeFileAtomic(path.join(this.dir, INDEX_FILE), JSON.stringify(index, null, 1));
    const referenced = new Set(stored.map(fileOf).filter((f): f is string => !!f));
    for (const f of referenced) this.#protected.delete(f);
    return () => this.#removeUnreferenced(new Set([...referenced, ...this.#protected]));
  }

  /** A new volume file name (unique; the index maps nodes to files). */
  #newFileName(id: string): string {
    return `volumes/${id}-${Date.now().toString(36)}${(++this.#generation).toString(36)}.nrrd`;
  }

  /**
   * Starts a volume file that is written while the data is still arriving (see `receiveNrrd`),
   * so that acknowledging an upload only costs an fsync. Only for raw storage.
   */
  stageVolumeFile(): StagedVolumeFile | undefined {
    if ((this.#opts.encoding ?? 'raw') !== 'raw') return undefined;
    const rel = this.#newFileName('upload');
    this.#protected.add(rel);
    return new StagedVolumeFile(
      this.dir,
      rel,
      (v) => this.#files.set(v, { file: rel, version: this.#contentVersion.get(v) ?? 0 }),
      () => this.#protected.delete(rel),
    );
  }

  async #volumeFile(
    id: string,
    v: ImageVolume,
    componentKind: string | undefined,
  ): Promise<StoredGeometry> {
    const version = this.#contentVersion.get(v) ?? 0;
    const known = this.#files.get(v);
    let file = known?.version === version ? known.file : undefined;
    if (!file) {
      file = this.#newFileName(id);
      const encoding = this.#opts.encoding ?? 'raw';
      await writeFileAtomic(path.join(this.dir, file), nrrdChunks(v, { encoding, componentKind }));
      this.#files.set(v, { file, version });
    }
    return {
      file,
      scalarType: v.scalarType,
      components: v.components,
      dimensions: v.dimensions,
      spacing: v.spacing,
      origin: v.origin,
      direction: v.direction,
    };
  }

  async #meshFile(id: string, m: TriangleMesh): Promise<StoredMesh> {
    let file = this.#meshFiles.get(m);
    if (!file) {
      file = this.#newFileName(id).replace(/\.nrrd$/, '.mesh');
      const part = (a: Float32Array | Uint32Array) =>
        new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      await writeFileAtomic(
        path.join(this.dir, file),
        Buffer.concat([
          part(m.positions),
          part(m.indices),
          ...(m.normals ? [part(m.normals)] : []),
        ]),
      );
      this.#meshFiles.set(m, file);
    }
    return {
      file,
      points: m.positions.length / 3,
      triangles: m.indices.length / 3,
      normals: m.normals !== undefined,
    };
  }

  async #readMesh(g: StoredMesh): Promise<TriangleMesh> {
    const full = path.join(this.dir, g.file);
    const buf = await fsp.readFile(full);
    const want = g.points * 12 + g.triangles * 12 + (g.normals ? g.points * 12 : 0);
    if (buf.length !== want)
      throw new Error(
        `${full} does not match the scene index (${buf.length} bytes, expected ${want})`,
      );
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const mesh: TriangleMesh = {
      positions: new Float32Array(ab, 0, g.points * 3),
      indices: new Uint32Array(ab, g.points * 12, g.triangles * 3),
      normals: g.normals
        ? new Float32Array(ab, g.points * 12 + g.triangles * 12, g.points * 3)
        : undefined,
    };
    this.#meshFiles.set(mesh, g.file);
    return mesh;
  }

  async #removeUnreferenced(keep: Set<string>): Promise<string[]> {
    const dir = path.join(this.dir, 'volumes');
    const removed: string[] = [];
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      const rel = `volumes/${name}`;
      // temp files belong to writes in progress (crash leftovers are removed at load)
      if (!keep.has(rel) && !name.startsWith('.')) {
        await fsp.rm(path.join(dir, name), { force: true });
        removed.push(rel);
      }
    }
    return removed;
  }

  /** Number of nodes loaded, or undefined when there is no saved scene yet. */
  async #load(): Promise<number | undefined> {
    const file = path.join(this.dir, INDEX_FILE);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // No scene committed yet: files a killed first write left behind are garbage too.
      this.#removedAtLoad = await this.#recover(new Set());
      return undefined;
    }
    let index: Partial<StoredIndex>;
    try {
      index = JSON.parse(text) as Partial<StoredIndex>;
    } catch (e) {
      throw new Error(
        `scene index ${file} is not valid JSON (${(e as Error).message}); move it away to start with an empty scene`,
      );
    }
    if (index.format !== 'voxelgate-scene' || !Array.isArray(index.nodes))
      throw new Error(`${file} is not a voxelgate scene index`);
    const pending: SceneNode[] = [];
    for (const s of index.nodes) {
      if (s.kind === 'volume' && s.volume) {
        const { volume: g, ...rest } = s as StoredNode & { kind: 'volume' };
        const volume = await this.#readVolume(g!);
        pending.push({ ...(rest as Omit<VolumeNode, 'volume'>), volume });
      } else if (s.kind === 'gridTransform' && s.grid) {
        const { grid: g, ...rest } = s as StoredNode & { kind: 'gridTransform' };
        pending.push({
          ...(rest as Omit<GridTransformNode, 'grid'>),
          grid: await this.#readVolume(g!),
        });
      } else if (s.kind === 'model' && s.mesh) {
        const { mesh: g, ...rest } = s as StoredNode & { kind: 'model' };
        pending.push({ ...(rest as Omit<ModelNode, 'mesh'>), mesh: await this.#readMesh(g!) });
      } else if (s.kind === 'segmentation' && s.labelmap) {
        const { labelmap: g, segments, ...rest } = s as StoredNode & { kind: 'segmentation' };
        pending.push({
          ...(rest as Omit<SegmentationNode, 'segmentation'>),
          segmentation: { labelmap: await this.#readVolume(g!), segments: segments ?? [] },
        });
      } else pending.push(s as LinearTransformNode | FiducialNode);
    }
    // Parents first would be required by `add`; add without parents, then set them.
    for (const n of pending) {
      const { parentTransformID: _p, ...rest } = n;
      this.#scene.add(rest);
    }
    for (const n of pending)
      if (n.parentTransformID) this.#scene.update(n.id, { parentTransformID: n.parentTransformID });
    this.#scene.restoreIdCounters(index.counters ?? {});
    if (index.activeVolumeId && this.#scene.byId(index.activeVolumeId))
      this.#scene.setActiveVolume(index.activeVolumeId);
    this.#removedAtLoad = await this.#recover(
      new Set(index.nodes.map(fileOf).filter((f): f is string => !!f)),
    );
    return pending.length;
  }

  /** Startup recovery: removes volume files the index does not name, and temp files. */
  async #recover(keep: Set<string>): Promise<string[]> {
    const removed = await this.#removeUnreferenced(keep);
    for (const d of [this.dir, path.join(this.dir, 'volumes')]) {
      for (const name of await fsp.readdir(d))
        if (name.endsWith('.tmp')) {
          await fsp.rm(path.join(d, name), { force: true });
          removed.push(path.relative(this.dir, path.join(d, name)));
        }
    }
    return removed;
  }

  async #readVolume(g: StoredGeometry): Promise<ImageVolume> {
    const full = path.join(this.dir, g.file);
    let volume: ImageVolume;
    try {
      ({ volume } = await decodeNrrdStream(createReadStream(full, { highWaterMark: 4 << 20 })));
    } catch (e) {
      throw new Error(
        `scene volume file ${full} cannot be read (${(e as Error).message}); restore it or move ${this.dir} away to start with an empty scene`,
      );
    }
    if (
      volume.scalarType !== g.scalarType ||
      volume.components !== g.components ||
      volume.dimensions.join() !== g.dimensions.join()
    ) {
      throw new Error(`${full} does not match the scene index (type, components or sizes differ)`);
    }
    // The index keeps the exact geometry (the NRRD's space directions round spacing × direction).
    volume.spacing = g.spacing;
    volume.origin = g.origin;
    volume.direction = g.direction;
    this.#files.set(volume, { file: g.file, version: 0 });
    return volume;
  }
}

/**
 * A volume file written in the background as voxel bytes settle: the header first, then the data
 * in order, flushed every few MB; `commit` waits for the writes, fsyncs the file and its folder
 * and registers it as the file of `volume`, so the next index write only references it.
 */
export class StagedVolumeFile {
  readonly #file: string;
  readonly #register: (v: ImageVolume) => void;
  readonly #release: () => void;
  #handle: Promise<fsp.FileHandle> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #error: unknown;
  #written = 0;
  #flushed = 0;
  /** Background flushes in progress. */
  readonly #flushes = new Set<Promise<void>>();

  constructor(dir: string, rel: string, register: (v: ImageVolume) => void, release: () => void) {
    // Written under its final (unique) name: no index refers to it until the index is committed,
    // and a file no index refers to is removed at the next start (`#recover`), so a crash leaves
    // nothing behind and the commit needs no rename.
    this.#file = path.join(dir, rel);
    this.#register = register;
    this.#release = release;
  }

  get started(): boolean {
    return this.#handle !== undefined;
  }

  /** Bytes of voxel data queued so far. */
  get written(): number {
    return this.#written;
  }

  start(headerText: string): void {
    const h = fsp.open(this.#file, 'wx');
    this.#handle = h;
    this.#queue(async () => (await h).write(Buffer.from(headerText, 'latin1')));
  }

  /** Queues the next bytes of voxel data (views into the final voxel memory). */
  append(bytes: Uint8Array): void {
    this.#written += bytes.byteLength;
    this.#queue(async () => {
      const h = await this.#handle!;
      for (let off = 0; off < bytes.byteLength;) {
        const { bytesWritten } = await h.write(bytes, off, bytes.byteLength - off);
        off += bytesWritten;
      }
    });
    // Flush to disk while the rest is still arriving, so the fsync before the reply only has the
    // tail left (the disk works while the network does; measured in `npm run bench -- nrrd`).
    // The flush runs beside the writes that follow it, not before them: writes queued behind
    // each flush left the chain 5–30 ms behind the body when it ended (timed inside PUTs).
    if (this.#written - this.#flushed >= FLUSH_EVERY) {
      this.#flushed = this.#written;
      const flushed = this.#chain.then(async () => {
        if (!this.#error) await (await this.#handle!).datasync();
      });
      this.#flushes.add(flushed);
      flushed
        .catch((e: unknown) => {
          this.#error ??= e;
        })
        .finally(() => this.#flushes.delete(flushed));
    }
  }

  #queue(f: () => Promise<unknown>): void {
    this.#chain = this.#chain
      .then(() => (this.#error ? undefined : f()))
      .catch((e: unknown) => {
        this.#error ??= e;
      });
  }

  async commit(volume: ImageVolume): Promise<void> {
    if (this.#written !== volume.data.byteLength)
      throw new Error(`staged ${this.#written} of ${volume.data.byteLength} bytes`);
    await this.#chain;
    await Promise.allSettled([...this.#flushes]);
    if (this.#error) {
      await this.abort();
      throw this.#error instanceof Error
        ? this.#error
        : new Error('writing the volume failed', { cause: this.#error });
    }
    const h = await this.#handle!;
    // The data (mostly flushed already) and the folder entry, at once.
    await Promise.all([h.datasync(), syncDir(path.dirname(this.#file))]);
    await h.close();
    this.#register(volume);
  }

  async abort(): Promise<void> {
    this.#release();
    await this.#chain;
    await Promise.allSettled([...this.#flushes]);
    if (this.#handle) {
      await (await this.#handle.catch(() => undefined))?.close().catch(() => {});
      await fsp.rm(this.#file, { force: true });
    }
  }
}

export interface ReceivedNrrd {
  decoded: DecodedNrrd;
  /** Makes the stored copy durable and registers it (no-op without a store); call after the node holds `decoded.volume`. */
  commit(): Promise<void>;
  /** Drops the stored copy (call when the volume is not used). */
  abort(): Promise<void>;
}

const STAGE_CHUNK = 4 << 20;
/** Bytes of a staged volume written between background flushes. */
const FLUSH_EVERY = 8 << 20;

/**
 * Decodes a NRRD body and, when a store is given, writes the store's copy of the voxel data while
 * the body is still arriving (raw storage, little-endian settled bytes); otherwise the store writes
 * it on the next flush.
 */
export async function receiveNrrd(
  chunks: AsyncIterable<Uint8Array>,
  opts: NrrdDecoderOptions & { store?: SceneStore },
): Promise<ReceivedNrrd> {
  const decoder = new NrrdDecoder(opts);
  const staged = opts.store?.stageVolumeFile();
  const pump = (final: boolean) => {
    if (!staged) return;
    const layout = decoder.layout;
    const bytes = decoder.voxelBytes;
    if (!layout || !bytes) return;
    if (!staged.started) {
      const shape = {
        scalarType: layout.scalarType,
        components: layout.components,
        dimensions: layout.dimensions,
        spacing: layout.spacing,
        origin: layout.origin,
        direction: layout.direction,
        data: new Uint8Array(0),
      } as unknown as ImageVolume;
      staged.start(
        nrrdHeaderText(shape, {
          encoding: 'raw',
          componentKind: layout.components > 1 ? layout.componentKind : undefined,
        }),
      );
    }
    const settled = final ? bytes.byteLength : decoder.settledBytes;
    const upTo = final ? settled : settled - (settled % STAGE_CHUNK);
    if (upTo > staged.written) staged.append(bytes.subarray(staged.written, upTo));
  };
  let decoded: DecodedNrrd;
  try {
    for await (const c of chunks) {
      await decoder.push(c);
      pump(false);
    }
    decoded = await decoder.end();
    pump(true);
  } catch (e) {
    await staged?.abort();
    throw e;
  }
  return {
    decoded,
    commit: () => (staged ? staged.commit(decoded.volume) : Promise.resolve()),
    abort: () => staged?.abort() ?? Promise.resolve(),
  };
}
