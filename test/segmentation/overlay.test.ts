/**
 * Segmentation overlay in /slicer/slice: every pixel shows the colour of the segment whose voxel
 * contains the pixel centre, checked against the segmentation's own voxels (the expected value is
 * computed here from the grid's ijkToRas, independently of the renderer) on axial, sagittal,
 * coronal and oblique planes, on an oblique grid, under a parent transform, with overlapping
 * layers; outlines, opacity, hidden segments, `segmentation=none` and ETags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { segNrrdChunks } from '../../src/imaging/seg-nrrd.js';
import { invert4, ijkToRasMatrix, mul4, transformPoint } from '../../src/imaging/geometry.js';
import type { Segmentation } from '../../src/imaging/segmentation.js';
import type { Mat3, Mat4, Vec3 } from '../../src/imaging/types.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { decode } from '../helpers/render.js';
import { labelVolume } from './fixtures.js';
import { rotationZYX } from '../helpers/phantom.js';

let t: TestApp;
before(async () => {
  t = await makeTestApp();
});
after(() => t.close());

const DIMS: Vec3 = [12, 10, 8];
const GRID = {
  spacing: [2, 1.5, 3] as Vec3,
  origin: [5, -3, 7] as Vec3,
  direction: rotationZYX(0.3, -0.2, 0.5),
};
/** Layer 0: three segments in bands; layer 1: one segment overlapping the corner i < 4, j < 4. */
const layer0 = (i: number, j: number, k: number) =>
  (i + 2 * j + 3 * k) % 7 < 3 ? 0 : 1 + ((i + j + k) % 3);
const layer1 = (i: number, j: number) => (i < 4 && j < 4 ? 5 : 0);
const COLORS: Record<string, [number, number, number]> = {
  '0:1': [255, 0, 0],
  '0:2': [0, 255, 0],
  '0:3': [0, 0, 255],
  '1:5': [255, 255, 0],
};

function segmentation(): Segmentation {
  const a = labelVolume(DIMS, layer0, GRID);
  const b = labelVolume(DIMS, (i, j) => layer1(i, j), GRID);
  const n = a.data.length;
  const data = new Uint8Array(new SharedArrayBuffer(n * 2));
  for (let p = 0; p < n; p++) {
    data[p * 2] = a.data[p]!;
    data[p * 2 + 1] = b.data[p]!;
  }
  const seg = (id: string, layer: number, labelValue: number) => ({
    id,
    name: id,
    color: COLORS[`${layer}:${labelValue}`]!.map((c) => c / 255) as Vec3,
    labelValue,
    layer,
    tags: {},
  });
  return {
    labelmap: { ...a, components: 2, data },
    segments: [seg('a', 0, 1), seg('b', 0, 2), seg('c', 0, 3), seg('over', 1, 5)],
  };
}

async function segBytes(s: Segmentation): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of segNrrdChunks(s)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function scene(): Promise<string> {
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  // A black background (all zero, window far above) larger than the segmentation.
  const bg = labelVolume(
    [60, 60, 60],
    () => 0,
    { spacing: [1, 1, 1], origin: [-25, -30, -20] },
    'int16',
  );
  await t.app.request('/slicer/volume?name=bg', {
    method: 'POST',
    body: (await encodeNrrd(bg)) as Uint8Array<ArrayBuffer>,
  });
  const r = await t.app.request('/slicer/segmentation?name=S', {
    method: 'PUT',
    body: (await segBytes(segmentation())) as Uint8Array<ArrayBuffer>,
  });
  return ((await r.json()) as { id: string }).id;
}

async function png(
  path: string,
): Promise<{ data: Buffer; w: number; h: number; channels: number; etag: string }> {
  const res = await t.app.request(path);
  assert.equal(res.status, 200, await res.clone().text());
  const buf = Buffer.from(await res.arrayBuffer());
  const d = await decode(buf);
  assert.equal(d.channels, 3);
  return {
    data: d.data,
    w: d.width,
    h: d.height,
    channels: d.pngColorType === 0 ? 1 : 3,
    etag: res.headers.get('etag')!,
  };
}

/** Expected colour at each pixel from the voxels (nearest voxel centre); null where a tie makes it ambiguous. */
function expected(
  sliceToRAS: Mat4,
  fov: [number, number],
  size: [number, number],
  worldFromLocal: Mat4,
): Array<[number, number, number] | null> {
  const [W, H] = size;
  const rasToIjk = invert4(mul4(worldFromLocal, ijkToRasMatrix({ ...GRID })));
  const out: Array<[number, number, number] | null> = [];
  for (let row = 0; row < H; row++)
    for (let col = 0; col < W; col++) {
      const sx = (col + 0.5) * (fov[0] / W) - fov[0] / 2;
      const sy = fov[1] / 2 - (row + 0.5) * (fov[1] / H);
      const ras = transformPoint(sliceToRAS, [sx, sy, 0]);
      const f = transformPoint(rasToIjk, ras);
      if (
        f.some(
          (x) =>
            Math.abs(x - Math.round(x) - 0.5) < 1e-6 || Math.abs(x - Math.round(x) + 0.5) < 1e-6,
        )
      ) {
        out.push(null);
        continue;
      }
      const [i, j, k] = f.map((x) => Math.round(x));
      if (i! < 0 || j! < 0 || k! < 0 || i! >= DIMS[0] || j! >= DIMS[1] || k! >= DIMS[2]) {
        out.push([0, 0, 0]);
        continue;
      }
      const v1 = layer1(i!, j!);
      const v0 = layer0(i!, j!, k!);
      out.push(v1 ? COLORS[`1:${v1}`]! : v0 ? COLORS[`0:${v0}`]! : [0, 0, 0]);
    }
  return out;
}

