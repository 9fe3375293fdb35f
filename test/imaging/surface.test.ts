/**
 * Segment surfaces (marching cubes + windowed sinc smoothing + decimation): the closed surface of a
 * binary mask encloses the mask's volume (voxel count × voxel volume) within a few percent, in RAS,
 * on an oblique, anisotropic grid; it is closed (every edge shared by two triangles).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskSurface } from '../../src/imaging/surface.js';
import { meshBounds, signedVolume } from '../../src/imaging/mesh.js';
import type { Mat3, Vec3 } from '../../src/imaging/types.js';

const c = Math.cos(0.3),
  s = Math.sin(0.3);
const GEOMETRY = {
  dimensions: [40, 36, 30] as Vec3,
  spacing: [0.8, 1, 1.5] as Vec3,
  origin: [-20, 5, 30] as Vec3,
  // Rotated 0.3 rad about S.
  direction: [c, -s, 0, s, c, 0, 0, 0, 1] as Mat3,
};

/** An ellipsoid of index radii (12, 10, 7) around index (20, 18, 15); returns mask and its voxel count. */
function ellipsoid(): { mask: Uint8Array; count: number } {
  const [di, dj, dk] = GEOMETRY.dimensions;
  const mask = new Uint8Array(di * dj * dk);
  let count = 0;
  for (let k = 0, p = 0; k < dk; k++)
    for (let j = 0; j < dj; j++)
      for (let i = 0; i < di; i++, p++)
        if (((i - 20) / 12) ** 2 + ((j - 18) / 10) ** 2 + ((k - 15) / 7) ** 2 <= 1) {
          mask[p] = 1;
          count++;
        }
  return { mask, count };
}

function closed(indices: Uint32Array): boolean {
  const edges = new Map<string, number>();
  for (let t = 0; t < indices.length; t += 3)
    for (let e = 0; e < 3; e++) {
      const a = indices[t + e]!,
        b = indices[t + ((e + 1) % 3)]!;
      const k = a < b ? `${a},${b}` : `${b},${a}`;
      edges.set(k, (edges.get(k) ?? 0) + 1);
    }
  return [...edges.values()].every((n) => n === 2);
}

test('maskSurface: enclosed volume ≈ voxel count × voxel volume (plain, smoothed, decimated)', async () => {
  const { mask, count } = ellipsoid();
  const voxelVolume = 0.8 * 1 * 1.5;
  const want = count * voxelVolume;
  for (const [o, tol] of [
    [{}, 0.03],
    [{ smoothing: 0.5 }, 0.04],
    [{ smoothing: 0.5, decimation: 0.6 }, 0.05],
  ] as const) {
    const m = await maskSurface(mask, GEOMETRY, o);
    const v = signedVolume(m);
    assert.ok(
      Math.abs(v - want) / want < tol,
      `${JSON.stringify(o)}: ${v.toFixed(1)} vs ${want.toFixed(1)} mm³`,
    );
    if (!('decimation' in o)) assert.ok(closed(m.indices), `${JSON.stringify(o)}: closed`);
    assert.equal(m.normals!.length, m.positions.length);
  }
});

test('maskSurface: the surface sits where the mask is in RAS (centre of the ellipsoid)', async () => {
  const { mask } = ellipsoid();
  const m = await maskSurface(mask, GEOMETRY);
  const b = meshBounds(m);
  // Index centre (20, 18, 15) → RAS via origin + direction · (spacing ⊙ ijk).
  const ijk = [20 * 0.8, 18 * 1, 15 * 1.5];
  const centre = [-20 + c * ijk[0]! - s * ijk[1]!, 5 + s * ijk[0]! + c * ijk[1]!, 30 + ijk[2]!];
  // The S extent is exact (no rotation about it): 7 voxels × 1.5 mm either side, ± half a voxel.
  assert.ok(Math.abs((b.min[2]! + b.max[2]!) / 2 - centre[2]!) < 0.01);
  assert.ok(Math.abs(b.max[2]! - b.min[2]! - 2 * 7 * 1.5) < 1.5 + 1e-6);
  // Mean of the vertices is near the centre in R and A.
  let sx = 0,
    sy = 0;
  const n = m.positions.length / 3;
  for (let i = 0; i < n; i++) {
    sx += m.positions[3 * i]!;
    sy += m.positions[3 * i + 1]!;
  }
  assert.ok(Math.hypot(sx / n - centre[0]!, sy / n - centre[1]!) < 0.5);
});

test('maskSurface: empty mask → empty mesh; a mask touching the grid edge still closes', async () => {
  const g = { ...GEOMETRY, dimensions: [4, 4, 4] as Vec3 };
  assert.equal((await maskSurface(new Uint8Array(64), g)).indices.length, 0);
  const full = new Uint8Array(64).fill(1);
  const m = await maskSurface(full, g);
  assert.ok(closed(m.indices));
  assert.ok(Math.abs(signedVolume(m) - 64 * 1.2) / (64 * 1.2) < 0.1);
});
