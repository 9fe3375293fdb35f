/**
 * `src/render/` turns views into images: render jobs from scene + view state (`jobs.ts`), their
 * keys (ETags), the worker pool and encoding, layout screenshots. It imports views/, scene/ and
 * imaging/, never http/ or hono.
 *
 * Runs render jobs: 3D jobs (and big slices) in a piscina worker pool reading shared volume
 * memory, so the event loop stays free; small slices on the main thread, where they are cheaper
 * than the worker hop, except under load (see docs/rendering.md for the measurement). Identical
 * concurrent requests share one render (keyed by ETag); when the pool's queue is full new work is refused with
 * `busy` (503 + Retry-After).
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { AppError, type ErrorCode } from '../errors.js';
import { renderSlice, type RawImage, type SliceJob } from '../imaging/slice-render.js';
import type { ThreeDJob } from '../imaging/render3d.js';
import type { RasterImage, RasterJob } from '../imaging/rasterize.js';
import type { EncodedSliceJob, PoolJob } from '../workers/render-worker.js';
import { encode, type EncodeOptions, type Encoded } from './encode.js';
import { tsWorkerExecArgv } from '../workers/ts-worker.js';
import { MemoCache } from '../util/memo-cache.js';

export interface RenderServiceOptions {
  /** Worker threads (default: cores − 1, at least 1). */
  threads?: number;
  /** Split each 3D image of at least 128² pixels into two bands rendered by two workers at once (default: on with ≥ 2 cores). */
  splitThreeD?: boolean;
  /** Jobs that may wait for a worker before new ones get 503 (default 8). */
  maxQueue?: number;
  /** Slices with at most this many output pixels render on the main thread (default 1024²). */
  mainThreadPixels?: number;
  /** Bytes of encoded images kept by ETag for repeated requests (default 32 MiB; 0 = off). */
  cacheBytes?: number;
}

/** Counters for tests and diagnostics. */
export interface RenderStats {
  /** Images rendered (and pool tasks run). */
  renders: number;
  /** Requests that joined an identical render in flight. */
  readonly shared: number;
  /** Requests answered from the encoded-image cache. */
  readonly cached: number;
  worker: number;
  main: number;
  refused: number;
  streams: number;
}

