/**
 * The command line: the only module that reads process.argv/env, prints the banner and exits.
 */
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createApp } from './app.js';
import { ConfigError, helpText, parseConfig, type Config } from './config.js';
import { JobLog } from '../jobs/job-log.js';
import { modulesOfServicesConfig, registerPluginModules } from '../jobs/plugins.js';
import { closeContext, createContext, type AppContext } from './context.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../util/package.js';
import { listen, PortsExhaustedError, type Listening } from './listen.js';
import { createLogger } from './logger.js';
import { sweepTempFiles } from '../util/recovery.js';
import { SceneStore } from '../scene/persistence.js';
import { loadSample } from '../scene/samples.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { isLoopbackHost as isLoopback } from '../http/guards.js';
import { Archive } from '../dicom/archive.js';
import { importFiles, type ImportProgress, type ImportSummary } from '../dicom/import.js';
import { migrateArchive } from '../dicom/migrate.js';
import { syntheticSeries } from '../dicom/sample.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  exit: (code: number) => void;
}

const defaultIo: CliIo = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
  exit: (code) => process.exit(code),
};

export interface Running {
  ctx: AppContext;
  listening: Listening;
  /** Graceful stop: stop accepting, finish in-flight requests, close stores. */
  stop(reason?: string): Promise<void>;
}

/** Starts a server from a Config (used by the CLI and by socket-level tests). */
export class StartupRefusedError extends Error {}

