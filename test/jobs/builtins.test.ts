/**
 * Built-in functions run as jobs through the HTTP API: results are new nodes named after the job,
 * with the right geometry and values. `register` recovers a known rigid motion of an analytic
 * phantom (within 0.5 mm / 0.5°); `downsample` (itk-wasm) halves a volume with the geometry the
 * package documents; the filters keep the input's parent transform.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ijkToRasMatrix,
  invert4,
  mul4,
  transformPoint,
  IDENTITY3,
} from '../../src/imaging/geometry.js';
import { median } from '../../src/imaging/filters.js';
import { allocShared, type ImageVolume, type Mat4, type Vec3 } from '../../src/imaging/types.js';
import type { LinearTransformNode, SceneNode, VolumeNode } from '../../src/scene/scene.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function runJob(t: TestApp, fn: string, params: Record<string, unknown>) {
  const res = await t.app.request('/slicer/jobs?wait=300', json({ function: fn, params }));
  const j = (await res.json()) as {
    state: string;
    name: string;
    error?: unknown;
    result?: { nodeIds: string[]; values?: Record<string, unknown> };
  };
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.equal(j.state, 'succeeded', JSON.stringify(j.error));
  return j;
}

function addVolume(t: TestApp, name: string, volume: ImageVolume, extra: Partial<VolumeNode> = {}) {
  return t.ctx.scene.add<VolumeNode>({
    kind: 'volume',
    className: 'vtkMRMLScalarVolumeNode',
    name,
    volume,
    display: {},
    attributes: {},
    ...extra,
  });
}

function volumeFrom(
  dims: Vec3,
  spacing: Vec3,
  origin: Vec3,
  f: (p: Vec3) => number,
  type: 'int16' | 'float32' = 'float32',
): ImageVolume {
  const v: ImageVolume = {
    scalarType: type,
    components: 1,
    dimensions: dims,
    spacing,
    origin,
    direction: IDENTITY3,
    data: allocShared(type, dims[0] * dims[1] * dims[2]),
  };
  const m = ijkToRasMatrix(v);
  let n = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) v.data[n++] = f(transformPoint(m, [i, j, k]));
  return v;
}

test('median as a job: a new node named after the job, same geometry and parent, exact values', async () => {
  const t = await makeTestApp();
  try {
    const tr = t.ctx.scene.add<LinearTransformNode>({
      kind: 'linearTransform',
      className: 'vtkMRMLLinearTransformNode',
      name: 'Shift',
      matrixToParent: [1, 0, 0, 5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      attributes: {},
    });
    const v = volumeFrom(
      [16, 12, 10],
      [1, 1, 2],
      [0, 0, 0],
      (p) => (p[0] * 7 + p[1] * 13) % 50,
      'int16',
    );
    const input = addVolume(t, 'Input', v, { parentTransformID: tr.id });
    const j = await runJob(t, 'median', { volume: 'Input', radius: 1 });
    assert.equal(j.name, 'median-1');
    assert.equal(j.result!.nodeIds.length, 1);
    const out = t.ctx.scene.byId(j.result!.nodeIds[0]!) as VolumeNode;
    assert.equal(out.name, 'median-1');
    assert.equal(out.parentTransformID, tr.id);
    assert.equal(out.attributes['voxelgate.job'], 'job1');
    assert.deepEqual(out.volume.dimensions, v.dimensions);
    assert.deepEqual(out.volume.spacing, v.spacing);
    assert.equal(out.volume.scalarType, 'int16');
    assert.deepEqual([...out.volume.data], [...median(v, [1, 1, 1]).data]);
    // The input is untouched and still there.
    assert.equal(t.ctx.scene.byId(input.id), input);
  } finally {
    await t.close();
  }
});

test('crop and resample as jobs', async () => {
  const t = await makeTestApp();
  try {
    const v = volumeFrom([20, 20, 20], [1, 1, 1], [0, 0, 0], (p) => p[0] + 100 * p[1]);
    addVolume(t, 'Ramp', v);
    const c = await runJob(t, 'crop', { volume: 'Ramp', min: [2, 3, 4], max: [5, 6, 7] });
    const cropped = t.ctx.scene.byId(c.result!.nodeIds[0]!) as VolumeNode;
    assert.deepEqual(cropped.volume.dimensions, [4, 4, 4]);
    assert.deepEqual(cropped.volume.origin, [2, 3, 4]);
    assert.equal(cropped.volume.data[0], 2 + 300);

    // Resample onto a reference grid that is the cropped one: same values as the crop.
    const r = await runJob(t, 'resample', { volume: 'Ramp', reference: cropped.id });
    const res = t.ctx.scene.byId(r.result!.nodeIds[0]!) as VolumeNode;
    assert.deepEqual(res.volume.dimensions, [4, 4, 4]);
    for (let i = 0; i < 64; i++)
      assert.ok(Math.abs(res.volume.data[i]! - cropped.volume.data[i]!) < 1e-4);

    const bad = await t.app.request(
      '/slicer/jobs?wait=30',
      json({ function: 'resample', params: { volume: 'Ramp' } }),
    );
    assert.equal(bad.status, 400);
    const empty = await t.app.request(
      '/slicer/jobs?wait=30',
      json({
        function: 'crop',
        params: { volume: 'Ramp', min: [100, 100, 100], max: [101, 101, 101] },
      }),
    );
    const ej = (await empty.json()) as { state: string; error: { code: string; message: string } };
    assert.equal(ej.state, 'failed');
    assert.equal(ej.error.code, 'invalid_parameter');
    assert.match(ej.error.message, /no voxel/);
  } finally {
    await t.close();
  }
});

test('downsample (itk-wasm) halves dimensions, doubles spacing, moves the origin half a voxel', async () => {
  const t = await makeTestApp();
  try {
    const v = volumeFrom([32, 32, 16], [1, 1, 2], [10, 20, 30], () => 500, 'int16');
    addVolume(t, 'Flat', v);
    const j = await runJob(t, 'downsample', { volume: 'Flat', factor: 2 });
    const out = t.ctx.scene.byId(j.result!.nodeIds[0]!) as VolumeNode;
    assert.deepEqual(out.volume.dimensions, [16, 16, 8]);
    assert.deepEqual(out.volume.spacing, [2, 2, 4]);
    out.volume.origin.forEach((o, a) =>
      assert.ok(Math.abs(o - [10.5, 20.5, 31][a]!) < 1e-6, `origin ${out.volume.origin}`),
    );
    assert.equal(out.volume.scalarType, 'int16');
    assert.ok(out.volume.data.every((x) => Math.abs(x - 500) <= 1));
  } finally {
    await t.close();
  }
});

/** Rotation about an axis (RAS) by `deg` around centre c, then a shift: x → R(x − c) + c + s. */
function rigid(axis: Vec3, deg: number, c: Vec3, s: Vec3): Mat4 {
  const a = (deg * Math.PI) / 180;
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n) as Vec3;
  const C = Math.cos(a),
    S = Math.sin(a),
    t = 1 - C;
  const R = [
    t * x * x + C,
    t * x * y - S * z,
    t * x * z + S * y,
    t * x * y + S * z,
    t * y * y + C,
    t * y * z - S * x,
    t * x * z - S * y,
    t * y * z + S * x,
    t * z * z + C,
  ];
  const off = [0, 1, 2].map(
    (r) => -(R[r * 3]! * c[0] + R[r * 3 + 1]! * c[1] + R[r * 3 + 2]! * c[2]) + c[r]! + s[r]!,
  );
  return [
    R[0]!,
    R[1]!,
    R[2]!,
    off[0]!,
    R[3]!,
    R[4]!,
    R[5]!,
    off[1]!,
    R[6]!,
    R[7]!,
    R[8]!,
    off[2]!,
    0,
    0,
    0,
    1,
  ];
}

