/**
 * The spare block of pre-touched shared memory for uploads (scene/voxel-spare.ts): handed out
 * only at its exact size, once, zeroed; never bigger than its cap; let go when nobody takes it;
 * a failed touch leaves none. Over
 * HTTP: the second upload of a size gets the spare, and both volumes are exact and separate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';
import type { VolumeNode } from '../../src/scene/scene.js';
import { VoxelSpare } from '../../src/scene/voxel-spare.js';
import { makeTestApp } from '../helpers/app.js';
import { rampVolume } from '../helpers/phantom.js';

const settle = () => new Promise((r) => setImmediate(r));

test('the spare: exact size only, once, zeroed, capped, let go when untaken; a failed touch leaves none', async () => {
  const touched: number[] = [];
  const spare = new VoxelSpare({
    maxBytes: 1000,
    touch: (b) => {
      touched.push(b.byteLength);
      return Promise.resolve();
    },
  });
  const a = spare.take(800);
  assert.equal(spare.hits, 0);
  await settle();
  assert.equal(spare.ready, 800);
  const b = spare.take(800);
  assert.equal(spare.hits, 1);
  assert.notEqual(b, a);
  assert.ok(new Uint8Array(b).every((x) => x === 0));
  await settle();
  const c = spare.take(400); // another size: new memory, and the spare is dropped for one of 400
  assert.equal(spare.hits, 1);
  assert.equal(c.byteLength, 400);
  await settle();
  assert.equal(spare.ready, 400);
  spare.take(2000); // over the cap: no spare made for it
  await settle();
  assert.equal(spare.ready, 0);
  assert.deepEqual(touched, [800, 800, 400]);

  const brief = new VoxelSpare({ keepMs: 20, touch: () => Promise.resolve() });
  brief.take(64);
  await settle();
  assert.equal(brief.ready, 64);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(brief.ready, 0, 'an untaken spare is let go');

  const failing = new VoxelSpare({ touch: () => Promise.reject(new Error('busy')) });
  failing.take(100);
  await settle();
  await settle();
  assert.equal(failing.ready, 0);
  failing.take(100);
  assert.equal(failing.hits, 0);
});

test('over HTTP: the next upload of the same size gets the touched spare; both volumes exact and separate', async () => {
  const t = await makeTestApp();
  try {
    const make = (a: number): ImageVolume =>
      rampVolume([40, 30, 20], [a, 3 * a, -a, -100], {
        scalarType: 'int16',
        spacing: [1, 1, 2],
        data: allocShared('int16', 40 * 30 * 20),
      });
    const a = make(7);
    const b = make(13);
    const post = async (v: ImageVolume, name: string) => {
      const r = await t.app.request(`/slicer/volume?name=${name}`, {
        method: 'POST',
        body: await encodeNrrd(v),
      });
      assert.equal(r.status, 200);
      return t.ctx.scene.byId(((await r.json()) as { id: string }).id) as VolumeNode;
    };
    const na = await post(a, 'A');
    // The spare is touched in the render pool: wait until it is ready.
    for (let i = 0; i < 200 && t.ctx.voxelSpare.ready === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal(t.ctx.voxelSpare.ready, a.data.byteLength);
    const hits = t.ctx.voxelSpare.hits;
    const nb = await post(b, 'B');
    assert.equal(t.ctx.voxelSpare.hits, hits + 1);
    assert.notEqual(na.volume.data.buffer, nb.volume.data.buffer);
    assert.deepEqual([...na.volume.data], [...a.data]);
    assert.deepEqual([...nb.volume.data], [...b.data]);
  } finally {
    await t.close();
  }
});
