/**
 * Listening: HTTP/1.1, h2c (HTTP/2 over plain TCP, `--http2`), or HTTPS with HTTP/2 and HTTP/1.1
 * offered by ALPN; port fallback that really binds each candidate, access log, slow-client
 * timeouts, HTTP/2 flood limits, and graceful close (stop accepting, let in-flight requests finish,
 * then cut).
 *
 * h2c and HTTP/1.1 share one port: the first bytes of a connection decide (RFC 9113 §3.4: an h2c
 * client with prior knowledge starts with the connection preface `PRI * HTTP/2.0`), so browsers
 * and curl without `--http2-prior-knowledge` keep working when `--http2` is on.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
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
  /** HTTPS; offers h2 and http/1.1 by ALPN. */
  tls?: { certFile: string; keyFile: string };
  /** On plain sockets, also accept h2c (prior knowledge) beside HTTP/1.1. */
  http2?: boolean;
  logger: Logger;
  /** Milliseconds allowed for a client to send its headers (slowloris guard). */
  headersTimeoutMs?: number;
  /** Milliseconds allowed for a whole request (including body upload). */
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** HTTP/2: streams one client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams?: number;
}

export interface Listening {
  server: net.Server;
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

type Fetch = (req: Request, env?: unknown) => Response | Promise<Response>;
type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export function formatUrl(protocol: 'http' | 'https', host: string, port: number): string {
  const h = host === '' || host === '::' ? '[::]' : host.includes(':') ? `[${host}]` : host;
  return `${protocol}://${h}:${port}/`;
}

/** Connection-specific headers that HTTP/2 forbids (RFC 9113 §8.2.2); node throws on them. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

/**
 * The app's fetch as HTTP/2 needs it: connection-specific response headers removed, and the app
 * work a session has started bounded. Rapid reset (CVE-2023-44487): a reset stream frees its
 * protocol slot at once while the work it started goes on, so a stream reset before the app is
 * called starts nothing, and a session whose unfinished app calls exceed `limit` is sent GOAWAY
 * (ENHANCE_YOUR_CALM) and cut.
 */
function http2Fetch(fetch: Fetch, work: WeakMap<http2.Http2Session, number>, limit: number): Fetch {
  return async (req, env) => {
    const incoming = (env as { incoming?: AnyRequest } | undefined)?.incoming;
    if (!(incoming instanceof http2.Http2ServerRequest)) return fetch(req, env);
    const session = incoming.stream.session;
    if (!session || incoming.stream.destroyed) return new Response(null, { status: 503 });
    const busy = (work.get(session) ?? 0) + 1;
    if (busy > limit) {
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      session.destroy();
      return new Response(null, { status: 503 });
    }
    work.set(session, busy);
    let res: Response;
    try {
      res = await fetch(req, env);
    } finally {
      work.set(session, (work.get(session) ?? 1) - 1);
    }
    if (!HOP_BY_HOP.some((h) => res.headers.has(h))) return res;
    const headers = new Headers(res.headers);
    for (const h of HOP_BY_HOP) headers.delete(h);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

interface Tracker {
  inFlight: number;
  sockets: Set<net.Socket>;
  sessions: Set<http2.Http2Session>;
  /** HTTP/2: requests each session has started that the app has not finished. */
  work: WeakMap<http2.Http2Session, number>;
}

const DEFAULT_MAX_STREAMS = 128;

function requestHandler(fetch: Fetch, opts: ListenOptions, track: Tracker) {
  const maxStreams = opts.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
  const listener = getRequestListener(http2Fetch(fetch, track.work, 2 * maxStreams), {
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
  return (req: AnyRequest, res: AnyResponse) => {
    const started = process.hrtime.bigint();
    // Read now: an HTTP/2 request's socket is a proxy that forgets its peer once the stream ends.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- typed non-null, but a finished HTTP/2 stream's socket proxy is gone
    const remote = req.socket?.remoteAddress ?? '-';
    track.inFlight++;
    let bytes = 0;
    const out = res as unknown as {
      write: (...a: unknown[]) => boolean;
      end: (...a: unknown[]) => unknown;
    };
    const write = out.write.bind(res);
    const end = out.end.bind(res);
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
    };
    let ending = false; // HTTP/2's end(chunk) writes the chunk through write(): count it once
    out.write = (...a: unknown[]) => (ending || count(a[0]), write(...a));
    out.end = (...a: unknown[]) => {
      if (typeof a[0] !== 'function') count(a[0]);
      ending = true;
      try {
        return end(...a);
      } finally {
        ending = false;
      }
    };
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      track.inFlight--;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const proto = req.httpVersionMajor === 2 ? ' h2' : '';
      opts.logger.access(
        `${remote} ${req.method} ${redactSecrets(req.url ?? '')} ${aborted ? 'aborted' : res.statusCode} ${ms.toFixed(1)}ms ${bytes}B${proto}`,
      );
    };
    res.once('finish', () => finish(false));
    res.once('close', () => finish(!res.writableFinished));
    if (req instanceof http2.Http2ServerRequest) {
      // node enforces no header-list limit on HTTP/2 short of nghttp2's 64 KiB block: apply
      // HTTP/1.1's (http.maxHeaderSize, counted as RFC 9113 §6.5.2 does: name + value + 32).
      let headerBytes = 0;
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headerBytes += (req.rawHeaders[i]?.length ?? 0) + (req.rawHeaders[i + 1]?.length ?? 0) + 32;
      if (headerBytes > http.maxHeaderSize) {
        const body = badRequestBody('header list too large');
        res.writeHead(431, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      // HTTP/1.1's requestTimeout, per stream: the whole request must arrive in time.
      const timer = setTimeout(() => {
        if (!req.complete) req.stream.close(http2.constants.NGHTTP2_CANCEL);
      }, opts.requestTimeoutMs ?? 600_000);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
    }
    void listener(req, res);
  };
}

function badRequestBody(reason: string): string {
  return JSON.stringify({
    success: false,
    message: `malformed or incomplete request (${reason})`,
    code: 'bad_request',
  });
}

function badRequestBytes(status: number, code: string | undefined): string {
  const body = badRequestBody(code ?? 'error');
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** Timeouts and the malformed-request answer of the HTTP/1.1 side (plain or TLS fallback). */
function configureHttp1(server: http.Server | http2.Http2SecureServer, opts: ListenOptions): void {
  const s = server as http.Server;
  s.headersTimeout = opts.headersTimeoutMs ?? 30_000;
  s.requestTimeout = opts.requestTimeoutMs ?? 600_000;
  s.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 5_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
    socket.end(badRequestBytes(status, err.code));
  });
}

/** HTTP/2 limits: concurrent streams, header list size, idle sessions. */
function http2Options(opts: ListenOptions): http2.ServerOptions {
  return {
    settings: {
      maxConcurrentStreams: opts.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS,
      // Same order as HTTP/1.1's 16 KiB header limit, leaving room for HPACK overhead.
      maxHeaderListSize: 32 * 1024,
    },
    // Outbound frames queued per session, in MB (node's default, 10, refuses streams with
    // ENHANCE_YOUR_CALM once a viewer has ~80 large frames in flight on one connection).
    maxSessionMemory: 64,
    maxSessionInvalidFrames: 100,
    // A client that keeps opening streams the server must refuse (the rapid-reset pattern,
    // CVE-2023-44487) loses its session.
    maxSessionRejectedStreams: 100,
  };
}

function configureHttp2(
  server: http2.Http2Server | http2.Http2SecureServer,
  opts: ListenOptions,
  track: Tracker,
): void {
  const open = new WeakMap<http2.Http2Session, number>();
  server.on('session', (session: http2.Http2Session) => {
    track.sessions.add(session);
    session.once('close', () => track.sessions.delete(session));
    session.on('error', (e: NodeJS.ErrnoException) =>
      opts.logger.debug(`http2 session error: ${e.code ?? e.message}`),
    );
    // Idle sessions (no stream open) are closed after the HTTP/1.1 header timeout: a client
    // cannot hold a connection without asking for something.
    session.setTimeout(opts.headersTimeoutMs ?? 30_000, () => {
      if ((open.get(session) ?? 0) === 0) session.close();
    });
  });
  server.on('stream', (stream: http2.ServerHttp2Stream) => {
    const session = stream.session;
    if (!session) return;
    open.set(session, (open.get(session) ?? 0) + 1);
    stream.once('close', () => open.set(session, (open.get(session) ?? 1) - 1));
  });
  // The compatibility API answers a timed-out session by destroying it unless someone listens.
  server.on('timeout', () => {});
}

function createServer(fetch: Fetch, opts: ListenOptions, track: Tracker): net.Server {
  const handler = requestHandler(fetch, opts, track);
  let server: net.Server;
  if (opts.tls) {
    const secure = http2.createSecureServer(
      {
        ...http2Options(opts),
        cert: readFileSync(opts.tls.certFile),
        key: readFileSync(opts.tls.keyFile),
        allowHTTP1: true,
        // TLS handshakes that never finish are cut like slow headers.
        handshakeTimeout: opts.headersTimeoutMs ?? 30_000,
      },
      handler,
    );
    configureHttp1(secure, opts);
    configureHttp2(secure, opts, track);
    server = secure;
  } else if (opts.http2) {
    const h1 = http.createServer(handler);
    configureHttp1(h1, opts);
    const h2 = http2.createServer(http2Options(opts), handler);
    configureHttp2(h2, opts, track);
    server = net.createServer((socket) => sniff(socket, h1, h2, opts));
  } else {
    const h1 = http.createServer(handler);
    configureHttp1(h1, opts);
    server = h1;
  }
  server.on('connection', (socket: net.Socket) => {
    track.sockets.add(socket);
    socket.once('close', () => track.sockets.delete(socket));
  });
  return server;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

/** Hands a plain connection to the h2c server when it starts with the HTTP/2 preface. */
function sniff(socket: net.Socket, h1: http.Server, h2: http2.Http2Server, opts: ListenOptions) {
  let seen = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), opts.headersTimeoutMs ?? 30_000);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (isH2 && seen.length < PREFACE.length) return; // a prefix of the preface: wait for more
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.pause();
    socket.unshift(seen);
    // The HTTP/2 session reads what is buffered when it attaches (on its own tick); resuming the
    // socket here would hand those bytes to no one.
    if (isH2) h2.emit('connection', socket);
    else {
      h1.emit('connection', socket);
      socket.resume();
    }
  };
  const onError = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  socket.on('data', onData);
  socket.on('error', onError);
}

function listenOnce(server: net.Server, port: number, host: string): Promise<number> {
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
    const track: Tracker = {
      inFlight: 0,
      sockets: new Set(),
      sessions: new Set(),
      work: new WeakMap(),
    };
    const server = createServer(fetch, opts, track);
    try {
      const bound = await listenOnce(server, port, opts.host);
      server.on('error', (e) => opts.logger.error('server error', e));
      const url = formatUrl(opts.tls ? 'https' : 'http', opts.host, bound);
      return {
        server,
        port: bound,
        host: opts.host,
        url,
        inFlight: () => track.inFlight,
        close: (graceMs) => closeGracefully(server, track, graceMs),
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

async function closeGracefully(server: net.Server, track: Tracker, graceMs = 10_000) {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const h1 = server instanceof http.Server ? server : undefined;
  // HTTP/2: GOAWAY now; streams in flight may finish.
  for (const s of track.sessions) s.close();
  h1?.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  while (track.inFlight > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    h1?.closeIdleConnections();
  }
  for (const s of track.sessions) s.destroy();
  for (const socket of track.sockets) socket.destroy();
  await closed;
}
