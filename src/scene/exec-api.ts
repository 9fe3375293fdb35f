/**
 * The API that `/slicer/exec` scripts see as the global `scene`. Plain data in and out (arrays,
 * objects, typed arrays); coordinates are RAS millimetres; matrices are row-major 4×4 nested arrays.
 * Voxel arrays returned by `getVolume` are live: writes are published (scene version bumped) when
 * the script ends. Documented in docs/exec.md.
 */
import { AppError } from '../errors.js';
import { IDENTITY3, IDENTITY4 } from '../imaging/geometry.js';
import {
  allocShared,
  SCALAR_TYPES,
  type Mat3,
  type Mat4,
  type ScalarType,
  type Vec3,
} from '../imaging/types.js';
import type { FiducialNode, LinearTransformNode, Scene, SceneNode, VolumeNode } from './scene.js';

export interface NodeSummary {
  id: string;
  name: string;
  className: string;
  parentTransformID: string | null;
}

const summary = (n: SceneNode): NodeSummary => ({
  id: n.id,
  name: n.name,
  className: n.className,
  parentTransformID: n.parentTransformID ?? null,
});

function vec3(name: string, v: unknown, fallback: Vec3): Vec3 {
  if (v === undefined) return fallback;
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    !v.every((x) => typeof x === 'number' && Number.isFinite(x))
  )
    throw new AppError('bad_request', `${name} must be 3 finite numbers`);
  return [v[0] as number, v[1] as number, v[2] as number];
}

function mat4(name: string, v: unknown): Mat4 {
  const flat =
    Array.isArray(v) && v.length === 4 && v.every(Array.isArray) ? (v as unknown[][]).flat() : v;
  if (
    !Array.isArray(flat) ||
    flat.length !== 16 ||
    !flat.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    throw new AppError(
      'bad_request',
      `${name} must be a 4×4 matrix (4 rows of 4 numbers, or 16 numbers row-major)`,
    );
  }
  return flat as Mat4;
}

const nested = (m: Mat4) => [m.slice(0, 4), m.slice(4, 8), m.slice(8, 12), m.slice(12, 16)];

export interface ExecApi {
  /** Call after the script: publishes changes made to live voxel arrays. */
  flush: () => void;
  api: Record<string, unknown>;
}

