/**
 * The `/slicer` route table (Slicer WebServer paths and parameter names). Handlers are thin:
 * they parse the request, call one domain function and serialize the result. Routes that change
 * state on GET (as Slicer's do) carry `mutates`, so the token and CSRF guards cover them.
 */
import type { AppContext } from '../server/context.js';
import type { RouteSpec } from './routes.js';
import {
  getLoadables,
  postAccessDicomwebStudy,
  postLoad,
  postOpen,
  postSave,
} from './slicer/dicom.js';
import { postExec, refuseExecGet } from './slicer/exec.js';
import { deleteSystem, getStatus, getTimeImage, getVersion } from './slicer/system.js';
import {
  deleteFiducial,
  deleteFiducials,
  getFiducials,
  getMarkups,
  postFiducial,
  postFiducials,
  postMarkups,
  putFiducial,
} from './slicer/fiducials.js';
import {
  deleteNodes,
  getIds,
  getNames,
  getMrmlFile,
  getProperties,
  postMrml,
  putMrml,
  putParent,
} from './slicer/mrml.js';
import { sampleData } from './slicer/samples.js';
import {
  deleteTransform,
  getGridTransform,
  getGridTransforms,
  getTransform,
  getTransforms,
  postGridTransform,
  putTransform,
  tracking,
} from './slicer/transforms.js';
import {
  deleteVolume,
  getVolume,
  getVolumes,
  putVolumeHandler,
  volumeSelection,
} from './slicer/volumes.js';
import { getSlice } from './slicer/slice.js';
import { getThreeD } from './slicer/three-d.js';
import { getScreenshot, gui } from './slicer/layout.js';
import { getSliceStream, getThreeDStream } from './slicer/live.js';
import {
  deleteModel,
  getModel,
  getModels,
  getThreeDGraphics,
  postSegmentSurfaces,
  putModelHandler,
} from './slicer/models.js';
import {
  deleteSegment,
  deleteSegmentation,
  getSegmentation,
  getSegmentations,
  postSegment,
  putSegment,
  putSegmentationHandler,
} from './slicer/segmentations.js';
import { getViewState } from './slicer/view-state.js';
import { deleteTable, getTable, getTables, putTableHandler } from './slicer/tables.js';
import {
  callFunction,
  deleteJob,
  getEvents,
  getFunctions,
  getJob,
  getJobEvents,
  getJobs,
  postJob,
} from './slicer/jobs.js';

