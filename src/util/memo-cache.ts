/**
 * A least-recently-used cache of computed values with a byte budget, that also shares a
 * computation in flight: callers asking for a key being computed wait for the same promise
 * instead of starting another. Keys must name the exact inputs (e.g. a stored file version and
 * every parameter), so a hit is always the right answer; a rejected computation is not kept.
 */
export interface MemoCacheOptions<V> {
  /** Budget in bytes; 0 disables keeping values (in-flight sharing still applies). */
  maxBytes: number;
  /**
   * Largest value kept, in bytes (default a quarter of `maxBytes`, so one value never flushes the
   * rest); larger values are returned but not kept.
   */
  maxValueBytes?: number;
  /** Size of a value in bytes. */
  sizeOf(value: V): number;
}

export class MemoCache<V> {
  readonly #opts: MemoCacheOptions<V>;
  readonly #values = new Map<string, V>();
  readonly #inflight = new Map<string, Promise<V>>();
  #bytes = 0;
  /** Counters for benchmarks and tests. */
  readonly stats = { hits: 0, shared: 0, misses: 0 };

  constructor(opts: MemoCacheOptions<V>) {
    this.#opts = opts;
  }

  /** The value under `key`, computing it with `compute` (once, however many callers) if absent. */
  get(key: string, compute: () => Promise<V>): Promise<V> {
    const hit = this.peek(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const running = this.#inflight.get(key);
    if (running) {
      this.stats.shared++;
      return running;
    }
    this.stats.misses++;
    const p = compute()
      .then((v) => {
        this.set(key, v);
        return v;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /** The kept value under `key` (marked as recently used), or undefined. */
  peek(key: string): V | undefined {
    const v = this.#values.get(key);
    if (v === undefined) return undefined;
    this.#values.delete(key);
    this.#values.set(key, v);
    this.stats.hits++;
    return v;
  }

  set(key: string, value: V): void {
    const size = this.#opts.sizeOf(value);
    if (size > (this.#opts.maxValueBytes ?? this.#opts.maxBytes / 4)) return;
    const old = this.#values.get(key);
    if (old !== undefined) this.#bytes -= this.#opts.sizeOf(old);
    this.#values.delete(key);
    this.#values.set(key, value);
    this.#bytes += size;
    for (const [k, v] of this.#values) {
      if (this.#bytes <= this.#opts.maxBytes) break;
      this.#values.delete(k);
      this.#bytes -= this.#opts.sizeOf(v);
    }
  }

  /** Drops every kept value whose key starts with `prefix` (e.g. a deleted file version). */
  deletePrefix(prefix: string): void {
    for (const [k, v] of this.#values)
      if (k.startsWith(prefix)) {
        this.#values.delete(k);
        this.#bytes -= this.#opts.sizeOf(v);
      }
  }

  /** Computations in flight (distinct keys). */
  get pending(): number {
    return this.#inflight.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#values.size;
  }
}
