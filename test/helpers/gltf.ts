/**
 * Test scenes for the glTF render server, built with @gltf-transform/core the way Drake's client
 * writes them (one perspective camera on a node under a "Renderer Node", embedded buffers), and an
 * independent ray caster (Möller–Trumbore through pixel centres) to check rendered images against.
 */
import { createHash } from 'node:crypto';
import { Document, WebIO } from '@gltf-transform/core';

export interface TestMesh {
  name: string;
  /** World-space triangle vertices (xyz triples) and indices. */
  positions: number[];
  indices: number[];
  /** glTF baseColorFactor. */
  color: [number, number, number, number];
  /** glTF node matrix (column-major), default identity. */
  matrix?: number[];
}

/** An axis-aligned box centred at c with half sizes h. */
export function box(
  name: string,
  c: [number, number, number],
  h: [number, number, number],
  color: [number, number, number, number],
): TestMesh {
  const positions: number[] = [];
  for (let i = 0; i < 8; i++)
    positions.push(
      c[0] + (i & 1 ? h[0] : -h[0]),
      c[1] + (i & 2 ? h[1] : -h[1]),
      c[2] + (i & 4 ? h[2] : -h[2]),
    );
  // prettier-ignore
  const indices = [0,2,1, 1,2,3, 4,5,6, 5,7,6, 0,1,4, 1,5,4, 2,6,3, 3,6,7, 0,4,2, 2,4,6, 1,3,5, 3,7,5];
  return { name, positions, indices, color };
}

/** A UV sphere. */
export function sphere(
  name: string,
  c: [number, number, number],
  r: number,
  color: [number, number, number, number],
  seg = 24,
): TestMesh {
  const positions: number[] = [];
  const indices: number[] = [];
  for (let i = 0; i <= seg; i++) {
    const th = (Math.PI * i) / seg;
    for (let j = 0; j < 2 * seg; j++) {
      const ph = (Math.PI * j) / seg;
      positions.push(
        c[0] + r * Math.sin(th) * Math.cos(ph),
        c[1] + r * Math.sin(th) * Math.sin(ph),
        c[2] + r * Math.cos(th),
      );
    }
  }
  const n = 2 * seg;
  for (let i = 0; i < seg; i++)
    for (let j = 0; j < n; j++) {
      const a = i * n + j,
        b = i * n + ((j + 1) % n),
        cc = (i + 1) * n + j,
        d = (i + 1) * n + ((j + 1) % n);
      indices.push(a, cc, b, b, cc, d);
    }
  return { name, positions, indices, color };
}

/** Column-major camera pose looking from `eye` at `target` with +Y of the camera near `up`. */
export function lookAt(
  eye: [number, number, number],
  target: [number, number, number],
  up: [number, number, number],
): number[] {
  const sub = (a: number[], b: number[]) => [a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!];
  const norm = (a: number[]) => {
    const l = Math.hypot(a[0]!, a[1]!, a[2]!);
    return [a[0]! / l, a[1]! / l, a[2]! / l];
  };
  const cross = (a: number[], b: number[]) => [
    a[1]! * b[2]! - a[2]! * b[1]!,
    a[2]! * b[0]! - a[0]! * b[2]!,
    a[0]! * b[1]! - a[1]! * b[0]!,
  ];
  const z = norm(sub(eye, target)); // camera looks along −Z
  const x = norm(cross(up, z));
  const y = cross(z, x);
  return [...x, 0, ...y, 0, ...z, 0, ...eye, 1];
}

