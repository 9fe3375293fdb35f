/**
 * The `/slicer` route table (Slicer WebServer paths and parameter names). Handlers are thin:
 * they parse the request, call one domain function and serialize the result.
 */
import type { AppContext } from '../server/context.js';
import type { RouteSpec } from './routes.js';
import { postExec, refuseExecGet } from './slicer/exec.js';
import { deleteSystem, getStatus, getTimeImage, getVersion } from './slicer/system.js';

export function slicerRoutes(ctx: AppContext): RouteSpec[] {
  const routes: RouteSpec[] = [
    { method: 'GET', path: '/system/version', handler: getVersion(ctx) },
    { method: 'GET', path: '/system/status', handler: getStatus(ctx, () => routeList(routes)) },
    { method: 'DELETE', path: '/system', handler: deleteSystem(ctx) },
    { method: 'GET', path: '/timeimage', handler: getTimeImage() },
    { method: 'POST', path: '/exec', handler: postExec(ctx) },
    { method: ['GET', 'PUT', 'DELETE'], path: '/exec', handler: refuseExecGet(ctx) },
  ];
  return routes;
}

/** `GET /slicer/volumes`-style lines of a route table (for the status endpoint). */
function routeList(routes: RouteSpec[]): string[] {
  return routes.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => `${m} /slicer${r.path}`));
}
