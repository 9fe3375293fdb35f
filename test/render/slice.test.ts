import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dot3, mul4 } from '../../src/imaging/geometry.js';
import type { Mat3, Mat4, Vec3 } from '../../src/imaging/types.js';
import { sphereVolume } from '../helpers/phantom.js';
import {
  addFiducials,
  addVolume,
  centroid,
  decode,
  pixel,
  useRenderApp,
} from '../helpers/render.js';
import type { LinearTransformNode, VolumeNode } from '../../src/scene/scene.js';

const t = useRenderApp();
const get = (url: string, headers: Record<string, string> = {}) => t.app.request(url, { headers });

/** 64³ at 1 mm, voxel centres −32…31 on each axis. */
const phantom = (
  spheres: Array<{ centre: Vec3; radius: number; value: number }>,
  extra: Parameters<typeof sphereVolume>[0] = {},
) => sphereVolume({ dimensions: [64, 64, 64], origin: [-32, -32, -32], spheres, ...extra });

const column = (m: Mat4, c: number): Vec3 => [m[c]!, m[4 + c]!, m[8 + c]!];

/** Where a world point should appear for a view state (size 100, fov 100 → 1 mm per pixel). */
function expectedPixel(view: { sliceToRAS: Mat4 }, p: Vec3): { x: number; y: number } {
  const c = column(view.sliceToRAS, 3);
  const d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
  return {
    x: dot3(column(view.sliceToRAS, 0), d) + 49.5,
    y: 49.5 - dot3(column(view.sliceToRAS, 1), d),
  };
}

async function spot(query: string) {
  const q = new URLSearchParams({
    size: '100',
    fov: '100',
    window: '200',
    level: '100',
    interpolation: 'nearest',
    fiducials: 'off',
  });
  for (const [k, v] of new URLSearchParams(query)) q.set(k, v);
  const r = await get(`/slicer/slice?${q.toString()}`);
  assert.equal(r.status, 200, await r.clone().text());
  return centroid(await decode(await r.arrayBuffer()));
}

