/**
 * `src/jobs/` runs processing functions (built-ins and plug-ins) as jobs in a worker pool, with
 * progress, cancel and scene results. It imports scene/, imaging/, render/ (shared voxel memory)
 * and its worker, never http/, server/ or hono.
 *
 * The job manager: validates and queues processing jobs, runs them in a piscina worker pool (one
 * job per worker thread, off the event loop), relays progress, answers the workers' volume
 * requests from the scene, and applies a job's staged nodes to the scene only when it succeeds.
 *
 * Guarantees: a full queue refuses new jobs (`busy` → 503 + Retry-After); a job that runs past
 * the timeout fails with `timeout`; cancel takes effect at once in the record (the worker stops at
 * its next progress point, and is terminated if it has not within a short grace); a worker that
 * crashes fails only its job. Every job reaches a final state, and listeners hear each change.
 */
import os from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { AppError, ERROR_CODES, invalidParameter, notFound } from '../errors.js';
import type { ImageVolume } from '../imaging/types.js';

import type { TriangleMesh } from '../imaging/mesh.js';
import { shareable } from '../render/jobs.js';
import { putModel } from '../scene/models.js';
import { putTable } from '../scene/tables.js';
import type { Scene, SceneNode, SegmentationNode, VolumeNode } from '../scene/scene.js';
import { segmentByRef } from '../imaging/segmentation.js';
import type { JobLog } from './job-log.js';
import { tsWorkerExecArgv } from '../workers/ts-worker.js';
import type { FunctionRegistry } from './registry.js';
import {
  FINAL_STATES,
  type JobRecord,
  type JobState,
  type MainMessage,
  type NodeRefKind,
  type SegmentationInput,
  type StagedOp,
  type VolumeInput,
  type WorkerMessage,
  type WorkerResult,
  type WorkerTask,
} from './types.js';

export interface JobManagerOptions {
  scene: Scene;
  registry: FunctionRegistry;
  /** Jobs run at once (default cores − 1, at least 1). */
  threads?: number;
  /** Jobs that may wait for a worker (default 16). */
  maxQueue?: number;
  /** Milliseconds a running job may take (0 = no limit; default 10 min). */
  timeoutMs?: number;
  /** Milliseconds a cancelled worker gets to reach a progress point before it is terminated. */
  cancelGraceMs?: number;
  /** Finished jobs kept for GET /slicer/jobs (default 200). */
  keepFinished?: number;
  log?: (level: 'debug' | 'warn', message: string) => void;
  /** Awaited after a job's nodes entered the scene, before it is reported succeeded (persistence). */
  afterApply?: () => Promise<void>;
}

export type JobEventType =
  'job-queued' | 'job-started' | 'job-progress' | 'job-succeeded' | 'job-failed' | 'job-cancelled';

export interface JobEvent {
  type: JobEventType;
  job: JobRecord;
}

interface Running {
  record: JobRecord;
  abort: AbortController;
  cancelFlag: Int32Array;
  port?: MessagePort;
  timer?: NodeJS.Timeout;
  /** Heartbeat while a worker is busy inside a call that reports nothing (a wasm pipeline). */
  heartbeat?: NodeJS.Timeout;
  /** When the worker last reported progress, and what it said. */
  lastReport: number;
  lastMessage: string;
  waiters: Array<(j: JobRecord) => void>;
}

type MessagePort = import('node:worker_threads').MessagePort;

/** Milliseconds without progress after which a running job gets a heartbeat progress event. */
const HEARTBEAT_MS = 500;

const eventOfState: Record<JobState, JobEventType> = {
  queued: 'job-queued',
  running: 'job-started',
  succeeded: 'job-succeeded',
  failed: 'job-failed',
  cancelled: 'job-cancelled',
};

export class JobManager {
  #o: Required<Omit<JobManagerOptions, 'log' | 'afterApply'>> &
    Pick<JobManagerOptions, 'log' | 'afterApply'>;
  #pool?: Piscina;
  #jobs = new Map<string, Running>();
  #seq = 0;
  /** Tasks handed to the pool and not yet settled (running + waiting, incl. cancelled ones still stopping). */
  #inPool = 0;
  #listeners = new Set<(e: JobEvent) => void>();
  #closed = false;
  #log?: JobLog;

