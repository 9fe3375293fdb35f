/**
 * Route tables. Each URL family declares its routes as data (`RouteSpec[]`) in one screen;
 * `mountRoutes` registers them on a Hono app and answers other methods on a known path with
 * 405 + `Allow` (HEAD is served by GET handlers; OPTIONS is answered by the CORS layer).
 */
import type { Context, Hono } from 'hono';
import { AppError } from '../errors.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
export type Handler = (c: Context) => Response | Promise<Response>;

export interface RouteSpec {
  method: Method | Method[];
  /** Hono path pattern relative to the family's mount point, e.g. `/volume` or `/studies/:study`. */
  path: string;
  handler: Handler;
}

export function mountRoutes(app: Hono, routes: readonly RouteSpec[]): void {
  const allowed = new Map<string, Set<string>>();
  for (const r of routes) {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) app.on(m, r.path, r.handler);
    const set = allowed.get(r.path) ?? new Set<string>();
    methods.forEach((m) => set.add(m));
    allowed.set(r.path, set);
  }
  for (const [p, set] of allowed) {
    if (set.has('GET')) set.add('HEAD');
    set.add('OPTIONS');
    const allow = [...set];
    app.all(p, (c) => {
      if (c.req.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow: allow.join(', ') } });
      throw new AppError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(', ')}`, { allow });
    });
  }
}
