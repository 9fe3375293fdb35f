/**
 * The `surfaces` job against independent answers: a box and a sphere on an oblique, anisotropic
 * grid (under a parent transform) → model nodes whose enclosed volume (divergence theorem on the
 * triangles, computed here) matches the voxel count / the analytic sphere within a few %, which
 * are closed oriented manifolds (every edge in exactly two triangles, once each way), and whose
 * vertices (unsmoothed) lie half-way between an inside and an outside voxel centre, found with an
 * ijk→RAS matrix built here from the grid's spacing, direction and origin. Cancel leaves the scene
 * unchanged; a node of the wrong kind or a bad option is a 400 naming the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addSegment, emptyLabelmap, type Segmentation } from '../../src/imaging/segmentation.js';
import { allocShared, type ImageVolume, type Mat3, type Vec3 } from '../../src/imaging/types.js';
import type {
  LinearTransformNode,
  ModelNode,
  SegmentationNode,
  VolumeNode,
} from '../../src/scene/scene.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function runJob(t: TestApp, params: Record<string, unknown>) {
  const res = await t.app.request('/slicer/jobs?wait=120', json({ function: 'surfaces', params }));
  const j = (await res.json()) as any;
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.equal(j.state, 'succeeded', JSON.stringify(j.error));
  return j as { name: string; result: { nodeIds: string[]; values: any } };
}

/** A rotation of 30° about (1, 2, 2)/3 (columns = the i, j, k axes in RAS). */
function obliqueDirection(): Mat3 {
  const [x, y, z] = [1 / 3, 2 / 3, 2 / 3];
  const a = Math.PI / 6;
  const c = Math.cos(a),
    s = Math.sin(a),
    C = 1 - c;
  return [
    x * x * C + c,
    x * y * C - z * s,
    x * z * C + y * s,
    y * x * C + z * s,
    y * y * C + c,
    y * z * C - x * s,
    z * x * C - y * s,
    z * y * C + x * s,
    z * z * C + c,
  ];
}

function grid(dims: Vec3): ImageVolume {
  return {
    scalarType: 'int16',
    components: 1,
    dimensions: dims,
    spacing: [0.8, 1.1, 1.5],
    origin: [5, -7, 3],
    direction: obliqueDirection(),
    data: allocShared('int16', dims[0] * dims[1] * dims[2]),
  };
}

/** ijk → RAS: RAS = origin + direction · (spacing ⊙ ijk) (written here, not taken from src). */
function ijkToRas(g: ImageVolume, p: Vec3): Vec3 {
  const d = g.direction;
  const q = [p[0] * g.spacing[0], p[1] * g.spacing[1], p[2] * g.spacing[2]];
  return [0, 1, 2].map(
    (r) => g.origin[r]! + d[3 * r]! * q[0]! + d[3 * r + 1]! * q[1]! + d[3 * r + 2]! * q[2]!,
  ) as Vec3;
}

/** RAS → ijk for an orthonormal direction: ijk = (directionᵀ · (RAS − origin)) / spacing. */
function rasToIjk(g: ImageVolume, p: Vec3): Vec3 {
  const d = g.direction;
  const v = [p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]];
  return [0, 1, 2].map(
    (c) => (d[c]! * v[0]! + d[3 + c]! * v[1]! + d[6 + c]! * v[2]!) / g.spacing[c]!,
  ) as Vec3;
}

function addSeg(
  t: TestApp,
  name: string,
  g: ImageVolume,
  segs: Array<{ name: string; mask: Uint8Array; color?: [number, number, number] }>,
  parentTransformID?: string,
): SegmentationNode {
  let s: Segmentation = { labelmap: emptyLabelmap(g, 1), segments: [] };
  for (const x of segs)
    s = addSegment(s, x.mask, {
      name: x.name,
      ...(x.color ? { color: x.color } : {}),
    }).segmentation;
  return t.ctx.scene.add<SegmentationNode>({
    kind: 'segmentation',
    className: 'vtkMRMLSegmentationNode',
    name,
    segmentation: s,
    attributes: {},
    ...(parentTransformID ? { parentTransformID } : {}),
  });
}

