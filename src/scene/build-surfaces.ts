/**
 * Segment surfaces built on request (`POST /slicer/segmentation/surfaces`): each segment's closed
 * surface (marching cubes on its binary labelmap, windowed-sinc smoothing, decimation) made by the
 * injected `surface` function (the server passes its worker pool), kept with the segmentation
 * (scene/segment-surfaces.ts) and, with `asModels`, also added as model nodes. No HTTP here.
 */
import { signedVolume, type TriangleMesh } from '../imaging/mesh.js';
import {
  findSegment,
  segmentMask,
  voxelVolumeMm3,
  type GridGeometry,
  type Segment,
  type Segmentation,
} from '../imaging/segmentation.js';
import type { Vec3 } from '../imaging/types.js';
import { putModel } from './models.js';
import type { Scene, SegmentationNode } from './scene.js';
import { segmentSurfaces, setSegmentSurfaces } from './segment-surfaces.js';

export interface SurfaceSettings {
  /** 0..1. */
  smoothing: number;
  /** Fraction of triangles removed, 0..0.95. */
  decimation: number;
}

/** Binary mask on a grid → closed surface in RAS mm. */
export type SurfaceMaker = (
  mask: Uint8Array,
  geometry: GridGeometry,
  options: SurfaceSettings,
) => Promise<TriangleMesh>;

/** What one segment's surface measures. */
export interface SegmentSurfaceSummary {
  segmentId: string;
  name: string;
  numberOfPoints: number;
  numberOfTriangles: number;
  surfaceVolumeMm3: number;
  voxelVolumeMm3: number;
}

/** One segment's closed surface and what it measures (also the `surfaces` job's step). */
export async function surfaceOfSegment(
  segmentation: Segmentation,
  seg: Segment,
  settings: SurfaceSettings,
  surface: SurfaceMaker,
): Promise<{ mesh: TriangleMesh; summary: SegmentSurfaceSummary }> {
  const { mask, geometry } = segmentMask(segmentation, seg.id);
  let voxels = 0;
  for (const v of mask) voxels += v;
  const mesh = await surface(mask, geometry, settings);
  return {
    mesh,
    summary: {
      segmentId: seg.id,
      name: seg.name,
      numberOfPoints: mesh.positions.length / 3,
      numberOfTriangles: mesh.indices.length / 3,
      surfaceVolumeMm3: Number(signedVolume(mesh).toFixed(3)),
      voxelVolumeMm3: Number((voxels * voxelVolumeMm3(segmentation.labelmap)).toFixed(3)),
    },
  };
}

/**
 * Builds the surfaces of one segment (`segmentId`), or of every visible segment (every segment
 * when `asModels`), and keeps them with the segmentation; `asModels` also adds a model node for
 * each non-empty surface (under the segmentation's parent transform). The caller persists.
 */
export async function buildSegmentSurfaces(
  scene: Scene,
  node: SegmentationNode,
  o: SurfaceSettings & { segmentId?: string; asModels: boolean },
  surface: SurfaceMaker,
): Promise<{ segments: SegmentSurfaceSummary[]; modelIDs: string[] }> {
  const { smoothing, decimation, asModels } = o;
  const segmentation = node.segmentation;
  const segments = o.segmentId
    ? [findSegment(segmentation, o.segmentId)]
    : segmentation.segments.filter((s) => s.visible !== false || asModels);
  const surfaces = new Map(segmentSurfaces(node)?.surfaces ?? []);
  const out: SegmentSurfaceSummary[] = [];
  const modelIDs: string[] = [];
  for (const seg of segments) {
    const { mesh, summary } = await surfaceOfSegment(
      segmentation,
      seg,
      { smoothing, decimation },
      surface,
    );
    surfaces.set(seg.id, mesh);
    out.push(summary);
    if (asModels && mesh.indices.length > 0) {
      const { node: model } = putModel(scene, {
        name: `${node.name}_${seg.name}`,
        mesh,
        display: { color: [...seg.color] as Vec3 },
        parentTransformID: node.parentTransformID,
      });
      modelIDs.push(model.id);
    }
  }
  setSegmentSurfaces(node, { smoothing, decimation, surfaces });
  return { segments: out, modelIDs };
}
