import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { rayGrid, renderThreeD, PRESET_NAMES } from '../../src/imaging/render3d.js';
import type { Vec3 } from '../../src/imaging/types.js';
import { GOLDEN_CASES, GOLDEN_DIR, goldenJob } from '../helpers/golden.js';
import { sphereVolume } from '../helpers/phantom.js';
import { addVolume, centroid, decode, pixel, useRenderApp } from '../helpers/render.js';

const t = useRenderApp();
const get = (url: string, headers: Record<string, string> = {}) => t.app.request(url, { headers });
const phantom = (centre: Vec3) =>
  sphereVolume({
    dimensions: [32, 32, 32],
    origin: [-16, -16, -16],
    background: 0,
    spheres: [{ centre, radius: 4, value: 1000 }],
  });

async function blob(query: string) {
  const r = await get(`/slicer/threeD?mode=mip&size=64&format=png&${query}`);
  assert.equal(r.status, 200, await r.clone().text());
  return centroid(await decode(await r.arrayBuffer()));
}

describe('/slicer/threeD camera', () => {
  it('lookFromAxis puts patient directions where ctk does (letters and words)', async () => {
    addVolume(t.ctx.scene, phantom([10, 0, 0])); // Right
    // From anterior (default): patient Right on the screen's left.
    assert.ok(
      (await blob('lookFromAxis=anterior'))!.x < 28,
      "(await blob('lookFromAxis=anterior'))!.x < 28",
    );
    // From posterior: Right on the screen's right.
    assert.ok((await blob('lookFromAxis=P'))!.x > 36, "(await blob('lookFromAxis=P'))!.x > 36");
    // From superior (up = Anterior): Right on the screen's right.
    assert.ok((await blob('lookFromAxis=s'))!.x > 36, "(await blob('lookFromAxis=s'))!.x > 36");
    // From inferior: Right on the screen's left.
    assert.ok(
      (await blob('lookFromAxis=inferior'))!.x < 28,
      "(await blob('lookFromAxis=inferior'))!.x < 28",
    );
    t.ctx.scene.clear();
    addVolume(t.ctx.scene, phantom([0, 10, 0])); // Anterior
    assert.ok(
      (await blob('lookFromAxis=left'))!.x < 28,
      'from the left, anterior is on the screen left',
    );
    assert.ok((await blob('lookFromAxis=r'))!.x > 36, "(await blob('lookFromAxis=r'))!.x > 36");
    assert.ok((await blob('lookFromAxis=s'))!.y < 28, 'from above, anterior is at the top');
    t.ctx.scene.clear();
    addVolume(t.ctx.scene, phantom([0, 0, 10])); // Superior
    assert.ok((await blob('lookFromAxis=a'))!.y < 28, "(await blob('lookFromAxis=a'))!.y < 28");
  });

  it('orbitX 90 from anterior equals the view from the left; roll 180 flips the image; angles are absolute', async () => {
    addVolume(t.ctx.scene, phantom([6, 9, 3]));
    const orbit = await blob('lookFromAxis=a&orbitX=90');
    const left = await blob('lookFromAxis=l');
    assert.ok(
      Math.abs(orbit!.x - left!.x) < 0.5 && Math.abs(orbit!.y - left!.y) < 0.5,
      `${JSON.stringify(orbit)} ${JSON.stringify(left)}`,
    );
    const up = await blob('lookFromAxis=a&orbitY=90');
    // Elevation keeps screen-right, so it equals the view from above turned upside down (ctk's S view has up = A).
    const sup = await blob('lookFromAxis=s&roll=180');
    assert.ok(
      Math.abs(up!.x - sup!.x) < 0.5 && Math.abs(up!.y - sup!.y) < 0.5,
      `elevation 90 looks from above: ${JSON.stringify(up)} ${JSON.stringify(sup)}`,
    );
    const r0 = await blob('lookFromAxis=a&roll=0');
    const r180 = await blob('roll=180');
    assert.ok(
      Math.abs(r0!.x + r180!.x - 63) < 0.6 && Math.abs(r0!.y + r180!.y - 63) < 0.6,
      `roll: ${JSON.stringify(r0)} ${JSON.stringify(r180)}`,
    );
    assert.equal(t.ctx.views.threeD.camera.roll, 180);
    // roll 90: what was at the screen's right moves to the top (content turns counter-clockwise).
    t.ctx.scene.clear();
    addVolume(t.ctx.scene, phantom([-10, 0, 0])); // patient Left: screen right from anterior
    const r90 = await blob('lookFromAxis=a&roll=90');
    assert.ok(r90!.y < 28 && Math.abs(r90!.x - 31.5) < 2, `roll 90: ${JSON.stringify(r90)}`);
  });

  it('panX/panY move the camera in mm; zoom magnifies', async () => {
    addVolume(t.ctx.scene, phantom([0, 0, 0]));
    const c0 = await blob('lookFromAxis=a');
    const px = await blob('panX=5');
    assert.ok(px!.x < c0!.x - 3, 'camera right → content left');
    const py = await blob('panX=0&panY=5');
    assert.ok(py!.y > c0!.y + 3, 'camera up → content down');
    const z = await blob('panY=0&zoom=2');
    assert.ok(z!.n > c0!.n * 3, `${z!.n} vs ${c0!.n}`);
  });

  it('modes, presets, background colour, size, format', async () => {
    addVolume(
      t.ctx.scene,
      sphereVolume({
        dimensions: [32, 32, 32],
        origin: [-16, -16, -16],
        background: -1000,
        spheres: [{ centre: [0, 0, 0], radius: 6, value: 900 }],
      }),
    );
    const png = await get('/slicer/threeD?size=32');
    assert.equal(png.headers.get('content-type'), 'image/png', 'PNG by default, as Slicer');
    await png.body?.cancel();
    const jpeg = await get('/slicer/threeD?size=80x60&format=jpeg');
    assert.equal(jpeg.headers.get('content-type'), 'image/jpeg');
    const img = await decode(await jpeg.arrayBuffer());
    assert.deepEqual([img.width, img.height], [80, 60]);
    for (const mode of ['mip', 'minip', 'composite'])
      assert.equal((await get(`/slicer/threeD?mode=${mode}&size=32`)).status, 200, mode);
    for (const preset of PRESET_NAMES)
      assert.equal(
        (await get(`/slicer/threeD?mode=composite&preset=${preset}&size=32`)).status,
        200,
        preset,
      );
    const red = await decode(
      await (
        await get('/slicer/threeD?mode=composite&background=f00&format=png&size=32')
      ).arrayBuffer(),
    );
    assert.deepEqual(pixel(red, 0, 0), [255, 0, 0]);
    const lo = await (await get('/slicer/threeD?format=jpeg&quality=5&size=64')).arrayBuffer();
    const hi = await (await get('/slicer/threeD?format=jpeg&quality=95&size=64')).arrayBuffer();
    assert.ok(lo.byteLength < hi.byteLength, 'lo.byteLength < hi.byteLength');
    const draft = await get('/slicer/threeD?mode=composite&draft=on&size=96');
    assert.equal(draft.status, 200);
    assert.notEqual(
      draft.headers.get('etag'),
      (await get('/slicer/threeD?draft=off')).headers.get('etag'),
    );
    assert.equal((await get('/slicer/threeD?draft=maybe')).status, 400);
    const st = t.ctx.views.threeD;
    assert.equal(st.mode, 'composite');
    assert.deepEqual(st.background, [255, 0, 0]);
  });

  it('ETag and 304', async () => {
    addVolume(t.ctx.scene, phantom([0, 0, 0]));
    const a = await get('/slicer/threeD?size=32');
    const etag = a.headers.get('etag')!;
    assert.equal(a.headers.get('cache-control'), 'no-cache');
    assert.equal((await get('/slicer/threeD?size=32', { 'if-none-match': etag })).status, 304);
    assert.equal((await get('/slicer/threeD?orbitX=10', { 'if-none-match': etag })).status, 200);
  });

  it('bad values → 400 naming the parameter; empty scene → 404', async () => {
    assert.equal((await get('/slicer/threeD')).status, 404);
    addVolume(t.ctx.scene, phantom([0, 0, 0]));
    const cases: Array<[string, string]> = [
      ['lookFromAxis', ''], // `x` is ignored like Slicer does (test/compat)
      ['orbitX', 'a'],
      ['orbitY', ''],
      ['roll', 'NaN'],
      ['panX', '1e9'],
      ['panY', 'q'],
      ['zoom', '0'],
      ['zoom', '-1'],
      ['size', 'big'],
      ['mode', 'xray'],
      ['preset', 'ct-lung'],
      ['background', 'blue'],
      ['format', 'webp'],
      ['quality', '200'],
      ['view', 'red'],
      ['volume', 'nothing'],
    ];
    for (const [p, v] of cases) {
      const r = await get(`/slicer/threeD?${p}=${encodeURIComponent(v)}`);
      assert.equal(r.status, 400, `${p}=${v}`);
      assert.equal(((await r.json()) as { parameter: string }).parameter, p);
    }
    assert.equal((await get('/slicer/threeD?view=1&size=16')).status, 200);
    const second = addVolume(t.ctx.scene, phantom([5, 5, 5]), 'second');
    assert.equal((await get(`/slicer/threeD?volume=${second.id}&size=16`)).status, 200);
    assert.equal(t.ctx.views.threeD.volume, second.id);
    assert.equal((await get('/slicer/threeD?volume=none&size=16')).status, 200);
    assert.equal(t.ctx.views.threeD.volume, undefined);
  });
});

