/**
 * `src/http/` is the HTTP edge: one route table per URL family (`static.ts`, `slicer.ts`,
 * `dicom.ts`) listing every route, thin handlers (parse with `request.ts`, call one domain
 * function, serialise), guards, CORS and the one error→status table (`errors.ts`). The only
 * folder (with server/) that imports hono; it calls views/, render/, scene/, dicom/ (through
 * `archive.ts`) and bridge/.
 *
 * Route tables. Each URL family declares its routes as data (`RouteSpec[]`) in one screen;
 * `mountRoutes` registers them on a Hono app and answers other methods on a known path with
 * 405 + `Allow` (HEAD is served by GET handlers; OPTIONS is answered by the CORS layer).
 *
 * Mutating requests: POST/PUT/DELETE/PATCH are always treated as mutating by the guards
 * (`guards.ts`). A route that changes state on GET (Slicer compatibility, e.g.
 * `GET /slicer/sampledata?name=`) says so with `mutates`: `true` (every GET of the route
 * mutates) or a predicate on the request (`(c) => c.req.query('name') !== undefined`). Such
 * requests then pass the same Origin (CSRF) check and token check as a POST, and a read-only
 * token is not enough. `mountRoutes` runs the `onMutatingGet` middleware for them.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
export type Handler = (c: Context) => Response | Promise<Response>;

export interface RouteSpec {
  method: Method | Method[];
  /** Hono path pattern relative to the family's mount point, e.g. `/volume` or `/studies/:study`. */
  path: string;
  handler: Handler;
  /**
   * The route changes state even on GET/HEAD (see the module comment): `true`, or a predicate
   * telling which requests do. POST/PUT/DELETE/PATCH need no flag.
   */
  mutates?: boolean | ((c: Context) => boolean);
}

export interface MountOptions {
  /** Runs before the handler of a GET/HEAD request that `mutates` (the write guards). */
  onMutatingGet?: MiddlewareHandler;
}

/** Whether a request to this route changes state (method, or the route's `mutates` flag). */
export function isMutatingRequest(spec: Pick<RouteSpec, 'mutates'>, c: Context): boolean {
  if (!['GET', 'HEAD'].includes(c.req.method)) return c.req.method !== 'OPTIONS';
  return typeof spec.mutates === 'function' ? spec.mutates(c) : spec.mutates === true;
}

export function mountRoutes(
  app: Hono,
  routes: readonly RouteSpec[],
  opts: MountOptions = {},
): void {
  const allowed = new Map<string, Set<string>>();
  for (const r of routes) {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const guard = opts.onMutatingGet;
    for (const m of methods) {
      if (m === 'GET' && r.mutates && guard) {
        const gate: MiddlewareHandler = (c, next) =>
          isMutatingRequest(r, c) ? guard(c, next) : next();
        app.on(m, r.path, gate, r.handler);
      } else app.on(m, r.path, r.handler);
    }
    const set = allowed.get(r.path) ?? new Set<string>();
    methods.forEach((m) => set.add(m));
    allowed.set(r.path, set);
  }
  for (const [p, set] of allowed) {
    if (set.has('GET')) set.add('HEAD');
    set.add('OPTIONS');
    const allow = [...set];
    app.all(p, (c) => {
      if (c.req.method === 'OPTIONS')
        return new Response(null, { status: 204, headers: { allow: allow.join(', ') } });
      throw new AppError(
        'method_not_allowed',
        `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(', ')}`,
        { allow },
      );
    });
  }
}
