/**
 * Decoding of compressed pixel data in one worker thread (itk-wasm is synchronous and blocks for
 * hundreds of ms). The queue is bounded: past `maxQueue` waiting jobs callers get `busy` (503).
 * Decoded instances are kept in a small LRU so that frame-by-frame requests decode once.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { MemoCache } from '../util/memo-cache.js';
import type { DecodeRequest, DecodeResponse } from '../workers/decode-worker.js';

export interface Decoded {
  /** Stored values of all frames, little endian, interleaved samples. */
  pixels: Uint8Array;
  components: number;
}

export interface DecoderOptions {
  maxQueue?: number;
  cacheBytes?: number;
  timeoutMs?: number;
  /** Worker module (tests inject a failing one); default `../workers/decode-worker.ts`. */
  workerEntry?: URL;
}

export class Decoder {
  private worker?: Worker;
  private nextId = 1;
  private pending = new Map<
    number,
    { resolve: (d: Decoded) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  /** Decoded instances by key (LRU byte budget; one may fill it), and decodes in flight shared. */
  private readonly cache: MemoCache<Decoded>;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private readonly workerEntry: URL;

  constructor(opts: DecoderOptions = {}) {
    this.workerEntry = opts.workerEntry ?? new URL('../workers/decode-worker.ts', import.meta.url);
    this.maxQueue = opts.maxQueue ?? 8;
    const cacheBytes = opts.cacheBytes ?? 256 * 1024 * 1024;
    this.cache = new MemoCache<Decoded>({
      maxBytes: cacheBytes,
      maxValueBytes: cacheBytes,
      sizeOf: (d) => d.pixels.byteLength,
    });
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('../workers/boot.mjs', import.meta.url), {
      workerData: { entry: this.workerEntry.href },
    });
    w.unref();
    w.on('message', (m: DecodeResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve({ pixels: m.pixels, components: m.components });
      else
        p.reject(
          new AppError('not_acceptable', `cannot decode the stored pixel data: ${m.message}`),
        );
    });
    // A crashed worker fails its pending jobs with 503 (the next job starts a fresh worker);
    // events of a worker that was already replaced are ignored.
    const fail = (e: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(
          new AppError('busy', `the decode worker stopped (${e.message}); retry`, {
            retryAfter: 1,
          }),
        );
      }
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.worker = w;
    return w;
  }

  /** Decodes a file (cached by `key`, which must change when the file changes). */
  decode(key: string, req: Omit<DecodeRequest, 'id'>): Promise<Decoded> {
    return this.cache.get(key, () => this.run(req));
  }

  /** Posts one job to the worker (503 when `maxQueue` jobs are already waiting). */
  private run(req: Omit<DecodeRequest, 'id'>): Promise<Decoded> {
    if (this.pending.size >= this.maxQueue) {
      return Promise.reject(
        new AppError('busy', 'the decoder queue is full; retry shortly', { retryAfter: 1 }),
      );
    }
    const id = this.nextId++;
    return new Promise<Decoded>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AppError('timeout', 'decoding took too long'));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.start().postMessage({ ...req, id } satisfies DecodeRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AppError('busy', 'server shutting down'));
    }
    this.pending.clear();
    if (w) await w.terminate();
  }
}
