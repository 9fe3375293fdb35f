/**
 * Scene surfaces as rasterizer meshes for the 3D view: visible models in world RAS, their arrays
 * copied once into SharedArrayBuffers (cached per mesh object) so posting a render job to a worker
 * does not copy them again.
 */
import type { RasterMesh } from '../imaging/rasterize.js';
import { vertexNormals, type TriangleMesh } from '../imaging/mesh.js';
import { visibleSurfaces } from '../scene/models.js';
import type { Scene } from '../scene/scene.js';

const shared = new WeakMap<TriangleMesh, TriangleMesh>();

function share<T extends Float32Array | Uint32Array>(a: T): T {
  const C = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new C(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}

function sharedMesh(m: TriangleMesh): TriangleMesh {
  let s = shared.get(m);
  if (!s) {
    s = {
      positions: share(m.positions),
      indices: share(m.indices),
      // Smooth shading needs vertex normals; compute them once when the file had none.
      normals: share(m.normals ?? vertexNormals(m)),
    };
    shared.set(m, s);
  }
  return s;
}

/** The surfaces `/slicer/threeD` draws (undefined when there are none, so job keys stay as before). */
export function threeDSurfaces(scene: Scene): RasterMesh[] | undefined {
  const list = visibleSurfaces(scene).map((s) => ({
    ...sharedMesh(s.mesh),
    color: s.color,
    opacity: s.opacity,
  }));
  return list.length ? list : undefined;
}
