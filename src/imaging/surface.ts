/**
 * Closed surface of a binary mask (a segment's labelmap): vtk.js ImageMarchingCubes at 0.5 on the
 * mask cropped to its bounding box with one empty voxel of padding (so the surface closes at the
 * grid's edge), optional vtk.js WindowedSincPolyDataFilter smoothing (Slicer's mapping: pass band
 * 10^(−4·smoothing), 20 iterations, as vtkBinaryLabelmapToClosedSurfaceConversionRule), optional
 * decimation with meshoptimizer's simplifier (vtk.js has no decimator), then index → RAS with the
 * grid's geometry (oblique directions and anisotropic spacing included) and outward vertex normals.
 */
import { MeshoptSimplifier } from 'meshoptimizer';
import { ijkToRasMatrix } from './geometry.js';
import {
  compactMesh,
  signedVolume,
  transformMesh,
  vertexNormals,
  type TriangleMesh,
} from './mesh.js';
import type { ImageVolume } from './types.js';
import {
  vtkDataArray,
  vtkImageData,
  vtkImageMarchingCubes,
  vtkWindowedSincPolyDataFilter,
} from './vtk-types.js';

export interface SurfaceOptions {
  /** 0 (none) … 1 (strong); Slicer's default is 0.5. */
  smoothing?: number;
  /** Fraction of triangles to remove, 0 … 0.95. */
  decimation?: number;
}

export type MaskGeometry = Pick<ImageVolume, 'dimensions' | 'spacing' | 'origin' | 'direction'>;

/** Runs a vtk.js filter without its console.time noise (marching cubes times itself). */
function quiet<T>(f: () => T): T {
  const { time, timeEnd } = console;
  console.time = () => {};
  console.timeEnd = () => {};
  try {
    return f();
  } finally {
    console.time = time;
    console.timeEnd = timeEnd;
  }
}

/** The surface of `mask` (nonzero = inside; i fastest) in RAS mm; empty mesh for an empty mask. */
export async function maskSurface(
  mask: ArrayLike<number>,
  geometry: MaskGeometry,
  o: SurfaceOptions = {},
): Promise<TriangleMesh> {
  const [di, dj, dk] = geometry.dimensions;
  // Bounding box of the mask.
  let i0 = di,
    j0 = dj,
    k0 = dk,
    i1 = -1,
    j1 = -1,
    k1 = -1;
  for (let k = 0, p = 0; k < dk; k++)
    for (let j = 0; j < dj; j++)
      for (let i = 0; i < di; i++, p++)
        if (mask[p]) {
          if (i < i0) i0 = i;
          if (i > i1) i1 = i;
          if (j < j0) j0 = j;
          if (j > j1) j1 = j;
          if (k < k0) k0 = k;
          if (k > k1) k1 = k;
        }
  const empty: TriangleMesh = { positions: new Float32Array(0), indices: new Uint32Array(0) };
  if (i1 < 0) return empty;
  // Crop with one voxel of zero padding on every side.
  const ni = i1 - i0 + 3,
    nj = j1 - j0 + 3,
    nk = k1 - k0 + 3;
  const crop = new Uint8Array(ni * nj * nk);
  for (let k = k0; k <= k1; k++)
    for (let j = j0; j <= j1; j++) {
      const src = (k * dj + j) * di;
      const dst = ((k - k0 + 1) * nj + (j - j0 + 1)) * ni + 1;
      for (let i = i0; i <= i1; i++) crop[dst + i - i0] = mask[src + i] ? 1 : 0;
    }
  const img = vtkImageData.newInstance({
    spacing: [1, 1, 1],
    origin: [i0 - 1, j0 - 1, k0 - 1],
    extent: [0, ni - 1, 0, nj - 1, 0, nk - 1],
  });
  img
    .getPointData()
    .setScalars(vtkDataArray.newInstance({ numberOfComponents: 1, values: crop, name: 'mask' }));
  const mc = vtkImageMarchingCubes.newInstance({
    contourValue: 0.5,
    computeNormals: false,
    mergePoints: true,
  });
  mc.setInputData(img);
  let poly = quiet(() => mc.getOutputData());
  const smoothing = Math.max(0, Math.min(1, o.smoothing ?? 0));
  if (smoothing > 0) {
    const sm = vtkWindowedSincPolyDataFilter.newInstance({
      numberOfIterations: 20,
      passBand: Math.pow(10, -4 * smoothing),
      boundarySmoothing: 0,
      featureEdgeSmoothing: 0,
      nonManifoldSmoothing: 1,
      normalizeCoordinates: 1,
    });
    sm.setInputData(poly);
    poly = quiet(() => sm.getOutputData());
  }
  const pts = poly.getPoints().getData();
  const cells = poly.getPolys().getData();
  const tris: number[] = [];
  for (let c = 0; c < cells.length;) {
    const n = cells[c]!;
    for (let q = 1; q + 1 < n; q++) tris.push(cells[c + 1]!, cells[c + 1 + q]!, cells[c + 2 + q]!);
    c += n + 1;
  }
  let indices: Uint32Array = Uint32Array.from(tris);
  const positions = pts instanceof Float32Array ? pts : Float32Array.from(pts);
  const decimation = Math.max(0, Math.min(0.95, o.decimation ?? 0));
  if (decimation > 0 && indices.length >= 3) {
    await MeshoptSimplifier.ready;
    const target = Math.max(3, Math.floor((indices.length / 3) * (1 - decimation)) * 3);
    // Error bound relative to the mesh extent: 1 % keeps the shape (and the volume) close.
    [indices] = MeshoptSimplifier.simplify(indices, positions, 3, target, 0.01, ['LockBorder']);
  }
  let mesh: TriangleMesh = transformMesh(
    compactMesh({ positions, indices }),
    ijkToRasMatrix(geometry),
  );
  // Outward orientation: a closed surface encloses a positive volume.
  if (signedVolume(mesh) < 0) {
    const flipped = new Uint32Array(mesh.indices);
    for (let t = 0; t < flipped.length; t += 3) {
      const a = flipped[t + 1]!;
      flipped[t + 1] = flipped[t + 2]!;
      flipped[t + 2] = a;
    }
    mesh = { positions: mesh.positions, indices: flipped };
  }
  return { ...mesh, normals: vertexNormals(mesh) };
}