describe('3D rendering internals', () => {
  it('two row bands (as split across workers) join into the whole image', () => {
    const job = goldenJob(GOLDEN_CASES[2]!);
    const whole = renderThreeD(job);
    const a = renderThreeD({ ...job, rows: [0, 32] });
    const b = renderThreeD({ ...job, rows: [32, 64] });
    assert.deepEqual([a.height, b.height], [32, 32]);
    assert.deepEqual(Buffer.concat([a.data, b.data]), Buffer.from(whole.data));
  });

  it('one ray per pixel by default; draft casts a coarser grid and upsamples to the requested size', () => {
    const job = { ...goldenJob(GOLDEN_CASES[0]!), size: [200, 100] as [number, number] };
    assert.deepEqual(rayGrid(job.volume, job.size), [200, 100]);
    assert.deepEqual(rayGrid(job.volume, job.size, true), [64, 32]);
    const d = renderThreeD({ ...job, draft: true });
    assert.deepEqual([d.width, d.height], [200, 100]);
  });

  it('MIP is not saturated: the grey range spans the 1st to 99.9th percentile', () => {
    const job = goldenJob(GOLDEN_CASES[0]!);
    const img = renderThreeD(job);
    let white = 0,
      inside = 0;
    for (const v of img.data)
      if (v > 0) {
        inside++;
        if (v === 255) white++;
      }
    assert.ok(inside > 0 && white / inside < 0.5, `${white} white of ${inside}`);
  });
});

describe('3D golden images', () => {
  for (const c of GOLDEN_CASES) {
    it(`${c.name} matches test/fixtures/golden/threeD-${c.name}.png`, async () => {
      const img = renderThreeD(goldenJob(c));
      let s = sharp(path.join(GOLDEN_DIR, `threeD-${c.name}.png`));
      if (img.channels === 1) s = s.extractChannel(0);
      const { data, info } = await s.raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual(
        [img.width, img.height, img.channels],
        [info.width, info.height, info.channels],
      );
      let sum = 0,
        max = 0;
      for (let i = 0; i < data.length; i++) {
        const d = Math.abs(data[i]! - img.data[i]!);
        sum += d;
        if (d > max) max = d;
      }
      assert.ok(max <= 8 && sum / data.length <= 0.5, `max ${max}, mean ${sum / data.length}`);
    });
  }
});
