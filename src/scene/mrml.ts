/**
 * The `/mrml` node filter (Slicer WebServer §2.2) and node properties: `id` → exactly that id;
 * else `class` (default `vtkMRMLNode`, subclasses included) then, if given, exact `name`.
 */
import { ijkToRasMatrix } from '../imaging/geometry.js';
import { isA } from './classes.js';
import type { Scene, SceneNode } from './scene.js';

export interface NodeFilter {
  id?: string;
  class?: string;
  name?: string;
}

export function filterNodes(scene: Scene, f: NodeFilter): SceneNode[] {
  if (f.id !== undefined) {
    const n = scene.byId(f.id);
    return n ? [n] : [];
  }
  const cls = f.class ?? 'vtkMRMLNode';
  return scene
    .nodes()
    .filter((n) => isA(n.className, cls) && (f.name === undefined || n.name === f.name));
}

export const hasFilter = (f: NodeFilter) =>
  f.id !== undefined || f.class !== undefined || f.name !== undefined;

/** Our property model (Slicer parsed VTK PrintSelf text; that format is not reproducible). */
export function nodeProperties(scene: Scene, n: SceneNode): Record<string, unknown> {
  const common = {
    id: n.id,
    name: n.name,
    className: n.className,
    parentTransformID: n.parentTransformID ?? null,
    attributes: n.attributes,
  };
  switch (n.kind) {
    case 'volume': {
      const v = n.volume;
      return {
        ...common,
        scalarType: v.scalarType,
        components: v.components,
        ...(n.componentKind ? { componentKind: n.componentKind } : {}),
        dimensions: v.dimensions,
        spacing: v.spacing,
        origin: v.origin,
        direction: v.direction,
        ijkToRAS: ijkToRasMatrix(v),
        display: n.display,
        active: scene.activeVolumeId === n.id,
      };
    }
    case 'linearTransform':
      return {
        ...common,
        matrixToParent: n.matrixToParent,
        matrixToWorld: scene.worldFromLocal(n.id),
      };
    case 'gridTransform':
      return {
        ...common,
        scalarType: n.grid.scalarType,
        dimensions: n.grid.dimensions,
        spacing: n.grid.spacing,
        origin: n.grid.origin,
        direction: n.grid.direction,
      };
    case 'segmentation': {
      const lm = n.segmentation.labelmap;
      return {
        ...common,
        referenceVolumeId: n.referenceVolumeId ?? null,
        scalarType: lm.scalarType,
        layers: lm.components,
        dimensions: lm.dimensions,
        spacing: lm.spacing,
        origin: lm.origin,
        direction: lm.direction,
        ijkToRAS: ijkToRasMatrix(lm),
        numberOfSegments: n.segmentation.segments.length,
        segmentIDs: n.segmentation.segments.map((s) => s.id),
      };
    }
    case 'fiducials':
      return {
        ...common,
        color: n.color,
        selectedColor: n.selectedColor,
        scale: n.scale,
        numberOfControlPoints: n.points.length,
        controlPoints: n.points,
      };
  }
}