export function createExecApi(scene: Scene): ExecApi {
  const touched = new Set<string>();
  const api = {
    get version() {
      return scene.version;
    },
    nodes(filter?: { className?: string }): NodeSummary[] {
      return scene
        .nodes()
        .filter((n) => !filter?.className || n.className.startsWith(filter.className))
        .map(summary);
    },
    // Scripts may pass anything: parameters are `unknown` and converted here (the trust boundary).
    getNode(pattern: unknown): NodeSummary | null {
      const n = scene.getNode(String(pattern));
      return n ? summary(n) : null;
    },
    getVolume(pattern: unknown = 'vtkMRMLScalarVolumeNode*') {
      const n = scene.requireNode(String(pattern), 'volume');
      touched.add(n.id);
      const v = n.volume;
      return {
        ...summary(n),
        scalarType: v.scalarType,
        components: v.components,
        dimensions: [...v.dimensions],
        spacing: [...v.spacing],
        origin: [...v.origin],
        direction: [...v.direction],
        data: v.data,
      };
    },
    addVolume(spec: {
      name?: string;
      scalarType?: ScalarType;
      dimensions: number[];
      spacing?: number[];
      origin?: number[];
      direction?: number[];
      components?: number;
      data?: ArrayLike<number>;
      labelMap?: boolean;
    }): string {
      const scalarType = spec.scalarType ?? 'int16';
      if (!SCALAR_TYPES.includes(scalarType))
        throw new AppError('bad_request', `scalarType must be one of ${SCALAR_TYPES.join(', ')}`);
      const dims = vec3('dimensions', spec.dimensions, [0, 0, 0]);
      if (!dims.every((d) => Number.isInteger(d) && d > 0))
        throw new AppError('bad_request', 'dimensions must be 3 positive integers');
      const components = spec.components ?? 1;
      const length = dims[0] * dims[1] * dims[2] * components;
      const data = allocShared(scalarType, length);
      if (spec.data !== undefined) {
        if (spec.data.length !== length)
          throw new AppError(
            'bad_request',
            `data has ${spec.data.length} values, dimensions need ${length}`,
          );
        (data as unknown as { set(a: ArrayLike<number>): void }).set(spec.data);
      }
      const direction = spec.direction === undefined ? IDENTITY3 : (spec.direction as Mat3);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a script's value: Mat3 is what we require, not what we get
      if (direction.length !== 9)
        throw new AppError('bad_request', 'direction must be 9 numbers (row-major 3×3)');
      const node = scene.add<VolumeNode>({
        kind: 'volume',
        className: spec.labelMap
          ? 'vtkMRMLLabelMapVolumeNode'
          : components > 1
            ? 'vtkMRMLVectorVolumeNode'
            : 'vtkMRMLScalarVolumeNode',
        name: spec.name ?? 'Volume',
        attributes: {},
        display: {},
        volume: {
          scalarType,
          components,
          dimensions: dims,
          spacing: vec3('spacing', spec.spacing, [1, 1, 1]),
          origin: vec3('origin', spec.origin, [0, 0, 0]),
          direction: [...direction] as Mat3,
          data,
        },
      });
      return node.id;
    },
    /** Publishes in-place edits of a volume's voxels now (otherwise done when the script ends). */
    volumeChanged(id: unknown): void {
      scene.update(String(id), {});
    },
    removeNode(id: unknown): boolean {
      const exists = scene.byId(String(id)) !== undefined;
      scene.remove([String(id)]);
      touched.delete(String(id));
      return exists;
    },
    getTransform(pattern: unknown = 'vtkMRMLLinearTransformNode*') {
      const n = scene.requireNode(String(pattern), 'linearTransform');
      return { ...summary(n), matrix: nested(n.matrixToParent) };
    },
    setTransform(spec: { id?: string; name?: string; matrix?: unknown }): string {
      const matrix = spec.matrix === undefined ? IDENTITY4 : mat4('matrix', spec.matrix);
      if (spec.id) {
        const n = scene.requireNode(spec.id, 'linearTransform');
        scene.update<LinearTransformNode>(n.id, {
          matrixToParent: matrix,
          ...(spec.name ? { name: spec.name } : {}),
        });
        return n.id;
      }
      return scene.add<LinearTransformNode>({
        kind: 'linearTransform',
        className: 'vtkMRMLLinearTransformNode',
        name: spec.name ?? 'LinearTransform',
        attributes: {},
        matrixToParent: matrix,
      }).id;
    },
    setParentTransform(nodeId: unknown, transformId: string | null): void {
      const id = String(nodeId);
      const n = scene.byId(id);
      if (!n) throw new AppError('not_found', `no node with id ${id}`);
      scene.update(n.id, { parentTransformID: transformId ?? undefined });
    },
    getFiducials(pattern: unknown = 'vtkMRMLMarkupsFiducialNode*') {
      return scene
        .findNodes(String(pattern))
        .filter((n): n is FiducialNode => n.kind === 'fiducials')
        .map((n) => ({
          ...summary(n),
          points: n.points.map((p) => ({ label: p.label, position: [...p.position] })),
        }));
    },
    addFiducial(spec: { listId?: string; name?: string; position: number[]; label?: string }): {
      id: string;
      index: number;
    } {
      const position = vec3('position', spec.position, [0, 0, 0]);
      let list = spec.listId
        ? scene.requireNode(spec.listId, 'fiducials')
        : scene
            .findNodes('vtkMRMLMarkupsFiducialNode*')
            .find((n): n is FiducialNode => n.kind === 'fiducials');
      list ??= scene.add<FiducialNode>({
        kind: 'fiducials',
        className: 'vtkMRMLMarkupsFiducialNode',
        name: spec.name ?? 'F',
        attributes: {},
        color: [1, 0.5, 0.5],
        selectedColor: [1, 0.5, 0.5],
        scale: 3,
        points: [],
      });
      const index = list.points.length;
      scene.update<FiducialNode>(list.id, {
        points: [...list.points, { label: spec.label ?? `${list.name}-${index + 1}`, position }],
      });
      return { id: list.id, index };
    },
    scalarTypes: [...SCALAR_TYPES],
  };
  return {
    api,
    flush() {
      for (const id of touched) if (scene.byId(id)) scene.update(id, {});
      touched.clear();
    },
  };
}
