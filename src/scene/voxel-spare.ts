/**
 * One spare block of shared voxel memory whose pages are already touched, for the next uploaded
 * volume of the same byte size (a script pushing each new result of the same shape is the common
 * case). The first write to a fresh SharedArrayBuffer page faults: copying a 256³ int16 body
 * into fresh memory took ~25 ms of the event loop per upload (a profile over 13 curl PUTs),
 * 17 ms on average with the spare (the same 13 PUTs, the first ones without a spare yet).
 * The spare is made after an upload takes the previous one, and touched in the render pool (the
 * other core), so no request waits for it. A spare is never memory a render or a job has seen:
 * it is new, and handed out once.
 */
export interface VoxelSpareOptions {
  /** Largest spare kept (bytes); bigger volumes allocate as before (default 64 MiB). */
  maxBytes?: number;
  /** How long an untaken spare is kept (default 60 s). */
  keepMs?: number;
  /** Writes one byte of every page of the buffer, off the event loop. */
  touch: (buffer: SharedArrayBuffer) => Promise<unknown>;
}

export class VoxelSpare {
  readonly #o: Required<VoxelSpareOptions>;
  #spare: SharedArrayBuffer | undefined;
  #making = false;
  #closed = false;
  /** Uploads that got the spare (for tests and diagnostics). */
  hits = 0;

  constructor(o: VoxelSpareOptions) {
    this.#o = { maxBytes: 64 << 20, keepMs: 60_000, ...o };
  }

  /** Bytes of the spare ready now (0 when none). */
  get ready(): number {
    return this.#spare?.byteLength ?? 0;
  }

  /** Zeroed shared memory of `bytes`: the spare when it is that size, else new. */
  take(bytes: number): SharedArrayBuffer {
    const s = this.#spare;
    this.#spare = undefined;
    this.#make(bytes);
    if (s?.byteLength === bytes) {
      this.hits++;
      return s;
    }
    return new SharedArrayBuffer(bytes);
  }

  #make(bytes: number): void {
    if (this.#making || this.#closed || bytes <= 0 || bytes > this.#o.maxBytes) return;
    this.#making = true;
    let next: SharedArrayBuffer;
    try {
      next = new SharedArrayBuffer(bytes);
    } catch {
      this.#making = false; // out of memory now: no spare
      return;
    }
    this.#o
      .touch(next)
      .then(
        () => {
          if (this.#closed) return;
          this.#spare = next;
          // A spare nobody takes within a minute is let go (its memory is the volume's size).
          setTimeout(() => {
            if (this.#spare === next) this.#spare = undefined;
          }, this.#o.keepMs).unref();
        },
        () => {}, // the pool was busy or closing: no spare this time
      )
      .finally(() => {
        this.#making = false;
      });
  }

  close(): void {
    this.#closed = true;
    this.#spare = undefined;
  }
}
