/**
 * `src/server/` assembles the program: the CLI (the only reader of `process.argv`/`env` and the
 * only caller of `exit`), config and its defaults, the context of domain services, the Hono app and
 * listening with port fallback. It may import every other folder; nothing imports it except
 * `main.ts` (http/ imports the context and config as types only).
 *
 * Assembles the Hono app from the URL families. Never listens (see `listen.ts`), so tests can
 * call `app.request()` in-process.
 */
import { Hono } from 'hono';
import { notFound } from '../errors.js';
import { corsMiddleware } from '../http/cors.js';
import { errorResponse } from '../http/errors.js';
import { browseRoutes } from '../http/browse.js';
import { authGuard, hostGuard, mutatingGetGuard, originGuard } from '../http/guards.js';
import { mountRoutes, type RouteSpec } from '../http/routes.js';
import { dicomRoutes } from '../http/dicom.js';
import { slicerRoutes } from '../http/slicer.js';
import { deleteSystem } from '../http/slicer/system.js';
import { staticRoutes } from '../http/static.js';
import { vendorRoutes } from '../http/vendor.js';
import { renderServerRoutes } from '../http/render-server.js';
import type { AppContext } from './context.js';

/** A URL family: its mount point and its route table. */
interface Family {
  prefix: string;
  routes: RouteSpec[];
}

/**
 * Mount points whose POSTs change nothing (the glTF render server computes an image from the
 * request alone): tokens apply to them as to GET renders (see `authGuard`).
 */
const READ_ONLY_POST_PREFIXES = ['/render'];

export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.onError((err) =>
    errorResponse(err, (e) => ctx.logger.error('unhandled error in request', e)),
  );
  app.notFound((c) => errorResponse(notFound(`no such path: ${c.req.path}`)));

  app.use('*', async function securityHeaders(c, next) {
    await next();
    try {
      c.res.headers.set('x-content-type-options', 'nosniff');
    } catch {
      /* immutable headers: leave as is */
    }
  });
  const host = hostGuard(ctx.config);
  if (host) app.use('*', host);
  if (ctx.config.cors) app.use('*', corsMiddleware(ctx.config.cors));
  app.use('*', originGuard(ctx.config));
  const auth = authGuard(ctx.config, (path) =>
    READ_ONLY_POST_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`)),
  );
  if (auth) app.use('*', auth);

  const families: Family[] = [];
  if (ctx.config.slicer) families.push({ prefix: '/slicer', routes: slicerRoutes(ctx) });
  if (ctx.config.dicom) families.push({ prefix: '/dicom', routes: dicomRoutes(ctx) });
  if (ctx.config.renderServer)
    families.push({ prefix: '/render', routes: renderServerRoutes(ctx) });

  const mountOptions = { onMutatingGet: mutatingGetGuard(ctx.config) };
  for (const { prefix, routes } of families) {
    const sub = new Hono();
    mountRoutes(sub, routes, mountOptions);
    // Anything else under the family is an unknown endpoint, not a static file.
    sub.all('/*', (c) => {
      throw notFound(`unknown endpoint: ${c.req.path}`);
    });
    app.route(prefix, sub);
    app.all(prefix, (c) => {
      throw notFound(`unknown endpoint: ${c.req.path}; see the README for the ${prefix} endpoints`);
    });
  }
  // slicerio's stop_server() sends DELETE /system (no /slicer): the same guarded shutdown.
  if (ctx.config.slicer)
    mountRoutes(
      app,
      [{ method: 'DELETE', path: '/system', handler: deleteSystem(ctx) }],
      mountOptions,
    );
  // OHIF at /browse before the docroot, so the docroot cannot shadow it.
  if (ctx.config.static) mountRoutes(app, browseRoutes(ctx), mountOptions);
  // The demo pages' JavaScript libraries, from node_modules through a fixed list.
  if (ctx.config.static) mountRoutes(app, vendorRoutes(), mountOptions);
  if (ctx.config.static) mountRoutes(app, staticRoutes(ctx), mountOptions);
  // Slicer's user guide writes parameters glued to the path (`/slicer/volume&id='MRHead'`):
  // every request goes through `ungluedRequest` before routing (tests' app.request() too).
  const dispatch = app.fetch;
  app.fetch = (req, env, executionCtx) => dispatch(ungluedRequest(req), env, executionCtx);
  return app;
}

/**
 * `/slicer/volume&id='MRHead'` (no `?`, parameters glued on with `&`, as Slicer's user guide
 * writes them) → `/slicer/volume?id=MRHead`. Slicer matched the path by prefix and so ignored such
 * parameters; voxelgate reads them, and drops one pair of quotes around a glued value (the
 * guide's `'MRHead'` keeps its quotes when the command is not run by a POSIX shell). Only
 * `/slicer` paths, only when the URL has no `?`.
 */
export function ungluedRequest(req: Request): Request {
  const url = req.url;
  const q = url.indexOf('?');
  const hash = url.indexOf('#');
  if (q >= 0 || hash >= 0) return req;
  const m = /^(https?:\/\/[^/]+\/slicer\/[^&]*)&(.*)$/.exec(url);
  if (!m) return req;
  const params = m[2]!
    .split('&')
    .map((pair) =>
      pair.replace(
        /^([^=]*)=(?:'([^']*)'|"([^"]*)"|%27([^%]*)%27|%22([^%]*)%22)$/i,
        (_all, k: string, a?: string, b?: string, c?: string, d?: string) =>
          `${k}=${a ?? b ?? c ?? d ?? ''}`,
      ),
    )
    .join('&');
  const init: RequestInit & { duplex?: 'half' } = {
    method: req.method,
    headers: req.headers,
    signal: req.signal,
  };
  if (req.body) {
    init.body = req.body;
    init.duplex = 'half';
  }
  return new Request(`${m[1]}?${params}`, init);
}