describe('/slicer/slice geometry', () => {
  const P: Vec3 = [12, -8, 6];
  const offsets = { axial: P[2], sagittal: P[0], coronal: P[1] };

  for (const orientation of ['axial', 'sagittal', 'coronal'] as const) {
    it(`a sphere at a known RAS point lands on its pixel (${orientation}, axis-aligned)`, async () => {
      addVolume(t.ctx.scene, phantom([{ centre: P, radius: 4, value: 200 }]));
      const c = await spot(`orientation=${orientation}&offset=${offsets[orientation]}`);
      const e = expectedPixel(t.ctx.views.slice('red'), P);
      assert.ok(
        c && Math.abs(c.x - e.x) <= 0.6 && Math.abs(c.y - e.y) <= 0.6,
        `${JSON.stringify(c)} vs ${JSON.stringify(e)}`,
      );
    });
  }

  it('oblique volume direction (30° about S): the sphere stays at its RAS position', async () => {
    const a = (30 * Math.PI) / 180;
    const direction: Mat3 = [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1];
    addVolume(
      t.ctx.scene,
      phantom([{ centre: P, radius: 4, value: 200 }], { direction, origin: [0, -40, -32] }),
    );
    for (const orientation of ['axial', 'sagittal', 'coronal'] as const) {
      const c = await spot(`orientation=${orientation}&offset=${offsets[orientation]}`);
      const e = expectedPixel(t.ctx.views.slice('red'), P);
      assert.ok(
        c && Math.abs(c.x - e.x) <= 0.8 && Math.abs(c.y - e.y) <= 0.8,
        `${orientation}: ${JSON.stringify(c)} vs ${JSON.stringify(e)}`,
      );
    }
  });

  it('transformed volume (parent linear transform): the sphere appears at T·P', async () => {
    // 90° about S then translate (10, −5, 3).
    const T: Mat4 = [0, -1, 0, 10, 1, 0, 0, -5, 0, 0, 1, 3, 0, 0, 0, 1];
    const tn = t.ctx.scene.add<LinearTransformNode>({
      kind: 'linearTransform',
      className: 'vtkMRMLLinearTransformNode',
      name: 'T',
      attributes: {},
      matrixToParent: T,
    });
    addVolume(
      t.ctx.scene,
      phantom([{ centre: P, radius: 4, value: 200 }]),
      'moved',
      'vtkMRMLScalarVolumeNode',
      { parentTransformID: tn.id },
    );
    const W = mul4(T, [1, 0, 0, P[0], 0, 1, 0, P[1], 0, 0, 1, P[2], 0, 0, 0, 1]);
    const world: Vec3 = [W[3], W[7], W[11]]; // (18, 7, 9)
    const off = { axial: world[2], sagittal: world[0], coronal: world[1] };
    for (const orientation of ['axial', 'sagittal', 'coronal'] as const) {
      const c = await spot(`orientation=${orientation}&offset=${off[orientation]}`);
      const e = expectedPixel(t.ctx.views.slice('red'), world);
      assert.ok(
        c && Math.abs(c.x - e.x) <= 0.6 && Math.abs(c.y - e.y) <= 0.6,
        `${orientation}: ${JSON.stringify(c)} vs ${JSON.stringify(e)}`,
      );
    }
  });

  it('patient directions at the screen edges follow Slicer (radiological)', async () => {
    const R: Vec3 = [20, 0, 0],
      A: Vec3 = [0, 20, 0],
      S: Vec3 = [0, 0, 20];
    const at = async (p: Vec3, orientation: string, offset: number) => {
      t.ctx.scene.clear();
      addVolume(t.ctx.scene, phantom([{ centre: p, radius: 4, value: 200 }]));
      const c = await spot(`orientation=${orientation}&offset=${offset}`);
      assert.ok(c, 'c');
      return c;
    };
    // axial: Right on the screen's left, Anterior at the top.
    assert.ok((await at(R, 'axial', 0)).x < 40, "(await at(R, 'axial', 0)).x < 40");
    assert.ok((await at(A, 'axial', 0)).y < 40, "(await at(A, 'axial', 0)).y < 40");
    // sagittal: Anterior on the screen's left, Superior at the top.
    assert.ok((await at(A, 'sagittal', 0)).x < 40, "(await at(A, 'sagittal', 0)).x < 40");
    assert.ok((await at(S, 'sagittal', 0)).y < 40, "(await at(S, 'sagittal', 0)).y < 40");
    // coronal: Right on the screen's left, Superior at the top.
    assert.ok((await at(R, 'coronal', 0)).x < 40, "(await at(R, 'coronal', 0)).x < 40");
    assert.ok((await at(S, 'coronal', 0)).y < 40, "(await at(S, 'coronal', 0)).y < 40");
  });

  it("default views are Slicer's: red axial, yellow sagittal, green coronal", async () => {
    addVolume(t.ctx.scene, phantom([]));
    for (const [view, o] of [
      ['red', 'axial'],
      ['yellow', 'sagittal'],
      ['green', 'coronal'],
    ]) {
      assert.equal((await get(`/slicer/slice?view=${view}`)).status, 200);
      assert.equal(t.ctx.views.slice(view as 'red').orientation, o);
    }
    assert.deepEqual(
      t.ctx.views.slice('yellow').sliceToRAS.slice(0, 11),
      [0, 0, 1, -0.5, -1, 0, 0, -0.5, 0, 1, 0],
    );
  });

  it('explicit sliceToRAS (oblique) is used as given', async () => {
    addVolume(t.ctx.scene, phantom([{ centre: P, radius: 4, value: 200 }]));
    const a = Math.PI / 6;
    // screen x, screen y, normal: axial rotated 30° in plane, centred on P.
    const m = [
      -Math.cos(a),
      -Math.sin(a),
      0,
      P[0],
      -Math.sin(a),
      Math.cos(a),
      0,
      P[1],
      0,
      0,
      1,
      P[2],
      0,
      0,
      0,
      1,
    ];
    const c = await spot(`sliceToRAS=${m.join(',')}`);
    assert.equal(t.ctx.views.slice('red').orientation, 'reformat');
    assert.ok(c && Math.abs(c.x - 49.5) <= 0.6 && Math.abs(c.y - 49.5) <= 0.6, JSON.stringify(c));
  });
});