  constructor(o: JobManagerOptions) {
    const cores = os.availableParallelism();
    this.#o = {
      threads: Math.max(1, o.threads ?? cores - 1),
      maxQueue: 16,
      timeoutMs: 600_000,
      cancelGraceMs: 3000,
      keepFinished: 200,
      ...o,
    };
  }

  /**
   * Keeps job records in `log` from now on, after taking in the records it holds: job ids and
   * names continue after the highest there, and a job that was queued or running when the server
   * stopped is marked failed. Returns how many were so marked.
   */
  async attachLog(log: JobLog): Promise<number> {
    const interrupted: JobRecord[] = [];
    for (const record of await log.load()) {
      if (this.#jobs.has(record.id)) continue;
      const n = /^job(\d+)$/.exec(record.id);
      if (n) this.#seq = Math.max(this.#seq, Number(n[1]));
      if (!FINAL_STATES.includes(record.state)) {
        interrupted.push(record);
        record.state = 'failed';
        record.finishedAt = new Date().toISOString();
        record.error = {
          code: 'internal',
          message: 'the server stopped before this job finished; submit it again',
        };
        record.message = record.error.message;
      }
      this.#jobs.set(record.id, {
        record,
        abort: new AbortController(),
        cancelFlag: new Int32Array(new SharedArrayBuffer(4)),
        lastReport: 0,
        lastMessage: record.message,
        waiters: [],
      });
    }
    this.#prune();
    this.#log = log;
    for (const r of interrupted) this.#record(r);
    return interrupted.length;
  }

  /** The record as it is now, to the job log (when attached). */
  #record(record: JobRecord): void {
    this.#log?.append(record, this.#o.keepFinished, () =>
      [...this.#jobs.values()].map((r) => r.record),
    );
  }

  get threads(): number {
    return this.#o.threads;
  }

  onEvent(listener: (e: JobEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Jobs, newest first. */
  list(): JobRecord[] {
    return [...this.#jobs.values()].map((r) => ({ ...r.record })).reverse();
  }

  get(id: string): JobRecord {
    const r = this.#jobs.get(id);
    if (!r) throw notFound(`no job with id ${id}`);
    return { ...r.record };
  }

  /**
   * Validates, resolves node parameters to node ids and queues a job. Throws not_found (unknown
   * function or node), invalid_parameter / missing_parameter (naming the field) or busy.
   */
  submit(fn: string, rawParams: unknown, fromQuery = false): JobRecord {
    if (this.#closed) throw new AppError('busy', 'the server is shutting down', { retryAfter: 5 });
    const reg = this.#o.registry.get(fn);
    const params = this.#o.registry.validate(fn, rawParams, fromQuery);
    for (const { name, kind } of reg.nodeParams) {
      const v = params[name];
      if (typeof v === 'string')
        params[name] = resolveNode(this.#o.scene, v, kind, `params.${name}`).id;
    }
    for (const { name, of } of reg.segmentParams) checkSegments(this.#o.scene, params, name, of);
    if (this.#inPool >= this.#o.threads + this.#o.maxQueue)
      throw new AppError(
        'busy',
        `the job queue is full (${this.#inPool} jobs running or waiting); retry shortly`,
        { retryAfter: 2 },
      );
    const seq = ++this.#seq;
    const id = `job${seq}`;
    const record: JobRecord = {
      id,
      name: `${fn}-${seq}`,
      function: fn,
      params,
      state: 'queued',
      progress: 0,
      message: 'queued',
      createdAt: new Date().toISOString(),
    };
    const run: Running = {
      record,
      abort: new AbortController(),
      cancelFlag: new Int32Array(new SharedArrayBuffer(4)),
      lastReport: Date.now(),
      lastMessage: 'running',
      waiters: [],
    };
    this.#jobs.set(id, run);
    this.#prune();
    this.#record(record);
    this.#emit('job-queued', record);
    this.#start(run, reg.module);
    return { ...record };
  }

  /** Cancels a queued or running job; conflict when it already finished. */
  cancel(id: string): JobRecord {
    const run = this.#jobs.get(id);
    if (!run) throw notFound(`no job with id ${id}`);
    if (FINAL_STATES.includes(run.record.state))
      throw new AppError('conflict', `job ${id} already finished (${run.record.state})`);
    const wasRunning = run.record.state === 'running';
    this.#finish(run, 'cancelled', { message: 'cancelled' });
    Atomics.store(run.cancelFlag, 0, 1);
    if (!wasRunning) run.abort.abort();
    else {
      this.#post(run, { type: 'cancel' });
      // A worker that never reaches a progress point is terminated after the grace period.
      const t = setTimeout(() => run.abort.abort(), this.#o.cancelGraceMs);
      t.unref();
    }
    return { ...run.record };
  }

  /** The job once it is final, or as it is after `ms` milliseconds. */
  wait(id: string, ms: number): Promise<JobRecord> {
    const run = this.#jobs.get(id);
    if (!run) return Promise.reject(notFound(`no job with id ${id}`));
    if (FINAL_STATES.includes(run.record.state)) return Promise.resolve({ ...run.record });
    return new Promise((resolve) => {
      const done = (j: JobRecord) => {
        clearTimeout(t);
        resolve({ ...j });
      };
      const t = setTimeout(() => {
        run.waiters = run.waiters.filter((w) => w !== done);
        resolve({ ...run.record });
      }, ms);
      run.waiters.push(done);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const run of this.#jobs.values()) {
      if (!FINAL_STATES.includes(run.record.state)) {
        this.#finish(run, 'cancelled', { message: 'the server is shutting down' });
        run.abort.abort();
      }
    }
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await pool.destroy();
    await this.#log?.flushed();
  }

  #getPool(): Piscina {
    this.#pool ??= new Piscina({
      filename: new URL('../workers/job-worker.ts', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.#o.threads,
      // One job per worker at a time: a job's synchronous loop owns its thread.
      concurrentTasksPerWorker: 1,
      idleTimeout: 30_000,
      execArgv: tsWorkerExecArgv(),
    });
    // A worker that fails to start is an 'error' event: unhandled, it would end the process. The
    // job whose task was on it is failed by the rejected run() promise.
    this.#pool.on('error', (e: unknown) =>
      this.#o.log?.('warn', `job worker error: ${e instanceof Error ? e.message : String(e)}`),
    );
    return this.#pool;
  }

  #start(run: Running, module: string | undefined): void {
    const { port1, port2 } = new MessageChannel();
    run.port = port1;
    port1.on('message', (m: WorkerMessage) => this.#onMessage(run, m));
    const task: WorkerTask = {
      jobId: run.record.id,
      jobName: run.record.name,
      function: run.record.function,
      ...(module ? { moduleUrl: module } : {}),
      params: run.record.params,
      port: port2,
      cancelFlag: run.cancelFlag,
    };
    this.#inPool++;
    let promise: Promise<WorkerResult>;
    try {
      promise = this.#getPool().run(task, {
        transferList: [port2] as never,
        signal: run.abort.signal,
      }) as Promise<WorkerResult>;
    } catch (e) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the thrown value on as is
      promise = Promise.reject(e);
    }
    promise
      .then(
        (result) => this.#settle(run, result),
        (err: unknown) => {
          if (FINAL_STATES.includes(run.record.state)) return;
          const msg = err instanceof Error ? err.message : String(err);
          this.#finish(run, 'failed', {
            error: { code: 'worker_crashed', message: `the job's worker stopped: ${msg}` },
          });
        },
      )
      .catch((e: unknown) => {
        if (!FINAL_STATES.includes(run.record.state))
          this.#finish(run, 'failed', {
            error: { code: 'internal', message: `could not apply the job's results: ${String(e)}` },
          });
      })
      .finally(() => {
        this.#inPool--;
        port1.close();
      });
  }

  #onMessage(run: Running, m: WorkerMessage): void {
    const rec = run.record;
    if (m.type === 'volume') {
      this.#post(run, this.#volumeAnswer(m.requestId, m.ref));
      return;
    }
    if (m.type === 'segmentation') {
      this.#post(run, this.#segmentationAnswer(m.requestId, m.ref));
      return;
    }
    if (FINAL_STATES.includes(rec.state)) return;
    if (m.type === 'started') {
      rec.state = 'running';
      rec.startedAt = new Date().toISOString();
      rec.message = 'running';
      if (this.#o.timeoutMs > 0) {
        run.timer = setTimeout(() => {
          if (FINAL_STATES.includes(rec.state)) return;
          this.#finish(run, 'failed', {
            error: {
              code: 'timeout',
              message: `the job ran longer than the limit of ${this.#o.timeoutMs / 1000} s (--job-timeout)`,
            },
          });
          Atomics.store(run.cancelFlag, 0, 1);
          run.abort.abort();
        }, this.#o.timeoutMs);
        run.timer.unref();
      }
      this.#emit('job-started', rec);
      run.lastReport = Date.now();
      run.heartbeat = setInterval(() => this.#beat(run), HEARTBEAT_MS);
      run.heartbeat.unref();
    } else if (m.type === 'progress') {
      rec.progress = Math.max(rec.progress, m.progress);
      if (m.message !== undefined) rec.message = m.message;
      run.lastReport = Date.now();
      run.lastMessage = rec.message;
      this.#emit('job-progress', rec);
    } else if (m.type === 'log') {
      this.#o.log?.('debug', `${rec.name}: ${m.message}`);
    }
  }

  /**
   * A worker inside a long library call (elastix, downsample) cannot report; clients still hear
   * that the job is alive: the same fraction, a message with the time since the last report.
   */
  #beat(run: Running): void {
    const rec = run.record;
    if (rec.state !== 'running') return;
    const quiet = Date.now() - run.lastReport;
    if (quiet < HEARTBEAT_MS) return;
    rec.message = `${run.lastMessage} (still working, ${(quiet / 1000).toFixed(1)} s)`;
    this.#emit('job-progress', rec);
  }

  #volumeAnswer(requestId: number, ref: string | undefined): MainMessage {
    try {
      const scene = this.#o.scene;
      const node: VolumeNode | undefined =
        ref === undefined
          ? scene.activeVolume()
          : (resolveNode(scene, ref, 'volume', 'volume') as VolumeNode);
      if (!node) throw notFound('the scene has no volume');
      if (scene.nonLinearParents(node.id).length > 0)
        throw new AppError(
          'unprocessable',
          `volume ${node.id} sits under a grid transform; harden or remove it first`,
        );
      const volume: VolumeInput = {
        id: node.id,
        name: node.name,
        className: node.className,
        volume: shareable(node.volume, scene.revision(node.id)),
        worldFromLocal: scene.worldFromLocal(node.id),
        ...(node.parentTransformID ? { parentTransformID: node.parentTransformID } : {}),
      };
      return { type: 'volume', requestId, volume };
    } catch (e) {
      const err = e as AppError;
      return {
        type: 'volume',
        requestId,
        error: { code: err.code ?? 'internal', message: err.message },
      };
    }
  }

  #segmentationAnswer(requestId: number, ref: string): MainMessage {
    try {
      const scene = this.#o.scene;
      const node = resolveNode(scene, ref, 'segmentation', 'segmentation') as SegmentationNode;
      const segmentation: SegmentationInput = {
        id: node.id,
        name: node.name,
        segmentation: {
          segments: node.segmentation.segments,
          labelmap: shareable(node.segmentation.labelmap, scene.revision(node.id)),
        },
        worldFromLocal: scene.worldFromLocal(node.id),
        ...(node.referenceVolumeId ? { referenceVolumeId: node.referenceVolumeId } : {}),
        ...(node.parentTransformID ? { parentTransformID: node.parentTransformID } : {}),
      };
      return { type: 'volume', requestId, segmentation };
    } catch (e) {
      const err = e as AppError;
      return {
        type: 'volume',
        requestId,
        error: { code: err.code ?? 'internal', message: err.message },
      };
    }
  }

  #post(run: Running, m: MainMessage): void {
    try {
      run.port?.postMessage(m);
    } catch {
      /* the worker is gone */
    }
  }

  async #settle(run: Running, result: WorkerResult): Promise<void> {
    if (FINAL_STATES.includes(run.record.state)) return; // cancelled or timed out: discard
    if (result.error) {
      if (result.error.code === 'cancelled')
        this.#finish(run, 'cancelled', { message: result.error.message });
      else this.#finish(run, 'failed', { error: result.error });
      return;
    }
    const nodeIds = this.#apply(run.record, result.staged);
    if (nodeIds.length || result.staged.length) await this.#o.afterApply?.();
    this.#finish(run, 'succeeded', {
      result: { nodeIds, ...(result.values !== undefined ? { values: result.values } : {}) },
    });
  }

  /** Applies staged scene changes; on any failure, removes what it added and throws. */
  #apply(job: JobRecord, staged: StagedOp[]): string[] {
    const scene = this.#o.scene;
    const added: string[] = [];
    const ids = new Map<string, string>();
    const mapId = (id: string | undefined) => (id === undefined ? undefined : (ids.get(id) ?? id));
    const nameOf = (suffix?: string) => (suffix ? `${job.name} ${suffix}` : job.name);
    const attributes = { 'voxelgate.job': job.id, 'voxelgate.function': job.function };
    try {
      for (const op of staged) {
        if (op.op === 'addVolume') {
          const { out } = op;
          checkVolume(out.volume);
          const node = scene.add({
            kind: 'volume',
            className: out.className ?? 'vtkMRMLScalarVolumeNode',
            name: nameOf(out.name),
            volume: out.volume,
            display: {
              ...(out.window !== undefined ? { window: out.window } : {}),
              ...(out.level !== undefined ? { level: out.level } : {}),
            },
            attributes: { ...attributes },
            ...(out.parentTransformID ? { parentTransformID: mapId(out.parentTransformID) } : {}),
          } as Omit<SceneNode, 'id'>);
          ids.set(op.tempId, node.id);
          added.push(node.id);
        } else if (op.op === 'addTransform') {
          const node = scene.add({
            kind: 'linearTransform',
            className: 'vtkMRMLLinearTransformNode',
            name: nameOf(op.out.name),
            matrixToParent: op.out.matrixToParent,
            attributes: { ...attributes },
            ...(op.out.parentTransformID
              ? { parentTransformID: mapId(op.out.parentTransformID) }
              : {}),
          } as Omit<SceneNode, 'id'>);
          ids.set(op.tempId, node.id);
          added.push(node.id);
        } else if (op.op === 'addSegmentation') {
          const { out } = op;
          checkVolume(out.segmentation.labelmap);
          const node = scene.add({
            kind: 'segmentation',
            className: 'vtkMRMLSegmentationNode',
            name: nameOf(out.name),
            segmentation: out.segmentation,
            attributes: { ...attributes },
            ...(out.referenceVolumeId ? { referenceVolumeId: out.referenceVolumeId } : {}),
            ...(out.parentTransformID ? { parentTransformID: mapId(out.parentTransformID) } : {}),
          } as Omit<SceneNode, 'id'>);
          ids.set(op.tempId, node.id);
          added.push(node.id);
        } else if (op.op === 'addModel') {
          const { out } = op;
          checkMesh(out.mesh);
          const { node } = putModel(scene, {
            name: nameOf(out.name),
            mesh: out.mesh,
            attributes: { ...attributes },
            ...(out.color ? { display: { color: out.color } } : {}),
            ...(out.parentTransformID ? { parentTransformID: mapId(out.parentTransformID) } : {}),
          });
          ids.set(op.tempId, node.id);
          added.push(node.id);
        } else if (op.op === 'addTable') {
          const { node } = putTable(scene, {
            name: nameOf(op.out.name),
            columns: op.out.columns,
            rows: op.out.rows,
            attributes: { ...attributes },
          });
          ids.set(op.tempId, node.id);
          added.push(node.id);
        } else if (op.op === 'setParent') {
          scene.update(op.nodeId, { parentTransformID: mapId(op.parentTransformID) });
        }
      }
    } catch (e) {
      scene.remove(added);
      throw e;
    }
    return added;
  }

  #finish(
    run: Running,
    state: JobState,
    extra: Partial<Pick<JobRecord, 'message' | 'result' | 'error'>>,
  ): void {
    const rec = run.record;
    rec.state = state;
    rec.finishedAt = new Date().toISOString();
    if (state === 'succeeded') rec.progress = 1;
    rec.message = extra.message ?? (extra.error ? extra.error.message : state);
    if (extra.result) rec.result = extra.result;
    if (extra.error) {
      const code = extra.error.code;
      rec.error = {
        code:
          code === 'function_error' ||
          code === 'worker_crashed' ||
          code === 'timeout' ||
          (ERROR_CODES as readonly string[]).includes(code)
            ? code
            : 'function_error',
        message: extra.error.message,
      };
    }
    if (run.timer) clearTimeout(run.timer);
    if (run.heartbeat) clearInterval(run.heartbeat);
    this.#record(rec);
    this.#emit(eventOfState[state], rec);
    for (const w of run.waiters.splice(0)) w(rec);
  }

  #emit(type: JobEventType, job: JobRecord): void {
    const e: JobEvent = { type, job: { ...job } };
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure must not break the manager */
      }
    }
  }

  /** Forgets the oldest finished jobs beyond the limit. */
  #prune(): void {
    let finished = 0;
    for (const r of this.#jobs.values()) if (FINAL_STATES.includes(r.record.state)) finished++;
    for (const [id, r] of this.#jobs) {
      if (finished <= this.#o.keepFinished) break;
      if (FINAL_STATES.includes(r.record.state)) {
        this.#jobs.delete(id);
        finished--;
      }
    }
  }
}

