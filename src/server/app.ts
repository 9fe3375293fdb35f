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
import { staticRoutes } from '../http/static.js';
import type { AppContext } from './context.js';

/** A URL family: its mount point and its route table. */
interface Family {
  prefix: string;
  routes: RouteSpec[];
}

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
  const auth = authGuard(ctx.config);
  if (auth) app.use('*', auth);

  const families: Family[] = [];
  if (ctx.config.slicer) families.push({ prefix: '/slicer', routes: slicerRoutes(ctx) });
  if (ctx.config.dicom) families.push({ prefix: '/dicom', routes: dicomRoutes(ctx) });

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
  // OHIF at /browse before the docroot, so the docroot cannot shadow it.
  if (ctx.config.static) mountRoutes(app, browseRoutes(ctx), mountOptions);
  if (ctx.config.static) mountRoutes(app, staticRoutes(ctx), mountOptions);
  return app;
}
