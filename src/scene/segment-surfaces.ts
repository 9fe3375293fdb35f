/**
 * Segment surfaces (the closed-surface representation of segments): built on request by
 * `POST /slicer/segmentation/surfaces` and kept with the segmentation's labelmap in memory (a
 * WeakMap keyed by the labelmap's voxel array, so a replaced or deleted segmentation drops them).
 * Surfaces are not rebuilt by themselves: after editing voxels in place, POST again. The 3D view
 * and the glTF export draw the surfaces of visible segments; `asModels` turns them into model
 * nodes (persisted).
 */
import type { TriangleMesh } from '../imaging/mesh.js';
import type { TypedArray } from '../imaging/types.js';
import type { SegmentationNode } from './scene.js';

export interface SegmentSurfaces {
  smoothing: number;
  decimation: number;
  /** Segment id → surface in the segmentation's local RAS (mm). */
  surfaces: Map<string, TriangleMesh>;
}

const store = new WeakMap<TypedArray, SegmentSurfaces>();

export function setSegmentSurfaces(node: SegmentationNode, s: SegmentSurfaces): void {
  store.set(node.segmentation.labelmap.data, s);
}

/** The surfaces kept for this segmentation's labelmap, if any. */
export function segmentSurfaces(node: SegmentationNode): SegmentSurfaces | undefined {
  return store.get(node.segmentation.labelmap.data);
}