const PLANES: Record<string, Mat3> = {
  axial: [-1, 0, 0, 0, 1, 0, 0, 0, 1],
  sagittal: [0, 0, 1, -1, 0, 0, 0, 1, 0],
  coronal: [-1, 0, 0, 0, 0, 1, 0, 1, 0],
  oblique: rotationZYX(0.7, 0.4, -0.9),
};

function sliceToRas(m: Mat3, c: Vec3): Mat4 {
  return [m[0], m[1], m[2], c[0], m[3], m[4], m[5], c[1], m[6], m[7], m[8], c[2], 0, 0, 0, 1];
}

async function checkPlanes(worldFromLocal: Mat4): Promise<void> {
  // Centre of the segmentation grid in world RAS, nudged so that planes cut through voxels.
  const centre = transformPoint(mul4(worldFromLocal, ijkToRasMatrix({ ...GRID })), [5.3, 4.2, 3.6]);
  for (const [name, m] of Object.entries(PLANES)) {
    for (const shift of [-4.1, 0, 3.7]) {
      const c: Vec3 = [
        centre[0] + m[2] * shift,
        centre[1] + m[5] * shift,
        centre[2] + m[8] * shift,
      ];
      const s2r = sliceToRas(m, c);
      const size: [number, number] = [96, 80];
      const fov: [number, number] = [48, 40];
      const q = `/slicer/slice?view=red&background=bg&window=1&level=1000&interpolation=nearest&size=96x80&fov=48x40&sliceToRAS=${s2r.join(',')}&segmentationOpacity=1&outline=off&segmentation=S`;
      const img = await png(q);
      assert.equal(img.channels, 3);
      const want = expected(s2r, fov, size, worldFromLocal);
      let checked = 0,
        coloured = 0;
      for (let p = 0; p < want.length; p++) {
        const e = want[p];
        if (!e) continue;
        const got = [img.data[p * 3], img.data[p * 3 + 1], img.data[p * 3 + 2]];
        assert.deepEqual(got, e, `${name} shift ${shift}: pixel ${p % 96},${Math.floor(p / 96)}`);
        checked++;
        if (e.some(Boolean)) coloured++;
      }
      assert.ok(
        coloured > 50,
        `${name} shift ${shift}: the plane cuts the segmentation (${coloured} pixels)`,
      );
      assert.ok(checked > want.length * 0.9);
    }
  }
}

test('overlay pixels match the segmentation voxels: axial, sagittal, coronal, oblique; oblique grid; overlapping layers', async () => {
  await scene();
  const I: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  await checkPlanes(I);
});

test('overlay follows a parent transform of the segmentation', async () => {
  const id = await scene();
  const M: Mat4 = [0, -1, 0, 7, 1, 0, 0, -2, 0, 0, 1, 4.5, 0, 0, 0, 1];
  const tr = await t.app.request('/slicer/transform?name=T', {
    method: 'POST',
    body: JSON.stringify({ matrix: M }),
    headers: { 'content-type': 'application/json' },
  });
  const tid = ((await tr.json()) as { id: string }).id;
  const p = await t.app.request(`/slicer/mrml/parent?id=${id}&parentTransformID=${tid}`, {
    method: 'PUT',
  });
  assert.equal(p.status, 200);
  await checkPlanes(M);
});

test('outline, opacity, hidden segments, segmentation=none, ETags', async () => {
  await scene();
  const base = `/slicer/slice?view=red&background=bg&window=1&level=1000&interpolation=nearest&size=64&fov=64&orientation=axial&segmentation=S`;
  const none = await png(base.replace('segmentation=S', 'segmentation=none'));
  assert.equal(none.channels, 1, 'no overlay: the plain grey render');
  const fill = await png(`${base}&segmentationOpacity=0.5&outline=off`);
  assert.ok(
    fill.data.some((v) => v === 128),
    'half-opacity fill over black gives 128',
  );
  assert.ok(!fill.data.some((v) => v === 255), 'no full-colour pixel without outline');
  const outlined = await png(`${base}&segmentationOpacity=0&outline=on`);
  // Outline only: every coloured pixel has a 4-neighbour of another colour.
  const { data, w, h } = outlined;
  let edges = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      if (!data[p] && !data[p + 1] && !data[p + 2]) continue;
      edges++;
      const same = (q: number) =>
        data[q] === data[p] && data[q + 1] === data[p + 1] && data[q + 2] === data[p + 2];
      const nb = [
        x > 0 ? p - 3 : -1,
        x < w - 1 ? p + 3 : -1,
        y > 0 ? p - w * 3 : -1,
        y < h - 1 ? p + w * 3 : -1,
      ].filter((q) => q >= 0);
      assert.ok(
        nb.some((q) => !same(q)),
        `outline pixel ${x},${y} is on a boundary`,
      );
    }
  assert.ok(edges > 20);
  assert.notEqual(fill.etag, outlined.etag);
  // Hiding every segment: back to the plain render; visibility is part of the ETag.
  for (const s of ['a', 'b', 'c', 'over'])
    await t.app.request(`/slicer/segment?segmentation=S&segmentID=${s}&visible=false`, {
      method: 'PUT',
    });
  const hidden = await png(`${base}&segmentationOpacity=0.5&outline=off`);
  assert.equal(hidden.channels, 1);
  assert.notEqual(hidden.etag, fill.etag);
  assert.ok(hidden.data.equals(none.data));
  const bad = await t.app.request(base.replace('segmentation=S', 'segmentation=nope'));
  assert.equal(bad.status, 400);
  assert.match(
    ((await bad.json()) as { message: string }).message,
    /segmentation: no segmentation node matches "nope"/,
  );
  const badOp = await t.app.request(`${base}&segmentationOpacity=2`);
  assert.equal(badOp.status, 400);
});
