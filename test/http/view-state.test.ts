/** `GET /slicer/view`: a view's state as JSON (the viewer page maps clicks to RAS with it). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pixelToRas } from '../../docroot/app/geometry.mjs';
import { startTestServer, type TestServer } from '../helpers/app.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ noSamples: false });
});
after(async () => {
  await server.close();
});

interface SliceView {
  view: string;
  orientation: string;
  sliceToRAS: number[];
  fov: [number, number];
  size: [number, number];
  offset: number;
  bounds: [number, number];
  background: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed JSON read
const json = async <T>(p: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${server.url}${p}`);
  return { status: res.status, body: (await res.json()) as T };
};

test('after a render, the view state matches what was asked: orientation, size, offset within bounds', async () => {
  const r = await fetch(
    `${server.url}/slicer/slice?view=yellow&orientation=sagittal&scrollTo=0.25&size=400x300`,
  );
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  const { status, body: v } = await json<SliceView>('/slicer/view?view=yellow&size=400x300');
  assert.equal(status, 200);
  assert.equal(v.view, 'yellow');
  assert.equal(v.orientation, 'sagittal');
  assert.deepEqual(v.size, [400, 300]);
  assert.equal(v.sliceToRAS.length, 16);
  assert.ok(v.bounds[1] > v.bounds[0]);
  // scrollTo=0.25 of the bounds, snapped to the nearest voxel slice (≤ half a voxel away).
  assert.ok(
    Math.abs(v.offset - (v.bounds[0] + 0.25 * (v.bounds[1] - v.bounds[0]))) <= 1,
    `offset ${v.offset}`,
  );
  assert.ok(Math.abs(v.fov[0] / v.fov[1] - 400 / 300) < 1e-6, 'fov follows the image aspect');
  assert.ok(v.background);
  // The image centre is the slice centre; a sagittal slice has R = offset everywhere.
  const c = pixelToRas(v, 0.5, 0.5, 1, 1);
  assert.deepEqual(
    c.map((x) => +x.toFixed(6)),
    [v.sliceToRAS[3], v.sliceToRAS[7], v.sliceToRAS[11]].map((x) => +x!.toFixed(6)),
  );
  const corner = pixelToRas(v, 0, 0, 1, 1);
  assert.ok(Math.abs(corner[0] - v.offset) < 1e-6);
  // Slicer's sagittal view: screen left is anterior, top is superior.
  assert.ok(corner[1] > c[1] && corner[2] > c[2]);
});

test('the 3D view reports its camera; an unknown view is a 400 naming the parameter', async () => {
  await (
    await fetch(`${server.url}/slicer/threeD?orbitX=30&zoom=1.5&size=64&mode=mip`)
  ).arrayBuffer();
  const { body } = await json<{
    view: string;
    camera: { orbitX: number; zoom: number };
    mode: string;
  }>('/slicer/view?view=threeD');
  assert.equal(body.view, 'threeD');
  assert.equal(body.camera.orbitX, 30);
  assert.equal(body.camera.zoom, 1.5);
  assert.equal(body.mode, 'mip');
  const bad = await json<{ success: boolean; message: string }>('/slicer/view?view=blue');
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /view/);
});
