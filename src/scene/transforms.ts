/**
 * Linear and grid transforms: JSON matrices (row-major 4×4, RAS, "to parent"), Slicer's
 * `/tracking` convention, ITK transform text files, and grid (displacement field) NRRDs whose
 * vectors are converted between the file's frame (LPS) and RAS in `geometry.ts`.
 *
 * JSON shape of a linear transform (GET/PUT/POST /slicer/transform):
 *   {"id", "name", "className", "matrix": [[r0c0,r0c1,r0c2,tx],[...],[...],[0,0,0,1]],
 *    "parentTransformID": string|null, "matrixToWorld": [[...]...]}
 * `matrix` maps the node's children (local RAS) into its parent's RAS. PUT/POST accept `matrix`
 * nested 4×4 or flat 16 (row-major), `name`, `parentTransformID`.
 */
import type { DecodedNrrd } from '../imaging/nrrd.js';
import {
  IDENTITY4,
  invert4,
  mat4LpsToRas,
  mul4,
  vectorsFrameToRas,
  vectorsRasToFrame,
} from '../imaging/geometry.js';
import { allocShared, type ImageVolume, type Mat4 } from '../imaging/types.js';
import { AppError, invalidParameter, notFound } from '../errors.js';
import type { GridTransformNode, LinearTransformNode, Scene, SceneNode } from './scene.js';

export const isTransformNode = (
  n: SceneNode | undefined,
): n is LinearTransformNode | GridTransformNode =>
  n?.kind === 'linearTransform' || n?.kind === 'gridTransform';

export function listTransforms(scene: Scene) {
  return scene
    .nodes()
    .filter(isTransformNode)
    .map((n) => ({
      name: n.name,
      id: n.id,
      class: n.className,
      parentTransformID: n.parentTransformID ?? null,
    }));
}

export const nested = (m: Mat4): number[][] => [
  m.slice(0, 4),
  m.slice(4, 8),
  m.slice(8, 12),
  m.slice(12, 16),
];

export function transformJson(scene: Scene, n: LinearTransformNode) {
  return {
    id: n.id,
    name: n.name,
    className: n.className,
    matrix: nested(n.matrixToParent),
    parentTransformID: n.parentTransformID ?? null,
    /** Children's local RAS → world RAS (this matrix composed with every linear transform above). */
    matrixToWorld: nested(mul4(scene.worldFromLocal(n.id), n.matrixToParent)),
  };
}