describe('/slicer/slice view state', () => {
  it('scrollTo then a plain GET shows the same slice; scrollTo=0 and offset=0 work', async () => {
    addVolume(t.ctx.scene, phantom([]));
    const a = await get('/slicer/slice?scrollTo=0.25');
    const b = await get('/slicer/slice');
    assert.equal(a.headers.get('etag'), b.headers.get('etag'));
    const off = (v = t.ctx.views.slice('red').sliceToRAS) => dot3(column(v, 2), column(v, 3));
    assert.equal(
      off(),
      -32 + Math.round(0.25 * 63),
      'scrollTo snaps to the nearest voxel-centre slice',
    );
    await get('/slicer/slice?scrollTo=0');
    assert.equal(off(), -32);
    await get('/slicer/slice?scrollTo=1');
    assert.equal(off(), 31);
    await get('/slicer/slice?offset=0');
    assert.equal(off(), 0);
  });

  it('orientation change with scrollTo in the same request keeps the scroll', async () => {
    addVolume(t.ctx.scene, phantom([]));
    await get('/slicer/slice?orientation=sagittal&scrollTo=0');
    const v = t.ctx.views.slice('red');
    assert.equal(v.orientation, 'sagittal');
    assert.equal(dot3(column(v.sliceToRAS, 2), column(v.sliceToRAS, 3)), -32);
  });

  it("copySliceGeometryFrom copies the other view's plane and horizontal fov", async () => {
    addVolume(t.ctx.scene, phantom([]));
    await get('/slicer/slice?view=yellow&offset=7&fov=80');
    await get('/slicer/slice?view=red&copySliceGeometryFrom=yellow&size=100x50');
    const red = t.ctx.views.slice('red'),
      yellow = t.ctx.views.slice('yellow');
    assert.deepEqual(red.sliceToRAS, yellow.sliceToRAS);
    assert.deepEqual(red.fov, [80, 80], "stored for the view's own 512² size");
    assert.equal(red.orientation, 'sagittal');
    const at = (await (await get('/slicer/view?view=red&size=100x50')).json()) as { fov: number[] };
    assert.deepEqual(at.fov, [80, 40], 'a 100x50 render keeps the horizontal fov');
  });

  it("a request's size is for that request only: later requests render at the view's size", async () => {
    addVolume(t.ctx.scene, phantom([]));
    await (await get('/slicer/slice')).arrayBuffer(); // fits the view to the volume
    const before = JSON.stringify(t.ctx.views.slice('red'));
    const small = await decode(await (await get('/slicer/slice?size=64x48')).arrayBuffer());
    assert.deepEqual([small.width, small.height], [64, 48]);
    const plain = await decode(await (await get('/slicer/slice')).arrayBuffer());
    assert.deepEqual([plain.width, plain.height], [512, 512]);
    assert.equal(JSON.stringify(t.ctx.views.slice('red')), before, 'size is not a view edit');
    // The same for the 3D view and the live stream's parameters.
    const threeD = t.ctx.views.threeD.size;
    assert.equal((await get('/slicer/threeD?size=32&mode=mip')).status, 200);
    assert.deepEqual(t.ctx.views.threeD.size, threeD);
    const view = (await (await get('/slicer/view?view=red')).json()) as { size: number[] };
    assert.deepEqual(view.size, [512, 512]);
  });

  it('the active volume is the default background and a new active volume propagates to the views', async () => {
    const a = addVolume(t.ctx.scene, phantom([]), 'a');
    const b = addVolume(t.ctx.scene, phantom([]), 'b');
    await get('/slicer/slice');
    assert.equal(
      t.ctx.views.slice('red').fittedTo,
      a.id,
      'first scalar volume without an active one',
    );
    t.ctx.scene.setActiveVolume(b.id);
    await get('/slicer/slice');
    assert.equal(t.ctx.views.slice('red').fittedTo, b.id);
    await get(`/slicer/slice?background=${a.id}`);
    assert.equal(t.ctx.views.slice('red').background, a.id);
    t.ctx.scene.setActiveVolume(a.id);
    t.ctx.scene.setActiveVolume(b.id);
    assert.equal(
      t.ctx.views.slice('red').background,
      undefined,
      'explicit background replaced by the active volume',
    );
    // An active label map becomes the label layer; the background stays the scalar volume.
    const lab = addVolume(
      t.ctx.scene,
      sphereVolume({ dimensions: [64, 64, 64], origin: [-32, -32, -32], background: 2 }),
      'lab',
      'vtkMRMLLabelMapVolumeNode',
    );
    t.ctx.scene.setActiveVolume(lab.id);
    const img = await decode(
      await (await get('/slicer/slice?size=8&labelOpacity=1&offset=0')).arrayBuffer(),
    );
    assert.deepEqual(pixel(img, 4, 4), [241, 214, 145]);
    assert.equal(t.ctx.views.slice('red').fittedTo, b.id);
    const none = await decode(await (await get('/slicer/slice?label=none')).arrayBuffer());
    assert.equal(none.pngColorType, 0, 'label=none hides the active label map');
    assert.equal(t.ctx.views.slice('red').label, '');
  });

  it('copySliceGeometryFrom a view never shown uses that view fitted to its volume', async () => {
    addVolume(t.ctx.scene, phantom([], { origin: [100, 100, 100] }));
    await get('/slicer/slice?view=red&copySliceGeometryFrom=green');
    assert.deepEqual(column(t.ctx.views.slice('red').sliceToRAS, 3), [131.5, 131.5, 131.5]);
  });

  it('size (N and WxH) sets the output size; fov sets the scale', async () => {
    addVolume(t.ctx.scene, phantom([{ centre: [0, 0, 0], radius: 5, value: 200 }]));
    const img = await decode(await (await get('/slicer/slice?size=64x48')).arrayBuffer());
    assert.deepEqual([img.width, img.height], [64, 48]);
    const sq = await decode(await (await get('/slicer/slice?size=40')).arrayBuffer());
    assert.deepEqual([sq.width, sq.height], [40, 40]);
    const wide = await spot('offset=0&fov=100');
    const narrow = await spot('offset=0&fov=50');
    assert.ok(
      wide && narrow && narrow.n > wide.n * 3.5 && narrow.n < wide.n * 4.5,
      `${wide?.n} ${narrow?.n}`,
    );
    const both = await spot('offset=0&fov=100x50');
    assert.deepEqual(t.ctx.views.slice('red').fov, [100, 50]);
    assert.ok(both, 'both');
  });
});

