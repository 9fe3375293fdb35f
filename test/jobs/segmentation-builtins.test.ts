/**
 * Segmentation built-ins as jobs, against known answers: threshold counts, islands on cubes of
 * known sizes (6- vs 26-connectivity) and connected components against a brute-force union-find,
 * fill between slices on a disc drawn on two slices, statistics of a ramp, crop to a segment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectedComponents } from '../../src/imaging/filters.js';
import { IDENTITY3 } from '../../src/imaging/geometry.js';
import {
  addSegment,
  emptyLabelmap,
  segmentMask,
  type Segmentation,
} from '../../src/imaging/segmentation.js';
import { allocShared, type ImageVolume, type Vec3 } from '../../src/imaging/types.js';
import type { SegmentationNode, VolumeNode } from '../../src/scene/scene.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function runJob(t: TestApp, fn: string, params: Record<string, unknown>) {
  const res = await t.app.request('/slicer/jobs?wait=120', json({ function: fn, params }));
  const j = (await res.json()) as any;
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.equal(j.state, 'succeeded', JSON.stringify(j.error));
  return j as { name: string; result: { nodeIds: string[]; values: any } };
}

const grid = (dims: Vec3): ImageVolume => ({
  scalarType: 'int16',
  components: 1,
  dimensions: dims,
  spacing: [1, 2, 3],
  origin: [10, 20, 30],
  direction: IDENTITY3,
  data: allocShared('int16', dims[0] * dims[1] * dims[2]),
});

function addVolume(t: TestApp, name: string, v: ImageVolume): VolumeNode {
  return t.ctx.scene.add<VolumeNode>({
    kind: 'volume',
    className: 'vtkMRMLScalarVolumeNode',
    name,
    volume: v,
    display: {},
    attributes: {},
  });
}

function addSeg(t: TestApp, name: string, g: ImageVolume, mask: Uint8Array): SegmentationNode {
  const s: Segmentation = addSegment({ labelmap: emptyLabelmap(g, 1), segments: [] }, mask, {
    name: 'Tumor',
  }).segmentation;
  return t.ctx.scene.add<SegmentationNode>({
    kind: 'segmentation',
    className: 'vtkMRMLSegmentationNode',
    name,
    segmentation: s,
    attributes: {},
  });
}

function cubeMask(dims: Vec3, cubes: Array<[Vec3, number]>): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [c, size] of cubes)
    for (let k = c[2]; k < c[2] + size; k++)
      for (let j = c[1]; j < c[1] + size; j++)
        for (let i = c[0]; i < c[0] + size; i++) m[(k * dims[1] + j) * dims[0] + i] = 1;
  return m;
}

const segmentSizes = (n: SegmentationNode) =>
  n.segmentation.segments.map((s) =>
    segmentMask(n.segmentation, s.id).mask.reduce((a, b) => a + b, 0),
  );

test('threshold makes a segmentation on the volume grid with the voxels in range', async () => {
  const t = await makeTestApp();
  try {
    const v = grid([10, 8, 6]);
    for (let q = 0; q < v.data.length; q++) v.data[q] = q % 100;
    const vol = addVolume(t, 'Ramp', v);
    const j = await runJob(t, 'threshold', { volume: 'Ramp', lower: 10, upper: 19 });
    const seg = t.ctx.scene.byId(j.result.nodeIds[0]!) as SegmentationNode;
    assert.equal(seg.kind, 'segmentation');
    assert.equal(seg.name, j.name);
    assert.equal(seg.referenceVolumeId, vol.id);
    const expected = [...v.data].filter((x) => x >= 10 && x <= 19).length;
    assert.equal(j.result.values.voxelCount, expected);
    assert.equal(j.result.values.volumeMm3, expected * 6);
    assert.deepEqual(segmentSizes(seg), [expected]);
    assert.deepEqual(seg.segmentation.labelmap.dimensions, v.dimensions);
    assert.deepEqual(seg.segmentation.labelmap.spacing, v.spacing);
  } finally {
    await t.close();
  }
});

test('connected components match a brute-force union-find (6 and 26)', () => {
  const dims: Vec3 = [9, 8, 7];
  let s = 3;
  const mask = new Uint8Array(9 * 8 * 7).map(
    () => ((s = (s * 1103515245 + 12345) % 2147483648), s % 3 === 0 ? 1 : 0),
  );
  for (const conn of [6, 26] as const) {
    const { labels, sizes } = connectedComponents(mask, dims, conn);
    // Union-find over all voxel pairs within the neighbourhood.
    const parent = [...mask.keys()];
    const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x]!)));
    const idx = (i: number, j: number, k: number) => (k * 8 + j) * 9 + i;
    for (let k = 0; k < 7; k++)
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 9; i++)
          for (let z = 0; z <= 1; z++)
            for (let y = -1; y <= 1; y++)
              for (let x = -1; x <= 1; x++) {
                const d = Math.abs(x) + Math.abs(y) + Math.abs(z);
                if (d === 0 || (conn === 6 && d > 1)) continue;
                const [ii, jj, kk] = [i + x, j + y, k + z];
                if (ii < 0 || jj < 0 || ii >= 9 || jj >= 8 || kk >= 7) continue;
                const a = idx(i, j, k),
                  b = idx(ii, jj, kk);
                if (mask[a] && mask[b]) parent[find(a)] = find(b);
              }
    const roots = new Map<number, number>();
    for (let q = 0; q < mask.length; q++)
      if (mask[q]) roots.set(find(q), (roots.get(find(q)) ?? 0) + 1);
    assert.deepEqual(
      [...sizes].sort((a, b) => a - b),
      [...roots.values()].sort((a, b) => a - b),
      `connectivity ${conn}`,
    );
    // Same partition: voxels share a label iff they share a root.
    for (let q = 0; q < mask.length; q++)
      for (const r of [q + 1, q + 9, q + 72])
        if (r < mask.length && mask[q] && mask[r])
          assert.equal(labels[q] === labels[r], find(q) === find(r));
  }
});

test('islands: keep largest, remove small, split; 6- vs 26-connectivity', async () => {
  const t = await makeTestApp();
  try {
    const g = grid([20, 20, 20]);
    // Cubes of 27, 8 and 1 voxels apart, plus a 1-voxel cube touching the 8-cube at a corner only.
    const mask = cubeMask(g.dimensions, [
      [[1, 1, 1], 3],
      [[10, 10, 10], 2],
      [[16, 2, 2], 1],
      [[12, 12, 12], 1],
    ]);
    addSeg(t, 'Seg', g, mask);
    const keep = await runJob(t, 'islands', { segmentation: 'Seg', mode: 'keepLargest' });
    assert.equal(keep.result.values.islands, 4);
    assert.deepEqual(
      segmentSizes(t.ctx.scene.byId(keep.result.nodeIds[0]!) as SegmentationNode),
      [27],
    );
    const rm = await runJob(t, 'islands', {
      segmentation: 'Seg',
      mode: 'removeSmall',
      minimumSize: 5,
    });
    assert.deepEqual(
      segmentSizes(t.ctx.scene.byId(rm.result.nodeIds[0]!) as SegmentationNode),
      [35],
    );
    const split = await runJob(t, 'islands', {
      segmentation: 'Seg',
      mode: 'split',
      minimumSize: 1,
    });
    const parts = t.ctx.scene.byId(split.result.nodeIds[0]!) as SegmentationNode;
    assert.deepEqual(segmentSizes(parts), [27, 8, 1, 1]);
    assert.deepEqual(
      parts.segmentation.segments.map((s) => s.name),
      ['Tumor_1', 'Tumor_2', 'Tumor_3', 'Tumor_4'],
    );
    const c26 = await runJob(t, 'islands', {
      segmentation: 'Seg',
      mode: 'split',
      minimumSize: 1,
      connectivity: 26,
    });
    assert.deepEqual(
      segmentSizes(t.ctx.scene.byId(c26.result.nodeIds[0]!) as SegmentationNode),
      [27, 9, 1],
    );
    // The input segmentation is untouched.
    assert.deepEqual(segmentSizes(t.ctx.scene.getNode('Seg') as SegmentationNode), [37]);
  } finally {
    await t.close();
  }
});

test('fillBetweenSlices fills the slices between two drawn discs', async () => {
  const t = await makeTestApp();
  try {
    const g = grid([32, 32, 12]);
    const mask = new Uint8Array(32 * 32 * 12);
    for (const k of [2, 9])
      for (let j = 0; j < 32; j++)
        for (let i = 0; i < 32; i++)
          if ((i - 16) ** 2 + (j - 16) ** 2 <= 36) mask[(k * 32 + j) * 32 + i] = 1;
    addSeg(t, 'Drawn', g, mask);
    const j = await runJob(t, 'fillBetweenSlices', { segmentation: 'Drawn' });
    const out = t.ctx.scene.byId(j.result.nodeIds[0]!) as SegmentationNode;
    const filled = segmentMask(out.segmentation, out.segmentation.segments[0]!.id).mask;
    const perSlice = Array.from({ length: 12 }, (_, k) =>
      filled.subarray(k * 1024, (k + 1) * 1024).reduce((a, b) => a + b, 0),
    );
    const disc = perSlice[2]!;
    for (let k = 2; k <= 9; k++)
      assert.ok(
        Math.abs(perSlice[k]! - disc) <= disc * 0.2,
        `slice ${k}: ${perSlice[k]} vs ${disc}`,
      );
    assert.equal(perSlice[0], 0);
    assert.equal(perSlice[11], 0);
    assert.ok(j.result.values.voxelsAfter > j.result.values.voxelsBefore * 3);
  } finally {
    await t.close();
  }
});

test('segmentStatistics: counts, mm³ and intensity statistics of a known ramp; crop to a segment', async () => {
  const t = await makeTestApp();
  try {
    const g = grid([10, 10, 10]);
    for (let k = 0, q = 0; k < 10; k++)
      for (let j = 0; j < 10; j++) for (let i = 0; i < 10; i++, q++) g.data[q] = i;
    addVolume(t, 'Ramp', g);
    addSeg(t, 'Box', g, cubeMask(g.dimensions, [[[2, 3, 4], 3]])); // i = 2, 3, 4
    const j = await runJob(t, 'segmentStatistics', { segmentation: 'Box', volume: 'Ramp' });
    const s = j.result.values.segments[0];
    assert.equal(s.voxelCount, 27);
    assert.equal(s.volumeMm3, 27 * 6);
    assert.equal(s.mean, 3);
    assert.ok(Math.abs(s.std - Math.sqrt(2 / 3)) < 1e-9);
    assert.equal(s.min, 2);
    assert.equal(s.max, 4);
    // The numbers also come as a table node (see test/http/slicer-tables.test.ts).
    assert.equal(j.result.nodeIds.length, 1);
    assert.equal(t.ctx.scene.byId(j.result.nodeIds[0]!)?.className, 'vtkMRMLTableNode');

    const c = await runJob(t, 'crop', { volume: 'Ramp', segmentation: 'Box', margin: 1 });
    const cropped = t.ctx.scene.byId(c.result.nodeIds[0]!) as VolumeNode;
    // Box voxels i 2..4, j 3..5, k 4..6; margin 1 mm = 1 voxel along i only (spacing 1, 2, 3).
    assert.deepEqual(cropped.volume.dimensions, [5, 3, 3]);
    assert.deepEqual(cropped.volume.origin, [11, 26, 42]);
  } finally {
    await t.close();
  }
});
