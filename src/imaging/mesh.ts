/**
 * Triangle meshes: the surface data of model nodes and segment surfaces. Positions are RAS
 * millimetres inside voxelgate (files written in LPS are converted at the edge, in `mesh-io.ts`).
 */
import { AppError } from '../errors.js';
import type { Mat4 } from './types.js';
import { invert4 } from './geometry.js';

export interface TriangleMesh {
  /** Vertex positions, xyz triples, RAS mm. */
  positions: Float32Array;
  /** Three vertex indices per triangle (counter-clockwise seen from outside when known). */
  indices: Uint32Array;
  /** Optional per-vertex unit normals (xyz triples, RAS). */
  normals?: Float32Array;
}

export const triangleCount = (m: TriangleMesh): number => m.indices.length / 3;
export const pointCount = (m: TriangleMesh): number => m.positions.length / 3;

/** Refuses non-finite coordinates and out-of-range indices (422 with the first problem). */
export function validateMesh(m: TriangleMesh, what = 'mesh'): void {
  if (m.positions.length % 3 !== 0 || m.indices.length % 3 !== 0)
    throw new AppError('unprocessable', `${what}: positions or indices are not triples`);
  for (let i = 0; i < m.positions.length; i++)
    if (!Number.isFinite(m.positions[i]!))
      throw new AppError(
        'unprocessable',
        `${what}: vertex ${Math.floor(i / 3)} has a non-finite coordinate (${m.positions[i]})`,
      );
  const n = m.positions.length / 3;
  for (let i = 0; i < m.indices.length; i++)
    if (m.indices[i]! >= n)
      throw new AppError(
        'unprocessable',
        `${what}: triangle ${Math.floor(i / 3)} names vertex ${m.indices[i]}, but there are ${n}`,
      );
  if (m.normals && m.normals.length !== m.positions.length) delete m.normals;
  if (m.normals)
    for (const v of m.normals)
      if (!Number.isFinite(v)) {
        delete m.normals;
        break;
      }
}

/** Negates x and y of positions and normals (LPS ⇄ RAS; a rotation, so windings are kept). */
export function flipXY(m: TriangleMesh): TriangleMesh {
  const flip = (a: Float32Array) => {
    const o = new Float32Array(a);
    for (let i = 0; i < o.length; i += 3) {
      o[i] = -o[i]!;
      o[i + 1] = -o[i + 1]!;
    }
    return o;
  };
  return {
    positions: flip(m.positions),
    indices: m.indices,
    normals: m.normals && flip(m.normals),
  };
}

/** Applies a row-major affine transform to positions (and its inverse transpose to normals). */
export function transformMesh(m: TriangleMesh, t: Mat4): TriangleMesh {
  const p = new Float32Array(m.positions.length);
  for (let i = 0; i < p.length; i += 3) {
    const x = m.positions[i]!,
      y = m.positions[i + 1]!,
      z = m.positions[i + 2]!;
    p[i] = t[0] * x + t[1] * y + t[2] * z + t[3];
    p[i + 1] = t[4] * x + t[5] * y + t[6] * z + t[7];
    p[i + 2] = t[8] * x + t[9] * y + t[10] * z + t[11];
  }
  let normals: Float32Array | undefined;
  if (m.normals) {
    // Normals by the inverse transpose of the linear part.
    const inv = invert4(t);
    const n = m.normals;
    normals = new Float32Array(n.length);
    for (let i = 0; i < n.length; i += 3) {
      const x = n[i]!,
        y = n[i + 1]!,
        z = n[i + 2]!;
      const a = inv[0] * x + inv[4] * y + inv[8] * z;
      const b = inv[1] * x + inv[5] * y + inv[9] * z;
      const c = inv[2] * x + inv[6] * y + inv[10] * z;
      const l = Math.hypot(a, b, c) || 1;
      normals[i] = a / l;
      normals[i + 1] = b / l;
      normals[i + 2] = c / l;
    }
  }
  return { positions: p, indices: m.indices, normals };
}

/** Area-weighted vertex normals (for smooth shading of meshes that came without normals). */
export function vertexNormals(m: TriangleMesh): Float32Array {
  const P = m.positions,
    I = m.indices;
  const acc = new Float64Array(P.length);
  for (let t = 0; t < I.length; t += 3) {
    const a = 3 * I[t]!,
      b = 3 * I[t + 1]!,
      c = 3 * I[t + 2]!;
    const ux = P[b]! - P[a]!,
      uy = P[b + 1]! - P[a + 1]!,
      uz = P[b + 2]! - P[a + 2]!;
    const vx = P[c]! - P[a]!,
      vy = P[c + 1]! - P[a + 1]!,
      vz = P[c + 2]! - P[a + 2]!;
    const nx = uy * vz - uz * vy,
      ny = uz * vx - ux * vz,
      nz = ux * vy - uy * vx;
    for (const v of [a, b, c]) {
      acc[v] = acc[v]! + nx;
      acc[v + 1] = acc[v + 1]! + ny;
      acc[v + 2] = acc[v + 2]! + nz;
    }
  }
  const out = new Float32Array(P.length);
  for (let i = 0; i < out.length; i += 3) {
    const l = Math.hypot(acc[i]!, acc[i + 1]!, acc[i + 2]!);
    if (!(l > 0)) {
      out[i + 2] = 1; // unused or degenerate vertex: any unit vector
      continue;
    }
    out[i] = acc[i]! / l;
    out[i + 1] = acc[i + 1]! / l;
    out[i + 2] = acc[i + 2]! / l;
  }
  return out;
}

/** Axis-aligned bounds of the positions ([Infinity…] for an empty mesh). */
export function meshBounds(m: TriangleMesh): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity],
    max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < m.positions.length; i += 3)
    for (let a = 0; a < 3; a++) {
      const v = m.positions[i + a]!;
      if (v < min[a]!) min[a] = v;
      if (v > max[a]!) max[a] = v;
    }
  return { min, max };
}

/** Enclosed volume (divergence theorem) of a closed, consistently oriented mesh; sign = orientation. */
export function signedVolume(m: TriangleMesh): number {
  const P = m.positions,
    I = m.indices;
  let v = 0;
  for (let t = 0; t < I.length; t += 3) {
    const a = 3 * I[t]!,
      b = 3 * I[t + 1]!,
      c = 3 * I[t + 2]!;
    v +=
      P[a]! * (P[b + 1]! * P[c + 2]! - P[b + 2]! * P[c + 1]!) -
      P[a + 1]! * (P[b]! * P[c + 2]! - P[b + 2]! * P[c]!) +
      P[a + 2]! * (P[b]! * P[c + 1]! - P[b + 1]! * P[c]!);
  }
  return v / 6;
}

/** Drops vertices no triangle uses (renumbering the indices). */
export function compactMesh(m: TriangleMesh): TriangleMesh {
  const n = m.positions.length / 3;
  const remap = new Int32Array(n).fill(-1);
  let next = 0;
  const indices = new Uint32Array(m.indices.length);
  for (let i = 0; i < m.indices.length; i++) {
    const v = m.indices[i]!;
    if (remap[v] === -1) remap[v] = next++;
    indices[i] = remap[v]!;
  }
  if (next === n) return m;
  const positions = new Float32Array(next * 3);
  const normals = m.normals ? new Float32Array(next * 3) : undefined;
  for (let v = 0; v < n; v++) {
    const r = remap[v]!;
    if (r < 0) continue;
    positions.set(m.positions.subarray(3 * v, 3 * v + 3), 3 * r);
    normals?.set(m.normals!.subarray(3 * v, 3 * v + 3), 3 * r);
  }
  return { positions, indices, normals };
}