const KIND_WORDS: Record<NodeRefKind, string> = {
  volume: 'volume',
  labelmap: 'label map volume',
  transform: 'linear transform',
  segmentation: 'segmentation',
  fiducials: 'fiducial list',
};

function matchesKind(n: SceneNode, kind: NodeRefKind): boolean {
  switch (kind) {
    case 'volume':
      return n.kind === 'volume';
    case 'labelmap':
      return n.kind === 'volume' && n.className === 'vtkMRMLLabelMapVolumeNode';
    case 'transform':
      return n.kind === 'linearTransform';
    case 'fiducials':
      return n.kind === 'fiducials';
    default:
      return (n.kind as string) === kind;
  }
}

/**
 * A node parameter → the node: by id or name (glob allowed, first match of the right kind).
 * not_found when nothing matches; invalid_parameter when only nodes of another kind match.
 */
export function resolveNode(
  scene: Scene,
  ref: string,
  kind: NodeRefKind,
  parameter: string,
): SceneNode {
  const all = scene.findNodes(ref);
  const hit = all.find((n) => matchesKind(n, kind));
  if (hit) return hit;
  if (all[0])
    throw invalidParameter(
      parameter,
      `${all[0].id} ("${all[0].name}") is a ${all[0].className}, not a ${KIND_WORDS[kind]}`,
    );
  throw new AppError('not_found', `${parameter}: no ${KIND_WORDS[kind]} node matches "${ref}"`, {
    parameter,
  });
}

