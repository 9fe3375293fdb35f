/**
 * Listening: HTTP or HTTPS, port fallback that really binds each candidate, access log, slow-client
 * timeouts, and graceful close (stop accepting, let in-flight requests finish, then cut).
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { getRequestListener, RequestError } from '@hono/node-server';
import { AppError } from '../errors.js';
import { errorResponse } from '../http/errors.js';
import { redactSecrets, type Logger } from './logger.js';

export interface ListenOptions {
  host: string;
  /** First port; 0 for an ephemeral one. */
  port: number;
  /** How many successive ports to try on EADDRINUSE. */
  portTries: number;
  tls?: { certFile: string; keyFile: string };
  logger: Logger;
  /** Milliseconds allowed for a client to send its headers (slowloris guard). */
  headersTimeoutMs?: number;
  /** Milliseconds allowed for a whole request (including body upload). */
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

export interface Listening {
  server: http.Server;
  port: number;
  host: string;
  url: string;
  /** Requests currently being answered. */
  inFlight(): number;
  /** Stops accepting, waits up to `graceMs` for in-flight requests, then closes every socket. */
  close(graceMs?: number): Promise<void>;
}

export class PortsExhaustedError extends Error {
  constructor(
    readonly first: number,
    readonly last: number,
  ) {
    super(last > first ? `ports ${first}–${last} are all in use` : `port ${first} is in use`);
  }
}

type Fetch = (req: Request) => Response | Promise<Response>;

export function formatUrl(protocol: 'http' | 'https', host: string, port: number): string {
  const h = host === '' || host === '::' ? '[::]' : host.includes(':') ? `[${host}]` : host;
  return `${protocol}://${h}:${port}/`;
}

function createServer(
  fetch: Fetch,
  opts: ListenOptions,
  counters: { inFlight: number },
): http.Server {
  const listener = getRequestListener(fetch, {
    // Requests the adapter cannot turn into a URL (backslash in the path, bad Host, …) get the
    // same JSON error shape as everything else.
    errorHandler: (e) =>
      errorResponse(
        e instanceof RequestError
          ? new AppError('bad_request', `malformed request: ${e.message}`)
          : e,
        (err) => opts.logger.error('request failed', err),
      ),
  });
  const handler: http.RequestListener = (req, res) => {
    const started = process.hrtime.bigint();
    counters.inFlight++;
    let bytes = 0;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
    };
    (res as unknown as { write: (...a: unknown[]) => boolean }).write = (...a: unknown[]) => (
      count(a[0]),
      write(...a)
    );
    (res as unknown as { end: (...a: unknown[]) => http.ServerResponse }).end = (
      ...a: unknown[]
    ) => {
      if (typeof a[0] !== 'function') count(a[0]);
      return end(...a);
    };
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      counters.inFlight--;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      opts.logger.access(
        `${req.socket?.remoteAddress ?? '-'} ${req.method} ${redactSecrets(req.url ?? '')} ${aborted ? 'aborted' : res.statusCode} ${ms.toFixed(1)}ms ${bytes}B`,
      );
    };
    res.once('finish', () => finish(false));
    res.once('close', () => finish(!res.writableFinished));
    void listener(req, res);
  };
  const server = opts.tls
    ? https.createServer(
        { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) },
        handler,
      )
    : http.createServer(handler);
  server.headersTimeout = opts.headersTimeoutMs ?? 30_000;
  server.requestTimeout = opts.requestTimeoutMs ?? 600_000;
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 5_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
    const body = JSON.stringify({
      success: false,
      message: `malformed or incomplete request (${err.code ?? 'error'})`,
      code: 'bad_request',
    });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

function listenOnce(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Binds the first free port in `port … port+portTries-1` (each try really binds). */
export async function listen(fetch: Fetch, opts: ListenOptions): Promise<Listening> {
  const tries = opts.port === 0 ? 1 : opts.portTries;
  const last = Math.min(65535, opts.port + tries - 1);
  for (let port = opts.port; port <= last; port++) {
    const counters = { inFlight: 0 };
    const server = createServer(fetch, opts, counters);
    try {
      const bound = await listenOnce(server, port, opts.host);
      server.on('error', (e) => opts.logger.error('server error', e));
      const url = formatUrl(opts.tls ? 'https' : 'http', opts.host, bound);
      return {
        server,
        port: bound,
        host: opts.host,
        url,
        inFlight: () => counters.inFlight,
        close: (graceMs) => closeGracefully(server, counters, graceMs),
      };
    } catch (e) {
      server.close();
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && port < last) {
        opts.logger.info(`port ${port} is in use, trying ${port + 1}`);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new PortsExhaustedError(opts.port, last);
      throw e;
    }
  }
  throw new PortsExhaustedError(opts.port, last);
}

async function closeGracefully(
  server: http.Server,
  counters: { inFlight: number },
  graceMs = 10_000,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  while (counters.inFlight > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    server.closeIdleConnections();
  }
  server.closeAllConnections();
  await closed;
}