test('register (elastix rigid) recovers a known rotation and shift within 0.5 mm and 0.5°', async () => {
  const t = await makeTestApp();
  try {
    // An asymmetric analytic phantom of smooth blobs (mm, RAS).
    const blobs: Array<[Vec3, number, number]> = [
      [[0, 0, 0], 18, 100],
      [[20, 8, -5], 8, 200],
      [[-12, -18, 10], 6, 150],
      [[5, 22, 14], 5, 250],
      [[-20, 10, -14], 7, 120],
    ];
    const f = (p: Vec3) =>
      blobs.reduce(
        (acc, [c, r, w]) =>
          acc +
          w *
            Math.exp(-((p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2) / (2 * r * r)),
        0,
      );
    // The object moves by X: fixed sees f(p), moving sees f(X⁻¹ q).
    const X = rigid([0.2, -0.3, 1], 7, [0, 0, 0], [4, -3, 2.5]);
    const Xinv = invert4(X);
    const dims: Vec3 = [64, 64, 64];
    const spacing: Vec3 = [1.25, 1.25, 1.25];
    const origin: Vec3 = [-39.375, -39.375, -39.375];
    addVolume(t, 'Fixed', volumeFrom(dims, spacing, origin, f));
    const moving = addVolume(
      t,
      'Moving',
      volumeFrom(dims, spacing, origin, (q) => f(transformPoint(Xinv, q))),
    );
    let progressEvents = 0;
    t.ctx.jobs.onEvent((e) => {
      if (e.type === 'job-progress') progressEvents++;
    });
    const j = await runJob(t, 'register', { fixed: 'Fixed', moving: 'Moving', transform: 'rigid' });
    assert.ok(progressEvents >= 4, `${progressEvents} progress events`);
    const tr = t.ctx.scene.nodes().find((n: SceneNode) => n.kind === 'linearTransform')!;
    assert.ok(tr, 'a transform node was added');
    assert.equal(tr.name, j.name);
    assert.deepEqual(j.result!.nodeIds, [tr.id]);
    // Applied to the moving volume.
    assert.equal((t.ctx.scene.byId(moving.id) as VolumeNode).parentTransformID, tr.id);
    // The node maps moving onto fixed: N ≈ X⁻¹, so N·X ≈ identity.
    const E = mul4(tr.matrixToParent, X);
    const trace = E[0] + E[5] + E[10];
    const angle = (Math.acos(Math.min(1, (trace - 1) / 2)) * 180) / Math.PI;
    assert.ok(angle < 0.5, `residual rotation ${angle.toFixed(3)}°`);
    let worst = 0;
    for (const p of [
      [0, 0, 0],
      [30, 0, 0],
      [0, -30, 0],
      [0, 0, 30],
      [20, 20, -20],
    ] as Vec3[]) {
      const q = transformPoint(E, p);
      worst = Math.max(worst, Math.hypot(q[0] - p[0], q[1] - p[1], q[2] - p[2]));
    }
    assert.ok(worst < 0.5, `residual displacement ${worst.toFixed(3)} mm`);
    console.log(
      `# register: residual ${angle.toFixed(3)}°, ${worst.toFixed(3)} mm; ${progressEvents} progress events`,
    );
  } finally {
    await t.close();
  }
});