/** A Drake-like glTF scene as JSON bytes with embedded (data: URI) buffers. */
export async function gltfScene(
  meshes: TestMesh[],
  cameraMatrix: number[],
  o: { aspectRatio?: number; yfov?: number } = {},
): Promise<Uint8Array> {
  const doc = new Document();
  const buf = doc.createBuffer();
  const scene = doc.createScene('scene');
  const rendererNode = doc.createNode('Renderer Node');
  scene.addChild(rendererNode);
  const cam = doc
    .createCamera('camera')
    .setType('perspective')
    .setYFov(o.yfov ?? 0.785398)
    .setAspectRatio(o.aspectRatio ?? 4 / 3)
    .setZNear(0.01)
    .setZFar(10);
  rendererNode.addChild(
    doc
      .createNode('Camera Node')
      .setCamera(cam)
      .setMatrix(cameraMatrix as never),
  );
  for (const m of meshes) {
    const mat = doc
      .createMaterial(m.name)
      .setBaseColorFactor(m.color)
      .setAlphaMode(m.color[3] < 1 ? 'BLEND' : 'OPAQUE');
    const prim = doc
      .createPrimitive()
      .setAttribute(
        'POSITION',
        doc.createAccessor().setType('VEC3').setArray(new Float32Array(m.positions)).setBuffer(buf),
      )
      .setIndices(
        doc.createAccessor().setType('SCALAR').setArray(new Uint32Array(m.indices)).setBuffer(buf),
      )
      .setMaterial(mat);
    const node = doc.createNode(m.name).setMesh(doc.createMesh(m.name).addPrimitive(prim));
    if (m.matrix) node.setMatrix(m.matrix as never);
    rendererNode.addChild(node);
  }
  const io = new WebIO();
  const { json, resources } = await io.writeJSON(doc);
  for (const b of json.buffers ?? []) {
    const data = resources[b.uri!];
    if (data)
      b.uri = 'data:application/octet-stream;base64,' + Buffer.from(data).toString('base64');
  }
  return new TextEncoder().encode(JSON.stringify(json));
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface Intrinsics {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  near: number;
  far: number;
}

/** Form fields as Drake's client sends them (std::to_string: six decimals). */
export function renderForm(
  scene: Uint8Array,
  imageType: 'color' | 'depth' | 'label',
  k: Intrinsics,
  extra: Record<string, string> = {},
): FormData {
  const f6 = (x: number) => x.toFixed(6);
  const fd = new FormData();
  fd.append(
    'scene',
    new Blob([scene], { type: 'model/gltf+json' }),
    `0000000000000000001-${imageType}.gltf`,
  );
  fd.append('scene_sha256', sha256(scene));
  fd.append('image_type', imageType);
  fd.append('width', String(k.width));
  fd.append('height', String(k.height));
  fd.append('near', f6(k.near));
  fd.append('far', f6(k.far));
  fd.append('focal_x', f6(k.fx));
  fd.append('focal_y', f6(k.fy));
  fd.append('fov_x', f6(2 * Math.atan(k.width / (2 * k.fx))));
  fd.append('fov_y', f6(2 * Math.atan(k.height / (2 * k.fy))));
  fd.append('center_x', f6(k.cx));
  fd.append('center_y', f6(k.cy));
  if (imageType === 'depth') {
    fd.append('min_depth', extra.min_depth ?? f6(k.near));
    fd.append('max_depth', extra.max_depth ?? f6(k.far));
  }
  fd.append('submit', 'Render');
  for (const [key, v] of Object.entries(extra))
    if (key !== 'min_depth' && key !== 'max_depth') fd.append(key, v);
  return fd;
}

/**
 * Independent ray cast: for each pixel centre, the nearest triangle hit (Möller–Trumbore) along
 * the ray through (u, v) = (i + 0.5, j + 0.5) of the pinhole model u = fx·X/Z + cx, v = fy·Y/Z + cy
 * in the sensor frame (X right, Y down, Z forward). Returns Z depth (Infinity on a miss) and the
 * index of the mesh hit (−1 on a miss).
 */
export function rayCast(
  meshes: TestMesh[],
  cameraMatrix: number[],
  k: Intrinsics,
  at?: (i: number, j: number) => [number, number],
): { depth: Float64Array; mesh: Int32Array } {
  const M = cameraMatrix; // column-major camera → world
  const col = (c: number) => [M[4 * c]!, M[4 * c + 1]!, M[4 * c + 2]!];
  const [xa, ya, za, eye] = [col(0), col(1), col(2), col(3)];
  const depth = new Float64Array(k.width * k.height).fill(Infinity);
  const mesh = new Int32Array(k.width * k.height).fill(-1);
  const tris: Array<{ m: number; v: number[][] }> = [];
  meshes.forEach((m, mi) => {
    for (let t = 0; t < m.indices.length; t += 3)
      tris.push({
        m: mi,
        v: [0, 1, 2].map((q) => {
          const i = m.indices[t + q]!;
          return [m.positions[3 * i]!, m.positions[3 * i + 1]!, m.positions[3 * i + 2]!];
        }),
      });
  });
  for (let j = 0; j < k.height; j++)
    for (let i = 0; i < k.width; i++) {
      const [u, v] = at ? at(i, j) : [i + 0.5, j + 0.5];
      // Sensor direction (X, Y, 1) → glTF camera frame (X, −Y, −1) → world.
      const X = (u - k.cx) / k.fx,
        Y = (v - k.cy) / k.fy;
      const d = [0, 1, 2].map((a) => X * xa[a]! - Y * ya[a]! - za[a]!);
      let best = Infinity,
        bm = -1;
      for (const {
        m,
        v: [p0, p1, p2],
      } of tris) {
        const e1 = [p1![0]! - p0![0]!, p1![1]! - p0![1]!, p1![2]! - p0![2]!];
        const e2 = [p2![0]! - p0![0]!, p2![1]! - p0![1]!, p2![2]! - p0![2]!];
        const p = [
          d[1]! * e2[2]! - d[2]! * e2[1]!,
          d[2]! * e2[0]! - d[0]! * e2[2]!,
          d[0]! * e2[1]! - d[1]! * e2[0]!,
        ];
        const det = e1[0]! * p[0]! + e1[1]! * p[1]! + e1[2]! * p[2]!;
        if (Math.abs(det) < 1e-15) continue;
        const s = [eye[0]! - p0![0]!, eye[1]! - p0![1]!, eye[2]! - p0![2]!];
        const uu = (s[0]! * p[0]! + s[1]! * p[1]! + s[2]! * p[2]!) / det;
        if (uu < 0 || uu > 1) continue;
        const q = [
          s[1]! * e1[2]! - s[2]! * e1[1]!,
          s[2]! * e1[0]! - s[0]! * e1[2]!,
          s[0]! * e1[1]! - s[1]! * e1[0]!,
        ];
        const vv = (d[0]! * q[0]! + d[1]! * q[1]! + d[2]! * q[2]!) / det;
        if (vv < 0 || uu + vv > 1) continue;
        const t = (e2[0]! * q[0]! + e2[1]! * q[1]! + e2[2]! * q[2]!) / det;
        // The direction's sensor Z component is 1, so t is the Z depth.
        if (t >= k.near && t <= k.far && t < best) {
          best = t;
          bm = m;
        }
      }
      depth[j * k.width + i] = best;
      mesh[j * k.width + i] = bm;
    }
  return { depth, mesh };
}
