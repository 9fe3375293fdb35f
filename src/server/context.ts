/**
 * What the HTTP layer gets to work with: configuration, logging, version facts and the domain
 * services. Built by `createContext`; the CLI owns its lifetime (`close`).
 */
import { PACKAGE_VERSION } from '../util/package.js';
import type { Config } from './config.js';
import { silentLogger, type Logger } from './logger.js';
import { Scene } from '../scene/scene.js';
import { Views } from '../views/views.js';
import { followActiveVolume } from '../views/layers.js';
import { RenderService } from '../render/service.js';
import { VoxelSpare } from '../scene/voxel-spare.js';
import type { SceneStore } from '../scene/persistence.js';
import { Archive } from '../dicom/archive.js';
import { AppError } from '../errors.js';
import { SceneEventLog } from '../scene/events.js';
import { FunctionRegistry } from '../jobs/registry.js';
import { JobManager } from '../jobs/manager.js';
import { BUILTINS } from '../jobs/builtins.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  version: string;
  startedAt: Date;
  /** The URL the server is bound to, once listening (for status pages). */
  boundUrl?: string;
  /** The scene behind /slicer (in memory; persistence is attached by the server). */
  scene: Scene;
  /** Slice and 3D view state and the layout (kept between requests, like Slicer's view nodes). */
  views: Views;
  /** Render worker pool, in-flight de-duplication, encoding. */
  renderer: RenderService;
  /** Pre-touched shared memory for the next uploaded volume of the same size. */
  voxelSpare: VoxelSpare;
  /** Aborted when shutdown begins (before in-flight requests drain), so live streams can end. */
  shutdown: AbortController;
  /** Saves the scene under `<data>/scene` (attached by the server; absent in in-process tests). */
  sceneStore?: SceneStore;
  /** The DICOM archive behind /dicom, opened on first use (undefined with --no-dicom). */
  archive?: () => Archive;
  /** Opens the archive (PostgreSQL needs this before the first request; SQLite opens lazily). */
  openArchive?: () => Promise<Archive>;
  /** Processing functions (built-ins and plug-ins) by name, with their params schemas. */
  functions: FunctionRegistry;
  /** Processing jobs: queue, worker pool, progress, cancel. */
  jobs: JobManager;
  /** Scene and job events with ids, for GET /slicer/events. */
  events: SceneEventLog;
  /** Asks the process to shut down gracefully (set by the CLI; no-op in tests unless replaced). */
  requestShutdown: (reason: string) => void;
  /** Cleanup callbacks run by `closeContext`, last registered first. */
  closers: Array<() => void | Promise<void>>;
}

export function createContext(config: Config, logger: Logger = silentLogger): AppContext {
  const renderer = new RenderService();
  const scene = new Scene();
  const views = new Views();
  const functions = new FunctionRegistry();
  for (const def of BUILTINS) functions.register(def, 'builtin');
  const jobs = new JobManager({
    scene,
    registry: functions,
    ...(config.jobs !== undefined ? { threads: config.jobs } : {}),
    maxQueue: config.jobQueue,
    timeoutMs: config.jobTimeoutMs,
    log: (level, msg) => logger[level](msg),
    // An acknowledged result is on disk: jobs report success after the scene is saved.
    afterApply: () => ctx.sceneStore?.flush() ?? Promise.resolve(),
  });
  const events = new SceneEventLog(scene);
  jobs.onEvent((e) => {
    const { params: _params, ...job } = e.job;
    events.publish(e.type, job);
  });
  const ctx: AppContext = {
    config,
    logger,
    version: PACKAGE_VERSION,
    startedAt: new Date(),
    scene,
    functions,
    jobs,
    events,
    views,
    renderer,
    // touched in whatever pool is current (benchmarks and tests swap the renderer)
    voxelSpare: new VoxelSpare({ touch: (buffer) => ctx.renderer.task({ kind: 'touch', buffer }) }),
    shutdown: new AbortController(),
    requestShutdown: () => {},
    closers: [
      () => renderer.close(),
      () => jobs.close(),
      () => ctx.voxelSpare.close(),
      followActiveVolume(scene, views),
    ],
  };
  if (config.dicom) {
    let archive: Archive | undefined;
    let opening: Promise<Archive> | undefined;
    const embedded = !config.index && config.storage === 'fs';
    const adopt = (opened: Archive) => {
      ctx.closers.push(() => opened.close());
      archive = opened;
      return opened;
    };
    ctx.archive = () => {
      if (archive) return archive;
      // SQLite opens synchronously on first use; PostgreSQL is opened by `openArchive` at startup.
      if (embedded) return adopt(Archive.openSync(config.data));
      throw new AppError('busy', 'the DICOM archive is still opening', { retryAfter: 1 });
    };
    ctx.openArchive = () =>
      archive
        ? Promise.resolve(archive)
        : (opening ??= Archive.open({
            data: config.data,
            index: config.index,
            storage: config.storage,
          }).then(adopt, (e: unknown) => {
            opening = undefined;
            throw e;
          }));
  }
  return ctx;
}

/** Runs the closers in reverse order; errors are logged, never thrown. */
export async function closeContext(ctx: AppContext): Promise<void> {
  ctx.shutdown.abort();
  for (const close of ctx.closers.splice(0).reverse()) {
    try {
      await close();
    } catch (e) {
      ctx.logger.error('error while closing', e);
    }
  }
}
