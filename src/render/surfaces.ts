/**
 * Scene surfaces as rasterizer meshes for the 3D view: visible models in world RAS, their arrays
 * copied once into SharedArrayBuffers (cached per mesh object) so posting a render job to a worker
 * does not copy them again.
 */
import type { RasterMesh } from '../imaging/rasterize.js';
import { vertexNormals, type TriangleMesh } from '../imaging/mesh.js';
import { visibleSurfaces } from '../scene/models.js';
import type { Scene } from '../scene/scene.js';
import type { ThreeDViewState } from '../views/views.js';
import type { ThreeDJob } from '../imaging/render3d.js';
import { allocShared, type ImageVolume, type Vec3 } from '../imaging/types.js';
import { volumeStats } from '../imaging/window-level.js';
import { IDENTITY4 } from '../imaging/geometry.js';

const shared = new WeakMap<TriangleMesh, TriangleMesh>();

function share<T extends Float32Array | Uint32Array>(a: T): T {
  const C = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new C(new SharedArrayBuffer(a.byteLength));
  out.set(a);
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

/** Empty volumes that only give the camera its frame, per bounds (stable arrays: stable ETags). */
const frames = new Map<string, ImageVolume>();

/**
 * A 3D job for a scene with surfaces and no volume: a 2×2×2 stand-in volume spanning the surfaces'
 * bounds gives the camera its frame (centre, zoom), and `surfacesOnly` skips the ray casting.
 * Undefined when there are no surfaces either.
 */
export function surfacesOnlyJob(scene: Scene, view: ThreeDViewState): ThreeDJob | undefined {
  const surfaces = threeDSurfaces(scene);
  if (!surfaces) return undefined;
  const min = [Infinity, Infinity, Infinity],
    max = [-Infinity, -Infinity, -Infinity];
  for (const s of surfaces)
    for (let i = 0; i < s.positions.length; i += 3)
      for (let a = 0; a < 3; a++) {
        const v = s.positions[i + a]!;
        if (v < min[a]!) min[a] = v;
        if (v > max[a]!) max[a] = v;
      }
  // Voxel centres at the bounds' corners: the frame's box is the bounds grown by half their size.
  const spacing = [0, 1, 2].map((a) => Math.max(1e-3, (max[a]! - min[a]!) / 1.5)) as Vec3;
  const origin = [0, 1, 2].map((a) => (min[a]! + max[a]!) / 2 - spacing[a]! / 2) as Vec3;
  const key = [...origin, ...spacing].join(',');
  let volume = frames.get(key);
  if (!volume) {
    volume = {
      scalarType: 'uint8',
      components: 1,
      dimensions: [2, 2, 2],
      spacing,
      origin,
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data: allocShared('uint8', 8),
    };
    if (frames.size > 32) frames.clear();
    frames.set(key, volume);
  }
  const stats = volumeStats(volume.data, 1);
  return {
    kind: 'threeD',
    volume,
    worldFromLocal: IDENTITY4,
    camera: view.camera,
    mode: view.mode,
    preset: view.preset,
    size: view.size,
    background: view.background,
    wl: { window: 1, level: 0 },
    stats,
    ...(view.draft ? { draft: true } : {}),
    surfaces,
    surfacesOnly: true,
  };
}