describe('/slicer/slice layers and display', () => {
  it('window/level maps exactly; window=auto uses the histogram', async () => {
    addVolume(t.ctx.scene, sphereVolume({ dimensions: [8, 8, 8], background: 100 }));
    const img = await decode(
      await (await get('/slicer/slice?window=400&level=0&size=8')).arrayBuffer(),
    );
    assert.ok(
      img.data.every((v) => v === 191),
      'img.data.every((v) => v === 191)',
    ); // (100 + 200)·255/400 = 191.25
    const img2 = await decode(
      await (await get('/slicer/slice?window=100&level=100&size=8')).arrayBuffer(),
    );
    assert.ok(
      img2.data.every((v) => v === 128),
      'img2.data.every((v) => v === 128)',
    );
    assert.equal((await get('/slicer/slice?window=auto')).status, 200);
    assert.equal(t.ctx.views.slice('red').window, 'auto');
  });

  it('a single grey layer is an 8-bit grey PNG (colour type 0)', async () => {
    addVolume(t.ctx.scene, phantom([]));
    const r = await get('/slicer/slice');
    assert.equal(r.headers.get('content-type'), 'image/png');
    const img = await decode(await r.arrayBuffer());
    assert.equal(img.pngColorType, 0);
    assert.equal(img.pngBitDepth, 8);
  });

  it('label maps use the colour table; labelOpacity and foregroundOpacity blend exactly', async () => {
    const bg = addVolume(t.ctx.scene, sphereVolume({ dimensions: [8, 8, 8], background: 0 }), 'bg');
    const fg = addVolume(
      t.ctx.scene,
      sphereVolume({ dimensions: [8, 8, 8], background: 200 }),
      'fg',
    );
    const lab = addVolume(
      t.ctx.scene,
      sphereVolume({ dimensions: [8, 8, 8], background: 2 }),
      'lab',
      'vtkMRMLLabelMapVolumeNode',
    );
    const only = await decode(
      await (
        await get(
          `/slicer/slice?size=8&background=none&label=${lab.id}&labelOpacity=1&window=200&level=100`,
        )
      ).arrayBuffer(),
    );
    // background=none → default background (bg) at 0, label bone (241,214,145) over it at opacity 1
    assert.deepEqual(pixel(only, 4, 4), [241, 214, 145]);
    const half = await decode(
      await (
        await get(`/slicer/slice?size=8&background=${bg.id}&label=${lab.id}&labelOpacity=0.5`)
      ).arrayBuffer(),
    );
    assert.deepEqual(pixel(half, 4, 4), [121, 107, 73]); // round(241/2), round(214/2), round(145/2)
    const blend = await decode(
      await (
        await get(`/slicer/slice?size=8&label=none&foreground=${fg.id}&foregroundOpacity=0.25`)
      ).arrayBuffer(),
    );
    // window/level parameters set the background's display; the uniform foreground (200) uses its
    // own automatic window (level 200) → 128; background 0 → 0; 0.25 · 128 = 32
    assert.deepEqual(pixel(blend, 4, 4), [32, 32, 32]);
    assert.equal(blend.pngColorType, 2);
  });

  it('interpolation nearest vs linear differ at an edge and both are persisted', async () => {
    addVolume(t.ctx.scene, phantom([{ centre: [0, 0, 0], radius: 10, value: 200 }]));
    const n = await (
      await get('/slicer/slice?interpolation=nearest&offset=0.3&size=200&fov=100')
    ).arrayBuffer();
    const l = await (await get('/slicer/slice?interpolation=linear')).arrayBuffer();
    assert.equal(t.ctx.views.slice('red').interpolation, 'linear');
    assert.notDeepEqual(Buffer.from(n), Buffer.from(l));
    const ln = await decode(l);
    assert.ok(
      ln.data.some((v) => v > 0 && v < 255),
      'linear has intermediate values',
    );
    const nn = await decode(n);
    assert.ok(
      nn.data.every((v) => v === 0 || v === 255),
      'nearest has only the two values',
    );
  });

  it('fiducials on draws points near the plane in colour; off leaves grey', async () => {
    addVolume(t.ctx.scene, phantom([]));
    addFiducials(t.ctx.scene, 'F', [{ label: 'F-1', position: [0, 0, 0] }], [0, 1, 0]);
    const on = await decode(
      await (await get('/slicer/slice?fiducials=on&offset=0&size=100&fov=100')).arrayBuffer(),
    );
    assert.equal(on.pngColorType, 2);
    assert.ok(
      on.data.some((_, i) => i % 3 === 0 && on.data[i] === 255 && on.data[i + 1] === 0),
      'a red (selected) ring',
    );
    const far = await decode(await (await get('/slicer/slice?offset=20')).arrayBuffer());
    assert.equal(far.pngColorType, 0, 'point 20 mm off the plane is not drawn');
    const off = await decode(
      await (await get('/slicer/slice?fiducials=off&offset=0')).arrayBuffer(),
    );
    assert.equal(off.pngColorType, 0);
  });

  it('format=jpeg with quality', async () => {
    addVolume(
      t.ctx.scene,
      phantom([{ centre: [0, 0, 0], radius: 20, value: 200 }], { background: 50 }),
    );
    const hi = await get('/slicer/slice?format=jpeg&quality=95');
    assert.equal(hi.headers.get('content-type'), 'image/jpeg');
    const lo = await get('/slicer/slice?format=jpg&quality=5');
    assert.ok(
      (await lo.arrayBuffer()).byteLength < (await hi.arrayBuffer()).byteLength,
      '(await lo.arrayBuffer()).byteLength < (await hi.arrayBuffer()).byteLength',
    );
  });
});

