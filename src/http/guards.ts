/**
 * Request guards, applied to every route family before routing:
 * - Host allow-list (DNS-rebinding protection) when bound to loopback or when `--allowed-host` is set;
 * - Origin / Sec-Fetch-Site check on mutating browser requests (CSRF), unless the origin is the server's own or CORS allows it;
 * - bearer-token authentication for mutating requests (or all with `--auth all`), constant-time compare.
 * "Mutating" is POST/PUT/DELETE/PATCH, plus GETs of routes flagged `mutates` in their RouteSpec
 * (`mutatingGetGuard`, run by `mountRoutes` right before such a route's handler).
 * Every 401 carries `WWW-Authenticate: Bearer realm="voxelgate"` (see errors.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { Config } from '../server/config.js';
import { generateCookie, getCookie } from 'hono/cookie';

export const MUTATING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export const isLoopbackHost = (host: string) =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** `Host` header → lower-case host name without port (IPv6 keeps brackets). */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d*$/, '');
}

export function hostGuard(config: Config): MiddlewareHandler | undefined {
  const loopback = isLoopbackHost(config.host);
  if (!loopback && config.allowedHosts.length === 0) return undefined;
  const allowed = new Set(config.allowedHosts.map(hostName));
  if (loopback)
    ['localhost', '127.0.0.1', '[::1]', hostName(config.host)].forEach((h) => allowed.add(h));
  return async function checkHost(c, next) {
    // The URL's host is the Host header for socket requests (@hono/node-server builds it from there).
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    const name = hostName(host);
    if (!allowed.has(name) && !(loopback && /^127\.\d+\.\d+\.\d+$/.test(name))) {
      throw new AppError(
        'forbidden',
        `Host "${host}" is not served here (DNS-rebinding guard); add --allowed-host ${name || 'NAME'} to accept it`,
      );
    }
    await next();
  };
}

/**
 * Refuses a mutating request sent by a page of another origin: its `Origin` header names a
 * foreign origin, or (requests without Origin, such as `<img src>` GETs) the browser's
 * `Sec-Fetch-Site` says `cross-site`/`same-site`. The server's own origin and the `--cors`
 * origin pass; so do non-browser clients (no Origin, no Sec-Fetch-Site).
 */
export function checkCrossOrigin(config: Config, c: Context): void {
  const origin = c.req.header('origin');
  const allowedByCors = (o: string | undefined) =>
    config.cors === '*' || (o !== undefined && config.cors?.toLowerCase() === o.toLowerCase());
  if (origin !== undefined) {
    const url = new URL(c.req.url);
    const own = `${url.protocol}//${c.req.header('host') ?? url.host}`.toLowerCase();
    if (origin.toLowerCase() !== own && !allowedByCors(origin)) {
      throw new AppError(
        'forbidden',
        `cross-origin ${c.req.method} from ${origin} refused; start voxelgate with --cors ${origin === 'null' ? 'ORIGIN' : origin} to allow that origin`,
      );
    }
    return;
  }
  const site = c.req.header('sec-fetch-site')?.toLowerCase();
  if ((site === 'cross-site' || site === 'same-site') && config.cors !== '*') {
    throw new AppError(
      'forbidden',
      `cross-site ${c.req.method} ${c.req.path} refused (Sec-Fetch-Site: ${site}); send it from the server's own pages or with an Origin allowed by --cors`,
    );
  }
}

