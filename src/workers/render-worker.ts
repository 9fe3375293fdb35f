/**
 * `src/workers/` holds the worker-thread entry points (render, DICOM decode, exec) and the
 * `.ts` worker bootstrap. Workers import domain code only (imaging/, scene/, dicom/, render/),
 * never http/, server/ or hono.
 *
 * Render worker (piscina): runs one slice or 3D job and returns raw pixels (a slice sent with
 * encode options comes back encoded). Volumes arrive as
 * typed arrays over SharedArrayBuffers, so posting a job does not copy voxels.
 */
import { renderSlice, type RawImage, type SliceJob } from '../imaging/slice-render.js';
import { renderThreeD, type ThreeDJob } from '../imaging/render3d.js';
import { rasterize, type RasterImage, type RasterJob } from '../imaging/rasterize.js';
import { readMesh, type MeshFormat, type MeshFrame } from '../imaging/mesh-io.js';
import { maskSurface, type MaskGeometry, type SurfaceOptions } from '../imaging/surface.js';
import type { TriangleMesh } from '../imaging/mesh.js';
import { encode, type EncodeOptions, type Encoded } from '../render/encode.js';

/** Mesh file bytes → RAS triangle mesh (vtk.js readers are synchronous: kept off the event loop). */
export interface ReadMeshJob {
  kind: 'readMesh';
  bytes: Uint8Array;
  format?: MeshFormat;
  frame?: MeshFrame;
}

/** Binary mask → closed surface (marching cubes, smoothing, decimation) in RAS. */
export interface SurfaceJob {
  kind: 'surface';
  mask: Uint8Array;
  geometry: MaskGeometry;
  options: SurfaceOptions;
}

/** Writes one byte of every 4 KiB page of fresh shared memory (see scene/voxel-spare.ts). */
export interface TouchJob {
  kind: 'touch';
  buffer: SharedArrayBuffer;
}

export type PoolJob = RasterJob | ReadMeshJob | SurfaceJob | TouchJob;

/** A slice rendered and encoded here (the event loop then only answers the request). */
export type EncodedSliceJob = SliceJob & { encode: EncodeOptions };

export default function render(
  job: SliceJob | EncodedSliceJob | ThreeDJob | PoolJob,
): RawImage | RasterImage | ReturnType<typeof readMesh> | Promise<TriangleMesh> | Promise<Encoded> {
  if (job.kind === 'raster') return rasterize(job);
  if (job.kind === 'touch') {
    const bytes = new Uint8Array(job.buffer);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 0;
    return undefined as never;
  }
  if (job.kind === 'surface') return maskSurface(job.mask, job.geometry, job.options);
  if (job.kind === 'readMesh') {
    try {
      return readMesh(job.bytes, job);
    } catch (e) {
      // Domain errors cross the thread boundary as values (an AppError's class and code are lost
      // when thrown); RenderService.task turns them back into AppErrors.
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string') throw e;
      return { kind: 'error', code, message: (e as Error).message } as never;
    }
  }
  if (job.kind === 'threeD') return renderThreeD(job);
  return 'encode' in job ? encode(renderSlice(job), job.encode) : renderSlice(job);
}