function boxMask(dims: Vec3, lo: Vec3, hi: Vec3): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = lo[2]; k <= hi[2]; k++)
    for (let j = lo[1]; j <= hi[1]; j++)
      for (let i = lo[0]; i <= hi[0]; i++) m[(k * dims[1] + j) * dims[0] + i] = 1;
  return m;
}

/** Voxels whose centre is within `r` mm of `centre` (RAS). */
function sphereMask(g: ImageVolume, centre: Vec3, r: number): Uint8Array {
  const [di, dj, dk] = g.dimensions;
  const m = new Uint8Array(di * dj * dk);
  for (let k = 0, p = 0; k < dk; k++)
    for (let j = 0; j < dj; j++)
      for (let i = 0; i < di; i++, p++) {
        const x = ijkToRas(g, [i, j, k]);
        if (Math.hypot(x[0] - centre[0], x[1] - centre[1], x[2] - centre[2]) <= r) m[p] = 1;
      }
  return m;
}

/** Enclosed volume by the divergence theorem: Σ (a · (b × c)) / 6 over outward triangles. */
function enclosedVolume(n: ModelNode): number {
  const { positions: P, indices: I } = n.mesh;
  let v = 0;
  for (let t = 0; t < I.length; t += 3) {
    const [a, b, c] = [I[t]! * 3, I[t + 1]! * 3, I[t + 2]! * 3];
    v +=
      P[a]! * (P[b + 1]! * P[c + 2]! - P[b + 2]! * P[c + 1]!) -
      P[a + 1]! * (P[b]! * P[c + 2]! - P[b + 2]! * P[c]!) +
      P[a + 2]! * (P[b]! * P[c + 1]! - P[b + 1]! * P[c]!);
  }
  return v / 6;
}

/** Every edge in exactly two triangles, traversed once in each direction (closed, oriented). */
function assertClosedManifold(n: ModelNode): void {
  const I = n.mesh.indices;
  assert.ok(I.length >= 12, 'a closed surface has at least 4 triangles');
  const directed = new Map<string, number>();
  for (let t = 0; t < I.length; t += 3)
    for (let e = 0; e < 3; e++) {
      const key = `${I[t + e]},${I[t + ((e + 1) % 3)]}`;
      directed.set(key, (directed.get(key) ?? 0) + 1);
    }
  let bad = 0;
  for (const [key, count] of directed) {
    const [a, b] = key.split(',');
    if (count !== 1 || directed.get(`${b},${a}`) !== 1) bad++;
  }
  assert.equal(
    bad,
    0,
    `${bad} of ${directed.size} directed edges are not shared exactly once each way`,
  );
}