describe('/slicer/slice HTTP semantics', () => {
  it('ETag, 304 on If-None-Match, Cache-Control no-cache; only changes that alter the image change the ETag', async () => {
    const shown = addVolume(t.ctx.scene, phantom([]));
    const a = await get('/slicer/slice');
    const etag = a.headers.get('etag')!;
    assert.match(etag, /^"[\w-]+"$/);
    assert.equal(a.headers.get('cache-control'), 'no-cache');
    const b = await get('/slicer/slice', { 'if-none-match': etag });
    assert.equal(b.status, 304);
    assert.equal(b.headers.get('etag'), etag);
    addVolume(t.ctx.scene, phantom([]), 'another'); // not shown in the view
    assert.equal((await get('/slicer/slice', { 'if-none-match': etag })).status, 304);
    t.ctx.scene.update<VolumeNode>(shown.id, { display: { window: 100, level: 20 } });
    const c = await get('/slicer/slice', { 'if-none-match': etag });
    assert.equal(c.status, 200);
    assert.notEqual(c.headers.get('etag'), etag);
  });

  it('voxels edited in place (published with scene.update(id, {})) change the image and the ETag', async () => {
    const node = addVolume(t.ctx.scene, sphereVolume({ dimensions: [8, 8, 8], background: 10 }));
    const a = await get('/slicer/slice?size=8&window=100&level=50');
    const before = await decode(await a.arrayBuffer());
    node.volume.data.fill(90);
    t.ctx.scene.update(node.id, {});
    const b = await get('/slicer/slice', { 'if-none-match': a.headers.get('etag')! });
    assert.equal(b.status, 200);
    const after = await decode(await b.arrayBuffer());
    assert.deepEqual([pixel(before, 4, 4)[0], pixel(after, 4, 4)[0]], [26, 230]); // 10·255/100 = 25.5 → 26, 90·255/100 = 229.5 → 230
    const r3a = await get('/slicer/threeD?size=16&mode=mip&format=png');
    node.volume.data.fill(20);
    t.ctx.scene.update(node.id, {});
    const r3b = await get('/slicer/threeD', { 'if-none-match': r3a.headers.get('etag')! });
    assert.equal(r3b.status, 200);
  });

  it('empty scene → 404 JSON "no volume to render"', async () => {
    const r = await get('/slicer/slice');
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { message: string }).message, /no volume to render/);
  });

  it('bad values → 400 naming the parameter (and change nothing)', async () => {
    addVolume(t.ctx.scene, phantom([]));
    await get('/slicer/slice?offset=5');
    const before = JSON.stringify(t.ctx.views.slice('red'));
    const cases: Array<[string, string]> = [
      ['view', 'blue'],
      ['orientation', 'axail'], // a typo; `oblique` keeps the plane (test/compat)
      ['scrollTo', '1.5'],
      ['scrollTo', '-0.1'],
      ['scrollTo', 'x'],
      ['offset', 'abc'],
      ['offset', 'Infinity'],
      ['copySliceGeometryFrom', 'purple'],
      ['size', '0'],
      ['size', '10x'],
      ['size', '5000'],
      ['fov', '-3'],
      ['fov', '0'],
      ['background', 'nosuchnode'],
      ['foreground', 'nosuch'],
      ['label', 'nosuch'],
      ['foregroundOpacity', '2'],
      ['labelOpacity', '-1'],
      ['window', '0'],
      ['window', 'wide'],
      ['level', 'x'],
      ['interpolation', 'cubic'],
      ['fiducials', 'maybe'],
      ['format', 'gif'],
      ['quality', '0'],
      ['quality', '101'],
      ['quality', '5.5'],
      ['sliceToRAS', '1,2,3'],
      ['sliceToRAS', '1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,2'],
      ['sliceToRAS', '2,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1'],
    ];
    for (const [p, v] of cases) {
      const r = await get(`/slicer/slice?${p}=${encodeURIComponent(v)}`);
      assert.equal(r.status, 400, `${p}=${v}`);
      const body = (await r.json()) as { parameter?: string; success: boolean };
      assert.equal(body.parameter, p, `${p}=${v}`);
    }
    assert.equal(JSON.stringify(t.ctx.views.slice('red')), before);
  });
});

