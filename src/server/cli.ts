/**
 * The command line: the only module that reads process.argv/env, prints the banner and exits.
 */
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createApp } from './app.js';
import { ConfigError, helpText, parseConfig, type Config } from './config.js';
import { closeContext, createContext, PACKAGE_ROOT, PACKAGE_VERSION, type AppContext } from './context.js';
import { listen, PortsExhaustedError, type Listening } from './listen.js';
import { createLogger } from './logger.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { isLoopbackHost as isLoopback } from '../http/guards.js';

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

export async function startServer(config: Config, io: Pick<CliIo, 'out' | 'err'> = defaultIo): Promise<Running> {
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
  const logger = createLogger({ level: config.logLevel, accessLog: !config.quiet, out: io.out, err: io.err });
  const ctx = createContext(config, logger);
  await fsp.mkdir(config.data, { recursive: true });
  const app = createApp(ctx);
  let listening: Listening;
  try {
    listening = await listen(app.fetch, {
      host: config.host,
      port: config.port,
      portTries: config.portTries,
      tls: config.tlsCert && config.tlsKey ? { certFile: config.tlsCert, keyFile: config.tlsKey } : undefined,
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
  const families = [config.slicer && 'slicer', config.dicom && 'dicom', config.static && 'static'].filter(Boolean).join(', ');
  io.out(`voxelgate ${ctx.version} listening on ${listening.url} (${families || 'no endpoints'}; exec ${config.enableExec ? 'on' : 'off'}; auth ${config.token ? 'on' : 'off'})`);
  if (generatedToken) {
    io.out(`exec is enabled; every mutating request (and /slicer/exec) needs this token, shown once: Authorization: Bearer ${generatedToken}`);
  }
  if (!isLoopback(config.host) && !config.token) {
    logger.warn(`bound to ${config.host} without a token (--insecure): anyone who can reach this address can change the scene and the archive`);
  }
  return { ctx, listening, stop };
}

export async function runCli(args: string[], env: Record<string, string | undefined> = process.env, io: CliIo = defaultIo): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(args, env, PACKAGE_ROOT, process.cwd());
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`voxelgate: ${e.message}\nTry 'voxelgate --help'.`);
      return io.exit(2);
    }
    throw e;
  }
  if (parsed.help) {
    io.out(helpText(PACKAGE_VERSION));
    return io.exit(0);
  }
  if (parsed.version) {
    io.out(PACKAGE_VERSION);
    return io.exit(0);
  }
  if (parsed.positionals.length > 0 && parsed.positionals[0] !== 'serve') {
    io.err(`voxelgate: unknown command "${parsed.positionals[0]}"\nTry 'voxelgate --help'.`);
    return io.exit(2);
  }

  let running: Running;
  try {
    running = await startServer(parsed.config, io);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (e instanceof StartupRefusedError) io.err(`voxelgate: ${e.message}`);
    else if (e instanceof PortsExhaustedError) io.err(`voxelgate: cannot listen: ${e.message} (raise --port-tries or pick another --port)`);
    else if (err.code === 'EACCES') io.err(`voxelgate: cannot listen on ${parsed.config.host}:${parsed.config.port}: permission denied (ports below 1024 need privileges)`);
    else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') io.err(`voxelgate: cannot listen on ${parsed.config.host}: no such local address`);
    else io.err(`voxelgate: cannot start: ${err.message}`);
    return io.exit(1);
  }

  process.on('unhandledRejection', (reason) => running.ctx.logger.error('unhandled promise rejection (kept running)', reason));
  process.on('uncaughtException', (error) => running.ctx.logger.error('uncaught exception (kept running)', error));
  running.ctx.requestShutdown = (reason) => void running.stop(reason).then(() => io.exit(0));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      io.err(`voxelgate: second ${sig}, exiting now`);
      return io.exit(130);
    }
    running.ctx.requestShutdown(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
