/**
 * `src/workers/` holds the worker-thread entry points (render, DICOM decode, exec) and the
 * `.ts` worker bootstrap. Workers import domain code only (imaging/, scene/, dicom/, render/),
 * never http/, server/ or hono.
 *
 * Render worker (piscina): runs one slice or 3D job and returns raw pixels. Volumes arrive as
 * typed arrays over SharedArrayBuffers, so posting a job does not copy voxels.
 */
import { renderSlice, type RawImage, type SliceJob } from '../imaging/slice-render.js';
import { renderThreeD, type ThreeDJob } from '../imaging/render3d.js';

export default function render(job: SliceJob | ThreeDJob): RawImage {
  return job.kind === 'slice' ? renderSlice(job) : renderThreeD(job);
}
