/** /slicer/fiducials, /slicer/fiducial (points), /slicer/markups (.mrk.json import/export). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTestApp } from '../helpers/app.js';
import { MARKUPS_SCHEMA } from '../../src/scene/fiducials.js';

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const t = useTestApp();

const req = (path: string, method = 'GET') => t.app.request(path, { method });

test('add points (creating a list), Slicer /fiducials shape', async () => {
  assert.deepEqual(await json(req('/slicer/fiducials')), {});
  const p1 = await json(req('/slicer/fiducial?r=1&a=2&s=3', 'POST'));
  assert.deepEqual(p1, {
    success: true,
    id: 'vtkMRMLMarkupsFiducialNode1',
    index: 0,
    label: 'F-1',
    position: [1, 2, 3],
  });
  const p2 = await json(req('/slicer/fiducial?id=F&r=4&label=Tip', 'POST'));
  assert.deepEqual([p2.index, p2.label, p2.position], [1, 'Tip', [4, 0, 0]]);
  const all = await json(req('/slicer/fiducials'));
  assert.deepEqual(Object.keys(all), ['vtkMRMLMarkupsFiducialNode1']);
  const f = all.vtkMRMLMarkupsFiducialNode1;
  assert.equal(f.name, 'F');
  assert.equal(f.color.length, 3);
  assert.equal(typeof f.scale, 'number');
  assert.deepEqual(f.markups, [
    { label: 'F-1', position: [1, 2, 3] },
    { label: 'Tip', position: [4, 0, 0] },
  ]);
});

test('PUT /fiducial: numeric index, missing coordinates keep their value, label; range and NaN → 400', async () => {
  const r = await json(req('/slicer/fiducial?id=vtkMRMLMarkupsFiducialNode1&index=1&a=9', 'PUT'));
  assert.deepEqual(r.position, [4, 9, 0]);
  assert.deepEqual(
    (await json(req('/slicer/fiducial?index=0&s=-5&label=Entry', 'PUT'))).position,
    [1, 2, -5],
  );
  assert.equal(
    (await json(req('/slicer/fiducials'))).vtkMRMLMarkupsFiducialNode1.markups[0].label,
    'Entry',
  );
  for (const [q, param] of [
    ['index=2', 'index'],
    ['index=-1', 'index'],
    ['index=1.5', 'index'],
    ['index=abc', 'index'],
    ['index=0&r=NaN', 'r'],
    ['index=0&a=', 'a'],
    ['index=0&s=Infinity', 's'],
  ] as const) {
    const res = await req(`/slicer/fiducial?${q}`, 'PUT');
    assert.equal(res.status, 400, q);
    assert.equal((await json(res)).parameter, param, q);
  }
  assert.equal((await req('/slicer/fiducial?id=nope&index=0', 'PUT')).status, 404);
});

test('new list, delete point, delete list', async () => {
  const l = await json(req('/slicer/fiducials?name=Targets&color=1,0,0&scale=2', 'POST'));
  assert.deepEqual(l, { success: true, id: 'vtkMRMLMarkupsFiducialNode2', name: 'Targets' });
  await req('/slicer/fiducial?id=Targets&r=1', 'POST');
  await req('/slicer/fiducial?id=Targets&r=2', 'POST');
  const d = await json(req('/slicer/fiducial?id=Targets&index=0', 'DELETE'));
  assert.equal(d.remaining, 1);
  assert.deepEqual(
    (await json(req('/slicer/fiducials'))).vtkMRMLMarkupsFiducialNode2.markups[0].position,
    [2, 0, 0],
  );
  assert.equal((await req('/slicer/fiducial?id=Targets', 'DELETE')).status, 400);
  assert.equal((await req('/slicer/fiducial?id=Targets&index=3', 'DELETE')).status, 400);
  assert.equal((await req('/slicer/fiducials?color=1,2', 'POST')).status, 400);
  assert.equal((await req('/slicer/fiducials?id=Targets', 'DELETE')).status, 200);
  assert.deepEqual(Object.keys(await json(req('/slicer/fiducials'))), [
    'vtkMRMLMarkupsFiducialNode1',
  ]);
  assert.equal((await req('/slicer/fiducials?id=Targets', 'DELETE')).status, 404);
});

test('markups JSON export (LPS default, RAS) and import (LPS → RAS)', async () => {
  const res = await req('/slicer/markups?id=F');
  assert.match(res.headers.get('content-disposition') ?? '', /F\.mrk\.json/);
  const doc = await json(res);
  assert.equal(doc['@schema'], MARKUPS_SCHEMA);
  assert.equal(doc.markups[0].type, 'Fiducial');
  assert.equal(doc.markups[0].coordinateSystem, 'LPS');
  assert.deepEqual(doc.markups[0].controlPoints[0].position, [-1, -2, -5]);
  assert.deepEqual(
    (await json(req('/slicer/markups?id=F&coordinateSystem=RAS'))).markups[0].controlPoints[0]
      .position,
    [1, 2, -5],
  );
  const imp = await json(
    t.app.request('/slicer/markups?name=Imported', {
      method: 'POST',
      body: JSON.stringify(doc),
      headers: { 'content-type': 'application/json' },
    }),
  );
  const node = t.ctx.scene.byId(imp.loadedNodeIDs[0]);
  assert.ok(node?.kind === 'fiducials');
  assert.equal(node.name, 'Imported');
  assert.deepEqual(
    node.points.map((p) => p.position),
    [
      [1, 2, -5],
      [4, 9, 0],
    ],
  );
  assert.deepEqual(
    node.points.map((p) => p.label),
    ['Entry', 'Tip'],
  );
  const bad = await t.app.request('/slicer/markups', {
    method: 'POST',
    body: JSON.stringify({ markups: [{ type: 'Curve' }] }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(bad.status, 422);
  assert.match((await json(bad)).message, /only "Fiducial"/);
  const badPos = await t.app.request('/slicer/markups', {
    method: 'POST',
    body: JSON.stringify({
      markups: [{ type: 'Fiducial', controlPoints: [{ position: [1, 'x', 3] }] }],
    }),
  });
  assert.equal(badPos.status, 422);
  assert.equal((await req('/slicer/markups?id=F&coordinateSystem=XYZ')).status, 400);
});
