/** Types for view-scheduler.mjs (used by the Node tests; the page itself is plain JS). */
export interface Job<S = unknown> {
  url: string;
  draft: boolean;
  state: S;
  seq: number;
}
export interface Stats {
  sent: number;
  completed: number;
  superseded: number;
  failed: number;
  notModified: number;
}
export interface SchedulerOptions<S> {
  buildUrl: (state: S, draft: boolean) => string;
  onResult: (result: { response: Response; blob?: Blob; job: Job<S> }) => void;
  onError?: (error: { status: number; message: string; job: Job<S> }) => void;
  onBusy?: (busy: boolean) => void;
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  settleMs?: number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  headers?: () => Record<string, string>;
  frameMs?: number;
  now?: () => number;
}
export declare class ViewScheduler<S = unknown> {
  constructor(opts: SchedulerOptions<S>);
  readonly stats: Stats;
  readonly inFlight: Job<S> | null;
  readonly pending: { state: S; draft: boolean } | null;
  readonly latest: S | null;
  request(state: S, opts?: { interactive?: boolean }): void;
  refresh(): void;
  invalidate(): void;
  readonly idle: boolean;
  whenIdle(): Promise<void>;
  close(): void;
}