export async function startServer(
  config: Config,
  io: Pick<CliIo, 'out' | 'err'> = defaultIo,
): Promise<Running> {
  if (!isLoopback(config.host) && !config.token && !config.insecure) {
    throw new StartupRefusedError(
      `refusing to listen on ${config.host} without --token: anyone who can reach that address could change the scene and the archive` +
        ' (give --token, or --insecure if a proxy in front of voxelgate authenticates)',
    );
  }
  let generatedToken: string | undefined;
  if (config.enableExec && !config.token) {
    generatedToken = randomBytes(24).toString('base64url');
    config = { ...config, token: generatedToken };
  }
  const logger = createLogger({
    level: config.logLevel,
    accessLog: !config.quiet,
    out: io.out,
    err: io.err,
  });
  const ctx = createContext(config, logger);
  try {
    const modules = [
      ...config.functionModules,
      ...(config.servicesConfig ? modulesOfServicesConfig(config.servicesConfig) : []),
    ];
    const names = await registerPluginModules(ctx.functions, modules);
    if (names.length) logger.info(`functions: loaded plug-ins ${names.join(', ')}`);
  } catch (e) {
    await closeContext(ctx);
    throw new StartupRefusedError((e as Error).message);
  }
  await fsp.mkdir(config.data, { recursive: true });
  // Startup recovery: temp files of writers that a crash stopped are garbage (the DICOM archive
  // sweeps its own folder in prepareArchive: some of its files may belong to a running import).
  reportRecovery(logger, sweepTempFiles(config.data, ['dicom']));
  // The scene lives under <data>/scene: load it, then save every change (see scene/persistence.ts).
  const store = new SceneStore(ctx.scene, config.data, {
    onError: (e) => logger.error('could not save the scene', e),
  });
  const saved = await store.open();
  reportRecovery(
    logger,
    saved.removed.map((f) => `scene/${f}`),
  );
  ctx.sceneStore = store;
  ctx.closers.push(() => store.close());
  // Job records and the job counter continue across restarts (jobs/job-log.ts).
  const interrupted = await ctx.jobs.attachLog(new JobLog(path.join(config.data, 'jobs.jsonl')));
  if (interrupted > 0)
    logger.warn(
      `jobs: ${interrupted} job(s) cut off when the server last stopped are marked failed`,
    );
  if (saved.existed) logger.info(`scene: loaded ${saved.loaded} node(s) from ${store.dir}`);
  else if (!config.noSamples) {
    loadSample(ctx.scene, 'CTHeadPhantom');
    await store.flush();
    logger.info(
      'scene: first start, loaded the CTHeadPhantom sample (use --no-samples to start empty)',
    );
  }
  if (ctx.archive) {
    try {
      await prepareArchive(ctx, io);
    } catch (e) {
      await closeContext(ctx);
      throw e;
    }
  }
  const app = createApp(ctx);
  let listening: Listening;
  try {
    listening = await listen(app.fetch, {
      host: config.host,
      port: config.port,
      portTries: config.portTries,
      tls:
        config.tlsCert && config.tlsKey
          ? { certFile: config.tlsCert, keyFile: config.tlsKey }
          : undefined,
      http2: config.http2,
      logger,
    });
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
  ctx.boundUrl = listening.url;
  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop requested') =>
    (stopping ??= (async () => {
      logger.info(`shutting down (${reason}); ${listening.inFlight()} request(s) in flight`);
      ctx.shutdown.abort(); // ends live streams so they do not hold the drain for its full grace period
      await listening.close(10_000);
      await closeContext(ctx);
    })());
  if (config.portFile) await writeFileAtomic(config.portFile, `${listening.port}\n`);
  const families = [config.slicer && 'slicer', config.dicom && 'dicom', config.static && 'static']
    .filter(Boolean)
    .join(', ');
  io.out(
    `voxelgate ${ctx.version} listening on ${listening.url} (${families || 'no endpoints'}; exec ${config.enableExec ? 'on' : 'off'}; auth ${config.token ? 'on' : 'off'})`,
  );
  if (generatedToken) {
    io.out(
      `exec is enabled; every mutating request (and /slicer/exec) needs this token, shown once: Authorization: Bearer ${generatedToken}`,
    );
  }
  if (!isLoopback(config.host) && !config.token) {
    logger.warn(
      `bound to ${config.host} without a token (--insecure): anyone who can reach this address can change the scene and the archive`,
    );
  }
  return { ctx, listening, stop };
}

export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = defaultIo,
): Promise<void> {
  let parsed;
  // `migrate` takes --from/--to of its own: set them aside before the server options are parsed.
  const migrateArgs: string[] = [];
  if (args[0] === 'migrate') {
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--from' || a === '--to') migrateArgs.push(a, args[++i] ?? '');
      else if (a.startsWith('--from=') || a.startsWith('--to='))
        migrateArgs.push(...a.split(/=(.*)/s, 2));
      else rest.push(a);
    }
    // The target is the index the options describe (so that --storage postgres is accepted).
    const to = migrateArgs.indexOf('--to');
    if (to >= 0 && migrateArgs[to + 1]) rest.push('--index', migrateArgs[to + 1]!);
    args = rest;
  }
  try {
    parsed = parseConfig(args, env, PACKAGE_ROOT, process.cwd());
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`voxelgate: ${e.message}\nTry 'voxelgate --help'.`);
      io.exit(2);
      return;
    }
    throw e;
  }
  if (parsed.help) {
    io.out(helpText(PACKAGE_VERSION));
    io.exit(0);
    return;
  }
  if (parsed.version) {
    io.out(PACKAGE_VERSION);
    io.exit(0);
    return;
  }
  if (parsed.positionals[0] === 'migrate') {
    io.exit(await runMigrate(parsed.config, migrateArgs, io));
    return;
  }
  if (parsed.positionals[0] === 'import') {
    io.exit(await runImport(parsed.config, parsed.positionals.slice(1), io));
    return;
  }
  if (parsed.positionals.length > 0 && parsed.positionals[0] !== 'serve') {
    io.err(`voxelgate: unknown command "${parsed.positionals[0]}"\nTry 'voxelgate --help'.`);
    io.exit(2);
    return;
  }

  let running: Running;
  try {
    running = await startServer(parsed.config, io);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (e instanceof StartupRefusedError) io.err(`voxelgate: ${e.message}`);
    else if (e instanceof PortsExhaustedError)
      io.err(`voxelgate: cannot listen: ${e.message} (raise --port-tries or pick another --port)`);
    else if (err.code === 'EACCES')
      io.err(
        `voxelgate: cannot listen on ${parsed.config.host}:${parsed.config.port}: permission denied (ports below 1024 need privileges)`,
      );
    else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
      io.err(`voxelgate: cannot listen on ${parsed.config.host}: no such local address`);
    else io.err(`voxelgate: cannot start: ${err.message}`);
    io.exit(1);
    return;
  }

  process.on('unhandledRejection', (reason) =>
    running.ctx.logger.error('unhandled promise rejection (kept running)', reason),
  );
  process.on('uncaughtException', (error) =>
    running.ctx.logger.error('uncaught exception (kept running)', error),
  );
  running.ctx.requestShutdown = (reason) => void running.stop(reason).then(() => io.exit(0));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      io.err(`voxelgate: second ${sig}, exiting now`);
      io.exit(130);
      return;
    }
    running.ctx.requestShutdown(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Sample study into an empty archive (unless --no-samples), then the --import folders. */
async function prepareArchive(ctx: AppContext, io: Pick<CliIo, 'out' | 'err'>): Promise<void> {
  const archive = await ctx.openArchive!();
  reportRecovery(
    ctx.logger,
    (await archive.recover()).map((f) => `dicom/${f}`),
  );
  if (!ctx.config.noSamples && (await archive.counts()).studies === 0) {
    const sample = syntheticSeries();
    for (const f of sample.files) await archive.ingest(f);
    ctx.logger.info(
      `added the sample study (Phantom^Synthetic, ${sample.files.length} CT slices) to the empty archive; --no-samples skips this`,
    );
  }
  for (const dir of ctx.config.imports) {
    const summary = await importFiles(archive, [dir], progressReporter(io, process.stderr.isTTY));
    io.err(summaryLine(dir, summary));
  }
}

/** Logs what startup recovery removed (the first 20 names). */
function reportRecovery(logger: AppContext['logger'], removed: string[]): void {
  if (removed.length === 0) return;
  logger.warn(
    `recovery: removed ${removed.length} leftover file(s) of interrupted writes: ${removed.slice(0, 20).join(', ')}${removed.length > 20 ? ', …' : ''}`,
  );
}

function summaryLine(what: string, s: ImportSummary): string {
  return `import ${what}: ${s.stored} stored, ${s.existing} already present, ${s.skipped} skipped (not DICOM or unreadable) of ${s.files} file(s)`;
}

/** A progress bar on a TTY, otherwise a plain line every 2 s. */
function progressReporter(io: Pick<CliIo, 'err'>, tty: boolean): (p: ImportProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    const finished = p.done === p.files;
    if (!finished && now - last < (tty ? 100 : 2000)) return;
    last = now;
    if (tty) {
      const width = 30;
      const filled = p.files ? Math.round((p.done / p.files) * width) : width;
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.files} files, ${p.stored} stored, ${p.existing} present, ${p.skipped} skipped${finished ? '\n' : ''}`,
      );
    } else
      io.err(
        `import: ${p.done}/${p.files} files, ${p.stored} stored, ${p.existing} present, ${p.skipped} skipped`,
      );
  };
}

/**
 * `voxelgate migrate --from sqlite:DIR --to postgres://… [--storage postgres|fs:DIR]`: copies an
 * embedded archive into PostgreSQL with a progress bar; resumable (instances already there are
 * skipped). `--from`/`--to` are positionals-style flags parsed here (only this command has them).
 */
export async function runMigrate(config: Config, args: string[], io: CliIo): Promise<number> {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    const inline = args.find((a) => a.startsWith(`--${name}=`));
    return inline ? inline.slice(name.length + 3) : i >= 0 ? args[i + 1] : undefined;
  };
  const from = flag('from') ?? (config.data ? `sqlite:${config.data}` : undefined);
  const to = flag('to') ?? config.index;
  const usage =
    'Usage: voxelgate migrate --from sqlite:DIR --to postgres://user@host/db [--storage postgres|fs:DIR]';
  if (!from?.startsWith('sqlite:') || !to || !/^postgres(ql)?:\/\//.test(to)) {
    io.err(
      `voxelgate migrate: name the source (--from sqlite:DIR) and the target (--to postgres://…)\n${usage}`,
    );
    return 2;
  }
  const storage = config.storage === 'fs' ? 'postgres' : config.storage;
  const source = await Archive.open({ data: path.resolve(from.slice('sqlite:'.length)) });
  let target: Archive | undefined;
  try {
    target = await Archive.open({ data: config.data, index: to, storage });
    const tty = process.stderr.isTTY;
    let last = 0;
    const p = await migrateArchive(source, target, (p) => {
      const now = Date.now();
      const finished = p.done === p.total;
      if (!finished && now - last < (tty ? 100 : 2000)) return;
      last = now;
      const line = `${p.done}/${p.total} instances, ${p.copied} copied, ${p.present} already there`;
      if (tty) {
        const filled = p.total ? Math.round((p.done / p.total) * 30) : 30;
        process.stderr.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${line}${finished ? '\n' : ''}`,
        );
      } else io.err(`migrate: ${line}`);
    });
    io.out(
      `migrate ${from} → ${to.replace(/\/\/[^@/]*@/, '//…@')} (storage ${storage}): ${p.copied} copied, ${p.present} already there, of ${p.total}`,
    );
    return 0;
  } catch (e) {
    io.err(`voxelgate migrate: ${(e as Error).message} (run it again to resume)`);
    return 1;
  } finally {
    await source.close();
    await target?.close();
  }
}

/** `voxelgate import <dir|files…>`: imports into the archive of --data; exit code 0, 1 on errors. */
export async function runImport(config: Config, paths: string[], io: CliIo): Promise<number> {
  if (paths.length === 0) {
    io.err(
      'voxelgate import: name at least one folder or file\nUsage: voxelgate import [--data DIR] <dir|files…>',
    );
    return 2;
  }
  await fsp.mkdir(config.data, { recursive: true });
  const archive = await Archive.open({
    data: config.data,
    index: config.index,
    storage: config.storage,
  });
  try {
    const summary = await importFiles(archive, paths, progressReporter(io, process.stderr.isTTY));
    for (const f of summary.skippedFiles.slice(0, 20)) io.err(`  skipped ${f.file}: ${f.reason}`);
    if (summary.skippedFiles.length > 20) io.err(`  … and ${summary.skipped - 20} more skipped`);
    io.out(summaryLine(paths.join(' '), summary));
    return 0;
  } catch (e) {
    io.err(`voxelgate import: ${(e as Error).message}`);
    return 1;
  } finally {
    await archive.close();
  }
}
