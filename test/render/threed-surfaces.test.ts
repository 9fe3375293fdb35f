/**
 * /slicer/threeD with model nodes: surfaces are z-buffered against the volume rendering — a model
 * in front of a bone sphere hides it, the sphere hides a model behind it — checked on pixels.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTestApp } from '../helpers/app.js';
import { sphereVolume } from '../helpers/phantom.js';
import { addVolume, decode } from '../helpers/render.js';
import { putModel } from '../../src/scene/models.js';
import type { Scene } from '../../src/scene/scene.js';

/** A flat square (two triangles) at A = a, spanning R ∈ [r0, r1], S ∈ [−3, 3]. */
function square(a: number, r0: number, r1: number) {
  return {
    positions: new Float32Array([r0, a, -3, r1, a, -3, r1, a, 3, r0, a, 3]),
    indices: new Uint32Array([0, 1, 2, 0, 2, 3]),
  };
}

function addModels(scene: Scene) {
  putModel(scene, { name: 'front', mesh: square(12, -14, 0), display: { color: [1, 0, 0] } });
  putModel(scene, { name: 'back', mesh: square(-12, 0, 14), display: { color: [0, 1, 0] } });
}

const isRed = (d: Buffer, i: number) =>
  d[3 * i]! > d[3 * i + 1]! + 40 && d[3 * i]! > d[3 * i + 2]! + 40;
const isGreen = (d: Buffer, i: number) =>
  d[3 * i + 1]! > d[3 * i]! + 40 && d[3 * i + 1]! > d[3 * i + 2]! + 40;

async function render(withBone: boolean) {
  const t = await makeTestApp();
  try {
    addVolume(
      t.ctx.scene,
      sphereVolume({
        dimensions: [32, 32, 32],
        origin: [-16, -16, -16],
        background: -1000,
        spheres: withBone ? [{ centre: [0, 0, 0], radius: 6, value: 1200 }] : [],
      }),
    );
    addModels(t.ctx.scene);
    const res = await t.app.request('/slicer/threeD?size=64&format=png&preset=ct-bone');
    assert.equal(res.status, 200, await res.clone().text());
    return await decode(await res.arrayBuffer());
  } finally {
    await t.close();
  }
}

test('/slicer/threeD: models are z-buffered against the volume rendering', async () => {
  const plain = await render(false);
  const bone = await render(true);
  assert.equal(bone.channels, 3);
  const N = 64 * 64;
  let red0 = 0,
    green0 = 0,
    green1 = 0,
    lost = 0;
  for (let i = 0; i < N; i++) {
    const r0 = isRed(plain.data, i),
      r1 = isRed(bone.data, i);
    // The front model is in front of the bone: its pixels are exactly the same with or without it.
    if (r0 || r1)
      assert.deepEqual(
        [...bone.data.subarray(3 * i, 3 * i + 3)],
        [...plain.data.subarray(3 * i, 3 * i + 3)],
        `front model pixel ${i}`,
      );
    if (r0) red0++;
    const g0 = isGreen(plain.data, i),
      g1 = isGreen(bone.data, i);
    if (g0) green0++;
    if (g1) {
      green1++;
      assert.ok(g0, `pixel ${i} green only with the bone`);
    }
    if (g0 && !g1) {
      lost++;
      // Hidden by the bone sphere: within its projected radius (6 mm ≈ 7 px at 0.87 mm/px).
      const x = (i % 64) + 0.5,
        y = Math.floor(i / 64) + 0.5;
      assert.ok(Math.hypot(x - 32, y - 32) < 9.5, `hidden pixel (${x}, ${y}) is off the sphere`);
    }
  }
  assert.ok(red0 > 100, `front model covers ${red0} px`);
  assert.ok(green0 > 100, `back model covers ${green0} px`);
  assert.ok(lost > 30, `the bone hides ${lost} px of the back model`);
  assert.ok(green1 > 30, `the back model still shows beside the bone (${green1} px)`);
});

test('/slicer/threeD: hiding a model changes the image and its ETag', async () => {
  const t = await makeTestApp();
  try {
    addVolume(
      t.ctx.scene,
      sphereVolume({ dimensions: [16, 16, 16], origin: [-8, -8, -8], background: -1000 }),
    );
    const { node } = putModel(t.ctx.scene, {
      name: 'front',
      mesh: square(6, -6, 6),
      display: { color: [1, 0, 0] },
    });
    const a = await t.app.request('/slicer/threeD?size=32&format=png');
    const etag = a.headers.get('etag');
    assert.equal(
      (await t.app.request('/slicer/threeD?size=32&format=png')).headers.get('etag'),
      etag,
    );
    t.ctx.scene.update(node.id, { display: { ...node.display, visible: false } } as never);
    const b = await t.app.request('/slicer/threeD?size=32&format=png');
    assert.notEqual(b.headers.get('etag'), etag);
    const img = await decode(await b.arrayBuffer());
    for (let i = 0; i < 32 * 32; i++) assert.ok(!isRed(img.data, i));
  } finally {
    await t.close();
  }
});

test('/slicer/threeD with models and no volume frames the models (no 404)', async () => {
  const t = await makeTestApp();
  try {
    assert.equal((await t.app.request('/slicer/threeD?size=32&format=png')).status, 404);
    putModel(t.ctx.scene, {
      name: 'sq',
      mesh: square(100, 200, 260),
      display: { color: [1, 0, 0] },
    });
    for (const mode of ['composite', 'mip']) {
      const res = await t.app.request(`/slicer/threeD?size=64&format=png&mode=${mode}`);
      assert.equal(res.status, 200, await res.clone().text());
      const img = await decode(await res.arrayBuffer());
      // The square (60 × 6 mm, far from the origin) is centred in the view and covers its middle.
      assert.ok(isRed(img.data, 32 * 64 + 32), `${mode}: centre is the model`);
      assert.ok(!isRed(img.data, 2 * 64 + 2), `${mode}: corner is background`);
    }
  } finally {
    await t.close();
  }
});