test('surfaces: a box on an oblique grid → a closed model of the right volume whose vertices lie on the boundary', async () => {
  const t = await makeTestApp();
  try {
    const tf = t.ctx.scene.add<LinearTransformNode>({
      kind: 'linearTransform',
      className: 'vtkMRMLLinearTransformNode',
      name: 'Shift',
      matrixToParent: [1, 0, 0, 10, 0, 1, 0, 0, 0, 0, 1, -5, 0, 0, 0, 1],
      attributes: {},
    });
    const g = grid([24, 20, 16]);
    const lo: Vec3 = [4, 5, 3],
      hi: Vec3 = [15, 14, 10]; // 12 × 10 × 8 voxels
    const mask = boxMask(g.dimensions, lo, hi);
    const seg = addSeg(t, 'Boxes', g, [{ name: 'Box', mask, color: [0.2, 0.4, 0.6] }], tf.id);
    const j = await runJob(t, { segmentation: 'Boxes', smoothing: 0 });
    assert.equal(j.result.nodeIds.length, 1);
    const m = t.ctx.scene.byId(j.result.nodeIds[0]!) as ModelNode;
    assert.equal(m.kind, 'model');
    assert.equal(m.name, `${j.name} Box`);
    assert.deepEqual(m.display.color, [0.2, 0.4, 0.6]);
    assert.equal(m.parentTransformID, tf.id, 'the model sits under the segmentation’s transform');
    assert.equal(m.attributes['voxelgate.function'], 'surfaces');
    assertClosedManifold(m);

    const voxelMm3 = 0.8 * 1.1 * 1.5;
    const boxMm3 = 12 * 10 * 8 * voxelMm3;
    const v = enclosedVolume(m);
    // Marching cubes at 0.5 cuts the box's edges and corners: a little less, within 3 %.
    assert.ok(v < boxMm3 && v > boxMm3 * 0.97, `enclosed ${v.toFixed(2)} mm³, box ${boxMm3} mm³`);
    const row = j.result.values.segments[0];
    assert.equal(row.segmentId, seg.segmentation.segments[0]!.id);
    assert.equal(row.voxelVolumeMm3, Number(boxMm3.toFixed(3)));
    assert.ok(Math.abs(row.surfaceVolumeMm3 - v) < 1e-2);

    // Unsmoothed, every vertex is half-way along a grid edge from an inside to an outside voxel.
    const [di, dj] = g.dimensions;
    const inside = (p: number[]) => mask[(p[2]! * dj + p[1]!) * di + p[0]!] === 1;
    const P = m.mesh.positions;
    for (let q = 0; q < P.length; q += 3) {
      const ijk = rasToIjk(g, [P[q]!, P[q + 1]!, P[q + 2]!]);
      const half = ijk.map((x) => Math.abs(x - Math.floor(x) - 0.5) < 1e-3);
      assert.equal(half.filter(Boolean).length, 1, `vertex ${q / 3} at ijk ${ijk.join(', ')}`);
      const axis = half.indexOf(true);
      const a = ijk.map((x, c) => (c === axis ? Math.floor(x) : Math.round(x)));
      const b = a.map((x, c) => (c === axis ? x + 1 : x));
      for (const [c, x] of ijk.entries())
        if (c !== axis) assert.ok(Math.abs(x - Math.round(x)) < 1e-3, `vertex ${q / 3} off-grid`);
      assert.notEqual(inside(a), inside(b), `vertex ${q / 3} is not between inside and outside`);
    }
  } finally {
    await t.close();
  }
});

test('surfaces: a smoothed sphere encloses 4/3·π·r³ within 4 %; decimation keeps it closed; segments picks one', async () => {
  const t = await makeTestApp();
  try {
    const g = grid([40, 32, 26]);
    const centre = ijkToRas(g, [20, 16, 13]);
    const r = 12;
    addSeg(t, 'Balls', g, [
      { name: 'Ball', mask: sphereMask(g, centre, r) },
      { name: 'Empty', mask: new Uint8Array(40 * 32 * 26) },
    ]);
    const exact = (4 / 3) * Math.PI * r ** 3;
    const j = await runJob(t, { segmentation: 'Balls', smoothing: 0.5 });
    // The empty segment makes no model and says so.
    assert.equal(j.result.nodeIds.length, 1);
    assert.deepEqual(
      j.result.values.segments.map((s: any) => [s.name, s.model]),
      [
        ['Ball', true],
        ['Empty', false],
      ],
    );
    const m = t.ctx.scene.byId(j.result.nodeIds[0]!) as ModelNode;
    assertClosedManifold(m);
    const v = enclosedVolume(m);
    assert.ok(
      Math.abs(v - exact) / exact < 0.04,
      `enclosed ${v.toFixed(1)} mm³, sphere ${exact.toFixed(1)} mm³`,
    );
    const P = m.mesh.positions;
    for (let q = 0; q < P.length; q += 3) {
      const d = Math.hypot(P[q]! - centre[0], P[q + 1]! - centre[1], P[q + 2]! - centre[2]);
      assert.ok(Math.abs(d - r) < 1.5, `vertex ${q / 3} is ${d.toFixed(2)} mm from the centre`);
    }

    const d = await runJob(t, { segmentation: 'Balls', segments: ['Ball'], decimation: 0.5 });
    assert.equal(d.result.nodeIds.length, 1);
    assert.equal(d.result.values.segments.length, 1);
    const dm = t.ctx.scene.byId(d.result.nodeIds[0]!) as ModelNode;
    assert.ok(dm.mesh.indices.length < m.mesh.indices.length * 0.7, 'decimated');
    assertClosedManifold(dm);
    const dv = enclosedVolume(dm);
    assert.ok(Math.abs(dv - exact) / exact < 0.05, `decimated: ${dv.toFixed(1)} mm³`);
  } finally {
    await t.close();
  }
});