/**
 * Segment references (id or name) are checked at submit, so a misspelt segment is a 400 now
 * rather than a failed job later (the job checks again when it runs: the scene may change).
 */
function checkSegments(scene: Scene, params: Record<string, unknown>, name: string, of: string) {
  const v = params[name];
  const node = typeof params[of] === 'string' ? scene.byId(params[of]) : undefined;
  if (v === undefined || node?.kind !== 'segmentation') return;
  const segments = node.segmentation.segments;
  for (const ref of (Array.isArray(v) ? v : [v]) as string[]) {
    if (!segmentByRef(segments, ref))
      throw invalidParameter(
        `params.${name}`,
        `no segment "${ref}" in ${node.id} (${segments.map((s) => `${s.id} "${s.name}"`).join(', ') || 'no segments'})`,
      );
  }
}

/** A worker's volume must be self-consistent before it enters the scene. */
function checkVolume(v: ImageVolume): void {
  const n = v.dimensions[0] * v.dimensions[1] * v.dimensions[2] * v.components;
  if (v.data?.length !== n)
    throw new AppError(
      'unprocessable',
      `a result volume has ${v.data?.length ?? 0} values, its dimensions need ${n}`,
    );
}

/** A worker's surface must index its own points before it enters the scene. */
function checkMesh(m: TriangleMesh): void {
  const points = m.positions.length / 3;
  const bad =
    !Number.isInteger(points) ||
    m.indices.length % 3 !== 0 ||
    (m.normals !== undefined && m.normals.length !== m.positions.length) ||
    m.indices.some((i) => i >= points);
  if (bad)
    throw new AppError(
      'unprocessable',
      `a result model is inconsistent (${m.positions.length} coordinates, ${m.indices.length} indices)`,
    );
}
