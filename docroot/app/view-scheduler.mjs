/**
 * Request scheduler for one view: keeps the client in step with the server.
 *
 * - At most one request in flight per view.
 * - While one is in flight, only the newest wanted state is kept (latest wins); it is sent when
 *   the answer arrives. Older wanted states are dropped, never queued.
 * - Interactive changes (wheel, drag) are sent as drafts (`draft: true`, the caller renders them at
 *   a lower resolution); once no change has arrived for `settleMs`, the newest state is sent again
 *   as a full-quality request.
 * - Identical consecutive requests (same URL) are not sent twice.
 * - Optionally (`frameMs`), two requests start at least that far apart: against a very fast
 *   server, renders need not outpace the screen (the newest state still wins meanwhile).
 *
 * No DOM: `fetch`, timers and the clock are injected, so the scheduler runs under node:test.
 *
 * @typedef {{ url: string, draft: boolean, state: any, seq: number }} Job
 * @typedef {{ sent: number, completed: number, superseded: number, failed: number, notModified: number }} Stats
 */

export class ViewScheduler {
  /**
   * @param {object} opts
   * @param {(state: any, draft: boolean) => string} opts.buildUrl  URL for a wanted state
   * @param {(result: { response: Response, blob?: Blob, job: Job }) => void} opts.onResult  called with each answer (in send order)
   * @param {(error: { status: number, message: string, job: Job }) => void} [opts.onError]
   * @param {(busy: boolean) => void} [opts.onBusy]  in-flight indicator
   * @param {typeof fetch} [opts.fetch]
   * @param {number} [opts.settleMs]  quiet time after the last interactive change before the full render
   * @param {(fn: () => void, ms: number) => any} [opts.setTimeout]
   * @param {(t: any) => void} [opts.clearTimeout]
   * @param {() => Record<string, string>} [opts.headers]  extra request headers (e.g. Authorization)
   * @param {number} [opts.frameMs]  minimum time between the starts of two requests (0 = none)
   * @param {() => number} [opts.now]  clock in ms
   */
  constructor(opts) {
    this.buildUrl = opts.buildUrl;
    this.onResult = opts.onResult;
    this.onError = opts.onError ?? (() => {});
    this.onBusy = opts.onBusy ?? (() => {});
    this.fetch = opts.fetch ?? ((...a) => globalThis.fetch(...a));
    this.settleMs = opts.settleMs ?? 180;
    this.setTimeout = opts.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimeout = opts.clearTimeout ?? ((t) => globalThis.clearTimeout(t));
    this.headers = opts.headers ?? (() => ({}));
    this.frameMs = opts.frameMs ?? 0;
    this.now =
      opts.now ?? (() => (globalThis.performance ? globalThis.performance.now() : Date.now()));
    this.lastStart = -Infinity;
    this.frameTimer = null;
    /** @type {Job | null} */ this.inFlight = null;
    /** @type {{ state: any, draft: boolean } | null} */ this.pending = null;
    /** The newest state asked for, and whether its full-quality render is still owed. */
    this.latest = null;
    this.fullOwed = false;
    this.lastSentUrl = null;
    this.settleTimer = null;
    this.seq = 0;
    this.closed = false;
    /** @type {Stats} */
    this.stats = { sent: 0, completed: 0, superseded: 0, failed: 0, notModified: 0 };
    /** @type {Array<() => void>} */
    this.idleWaiters = [];
  }

