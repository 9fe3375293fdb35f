/**
 * The `/dicom` route table: DICOMweb (QIDO-RS, WADO-RS, STOW-RS, WADO-URI) over the archive.
 * Handlers live in `./dicom/*.ts`; the work is in `src/dicom/`.
 */
import type { AppContext } from '../server/context.js';
import type { RouteSpec } from './routes.js';
import { search } from './dicom/qido.js';
import { stow } from './dicom/stow.js';
import { bulk, frames, metadata, remove, rendered, retrieve } from './dicom/wado.js';
import { wadoUri } from './dicom/wado-uri.js';

const ST = '/studies/:study';
const SE = `${ST}/series/:series`;
const IN = `${SE}/instances/:sop`;

export function dicomRoutes(ctx: AppContext): RouteSpec[] {
  return [
    // WADO-URI (and Slicer's /dicom?objectUID=)
    { method: 'GET', path: '/', handler: wadoUri(ctx) },
    { method: 'GET', path: '/wado', handler: wadoUri(ctx) },
    // QIDO-RS
    { method: 'GET', path: '/studies', handler: search(ctx, 'study') },
    { method: 'GET', path: '/series', handler: search(ctx, 'series') },
    { method: 'GET', path: '/instances', handler: search(ctx, 'instance') },
    { method: 'GET', path: `${ST}/series`, handler: search(ctx, 'series') },
    { method: 'GET', path: `${ST}/instances`, handler: search(ctx, 'instance') },
    { method: 'GET', path: `${SE}/instances`, handler: search(ctx, 'instance') },
    // STOW-RS
    { method: 'POST', path: '/studies', handler: stow(ctx) },
    { method: 'POST', path: ST, handler: stow(ctx) },
    // WADO-RS retrieve and delete
    { method: 'GET', path: ST, handler: retrieve(ctx, 'study') },
    { method: 'GET', path: SE, handler: retrieve(ctx, 'series') },
    { method: 'GET', path: IN, handler: retrieve(ctx, 'instance') },
    { method: 'DELETE', path: ST, handler: remove(ctx, 'study') },
    { method: 'DELETE', path: SE, handler: remove(ctx, 'series') },
    { method: 'DELETE', path: IN, handler: remove(ctx, 'instance') },
    // WADO-RS metadata
    { method: 'GET', path: `${ST}/metadata`, handler: metadata(ctx, 'study') },
    { method: 'GET', path: `${SE}/metadata`, handler: metadata(ctx, 'series') },
    { method: 'GET', path: `${IN}/metadata`, handler: metadata(ctx, 'instance') },
    // WADO-RS frames and bulk data
    { method: 'GET', path: `${IN}/frames/:frames`, handler: frames(ctx) },
    { method: 'GET', path: `${IN}/bulk/:tag`, handler: bulk(ctx) },
    // WADO-RS rendered and thumbnail
    { method: 'GET', path: `${ST}/rendered`, handler: rendered(ctx, 'study', false) },
    { method: 'GET', path: `${SE}/rendered`, handler: rendered(ctx, 'series', false) },
    { method: 'GET', path: `${IN}/rendered`, handler: rendered(ctx, 'instance', false) },
    {
      method: 'GET',
      path: `${IN}/frames/:frames/rendered`,
      handler: rendered(ctx, 'frame', false),
    },
    { method: 'GET', path: `${ST}/thumbnail`, handler: rendered(ctx, 'study', true) },
    { method: 'GET', path: `${SE}/thumbnail`, handler: rendered(ctx, 'series', true) },
    { method: 'GET', path: `${IN}/thumbnail`, handler: rendered(ctx, 'instance', true) },
    {
      method: 'GET',
      path: `${IN}/frames/:frames/thumbnail`,
      handler: rendered(ctx, 'frame', true),
    },
  ];
}
