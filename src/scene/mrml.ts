/**
 * The `/mrml` node filter (Slicer WebServer §2.2) and node properties: `id` → exactly that id;
 * else `class` (default `vtkMRMLNode`, subclasses included) then, if given, exact `name`.
 */
import { meshBounds, pointCount, triangleCount } from '../imaging/mesh.js';
import { ijkToRasMatrix } from '../imaging/geometry.js';
import { NRRD_TYPE_NAME } from '../imaging/nrrd.js';
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

/**
 * A node's properties: Slicer's keys with Slicer's value shapes (what `/mrml/properties` clients
 * read: `ID`, `ClassName`, `Name`, `ImageData.Extent`…; Slicer parses its nodes' VTK PrintSelf
 * text, so numbers come as numbers and `(a, b, c)` as lists), followed by voxelgate's own
 * camelCase keys (`id`, `dimensions`, `ijkToRAS`…).
 */
export function nodeProperties(scene: Scene, n: SceneNode): Record<string, unknown> {
  return { ...slicerProperties(n), ...ownProperties(scene, n) };
}

/** The keys Slicer's PrintSelf-based `/mrml/properties` gives for such a node. */
export function slicerProperties(n: SceneNode): Record<string, unknown> {
  const p: Record<string, unknown> = {
    ID: n.id,
    ClassName: n.className,
    Name: n.name,
    HideFromEditors: false,
    Selectable: true,
    Selected: false,
    UndoEnabled: false,
  };
  if (Object.keys(n.attributes).length > 0) p.Attributes = { ...n.attributes };
  if (n.parentTransformID) p.TransformNodeID = n.parentTransformID;
  const image = n.kind === 'volume' ? n.volume : n.kind === 'gridTransform' ? n.grid : undefined;
  if (image) {
    const [ni, nj, nk] = image.dimensions;
    const d = image.direction;
    p.Origin = [...image.origin];
    p.Spacing = [...image.spacing];
    // rows of the ijk→RAS direction matrix (unit columns), as Slicer's IJKToRASDirections
    p.IJKToRASDirections = [
      [d[0], d[1], d[2]],
      [d[3], d[4], d[5]],
      [d[6], d[7], d[8]],
    ];
    // the vtkImageData of a Slicer volume has unit spacing and zero origin (geometry is the node's)
    p.ImageData = {
      Spacing: [1, 1, 1],
      Origin: [0, 0, 0],
      Dimensions: [ni, nj, nk],
      Extent: [0, ni - 1, 0, nj - 1, 0, nk - 1],
      NumberOfScalarComponents: image.components,
      // VTK names scalar types by their C types, as teem does (`short`, `unsigned char`…).
      ScalarType: NRRD_TYPE_NAME[image.scalarType],
    };
  }
  if (n.kind === 'fiducials') p.NumberOfControlPoints = n.points.length;
  return p;
}

/** voxelgate's own property model (camelCase), kept next to Slicer's keys. */
function ownProperties(scene: Scene, n: SceneNode): Record<string, unknown> {
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
    case 'model': {
      const b = meshBounds(n.mesh);
      return {
        ...common,
        numberOfPoints: pointCount(n.mesh),
        numberOfTriangles: triangleCount(n.mesh),
        hasNormals: n.mesh.normals !== undefined,
        bounds: pointCount(n.mesh)
          ? [b.min[0], b.max[0], b.min[1], b.max[1], b.min[2], b.max[2]]
          : null,
        display: n.display,
      };
    }
    case 'table':
      return {
        ...common,
        numberOfColumns: n.columns.length,
        numberOfRows: n.rows.length,
        columns: n.columns,
      };
  }
}
