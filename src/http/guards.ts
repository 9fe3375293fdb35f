/**
 * Request guards, applied to every route family before routing:
 * - Host allow-list (DNS-rebinding protection) when bound to loopback or when `--allowed-host` is set;
 * - Origin check on mutating browser requests (CSRF), unless the origin is the server's own or CORS allows it;
 * - bearer-token authentication for mutating requests (or all with `--auth all`), constant-time compare.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { Config } from '../server/config.js';

export const MUTATING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export const isLoopbackHost = (host: string) => host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

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
  if (loopback) ['localhost', '127.0.0.1', '[::1]', hostName(config.host)].forEach((h) => allowed.add(h));
  return async function checkHost(c, next) {
    // The URL's host is the Host header for socket requests (@hono/node-server builds it from there).
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    const name = hostName(host);
    if (!allowed.has(name) && !(loopback && /^127\.\d+\.\d+\.\d+$/.test(name))) {
      throw new AppError('forbidden', `Host "${host}" is not served here (DNS-rebinding guard); add --allowed-host ${name || 'NAME'} to accept it`);
    }
    await next();
  };
}

export function originGuard(config: Config): MiddlewareHandler {
  return async function checkOrigin(c, next) {
    const origin = c.req.header('origin');
    if (origin !== undefined && MUTATING.has(c.req.method)) {
      const url = new URL(c.req.url);
      const own = `${url.protocol}//${c.req.header('host') ?? url.host}`.toLowerCase();
      const allowedByCors = config.cors === '*' || (config.cors !== undefined && config.cors.toLowerCase() === origin.toLowerCase());
      if (origin.toLowerCase() !== own && !allowedByCors) {
        throw new AppError('forbidden', `cross-origin ${c.req.method} from ${origin} refused; start voxelgate with --cors ${origin === 'null' ? 'ORIGIN' : origin} to allow that origin`);
      }
    }
    await next();
  };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of two secrets (hashes first, so lengths leak nothing). */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The bearer token of a request: `Authorization: Bearer …`, or `?access_token=` on GET/HEAD (for `<img src>`). */
export function requestToken(authorization: string | undefined, method: string, query: (name: string) => string | undefined): string | undefined {
  const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (m) return m[1];
  if (method === 'GET' || method === 'HEAD') return query('access_token');
  return undefined;
}

export function authGuard(config: Config): MiddlewareHandler | undefined {
  const token = config.token;
  if (!token) return undefined;
  return async function checkToken(c, next) {
    const method = c.req.method;
    if (method === 'OPTIONS') return next();
    const needs = config.auth === 'all' || MUTATING.has(method);
    if (!needs) return next();
    const given = requestToken(c.req.header('authorization'), method, (n) => c.req.query(n));
    if (given === undefined) {
      throw new AppError('unauthorized', `${method} ${c.req.path} needs a bearer token: send "Authorization: Bearer <token>"`);
    }
    const readOnly = method === 'GET' || method === 'HEAD';
    const ok = secretEquals(given, token) || (readOnly && config.readToken !== undefined && secretEquals(given, config.readToken));
    if (!ok) throw new AppError('unauthorized', 'the bearer token is not valid for this request');
    await next();
  };
}