export function originGuard(config: Config): MiddlewareHandler {
  return async function checkOrigin(c, next) {
    if (MUTATING.has(c.req.method)) checkCrossOrigin(config, c);
    await next();
  };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of two secrets (hashes first, so lengths leak nothing). */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The bearer token of a request: `Authorization: Bearer …`, or `?access_token=` (RFC 6750 §2.3)
 * on any method: `<img src>` cannot send a header, and neither can Slicer clients (slicerio,
 * slicer-cli, MCP bridges) whose only setting is a base URL. The access log redacts it
 * (`redactSecrets`); docs/security.md says what a token in a URL risks.
 */
export function requestToken(
  authorization: string | undefined,
  _method: string,
  query: (name: string) => string | undefined,
): string | undefined {
  const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (m) return m[1];
  return query('access_token');
}

/** Throws 401 unless the request carries the read-write token (or, if `readOnlyOk`, the read token). */
export function checkToken(config: Config, c: Context, readOnlyOk: boolean): void {
  const token = config.token;
  if (!token) return;
  const method = c.req.method;
  const given = requestToken(c.req.header('authorization'), method, (n) => c.req.query(n));
  if (given === undefined) {
    throw new AppError(
      'unauthorized',
      `${method} ${c.req.path} needs a bearer token: send "Authorization: Bearer <token>" (or add ?access_token=<token> to the URL)`,
    );
  }
  const ok =
    secretEquals(given, token) ||
    (readOnlyOk && config.readToken !== undefined && secretEquals(given, config.readToken));
  if (!ok) throw new AppError('unauthorized', 'the bearer token is not valid for this request');
}

/** Name of the cookie that lets a browser load the page's own files under `--auth all`. */
export const TOKEN_COOKIE = 'voxelgate_token';

/**
 * Token check for every request that needs one (mutating methods; everything with `--auth all`).
 * Under `--auth all` a browser cannot add a header to the page's own scripts and images, so a
 * page opened with `?access_token=` gets an HttpOnly, SameSite=Strict cookie that is accepted for
 * plain reads (GET/HEAD of routes that change nothing) — never for writes, which still need the
 * Authorization header, so the cookie opens no CSRF hole.
 */
export function authGuard(
  config: Config,
  readOnlyPost: (path: string) => boolean = () => false,
): MiddlewareHandler | undefined {
  const token = config.token;
  if (!token) return undefined;
  return async function checkAuth(c, next) {
    const method = c.req.method;
    if (method === 'OPTIONS') return next();
    // A POST that changes nothing (POST /render) is treated as a read: no token unless --auth all,
    // and then the read-only token is enough.
    const computing = method === 'POST' && readOnlyPost(c.req.path);
    const read = method === 'GET' || method === 'HEAD' || computing;
    const needs = config.auth === 'all' || (MUTATING.has(method) && !computing);
    if (!needs) return next();
    if (
      read &&
      c.req.header('authorization') === undefined &&
      c.req.query('access_token') === undefined
    ) {
      const cookie = getCookie(c, TOKEN_COOKIE);
      if (
        cookie !== undefined &&
        (secretEquals(cookie, token) ||
          (config.readToken !== undefined && secretEquals(cookie, config.readToken)))
      )
        return next();
    }
    checkToken(config, c, read);
    await next();
    const fromQuery = read ? c.req.query('access_token') : undefined;
    if (
      fromQuery !== undefined &&
      config.auth === 'all' &&
      c.res.ok &&
      (c.req.header('accept') ?? '').includes('text/html')
    ) {
      const cookie = generateCookie(TOKEN_COOKIE, fromQuery, {
        path: '/',
        httpOnly: true,
        sameSite: 'Strict',
        secure: Boolean(config.tlsCert),
      });
      try {
        c.res.headers.append('set-cookie', cookie);
      } catch {
        // Headers of a Response made elsewhere (e.g. a static file stream) may be immutable.
        c.res = new Response(c.res.body, c.res);
        c.res.headers.append('set-cookie', cookie);
      }
    }
  };
}

/**
 * For GET/HEAD requests of routes flagged `mutates` (see `routes.ts`): the same checks as a POST
 * gets from `originGuard` and `authGuard` (cross-origin refused; the read-write token required
 * when a token is configured; a read-only token is not enough).
 */
export function mutatingGetGuard(config: Config): MiddlewareHandler {
  return async function checkMutatingGet(c, next) {
    checkCrossOrigin(config, c);
    checkToken(config, c, false);
    await next();
  };
}