test('surfaces: bad input is a 4xx naming the field (an unknown segment too, at submit); cancel adds nothing', async () => {
  const t = await makeTestApp();
  try {
    const g = grid([30, 30, 30]);
    t.ctx.scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'Grey',
      volume: g,
      display: {},
      attributes: {},
    });
    const balls = Array.from({ length: 12 }, (_, s) => ({
      name: `Ball ${s}`,
      mask: sphereMask(g, ijkToRas(g, [15, 15, 15]), 4 + s),
    }));
    addSeg(t, 'Many', g, balls);

    const wrongKind = await t.app.request(
      '/slicer/jobs',
      json({ function: 'surfaces', params: { segmentation: 'Grey' } }),
    );
    assert.equal(wrongKind.status, 400);
    const wk = (await wrongKind.json()) as { message: string; success: boolean };
    assert.equal(wk.success, false);
    assert.match(wk.message, /params\.segmentation/);
    assert.match(wk.message, /not a segmentation/);

    const badSmoothing = await t.app.request(
      '/slicer/jobs',
      json({ function: 'surfaces', params: { segmentation: 'Many', smoothing: 2 } }),
    );
    assert.equal(badSmoothing.status, 400);
    assert.match(((await badSmoothing.json()) as { message: string }).message, /smoothing/);

    // An unknown segment is a 400 at submit (no job is made), by id or by name.
    const jobsBefore = t.ctx.jobs.list().length;
    const unknown = await t.app.request(
      '/slicer/jobs?wait=60',
      json({
        function: 'surfaces',
        params: { segmentation: 'Many', segments: ['Ball 3', 'Nope'] },
      }),
    );
    assert.equal(unknown.status, 400);
    const u = (await unknown.json()) as { code: string; message: string; success: boolean };
    assert.equal(u.success, false);
    assert.equal(u.code, 'invalid_parameter');
    assert.match(
      u.message,
      /params\.segments: no segment "Nope" in vtkMRMLSegmentationNode\d+ \(Segment_1 "Ball 0"/,
    );
    // the same for a one-segment parameter, given as a query parameter (Hypha-style call)
    const islands = await t.app.request('/slicer/functions/islands?segmentation=Many&segment=Nope');
    assert.equal(islands.status, 400);
    assert.match(
      ((await islands.json()) as { message: string }).message,
      /params\.segment: no segment "Nope"/,
    );
    assert.equal(t.ctx.jobs.list().length, jobsBefore);

    // Cancel as soon as the first per-segment progress arrives: nothing enters the scene.
    const before = t.ctx.scene.nodes().map((n) => n.id);
    const messages: string[] = [];
    const off = t.ctx.jobs.onEvent((e) => {
      if (e.job.function !== 'surfaces' || e.type !== 'job-progress') return;
      messages.push(e.job.message);
      // (A heartbeat may come first on a loaded machine: wait for a per-segment report.)
      if (e.job.state === 'running' && e.job.message.startsWith('surface of'))
        t.ctx.jobs.cancel(e.job.id);
    });
    try {
      const res = await t.app.request(
        '/slicer/jobs',
        json({ function: 'surfaces', params: { segmentation: 'Many' } }),
      );
      const { id } = (await res.json()) as { id: string };
      const final = await t.ctx.jobs.wait(id, 60_000);
      assert.equal(final.state, 'cancelled');
      assert.equal(final.result, undefined);
      assert.ok(
        messages.some((m) => /^surface of Ball 0 \(1\/12\)$/.test(m)),
        messages.join(' | '),
      );
    } finally {
      off();
    }
    // Let a worker that was mid-segment finish and be discarded.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      t.ctx.scene.nodes().map((n) => n.id),
      before,
    );
  } finally {
    await t.close();
  }
});
