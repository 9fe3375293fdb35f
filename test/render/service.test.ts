import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RenderService } from '../../src/render/service.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { sphereVolume } from '../helpers/phantom.js';
import { addVolume } from '../helpers/render.js';

let t: TestApp;
before(async () => {
  t = await makeTestApp();
  addVolume(
    t.ctx.scene,
    sphereVolume({
      dimensions: [48, 48, 48],
      spheres: [{ centre: [24, 24, 24], radius: 10, value: 900 }],
    }),
  );
});
after(async () => {
  await t.close();
});

describe('render service', () => {
  it('3D renders run in the worker pool; small slices on the main thread', async () => {
    const st = t.ctx.renderer.stats;
    const w = st.worker,
      m = st.main;
    assert.equal((await t.app.request('/slicer/threeD?size=32&orbitX=1')).status, 200);
    assert.equal((await t.app.request('/slicer/slice?size=32&offset=3')).status, 200);
    assert.equal(st.worker, w + 1);
    assert.equal(st.main, m + 1);
  });

  it('identical concurrent requests share one render', async () => {
    const st = t.ctx.renderer.stats;
    const r0 = st.renders,
      s0 = st.shared;
    // Set the state first so that both requests are identical.
    assert.equal(
      (
        await t.app.request('/slicer/threeD?size=40&orbitX=33', {
          headers: { 'if-none-match': '*' },
        })
      ).status,
      304,
    );
    const rs = await Promise.all(
      [1, 2, 3].map(() => Promise.resolve(t.app.request('/slicer/threeD?size=40'))),
    );
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(st.renders - r0, 1);
    assert.equal(st.shared - s0, 2);
    const bodies = await Promise.all(rs.map(async (r) => Buffer.from(await r.arrayBuffer())));
    assert.ok(bodies[0]!.equals(bodies[1]!) && bodies[1]!.equals(bodies[2]!), 'same bytes');
  });

  it('repeated requests for an unchanged image are served from the encoded-image cache', async () => {
    const st = t.ctx.renderer.stats;
    await t.app.request('/slicer/slice?size=24&offset=1');
    const r0 = st.renders,
      c0 = st.cached;
    const a = await t.app.request('/slicer/slice?size=24');
    const b = await t.app.request('/slicer/slice?size=24');
    assert.equal(st.renders, r0);
    assert.equal(st.cached - c0, 2);
    assert.ok(
      Buffer.from(await a.arrayBuffer()).equals(Buffer.from(await b.arrayBuffer())),
      'same bytes',
    );
  });

  it('concurrent distinct slices all render (main thread and pool share the load), the same bytes as one at a time', async () => {
    const original = t.ctx.renderer;
    t.ctx.renderer = new RenderService({ cacheBytes: 0 });
    const st = t.ctx.renderer.stats;
    try {
      // scrollTo leaves the view where it asked, so a later request for the same URL is the same image.
      const urls = Array.from(
        { length: 8 },
        (_, i) =>
          `/slicer/slice?view=${['red', 'yellow', 'green'][i % 3]}&size=64&scrollTo=${0.3 + i * 0.05}`,
      );
      const rs = await Promise.all(urls.map((u) => Promise.resolve(t.app.request(u))));
      assert.deepEqual(
        rs.map((r) => r.status),
        Array(8).fill(200),
      );
      assert.ok(st.worker > 0 && st.main > 0, `pool ${st.worker}, main ${st.main}`);
      const together = await Promise.all(rs.map(async (r) => Buffer.from(await r.arrayBuffer())));
      const main0 = st.main;
      for (const [i, u] of urls.entries()) {
        const alone = Buffer.from(await (await t.app.request(u)).arrayBuffer());
        assert.ok(alone.equals(together[i]!), `${u}: same PNG rendered alone on the main thread`);
      }
      assert.equal(st.main - main0, urls.length);
    } finally {
      await t.ctx.renderer.close();
      t.ctx.renderer = original;
    }
  });

  it('a full queue answers 503 with Retry-After', async () => {
    const original = t.ctx.renderer;
    t.ctx.renderer = new RenderService({ threads: 1, maxQueue: 0 });
    try {
      const rs = await Promise.all(
        [10, 20, 30, 40].map((a) =>
          Promise.resolve(t.app.request(`/slicer/threeD?size=48&orbitX=${a}`)),
        ),
      );
      const statuses = rs.map((r) => r.status);
      assert.ok(statuses.includes(503), statuses.join());
      assert.ok(statuses.includes(200), statuses.join());
      const busy = rs.find((r) => r.status === 503)!;
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.equal(((await busy.json()) as { code: string }).code, 'busy');
    } finally {
      await t.ctx.renderer.close();
      t.ctx.renderer = original;
    }
  });
});