  /**
   * Asks for a state. `interactive: true` (wheel, drag) sends a draft now and a full render after
   * the user stops; otherwise the state is sent at full quality.
   */
  request(state, { interactive = false } = {}) {
    if (this.closed) return;
    this.latest = state;
    if (interactive) {
      this.fullOwed = true;
      if (this.settleTimer !== null) this.clearTimeout(this.settleTimer);
      this.settleTimer = this.setTimeout(() => this.#settle(), this.settleMs);
    } else {
      this.fullOwed = false;
      if (this.settleTimer !== null) this.clearTimeout(this.settleTimer);
      this.settleTimer = null;
    }
    this.#want({ state, draft: interactive });
  }

  /** Re-sends the newest state at full quality (e.g. the scene changed under it). */
  refresh() {
    if (this.latest !== null) {
      this.lastSentUrl = null;
      this.request(this.latest);
    }
  }

  /** Forgets the last URL sent, so the next request goes out even if identical (the scene changed). */
  invalidate() {
    this.lastSentUrl = null;
  }

  /** True when nothing is in flight, pending or owed. */
  get idle() {
    return (
      this.inFlight === null && this.frameTimer === null && this.pending === null && !this.fullOwed
    );
  }

  /** Resolves when the scheduler is idle (for tests and scripts). */
  whenIdle() {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close() {
    this.closed = true;
    this.pending = null;
    this.fullOwed = false;
    if (this.settleTimer !== null) this.clearTimeout(this.settleTimer);
    this.settleTimer = null;
    if (this.frameTimer !== null) this.clearTimeout(this.frameTimer);
    this.frameTimer = null;
    this.#checkIdle();
  }

  #settle() {
    this.settleTimer = null;
    if (!this.fullOwed || this.latest === null) return;
    this.fullOwed = false;
    this.#want({ state: this.latest, draft: false });
  }

  #want(w) {
    if (this.inFlight || this.frameTimer !== null) {
      if (this.pending) this.stats.superseded++;
      this.pending = w; // latest wins
      return;
    }
    this.#send(w);
  }

  /** Sends `w` unless it is the request last sent; returns whether a request went out (or will, after the frame gap). */
  #send(w) {
    const url = this.buildUrl(w.state, w.draft);
    if (url === this.lastSentUrl) {
      this.#checkIdle();
      return false;
    }
    const wait = this.lastStart + this.frameMs - this.now();
    if (wait > 0) {
      this.pending = w;
      this.onBusy(true);
      this.frameTimer = this.setTimeout(() => {
        this.frameTimer = null;
        const next = this.pending;
        this.pending = null;
        if (!(next && !this.closed && this.#send(next))) {
          this.onBusy(false);
          this.#checkIdle();
        }
      }, wait);
      return true;
    }
    this.lastStart = this.now();
    this.lastSentUrl = url;
    /** @type {Job} */
    const job = { url, draft: w.draft, state: w.state, seq: ++this.seq };
    this.inFlight = job;
    this.stats.sent++;
    this.onBusy(true);
    let answer;
    try {
      answer = Promise.resolve(this.fetch(url, { headers: this.headers() }));
    } catch (e) {
      answer = Promise.reject(e);
    }
    answer
      .then(async (response) => {
        if (!response.ok && response.status !== 304) {
          let message = `${response.status} ${response.statusText}`;
          try {
            const body = await response.json();
            if (body && typeof body.message === 'string') message = body.message;
          } catch {
            /* not JSON */
          }
          this.stats.failed++;
          // A failed URL may be retried later with the same parameters.
          this.lastSentUrl = null;
          this.onError({ status: response.status, message, job });
          return;
        }
        if (response.status === 304) this.stats.notModified++;
        const blob = response.status === 304 ? undefined : await response.blob();
        this.stats.completed++;
        if (!this.closed) this.onResult({ response, blob, job });
      })
      .catch((e) => {
        this.stats.failed++;
        this.lastSentUrl = null;
        this.onError({ status: 0, message: String(e && e.message ? e.message : e), job });
      })
      .finally(() => {
        this.inFlight = null;
        const next = this.pending;
        this.pending = null;
        if (!(next && !this.closed && this.#send(next))) {
          this.onBusy(false);
          this.#checkIdle();
        }
      });
    return true;
  }

  #checkIdle() {
    if (!this.idle) return;
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }
}
