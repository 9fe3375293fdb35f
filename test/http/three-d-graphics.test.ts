/**
 * GET /slicer/threeDGraphics: glTF JSON (embedded buffer) and GLB of the visible surfaces, checked
 * by the Khronos glTF validator (zero errors) and read back with @gltf-transform/core.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import validator from 'gltf-validator';
import { WebIO } from '@gltf-transform/core';
import { makeTestApp } from '../helpers/app.js';
import { putModel } from '../../src/scene/models.js';
import { box, sphere } from '../helpers/gltf.js';

function meshOf(m: { positions: number[]; indices: number[] }) {
  return { positions: new Float32Array(m.positions), indices: new Uint32Array(m.indices) };
}

test('GET /slicer/threeDGraphics: every visible surface, zero validator errors (gltf and glb)', async () => {
  const t = await makeTestApp();
  try {
    putModel(t.ctx.scene, {
      name: 'skull',
      mesh: meshOf(sphere('s', [10, 20, 30], 15, [1, 1, 1, 1], 12)),
      display: { color: [0.9, 0.8, 0.7] },
    });
    putModel(t.ctx.scene, {
      name: 'glass',
      mesh: meshOf(box('b', [0, 0, 0], [5, 6, 7], [1, 1, 1, 1])),
      display: { color: [0, 0, 1], opacity: 0.4 },
    });
    putModel(t.ctx.scene, {
      name: 'hidden',
      mesh: meshOf(box('h', [0, 0, 0], [1, 1, 1], [1, 1, 1, 1])),
      display: { visible: false },
    });
    const res = await t.app.request('/slicer/threeDGraphics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /application\/json/);
    const text = await res.text();
    const report = await validator.validateString(text);
    assert.equal(report.issues.numErrors, 0, JSON.stringify(report.issues.messages.slice(0, 5)));
    const json = JSON.parse(text);
    assert.match(json.buffers[0].uri, /^data:application\/octet-stream;base64,/);
    const doc = await new WebIO().readJSON({ json, resources: {} });
    const names = doc
      .getRoot()
      .listNodes()
      .filter((n) => n.getMesh())
      .map((n) => n.getName());
    assert.deepEqual(names.sort(), ['glass', 'skull']);
    const glass = doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === 'glass')!;
    assert.equal(glass.getAlphaMode(), 'BLEND');
    assert.ok(Math.abs(glass.getAlpha() - 0.4) < 1e-6);
    // RAS mm → glTF: the sphere centre (10, 20, 30) lands at (−0.010, 0.030, 0.020) m.
    const skull = doc
      .getRoot()
      .listNodes()
      .find((n) => n.getName() === 'skull')!;
    const pos = skull.getMesh()!.listPrimitives()[0]!.getAttribute('POSITION')!;
    const lo = pos.getMinNormalized([]),
      hi = pos.getMaxNormalized([]);
    const c = [0, 1, 2].map((a) => (lo[a]! + hi[a]!) / 2);
    const w = skull.getWorldMatrix();
    const world = [0, 1, 2].map(
      (r) => w[r]! * c[0]! + w[4 + r]! * c[1]! + w[8 + r]! * c[2]! + w[12 + r]!,
    );
    assert.deepEqual(
      world.map((v) => Number(v.toFixed(4))),
      [-0.01, 0.03, 0.02],
    );

    const glbRes = await t.app.request('/slicer/threeDGraphics?format=glb');
    assert.equal(glbRes.headers.get('content-type'), 'model/gltf-binary');
    const glb = new Uint8Array(await glbRes.arrayBuffer());
    const r2 = await validator.validateBytes(glb);
    assert.equal(r2.issues.numErrors, 0, JSON.stringify(r2.issues.messages.slice(0, 5)));
    // Slicer's spelling of the default format is accepted too (Slicer itself refused it).
    assert.equal((await t.app.request('/slicer/threeDGraphics?format=glTF')).status, 200);
    assert.equal((await t.app.request('/slicer/threeDGraphics?format=obj')).status, 400);
  } finally {
    await t.close();
  }
});

test('GET /slicer/threeDGraphics: an empty scene is still a valid glTF', async () => {
  const t = await makeTestApp();
  try {
    const text = await (await t.app.request('/slicer/threeDGraphics')).text();
    const report = await validator.validateString(text);
    assert.equal(report.issues.numErrors, 0, JSON.stringify(report.issues.messages));
  } finally {
    await t.close();
  }
});
