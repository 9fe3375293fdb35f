/**
 * Render worker (piscina): runs one slice or 3D job and returns raw pixels. Volumes arrive as
 * typed arrays over SharedArrayBuffers, so posting a job does not copy voxels.
 */
import { renderSlice, type RawImage, type SliceJob } from '../imaging/slice-render.js';
import { renderThreeD, type ThreeDJob } from '../imaging/render3d.js';
import { rasterize, type RasterImage, type RasterJob } from '../imaging/rasterize.js';

export default function render(job: SliceJob | ThreeDJob | RasterJob): RawImage | RasterImage {
  if (job.kind === 'raster') return rasterize(job);
  return job.kind === 'slice' ? renderSlice(job) : renderThreeD(job);
}