/** Accepts a nested 4×4 or a flat 16 array of finite numbers; the last row must be 0 0 0 1. */
export function parseMatrix(value: unknown, param = 'matrix'): Mat4 {
  let flat: unknown[];
  if (Array.isArray(value) && value.length === 4 && value.every((r) => Array.isArray(r))) {
    if (!value.every((r) => (r as unknown[]).length === 4))
      throw invalidParameter(param, 'each of the 4 rows must have 4 numbers');
    flat = (value as unknown[][]).flat();
  } else if (Array.isArray(value) && value.length === 16) flat = value;
  else
    throw invalidParameter(
      param,
      'expected a 4×4 array of rows or a flat array of 16 numbers (row-major)',
    );
  if (!flat.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw invalidParameter(param, 'every element must be a finite number');
  const m = flat as Mat4;
  if (m[12] !== 0 || m[13] !== 0 || m[14] !== 0 || m[15] !== 1)
    throw invalidParameter(
      param,
      `the last row must be [0,0,0,1] (an affine transform), got [${m.slice(12).join(',')}]`,
    );
  return m;
}

export interface PutLinear {
  id?: string;
  name?: string;
  matrix?: Mat4;
  /** `null` clears the parent. */
  parentTransformID?: string | null;
}

/** Creates (id absent or unknown) or updates a linear transform. */
export function putLinearTransform(
  scene: Scene,
  req: PutLinear,
): { node: LinearTransformNode; created: boolean } {
  const existing = req.id !== undefined ? scene.findNodes(req.id)[0] : undefined;
  if (existing && existing.kind !== 'linearTransform')
    throw new AppError(
      'conflict',
      `${existing.id} is a ${existing.className}, not a linear transform`,
      { parameter: 'id' },
    );
  const parent = req.parentTransformID === null ? undefined : req.parentTransformID;
  if (existing) {
    const patch: Partial<LinearTransformNode> = {};
    if (req.name !== undefined) patch.name = req.name;
    if (req.matrix) patch.matrixToParent = req.matrix;
    if (req.parentTransformID !== undefined) patch.parentTransformID = parent;
    return { node: scene.update<LinearTransformNode>(existing.id, patch), created: false };
  }
  const name =
    req.name ?? (req.id !== undefined && !/[*?[]/.test(req.id) ? req.id : 'LinearTransform');
  const node = scene.add<LinearTransformNode>({
    kind: 'linearTransform',
    className: 'vtkMRMLLinearTransformNode',
    name,
    attributes: {},
    matrixToParent: req.matrix ?? IDENTITY4,
    parentTransformID: parent,
  });
  return { node, created: true };
}

/** Sets (or with `undefined` clears) the parent transform of any node. */
export function setParentTransform(
  scene: Scene,
  id: string,
  parentTransformID: string | undefined,
): SceneNode {
  const node = scene.getNode(id);
  if (!node) throw notFound(`no node matches "${id}"`);
  if (parentTransformID !== undefined) {
    const p = scene.getNode(parentTransformID);
    if (!isTransformNode(p))
      throw new AppError(
        'invalid_parameter',
        `parentTransformID: no transform node matches "${parentTransformID}"`,
        { parameter: 'parentTransformID' },
      );
    parentTransformID = p.id;
  }
  return scene.update(node.id, { parentTransformID });
}

/** Quaternion (w, x, y, z) → rotation, row-major 3×3 (normalised first). */
export function quaternionToRotation(q: readonly number[]): number[] {
  const n = Math.hypot(q[0]!, q[1]!, q[2]!, q[3]!);
  if (!(n > 0)) throw invalidParameter('q', 'the quaternion must not be zero');
  const [w, x, y, z] = q.map((v) => v / n) as [number, number, number, number];
  return [
    1 - 2 * (y * y + z * z),
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    1 - 2 * (x * x + z * z),
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    1 - 2 * (x * x + y * y),
  ];
}

/**
 * Slicer's `/tracking`: updates (creating if needed) the linear transform named `tracker`.
 * `m` = 9 values, a row-major 3×3 rotation (`m[3*row+col]`, as Slicer's code; its docs wrongly say
 * 4×4 column-major); `q` = quaternion w,x,y,z (overrides `m`); `p` = translation x,y,z (mm, RAS).
 */
export function track(
  scene: Scene,
  req: { m?: number[]; p?: number[]; q?: number[] },
): LinearTransformNode {
  const existing = scene
    .findNodes('tracker')
    .find((n): n is LinearTransformNode => n.kind === 'linearTransform');
  const m = [...(existing?.matrixToParent ?? IDENTITY4)] as Mat4;
  const rot = req.q ? quaternionToRotation(req.q) : req.m;
  if (rot) for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) m[r * 4 + c] = rot[3 * r + c]!;
  if (req.p) [m[3], m[7], m[11]] = [req.p[0]!, req.p[1]!, req.p[2]!];
  if (existing) return scene.update<LinearTransformNode>(existing.id, { matrixToParent: m });
  return scene.add<LinearTransformNode>({
    kind: 'linearTransform',
    className: 'vtkMRMLLinearTransformNode',
    name: 'tracker',
    attributes: {},
    matrixToParent: m,
  });
}

/**
 * ITK transform text (`#Insight Transform File V1.0`) with an affine transform
 * (AffineTransform / MatrixOffsetTransformBase / Rigid3D…: 9 matrix + 3 translation parameters,
 * 3 fixed = centre), LPS. ITK files hold the transform *from parent* (resampling direction), so the
 * node's `matrixToParent` is its inverse, in RAS (as Slicer loads them).
 */
export function matrixToParentFromItkText(text: string): Mat4 {
  const type = /^Transform:\s*(\S+)/m.exec(text)?.[1];
  const params = /^Parameters:\s*(.+)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number);
  const fixed = /^FixedParameters:\s*(.+)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number) ?? [
    0, 0, 0,
  ];
  if (!type || !params)
    throw new AppError(
      'unprocessable',
      'ITK transform file: no "Transform:" or "Parameters:" line',
    );
  if (
    !/^(AffineTransform|MatrixOffsetTransformBase|Rigid3DTransform|ScalableAffineTransform)_(double|float)_3_3$/.test(
      type,
    )
  ) {
    throw new AppError(
      'unprocessable',
      `ITK transform file: transform type ${type} is not supported (use an affine 3-D transform)`,
    );
  }
  if (
    params.length !== 12 ||
    params.some((x) => !Number.isFinite(x)) ||
    fixed.length !== 3 ||
    fixed.some((x) => !Number.isFinite(x))
  ) {
    throw new AppError(
      'unprocessable',
      'ITK transform file: expected 12 parameters and 3 fixed parameters',
    );
  }
  const a = params.slice(0, 9);
  const t = params.slice(9, 12);
  const c = fixed;
  const off = [0, 1, 2].map(
    (r) => t[r]! + c[r]! - (a[r * 3]! * c[0]! + a[r * 3 + 1]! * c[1]! + a[r * 3 + 2]! * c[2]!),
  );
  const fromParentLps: Mat4 = [
    a[0]!,
    a[1]!,
    a[2]!,
    off[0]!,
    a[3]!,
    a[4]!,
    a[5]!,
    off[1]!,
    a[6]!,
    a[7]!,
    a[8]!,
    off[2]!,
    0,
    0,
    0,
    1,
  ];
  try {
    return invert4(mat4LpsToRas(fromParentLps));
  } catch {
    throw new AppError('unprocessable', 'ITK transform file: the matrix is singular');
  }
}

