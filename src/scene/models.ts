/**
 * Model nodes (vtkMRMLModelNode): triangle surfaces in local RAS mm with display colour, opacity
 * and visibility. Creating, replacing, finding and listing them; the world-space surfaces the 3D
 * view and the glTF export draw.
 */
import { AppError, notFound } from '../errors.js';
import { transformMesh, type TriangleMesh } from '../imaging/mesh.js';
import { IDENTITY4 } from '../imaging/geometry.js';
import type { ModelDisplay, ModelNode, Scene } from './scene.js';
import type { Mat4 } from '../imaging/types.js';
import { segmentSurfaces } from './segment-surfaces.js';

/** Slicer's default model colour (vtkMRMLModelDisplayNode: a light yellow). */
export const DEFAULT_MODEL_COLOR: [number, number, number] = [0.9, 0.9, 0.3];

export interface PutModel {
  /** Replace this model's surface (keeps its display), else create a node. */
  id?: string;
  name?: string;
  mesh: TriangleMesh;
  display?: Partial<ModelDisplay>;
  attributes?: Record<string, string>;
  /** For a new model: the transform node it sits under. */
  parentTransformID?: string;
}

export function putModel(scene: Scene, p: PutModel): { node: ModelNode; created: boolean } {
  if (p.id !== undefined) {
    const old = scene.byId(p.id);
    if (!old) throw notFound(`no node with id ${p.id}`);
    if (old.kind !== 'model')
      throw new AppError('conflict', `${p.id} is a ${old.kind} node, not a model`);
    const node = scene.update<ModelNode>(p.id, {
      mesh: p.mesh,
      ...(p.name ? { name: p.name } : {}),
      display: { ...old.display, ...p.display },
    });
    return { node, created: false };
  }
  const node = scene.add<ModelNode>({
    kind: 'model',
    className: 'vtkMRMLModelNode',
    name: p.name ?? 'Model',
    attributes: p.attributes ?? {},
    ...(p.parentTransformID ? { parentTransformID: p.parentTransformID } : {}),
    mesh: p.mesh,
    display: { color: DEFAULT_MODEL_COLOR, opacity: 1, visible: true, ...p.display },
  });
  return { node, created: true };
}

export function findModel(scene: Scene, pattern: string): ModelNode {
  return scene.requireNode(pattern, 'model', 'model');
}

export function listModels(scene: Scene): Array<Record<string, unknown>> {
  return scene
    .nodes()
    .filter((n): n is ModelNode => n.kind === 'model')
    .map((n) => ({
      id: n.id,
      name: n.name,
      numberOfPoints: n.mesh.positions.length / 3,
      numberOfTriangles: n.mesh.indices.length / 3,
      display: n.display,
    }));
}

export interface WorldSurface {
  id: string;
  name: string;
  /** World RAS mm (parent transforms applied). */
  mesh: TriangleMesh;
  color: [number, number, number];
  opacity: number;
}

/** Transformed copies per mesh and matrix (so repeated renders reuse arrays: stable job keys). */
const transformed = new WeakMap<TriangleMesh, { key: string; mesh: TriangleMesh }>();

function inWorld(mesh: TriangleMesh, m: Mat4): TriangleMesh {
  if (m.every((v, i) => v === IDENTITY4[i])) return mesh;
  const key = m.join(',');
  const hit = transformed.get(mesh);
  if (hit?.key === key) return hit.mesh;
  const out = transformMesh(mesh, m);
  transformed.set(mesh, { key, mesh: out });
  return out;
}

/**
 * Visible surfaces in world RAS (linear parent transforms applied): the kept surfaces of visible
 * segments, then model nodes.
 */
export function visibleSurfaces(scene: Scene): WorldSurface[] {
  const out: WorldSurface[] = [];
  for (const n of scene.nodes()) {
    if (n.kind !== 'segmentation') continue;
    const kept = segmentSurfaces(n);
    if (!kept) continue;
    for (const seg of n.segmentation.segments) {
      const mesh = kept.surfaces.get(seg.id);
      if (!mesh || seg.visible === false || mesh.indices.length === 0) continue;
      out.push({
        id: `${n.id}/${seg.id}`,
        name: `${n.name}: ${seg.name}`,
        mesh: inWorld(mesh, scene.worldFromLocal(n.id)),
        color: [...seg.color] as [number, number, number],
        opacity: 1,
      });
    }
  }
  for (const n of scene.nodes()) {
    if (n.kind !== 'model' || !n.display.visible || n.display.opacity <= 0) continue;
    out.push({
      id: n.id,
      name: n.name,
      mesh: inWorld(n.mesh, scene.worldFromLocal(n.id)),
      color: n.display.color,
      opacity: n.display.opacity,
    });
  }
  return out;
}