export function slicerRoutes(ctx: AppContext): RouteSpec[] {
  const routes: RouteSpec[] = [
    // scene: volumes
    { method: 'GET', path: '/volumes', handler: getVolumes(ctx) },
    { method: 'GET', path: '/volume', handler: getVolume(ctx) },
    { method: ['POST', 'PUT'], path: '/volume', handler: putVolumeHandler(ctx) },
    { method: 'DELETE', path: '/volume', handler: deleteVolume(ctx) },
    {
      method: ['GET', 'POST', 'PUT'],
      path: '/volumeSelection',
      handler: volumeSelection(ctx),
      mutates: true,
    },
    {
      method: ['GET', 'POST'],
      path: '/sampledata',
      handler: sampleData(ctx),
      mutates: (c) => c.req.query('name') !== undefined,
    },
    // scene: models (surfaces)
    { method: 'GET', path: '/models', handler: getModels(ctx) },
    { method: 'GET', path: '/model', handler: getModel(ctx) },
    { method: ['PUT', 'POST'], path: '/model', handler: putModelHandler(ctx) },
    { method: 'DELETE', path: '/model', handler: deleteModel(ctx) },
    { method: 'GET', path: '/threeDGraphics', handler: getThreeDGraphics(ctx) },
    // scene: tables (values, e.g. segment statistics)
    { method: 'GET', path: '/tables', handler: getTables(ctx) },
    { method: 'GET', path: '/table', handler: getTable(ctx) },
    { method: ['PUT', 'POST'], path: '/table', handler: putTableHandler(ctx) },
    { method: 'DELETE', path: '/table', handler: deleteTable(ctx) },
    // scene: nodes
    { method: 'GET', path: '/mrml', handler: getNames(ctx) },
    { method: 'GET', path: '/mrml/names', handler: getNames(ctx) },
    { method: 'GET', path: '/mrml/ids', handler: getIds(ctx) },
    { method: 'GET', path: '/mrml/properties', handler: getProperties(ctx) },
    // Slicer's save-to-file is a GET that writes: guarded as a write (token, CSRF).
    { method: 'GET', path: '/mrml/file', handler: getMrmlFile(ctx), mutates: true },
    { method: 'PUT', path: '/mrml', handler: putMrml(ctx) },
    { method: 'DELETE', path: '/mrml', handler: deleteNodes(ctx) },
    { method: 'DELETE', path: '/mrml/file', handler: deleteNodes(ctx) },
    { method: 'POST', path: '/mrml', handler: postMrml(ctx) },
    { method: 'POST', path: '/mrml/file', handler: postMrml(ctx) },
    { method: 'PUT', path: '/mrml/parent', handler: putParent(ctx) },
    // scene: transforms
    { method: 'GET', path: '/transforms', handler: getTransforms(ctx) },
    { method: 'GET', path: '/transform', handler: getTransform(ctx) },
    { method: ['PUT', 'POST'], path: '/transform', handler: putTransform(ctx) },
    { method: 'DELETE', path: '/transform', handler: deleteTransform(ctx) },
    { method: ['GET', 'PUT', 'POST'], path: '/tracking', handler: tracking(ctx), mutates: true },
    { method: 'GET', path: '/gridTransforms', handler: getGridTransforms(ctx) },
    { method: 'GET', path: '/gridTransform', handler: getGridTransform(ctx) },
    // Slicer's docs (and clients that follow them) spell these in lower case.
    { method: 'GET', path: '/gridtransforms', handler: getGridTransforms(ctx) },
    { method: 'GET', path: '/gridtransform', handler: getGridTransform(ctx) },
    { method: ['POST', 'PUT'], path: '/gridTransform', handler: postGridTransform(ctx) },
    // scene: segmentations
    { method: 'GET', path: '/segmentations', handler: getSegmentations(ctx) },
    { method: 'GET', path: '/segmentation', handler: getSegmentation(ctx) },
    { method: ['PUT', 'POST'], path: '/segmentation', handler: putSegmentationHandler(ctx) },
    { method: 'DELETE', path: '/segmentation', handler: deleteSegmentation(ctx) },
    { method: 'POST', path: '/segmentation/surfaces', handler: postSegmentSurfaces(ctx) },
    { method: 'POST', path: '/segment', handler: postSegment(ctx) },
    { method: 'PUT', path: '/segment', handler: putSegment(ctx) },
    { method: 'DELETE', path: '/segment', handler: deleteSegment(ctx) },
    // scene: fiducials
    { method: 'GET', path: '/fiducials', handler: getFiducials(ctx) },
    { method: 'POST', path: '/fiducials', handler: postFiducials(ctx) },
    { method: 'DELETE', path: '/fiducials', handler: deleteFiducials(ctx) },
    { method: 'PUT', path: '/fiducial', handler: putFiducial(ctx) },
    { method: 'POST', path: '/fiducial', handler: postFiducial(ctx) },
    { method: 'DELETE', path: '/fiducial', handler: deleteFiducial(ctx) },
    { method: 'GET', path: '/markups', handler: getMarkups(ctx) },
    { method: 'POST', path: '/markups', handler: postMarkups(ctx) },
    // DICOM archive ⇄ scene
    { method: 'GET', path: '/dicom/loadables', handler: getLoadables(ctx) },
    { method: 'POST', path: '/dicom/load', handler: postLoad(ctx) },
    { method: 'POST', path: '/dicom/save', handler: postSave(ctx) },
    { method: 'POST', path: '/accessDICOMwebStudy', handler: postAccessDicomwebStudy(ctx) },
    { method: 'POST', path: '/open', handler: postOpen(ctx) },
    // processing: functions, jobs, live events
    { method: 'GET', path: '/functions', handler: getFunctions(ctx) },
    {
      method: ['GET', 'POST'],
      path: '/functions/:name',
      handler: callFunction(ctx),
      mutates: true,
    },
    { method: 'POST', path: '/jobs', handler: postJob(ctx) },
    { method: 'GET', path: '/jobs', handler: getJobs(ctx) },
    { method: 'GET', path: '/jobs/:id', handler: getJob(ctx) },
    { method: 'DELETE', path: '/jobs/:id', handler: deleteJob(ctx) },
    { method: 'GET', path: '/jobs/:id/events', handler: getJobEvents(ctx) },
    { method: 'GET', path: '/events', handler: getEvents(ctx) },
    { method: 'GET', path: '/system/version', handler: getVersion(ctx) },
    { method: 'GET', path: '/system/status', handler: getStatus(ctx, () => routeList(routes)) },
    { method: 'DELETE', path: '/system', handler: deleteSystem(ctx) },
    { method: 'GET', path: '/timeimage', handler: getTimeImage() },
    { method: 'POST', path: '/exec', handler: postExec(ctx) },
    { method: ['GET', 'PUT', 'DELETE'], path: '/exec', handler: refuseExecGet(ctx) },
    // views and rendering. Render GETs move their view (Slicer's API) but stay reads on
    // purpose: they must work as <img src> and only change how the shared view looks, not scene
    // data. Changing the layout on GET is a write: token and CSRF guards apply.
    { method: 'GET', path: '/slice', handler: getSlice(ctx) },
    { method: 'GET', path: '/slice/stream', handler: getSliceStream(ctx) },
    { method: 'GET', path: '/threeD', handler: getThreeD(ctx) },
    { method: 'GET', path: '/threeD/stream', handler: getThreeDStream(ctx) },
    { method: 'GET', path: '/view', handler: getViewState(ctx) },
    { method: 'GET', path: '/screenshot', handler: getScreenshot(ctx) },
    {
      method: ['GET', 'PUT'],
      path: '/gui',
      handler: gui(ctx),
      mutates: (c) =>
        c.req.query('viewersLayout') !== undefined || c.req.query('contents') !== undefined,
    },
  ];
  return routes;
}

/** `GET /slicer/volumes`-style lines of a route table (for the status endpoint). */
function routeList(routes: RouteSpec[]): string[] {
  return routes.flatMap((r) =>
    (Array.isArray(r.method) ? r.method : [r.method]).map((m) => `${m} /slicer${r.path}`),
  );
}