export class RenderService {
  #pool?: Piscina;
  /** Encoded images by ETag (LRU byte budget), and identical renders in flight shared. */
  readonly #cache: MemoCache<Encoded>;
  #threads: number;
  /** The pool's threads: one more than the queue accounting uses when 3D images are split in two bands. */
  get #poolThreads(): number {
    return this.#split ? Math.max(2, this.#threads) : this.#threads;
  }
  #split: boolean;
  #maxQueue: number;
  #mainThreadPixels: number;
  #closed = false;
  /** Jobs sent to the pool and not yet settled (running + waiting). */
  #pending = 0;
  /** Slice renders in progress (rendering or encoding). */
  #busySlices = 0;
  readonly stats: RenderStats;

  constructor(o: RenderServiceOptions = {}) {
    const cores = os.availableParallelism();
    this.#threads = o.threads ?? Math.max(1, cores - 1);
    this.#split = o.splitThreeD ?? cores >= 2;
    this.#maxQueue = o.maxQueue ?? 8;
    this.#mainThreadPixels = o.mainThreadPixels ?? 1024 * 1024;
    const cache = new MemoCache<Encoded>({
      maxBytes: o.cacheBytes ?? 32 * 1024 * 1024,
      sizeOf: (e) => e.body.length,
    });
    this.#cache = cache;
    this.stats = {
      renders: 0,
      get shared() {
        return cache.stats.shared;
      },
      get cached() {
        return cache.stats.hits;
      },
      worker: 0,
      main: 0,
      refused: 0,
      streams: 0,
    };
  }

  #getPool(): Piscina {
    if (this.#closed) throw new AppError('busy', 'the server is shutting down', { retryAfter: 5 });
    this.#pool ??= new Piscina({
      filename: new URL('../workers/render-worker.ts', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.#poolThreads,
      idleTimeout: 60_000,
      execArgv: tsWorkerExecArgv(),
    });
    return this.#pool;
  }

  /** The pool, for one more job; `busy` (503) when `maxQueue` jobs already wait for a worker. */
  #admit(): Piscina {
    const pool = this.#getPool();
    if (this.#pending >= this.#threads + this.#maxQueue) {
      this.stats.refused++;
      throw new AppError(
        'busy',
        `render queue is full (${this.#pending - this.#threads} waiting); retry shortly`,
        { retryAfter: 1 },
      );
    }
    return pool;
  }

  /** Renders (or joins an identical in-flight render) and encodes. */
  render(key: string, job: SliceJob | ThreeDJob, enc: EncodeOptions): Promise<Encoded> {
    return this.#cache.get(key, () => this.#run(job, enc));
  }

  async #run(job: SliceJob | ThreeDJob, enc: EncodeOptions): Promise<Encoded> {
    if (job.kind === 'threeD') return encode(await this.raw(job), enc);
    this.#busySlices++;
    try {
      // A slice in the pool is encoded there too: under load the event loop was the bottleneck
      // (a profile at 8 clients: main thread 85 % busy with the encoder's set-up and the raw
      // image's copy back, the workers half idle).
      if (this.#slicePlace(job) === 'main') return await encode(this.#mainSlice(job), enc);
      return await this.#inPool<Encoded>({ ...job, encode: enc });
    } finally {
      this.#busySlices--;
    }
  }

  /**
   * Small slices render on the event loop (cheaper than the worker hop) unless other slices are
   * already in progress: then they go to the pool while one of its threads is free, and beyond
   * that the event loop renders them itself, so a slice never waits in the pool's queue (3D
   * renders and mesh jobs keep all of it instead of meeting 503). Measured at 8 clients with
   * encoding in the worker (A/B, 512² PNG): letting slices queue in the pool (up to half the
   * queue) 433–483 renders/s, one per pool thread 444–512/s.
   */
  #slicePlace(job: SliceJob): 'main' | 'pool' {
    const small = job.geometry.size[0] * job.geometry.size[1] <= this.#mainThreadPixels;
    if (!small) return 'pool';
    const offload = this.#busySlices > 1 && this.#pending < this.#poolThreads && !this.#closed;
    return offload ? 'pool' : 'main';
  }

  #mainSlice(job: SliceJob): RawImage {
    this.stats.renders++;
    this.stats.main++;
    return renderSlice(job);
  }

  /** One render job in the pool, under the queue limit. */
  async #inPool<T>(job: SliceJob | ThreeDJob | EncodedSliceJob): Promise<T> {
    const pool = this.#admit();
    this.stats.renders++;
    this.stats.worker++;
    this.#pending++;
    try {
      return job.kind === 'threeD' &&
        this.#split &&
        !job.draft &&
        job.size[0] * job.size[1] >= 128 * 128
        ? ((await this.#split3d(pool, job)) as T)
        : ((await pool.run(job)) as T);
    } finally {
      this.#pending--;
    }
  }

  /** Runs a job without encoding. */
  async raw(job: SliceJob | ThreeDJob): Promise<RawImage> {
    if (job.kind === 'slice' && this.#slicePlace(job) === 'main') return this.#mainSlice(job);
    return this.#inPool<RawImage>(job);
  }

  /** Rasterizes meshes (glTF render server, 3D view surfaces) in the pool, with the same queue limit. */
  rasterize(job: RasterJob): Promise<RasterImage> {
    return this.task<RasterImage>(job);
  }

  /**
   * Runs any other worker job (mesh parsing, surface extraction: see `workers/render-worker.ts`)
   * in the pool, under the same queue limit as renders.
   */
  async task<T>(job: PoolJob): Promise<T> {
    const pool = this.#admit();
    this.stats.renders++;
    this.stats.worker++;
    this.#pending++;
    try {
      const out = (await pool.run(job)) as T | { kind: 'error'; code: ErrorCode; message: string };
      if (out && (out as { kind?: unknown }).kind === 'error') {
        const err = out as { code: ErrorCode; message: string };
        throw new AppError(err.code, err.message);
      }
      return out as T;
    } finally {
      this.#pending--;
    }
  }

  /** Two bands of rows in parallel (both cores), joined. */
  async #split3d(pool: Piscina, job: ThreeDJob): Promise<RawImage> {
    const H = job.size[1];
    const mid = Math.round(H / 2 / 16) * 16 || Math.floor(H / 2);
    const [a, b] = (await Promise.all([
      pool.run({ ...job, rows: [0, mid] }),
      pool.run({ ...job, rows: [mid, H] }),
    ])) as [RawImage, RawImage];
    const data = new Uint8Array(a.data.length + b.data.length);
    data.set(a.data, 0);
    data.set(b.data, a.data.length);
    return { width: a.width, height: a.height + b.height, channels: a.channels, data };
  }

  /** In-flight renders (distinct keys). */
  get inflight(): number {
    return this.#cache.pending;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await pool.destroy();
  }
}
