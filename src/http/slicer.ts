/**
 * The `/slicer` route table (Slicer WebServer paths and parameter names). Handlers are thin:
 * they parse the request, call one domain function and serialize the result.
 */
import type { AppContext } from '../server/context.js';
import type { RouteSpec } from './routes.js';
import { postExec, refuseExecGet } from './slicer/exec.js';
import { deleteSystem, getTimeImage, getVersion } from './slicer/system.js';
import { renderRoutes } from './slicer/render.js';

export function slicerRoutes(ctx: AppContext): RouteSpec[] {
  return [
    { method: 'GET', path: '/system/version', handler: getVersion(ctx) },
    { method: 'DELETE', path: '/system', handler: deleteSystem(ctx) },
    { method: 'GET', path: '/timeimage', handler: getTimeImage() },
    { method: 'POST', path: '/exec', handler: postExec(ctx) },
    { method: ['GET', 'PUT', 'DELETE'], path: '/exec', handler: refuseExecGet(ctx) },
    ...renderRoutes(ctx),
  ];
}
