/**
 * The hand-written filters against independent computations: the median against a full sort of
 * each neighbourhood; the separable Gaussian against a direct (non-separable) 3-D convolution and
 * against the known variance of a blurred impulse; resample and crop against analytic ramps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cropToBox,
  gaussian,
  gridWithSpacing,
  ijkBoxOfRasBox,
  median,
  resample,
} from '../../src/imaging/filters.js';
import { IDENTITY4, ijkToRasMatrix, transformPoint } from '../../src/imaging/geometry.js';
import { allocShared, type ImageVolume, type Mat3, type Vec3 } from '../../src/imaging/types.js';

function randomVolume(dims: Vec3, seed = 1, spacing: Vec3 = [1, 1, 1]): ImageVolume {
  const data = allocShared('int16', dims[0] * dims[1] * dims[2]);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = (s % 2001) - 1000;
  }
  return {
    scalarType: 'int16',
    components: 1,
    dimensions: dims,
    spacing,
    origin: [3, -2, 5],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
  };
}

const at = (v: ImageVolume, i: number, j: number, k: number) => {
  const c = (x: number, n: number) => Math.min(n - 1, Math.max(0, x));
  const [di, dj, dk] = v.dimensions;
  return v.data[(c(k, dk) * dj + c(j, dj)) * di + c(i, di)]!;
};

test('median equals the middle of each sorted (2r+1)³ neighbourhood, edges replicated', () => {
  for (const r of [1, 2]) {
    const v = randomVolume([9, 8, 7], r);
    const out = median(v, [r, r, r]);
    assert.equal(out.scalarType, 'int16');
    const [di, dj, dk] = v.dimensions;
    for (let k = 0; k < dk; k++)
      for (let j = 0; j < dj; j++)
        for (let i = 0; i < di; i++) {
          const vals: number[] = [];
          for (let z = -r; z <= r; z++)
            for (let y = -r; y <= r; y++)
              for (let x = -r; x <= r; x++) vals.push(at(v, i + x, j + y, k + z));
          vals.sort((a, b) => a - b);
          const got = out.data[(k * dj + j) * di + i];
          assert.equal(got, vals[vals.length >> 1], `r=${r} voxel ${i},${j},${k}`);
        }
  }
});

test('median of every scalar type and component, anisotropic radius: the middle of each sorted neighbourhood', () => {
  // The histogram path (≤ 16-bit integers) and the selection path (the rest) against a full sort.
  const dims: Vec3 = [11, 7, 6];
  const n = dims[0] * dims[1] * dims[2];
  const cases: Array<[ImageVolume['scalarType'], number, (i: number) => number]> = [
    ['uint8', 1, (s) => s % 256],
    ['int8', 2, (s) => (s % 256) - 128],
    ['uint16', 1, (s) => s % 65536],
    ['int16', 1, (s) => (s % 60001) - 30000], // a wide range: the median jumps far
    ['int16', 3, (s) => (s % 5) - 2], // many ties
    ['float32', 1, (s) => (s % 1000) / 7 - 50],
    ['int32', 1, (s) => (s % 2000001) - 1000000],
  ];
  for (const [type, nc, value] of cases)
    for (const r of [
      [1, 1, 1],
      [2, 0, 1],
      [0, 2, 3],
    ] as const) {
      const data = allocShared(type, n * nc);
      let s = 7;
      for (let i = 0; i < data.length; i++) {
        s = (s * 1103515245 + 12345) % 2147483648;
        data[i] = value(s);
      }
      const v: ImageVolume = { ...randomVolume(dims), scalarType: type, components: nc, data };
      const out = median(v, r);
      assert.equal(out.scalarType, type);
      const [di, dj, dk] = dims;
      const c = (x: number, m: number) => Math.min(m - 1, Math.max(0, x));
      for (let k = 0; k < dk; k++)
        for (let j = 0; j < dj; j++)
          for (let i = 0; i < di; i++)
            for (let q = 0; q < nc; q++) {
              const vals: number[] = [];
              for (let z = -r[2]; z <= r[2]; z++)
                for (let y = -r[1]; y <= r[1]; y++)
                  for (let x = -r[0]; x <= r[0]; x++)
                    vals.push(
                      data[((c(k + z, dk) * dj + c(j + y, dj)) * di + c(i + x, di)) * nc + q]!,
                    );
              vals.sort((a, b) => a - b);
              const got = out.data[((k * dj + j) * di + i) * nc + q];
              assert.equal(
                got,
                vals[vals.length >> 1],
                `${type}×${nc} r=${r.join()} voxel ${i},${j},${k}.${q}`,
              );
            }
    }
});

test('median removes an isolated spike and keeps a constant volume', () => {
  const v = randomVolume([5, 5, 5]);
  v.data.fill(7);
  v.data[62] = 3000;
  const out = median(v, [1, 1, 1]);
  assert.ok(out.data.every((x) => x === 7));
});

test('separable Gaussian equals a direct 3-D convolution with the same sampled kernel', () => {
  const spacing: Vec3 = [1, 1.5, 2];
  const v = randomVolume([10, 9, 8], 3, spacing);
  const sigma = 2; // mm → 2, 1.33, 1 voxels
  const out = gaussian(v, sigma);
  assert.equal(out.scalarType, 'float32');
  const kern = [0, 1, 2].map((a) => {
    const s = sigma / spacing[a]!;
    const r = Math.max(1, Math.ceil(3 * s));
    const w: number[] = [];
    for (let x = -r; x <= r; x++) w.push(Math.exp((-x * x) / (2 * s * s)));
    const sum = w.reduce((p, q) => p + q, 0);
    return { r, w: w.map((x) => x / sum) };
  });
  const [di, dj] = v.dimensions;
  let maxErr = 0;
  for (const [i, j, k] of [
    [0, 0, 0],
    [5, 4, 3],
    [9, 8, 7],
    [2, 7, 1],
    [7, 1, 6],
  ] as const) {
    let acc = 0;
    for (let z = -kern[2]!.r; z <= kern[2]!.r; z++)
      for (let y = -kern[1]!.r; y <= kern[1]!.r; y++)
        for (let x = -kern[0]!.r; x <= kern[0]!.r; x++)
          acc +=
            kern[0]!.w[x + kern[0]!.r]! *
            kern[1]!.w[y + kern[1]!.r]! *
            kern[2]!.w[z + kern[2]!.r]! *
            at(v, i + x, j + y, k + z);
    maxErr = Math.max(maxErr, Math.abs(acc - out.data[(k * dj + j) * di + i]!));
  }
  assert.ok(maxErr < 1e-2, `max error ${maxErr}`);
});

test('a blurred impulse has variance σ² (mm²) along each axis and keeps its sum', () => {
  const dims: Vec3 = [41, 41, 41];
  const spacing: Vec3 = [0.5, 1, 1.5];
  const v: ImageVolume = { ...randomVolume(dims, 1, spacing), scalarType: 'float32' };
  v.data = allocShared('float32', 41 ** 3);
  v.data[(20 * 41 + 20) * 41 + 20] = 1000;
  const sigma = 3;
  const out = gaussian(v, sigma);
  let sum = 0;
  const m2 = [0, 0, 0];
  for (let k = 0; k < 41; k++)
    for (let j = 0; j < 41; j++)
      for (let i = 0; i < 41; i++) {
        const w = out.data[(k * 41 + j) * 41 + i]!;
        sum += w;
        m2[0]! += w * ((i - 20) * spacing[0]) ** 2;
        m2[1]! += w * ((j - 20) * spacing[1]) ** 2;
        m2[2]! += w * ((k - 20) * spacing[2]) ** 2;
      }
  assert.ok(Math.abs(sum - 1000) < 1e-2, `sum ${sum}`);
  for (let a = 0; a < 3; a++) {
    const variance = m2[a]! / sum;
    // A sampled Gaussian truncated at 3σ has a variance slightly below σ² (≈ 0.97 σ²).
    assert.ok(
      Math.abs(variance - sigma * sigma) / (sigma * sigma) < 0.05,
      `axis ${a}: ${variance}`,
    );
  }
});

test('resample to half the spacing reproduces a linear ramp exactly (linear) and keeps the box', () => {
  const v: ImageVolume = {
    scalarType: 'float32',
    components: 1,
    dimensions: [6, 5, 4],
    spacing: [2, 2, 3],
    origin: [10, 20, 30],
    direction: [0, -1, 0, 1, 0, 0, 0, 0, 1] as Mat3,
    data: allocShared('float32', 120),
  };
  const f = (p: Vec3) => 2 * p[0] - 3 * p[1] + 0.5 * p[2];
  const m = ijkToRasMatrix(v);
  for (let k = 0, n = 0; k < 4; k++)
    for (let j = 0; j < 5; j++)
      for (let i = 0; i < 6; i++) v.data[n++] = f(transformPoint(m, [i, j, k]));
  const grid = gridWithSpacing(v, [1, 1, 1.5]);
  assert.deepEqual(grid.dimensions, [12, 10, 8]);
  const out = resample(v, IDENTITY4, grid, IDENTITY4, 'linear');
  const om = ijkToRasMatrix(out);
  // Inside the input's voxel-centre hull the ramp is reproduced exactly.
  for (const [i, j, k] of [
    [1, 1, 1],
    [5, 4, 3],
    [10, 8, 6],
  ] as const) {
    const p = transformPoint(om, [i, j, k]);
    assert.ok(Math.abs(out.data[(k * 10 + j) * 12 + i]! - f(p)) < 1e-3, `${i},${j},${k}`);
  }
  // The first output voxel's corner is the input's first corner.
  const cornerIn = transformPoint(m, [-0.5, -0.5, -0.5]);
  const cornerOut = transformPoint(om, [-0.5, -0.5, -0.5]);
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(cornerIn[a]! - cornerOut[a]!) < 1e-9);
});

test('nearest resampling of a label map only produces existing labels; outside is 0', () => {
  const v = randomVolume([6, 6, 6]);
  for (let i = 0; i < v.data.length; i++) v.data[i] = i % 3;
  const grid = { ...gridWithSpacing(v, [0.7, 0.7, 0.7]) };
  const shifted = { ...grid, origin: [grid.origin[0] + 3, grid.origin[1], grid.origin[2]] as Vec3 };
  const out = resample(v, IDENTITY4, shifted, IDENTITY4, 'nearest');
  assert.ok(out.data.every((x) => x === 0 || x === 1 || x === 2));
  // The last columns lie beyond the input (x > origin + 5.5): zero.
  const [oi] = out.dimensions;
  assert.equal(out.data[oi - 1], 0);
});

test('crop keeps the voxels whose centres are inside the RAS box, where they were', () => {
  const v = randomVolume([10, 10, 10]); // origin (3,-2,5), spacing 1, identity
  const box = ijkBoxOfRasBox(v, IDENTITY4, [5, 0, 7], [7.2, 3, 9])!;
  assert.deepEqual(box, { min: [2, 2, 2], max: [4, 5, 4] });
  const out = cropToBox(v, box);
  assert.deepEqual(out.dimensions, [3, 4, 3]);
  assert.deepEqual(out.origin, [5, 0, 7]);
  for (let k = 0; k < 3; k++)
    for (let j = 0; j < 4; j++)
      for (let i = 0; i < 3; i++)
        assert.equal(out.data[(k * 4 + j) * 3 + i], at(v, i + 2, j + 2, k + 2));
  assert.equal(ijkBoxOfRasBox(v, IDENTITY4, [100, 0, 0], [101, 1, 1]), undefined);
  // A margin grows the box by whole voxels here.
  assert.deepEqual(ijkBoxOfRasBox(v, IDENTITY4, [5, 0, 7], [7.2, 3, 9], 1), {
    min: [1, 1, 1],
    max: [5, 6, 5],
  });
});