/** Grid transform from a decoded NRRD: 3-component vectors, converted from the file's frame to RAS. */
export function gridFromNrrd(decoded: DecodedNrrd): ImageVolume {
  const v = decoded.volume;
  if (v.components !== 3)
    throw new AppError(
      'unprocessable',
      `a grid transform needs 3-component displacement vectors (sizes: 3 I J K), got ${v.components} component(s)`,
    );
  if (!v.scalarType.startsWith('float'))
    throw new AppError(
      'unprocessable',
      `grid displacements must be float or double, got ${v.scalarType}`,
    );
  vectorsFrameToRas(decoded.layout.frame, v.data, v.data, decoded.layout.measurementFrame);
  return v;
}

/** A copy of the grid with LPS displacement vectors, for writing as NRRD. */
export function gridToLps(grid: ImageVolume): ImageVolume {
  const data = allocShared(grid.scalarType, grid.data.length);
  vectorsRasToFrame('LPS', grid.data, data);
  return { ...grid, data };
}

export function putGridTransform(
  scene: Scene,
  req: { id?: string; name?: string; grid: ImageVolume },
): { node: GridTransformNode; created: boolean } {
  const existing = req.id !== undefined ? scene.findNodes(req.id)[0] : undefined;
  if (existing && existing.kind !== 'gridTransform')
    throw new AppError(
      'conflict',
      `${existing.id} is a ${existing.className}, not a grid transform`,
      { parameter: 'id' },
    );
  if (existing)
    return {
      node: scene.update<GridTransformNode>(existing.id, {
        grid: req.grid,
        ...(req.name ? { name: req.name } : {}),
      }),
      created: false,
    };
  const name =
    req.name ?? (req.id !== undefined && !/[*?[]/.test(req.id) ? req.id : 'GridTransform');
  return {
    node: scene.add<GridTransformNode>({
      kind: 'gridTransform',
      className: 'vtkMRMLGridTransformNode',
      name,
      attributes: {},
      grid: req.grid,
    }),
    created: true,
  };
}
