/**
 * Scene persistence under `<data>/scene/`:
 *
 *   index.json                      the commit point: node order, ids, names, classes, parents,
 *                                   attributes, exact geometry, transforms, fiducials, id counters,
 *                                   active volume
 *   volumes/<id>-<generation>.nrrd  voxel data of volumes and grid transforms (NRRD, raw or gzip)
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
import { decodeNrrdStream, nrrdChunks } from '../imaging/nrrd.js';
import type { ImageVolume, Mat3, Vec3 } from '../imaging/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { FiducialNode, GridTransformNode, LinearTransformNode, Scene, SceneNode, VolumeNode } from './scene.js';

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

type StoredNode = Omit<SceneNode, 'volume' | 'grid'> & { volume?: StoredGeometry; grid?: StoredGeometry };

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
  /** ImageVolume object → the file holding exactly it (data is replaced by a new object, never mutated). */
  #files = new WeakMap<ImageVolume, string>();
  #generation = 0;
  #chain: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #dirty = false;

  constructor(scene: Scene, dataDir: string, opts: SceneStoreOptions = {}) {
    this.#scene = scene;
    this.dir = path.join(dataDir, 'scene');
    this.#opts = opts;
  }

  /** Loads the saved scene (if any) into the (empty) scene, then starts following changes. */
  async open(): Promise<{ loaded: number; existed: boolean }> {
    await fsp.mkdir(path.join(this.dir, 'volumes'), { recursive: true });
    const loaded = await this.#load();
    this.#unsubscribe = this.#scene.onChange(() => {
      this.#dirty = true;
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.flush().catch((e) => this.#opts.onError?.(e));
      }, this.#opts.debounceMs ?? 200);
    });
    return { loaded: loaded ?? 0, existed: loaded !== undefined };
  }

  /** Writes the current scene; resolves once every change made before the call is durable. */
  flush(): Promise<void> {
    if (this.#queued) return this.#queued;
    const run = this.#chain.then(() => {
      this.#queued = undefined;
      return this.#write();
    });
    this.#queued = run;
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Stops following changes and writes what is pending. */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty) await this.flush();
    await this.#chain;
  }

  async #write(): Promise<void> {
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
    await this.#removeUnreferenced(new Set(stored.map((s) => (s.volume ?? s.grid)?.file).filter((f): f is string => !!f)));
  }

  async #volumeFile(id: string, v: ImageVolume, componentKind: string | undefined): Promise<StoredGeometry> {
    let file = this.#files.get(v);
    if (!file) {
      file = `volumes/${id}-${Date.now().toString(36)}${(++this.#generation).toString(36)}.nrrd`;
      const encoding = this.#opts.encoding ?? 'raw';
      await writeFileAtomic(path.join(this.dir, file), nrrdChunks(v, { encoding, componentKind }));
      this.#files.set(v, file);
    }
    return { file, scalarType: v.scalarType, components: v.components, dimensions: v.dimensions, spacing: v.spacing, origin: v.origin, direction: v.direction };
  }

  async #removeUnreferenced(keep: Set<string>): Promise<void> {
    const dir = path.join(this.dir, 'volumes');
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      const rel = `volumes/${name}`;
      if (!keep.has(rel)) await fsp.rm(path.join(dir, name), { force: true });
    }
  }

  /** Number of nodes loaded, or undefined when there is no saved scene yet. */
  async #load(): Promise<number | undefined> {
    const file = path.join(this.dir, INDEX_FILE);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    let index: StoredIndex;
    try {
      index = JSON.parse(text) as StoredIndex;
    } catch (e) {
      throw new Error(`scene index ${file} is not valid JSON (${(e as Error).message}); move it away to start with an empty scene`);
    }
    if (index.format !== 'voxelgate-scene' || !Array.isArray(index.nodes)) throw new Error(`${file} is not a voxelgate scene index`);
    const pending: SceneNode[] = [];
    for (const s of index.nodes) {
      if (s.kind === 'volume' && s.volume) {
        const { volume: g, ...rest } = s as StoredNode & { kind: 'volume' };
        const volume = await this.#readVolume(g!);
        pending.push({ ...(rest as Omit<VolumeNode, 'volume'>), volume });
      } else if (s.kind === 'gridTransform' && s.grid) {
        const { grid: g, ...rest } = s as StoredNode & { kind: 'gridTransform' };
        pending.push({ ...(rest as Omit<GridTransformNode, 'grid'>), grid: await this.#readVolume(g!) });
      } else pending.push(s as LinearTransformNode | FiducialNode);
    }
    // Parents first would be required by `add`; add without parents, then set them.
    for (const n of pending) {
      const { parentTransformID: _p, ...rest } = n;
      this.#scene.add(rest as SceneNode);
    }
    for (const n of pending) if (n.parentTransformID) this.#scene.update(n.id, { parentTransformID: n.parentTransformID });
    this.#scene.restoreIdCounters(index.counters ?? {});
    if (index.activeVolumeId && this.#scene.byId(index.activeVolumeId)) this.#scene.setActiveVolume(index.activeVolumeId);
    await this.#removeUnreferenced(new Set(index.nodes.map((s) => (s.volume ?? s.grid)?.file).filter((f): f is string => !!f)));
    for (const name of await fsp.readdir(this.dir)) if (name.endsWith('.tmp')) await fsp.rm(path.join(this.dir, name), { force: true });
    return pending.length;
  }

  async #readVolume(g: StoredGeometry): Promise<ImageVolume> {
    const full = path.join(this.dir, g.file);
    const { volume } = await decodeNrrdStream(createReadStream(full, { highWaterMark: 4 << 20 }));
    if (volume.scalarType !== g.scalarType || volume.components !== g.components || volume.dimensions.join() !== g.dimensions.join()) {
      throw new Error(`${full} does not match the scene index (type, components or sizes differ)`);
    }
    // The index keeps the exact geometry (the NRRD's space directions round spacing × direction).
    volume.spacing = g.spacing;
    volume.origin = g.origin;
    volume.direction = g.direction;
    this.#files.set(volume, g.file);
    return volume;
  }
}

