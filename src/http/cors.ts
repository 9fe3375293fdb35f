/**
 * CORS, only when the operator passed `--cors`. Headers go on every response, errors included
 * (browsers report an error without them as a CORS failure); preflights get 204.
 */
import type { MiddlewareHandler } from 'hono';

const ALLOW_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS';
const ALLOW_HEADERS =
  'Accept, Authorization, Content-Type, Range, If-None-Match, If-Modified-Since, X-Requested-With';
const EXPOSE_HEADERS =
  'Content-Type, Content-Length, Content-Location, Content-Range, ETag, Location, Retry-After, Warning';

export function corsMiddleware(allowedOrigin: string): MiddlewareHandler {
  return async function cors(c, next) {
    const origin = c.req.header('origin');
    const allow = allowedOrigin === '*' ? '*' : allowedOrigin;
    const apply = (h: Headers) => {
      h.set('access-control-allow-origin', allow);
      if (allow !== '*') h.append('vary', 'Origin');
      h.set('access-control-expose-headers', EXPOSE_HEADERS);
    };
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method')) {
      const h = new Headers({
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-max-age': '86400',
      });
      h.set(
        'access-control-allow-headers',
        c.req.header('access-control-request-headers') ?? ALLOW_HEADERS,
      );
      apply(h);
      return new Response(null, { status: 204, headers: h });
    }
    await next();
    if (origin === undefined && allow !== '*') return; // same-origin or non-browser: nothing to add
    // Responses may carry immutable headers (e.g. from fetch); rebuild when needed.
    try {
      apply(c.res.headers);
    } catch {
      c.res = new Response(c.res.body, c.res);
      apply(c.res.headers);
    }
  };
}