describe('/slicer/gui and /slicer/screenshot', () => {
  it('layouts are case-insensitive; unknown → 400 listing valid ones; GET reports the state', async () => {
    const r = await t.app.request('/slicer/gui?viewersLayout=oneupredslice&contents=viewers', {
      method: 'PUT',
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      success: true,
      viewersLayout: 'OneUpRedSlice',
      contents: 'viewers',
      views: [['red']],
    });
    const g = (await (await get('/slicer/gui')).json()) as { viewersLayout: string };
    assert.equal(g.viewersLayout, 'OneUpRedSlice');
    const bad = await get('/slicer/gui?viewersLayout=TwoByNine');
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { parameter: string; message: string };
    assert.equal(body.parameter, 'viewersLayout');
    assert.match(body.message, /FourUp/);
    assert.equal(
      ((await (await get('/slicer/gui?contents=half')).json()) as { parameter: string }).parameter,
      'contents',
    );
  });

  it('screenshot composes the layout', async () => {
    addVolume(t.ctx.scene, phantom([{ centre: [0, 0, 0], radius: 20, value: 200 }]));
    await get('/slicer/gui?viewersLayout=OneUpRedSlice');
    const one = await decode(await (await get('/slicer/screenshot?size=64')).arrayBuffer());
    assert.deepEqual([one.width, one.height], [64, 64]);
    await get('/slicer/gui?viewersLayout=FourUp');
    const four = await get('/slicer/screenshot?size=64');
    assert.equal(four.headers.get('content-type'), 'image/png');
    const img = await decode(await four.arrayBuffer());
    assert.deepEqual([img.width, img.height], [128, 128]);
    await get('/slicer/gui?viewersLayout=Conventional');
    const conv = await decode(await (await get('/slicer/screenshot?size=32')).arrayBuffer());
    assert.deepEqual([conv.width, conv.height], [96, 64]);
    assert.equal((await get('/slicer/screenshot?size=1')).status, 400);
    const jpg = await get('/slicer/screenshot?size=32&format=jpeg&quality=50');
    assert.equal(jpg.headers.get('content-type'), 'image/jpeg');
    assert.equal(
      ((await (await get('/slicer/screenshot?format=tiff')).json()) as { parameter: string })
        .parameter,
      'format',
    );
    const etag = jpg.headers.get('etag')!;
    assert.equal(
      (await get('/slicer/screenshot?size=32&format=jpeg&quality=50', { 'if-none-match': etag }))
        .status,
      304,
    );
  });

  it('screenshot of an empty scene shows blank tiles', async () => {
    const r = await get('/slicer/screenshot?size=32');
    assert.equal(r.status, 200);
  });
});

describe('greyToRgb', () => {
  it('equals one pixel at a time, for every length mod 4, aligned or not', async () => {
    const { greyToRgb } = await import('../../src/imaging/slice-render.js');
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 9, 13, 512 * 512 + 3]) {
      const grey = Uint8Array.from({ length: n }, (_, i) => (i * 37 + (i >> 3)) & 0xff);
      const want = new Uint8Array(n * 3);
      for (let p = 0; p < n; p++) want[3 * p] = want[3 * p + 1] = want[3 * p + 2] = grey[p]!;
      for (const offset of [0, 1, 4]) {
        const backing = new Uint8Array(n * 3 + offset).fill(7);
        const out = backing.subarray(offset);
        greyToRgb(grey, out);
        assert.ok(Buffer.from(out).equals(Buffer.from(want)), `n=${n} offset=${offset}`);
        assert.ok(
          backing.subarray(0, offset).every((x) => x === 7),
          'nothing written before',
        );
      }
    }
  });
});
