/** /slicer/mrml*: filters (§2.2), properties, delete/clear, parent transforms, local-file loading. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTestApp, tempDir, type TestApp, withTestApp } from '../helpers/app.js';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
let t: TestApp;
let root: string;
let outside: string;

const vol = (): ImageVolume => ({
  scalarType: 'int16',
  components: 1,
  dimensions: [2, 2, 2],
  spacing: [1, 1, 1],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  data: allocShared('int16', 8),
});

before(async () => {
  root = tempDir('vg-import-');
  outside = tempDir('vg-outside-');
  t = await makeTestApp({ importRoots: [root] });
});
after(async () => {
  await t.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

async function seed() {
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  await t.app.request('/slicer/volume?name=Head', {
    method: 'POST',
    body: (await encodeNrrd(vol())) as Uint8Array<ArrayBuffer>,
  });
  await t.app.request('/slicer/volume?name=Seg&labelmap=true', {
    method: 'POST',
    body: (await encodeNrrd(vol())) as Uint8Array<ArrayBuffer>,
  });
  await t.app.request('/slicer/transform?name=T', { method: 'POST' });
  await t.app.request('/slicer/fiducials?name=F', { method: 'POST' });
}

test('names, ids, class filter with subclasses, name filter, id filter', async () => {
  await seed();
  assert.deepEqual(await json(t.app.request('/slicer/mrml')), ['Head', 'Seg', 'T', 'F']);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/names')), ['Head', 'Seg', 'T', 'F']);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids')), [
    'vtkMRMLScalarVolumeNode1',
    'vtkMRMLLabelMapVolumeNode1',
    'vtkMRMLLinearTransformNode1',
    'vtkMRMLMarkupsFiducialNode1',
  ]);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids?class=vtkMRMLVolumeNode')), [
    'vtkMRMLScalarVolumeNode1',
    'vtkMRMLLabelMapVolumeNode1',
  ]);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids?class=vtkMRMLScalarVolumeNode')), [
    'vtkMRMLScalarVolumeNode1',
    'vtkMRMLLabelMapVolumeNode1',
  ]);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/names?class=vtkMRMLTransformNode')), [
    'T',
  ]);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids?class=vtkMRMLNode&name=Seg')), [
    'vtkMRMLLabelMapVolumeNode1',
  ]);
  assert.deepEqual(
    await json(
      t.app.request('/slicer/mrml/ids?id=vtkMRMLLinearTransformNode1&class=vtkMRMLVolumeNode'),
    ),
    ['vtkMRMLLinearTransformNode1'],
  );
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids?id=vtkMRML*')), []); // id is exact, not a pattern
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids?class=vtkMRMLUnknownNode')), []);
  assert.equal((await t.app.request('/slicer/mrml/ids?name=')).status, 400);
});

test('properties: per-node model; no match → 404', async () => {
  await seed();
  const p = await json(t.app.request('/slicer/mrml/properties?name=Head'));
  assert.deepEqual(Object.keys(p), ['vtkMRMLScalarVolumeNode1']);
  assert.equal(p.vtkMRMLScalarVolumeNode1.scalarType, 'int16');
  assert.deepEqual(p.vtkMRMLScalarVolumeNode1.dimensions, [2, 2, 2]);
  const all = await json(t.app.request('/slicer/mrml/properties'));
  assert.equal(all.vtkMRMLLinearTransformNode1.matrixToParent.length, 16);
  const none = await t.app.request('/slicer/mrml/properties?name=zzz');
  assert.equal(none.status, 404);
  assert.match((await json(none)).message, /No nodes matched/);
});

test('parent transform: set, reflected in properties/transforms, clear; bad ids → 4xx', async () => {
  await seed();
  const r = await json(
    t.app.request('/slicer/mrml/parent?id=Head&parentTransformID=T', { method: 'PUT' }),
  );
  assert.deepEqual(r, {
    success: true,
    id: 'vtkMRMLScalarVolumeNode1',
    parentTransformID: 'vtkMRMLLinearTransformNode1',
  });
  assert.equal(
    t.ctx.scene.byId('vtkMRMLScalarVolumeNode1')?.parentTransformID,
    'vtkMRMLLinearTransformNode1',
  );
  assert.equal(
    (await t.app.request('/slicer/mrml/parent?id=Head&parentTransformID=Seg', { method: 'PUT' }))
      .status,
    400,
  );
  assert.equal(
    (await t.app.request('/slicer/mrml/parent?id=T&parentTransformID=T', { method: 'PUT' })).status,
    400,
  );
  assert.equal(
    (await t.app.request('/slicer/mrml/parent?id=Nope&parentTransformID=T', { method: 'PUT' }))
      .status,
    404,
  );
  assert.equal(
    (await t.app.request('/slicer/mrml/parent?parentTransformID=T', { method: 'PUT' })).status,
    400,
  );
  const cleared = await json(t.app.request('/slicer/mrml/parent?id=Head', { method: 'PUT' }));
  assert.equal(cleared.parentTransformID, null);
});

test('DELETE with filter removes, none matched → 404, no filter clears; PUT on an empty scene → 404', async () => {
  await seed();
  const r = await json(t.app.request('/slicer/mrml?class=vtkMRMLVolumeNode', { method: 'DELETE' }));
  assert.deepEqual(r.removedNodeIDs, ['vtkMRMLScalarVolumeNode1', 'vtkMRMLLabelMapVolumeNode1']);
  assert.equal((await t.app.request('/slicer/mrml?name=Head', { method: 'DELETE' })).status, 404);
  assert.deepEqual(
    await json(t.app.request('/slicer/mrml?id=vtkMRMLLinearTransformNode1', { method: 'DELETE' })),
    { success: true, removedNodeIDs: ['vtkMRMLLinearTransformNode1'] },
  );
  assert.deepEqual(
    (await json(t.app.request('/slicer/mrml/file', { method: 'DELETE' }))).cleared,
    true,
  );
  assert.deepEqual(await json(t.app.request('/slicer/mrml')), []);
  // PUT reloads nodes from their files (test/compat); the scene is empty now.
  const put = await t.app.request('/slicer/mrml', { method: 'PUT' });
  assert.equal(put.status, 404);
});

test('POST /mrml?localfile= loads only under --import-root (traversal and symlinks refused)', async () => {
  writeFileSync(path.join(root, 'head.nrrd'), await encodeNrrd(vol()));
  writeFileSync(path.join(outside, 'secret.nrrd'), await encodeNrrd(vol()));
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  symlinkSync(path.join(outside, 'secret.nrrd'), path.join(root, 'sub', 'link.nrrd'));
  const ok = await json(
    t.app.request(
      `/slicer/mrml?localfile=${encodeURIComponent(path.join(root, 'head.nrrd'))}&filetype=VolumeFile`,
      { method: 'POST' },
    ),
  );
  assert.equal(ok.success, true);
  assert.equal(t.ctx.scene.byId(ok.loadedNodeIDs[0])?.name, 'head');
  const rel = await json(
    t.app.request(
      `/slicer/mrml/file?localfile=head.nrrd&filetype=VolumeFile&name=Rel&labelmap=true`,
      { method: 'POST' },
    ),
  );
  assert.equal(t.ctx.scene.byId(rel.loadedNodeIDs[0])?.className, 'vtkMRMLLabelMapVolumeNode');
  for (const bad of [
    path.join(outside, 'secret.nrrd'),
    `${root}/../${path.basename(outside)}/secret.nrrd`,
    'sub/link.nrrd',
    '../../../../etc/passwd',
    '/etc/passwd',
  ]) {
    const r = await t.app.request(
      `/slicer/mrml?localfile=${encodeURIComponent(bad)}&filetype=VolumeFile`,
      { method: 'POST' },
    );
    assert.equal(r.status, 403, bad);
  }
  assert.equal(
    (
      await t.app.request(`/slicer/mrml?localfile=missing.nrrd&filetype=VolumeFile`, {
        method: 'POST',
      })
    ).status,
    404,
  );
  assert.equal(
    (await t.app.request(`/slicer/mrml?localfile=head.dat`, { method: 'POST' })).status,
    400, // no filetype, and the name implies none (.nrrd → VolumeFile: test/compat)
  );
  assert.equal(
    (await t.app.request(`/slicer/mrml?localfile=head.nrrd&filetype=SceneFile`, { method: 'POST' }))
      .status,
    400,
  );
  // url= downloads only from --import-url origins (test/compat)
  assert.equal(
    (
      await t.app.request(`/slicer/mrml?url=http://x/y.nrrd&filetype=VolumeFile`, {
        method: 'POST',
      })
    ).status,
    403,
  );
  await withTestApp({}, async (closed) => {
    assert.equal(
      (
        await closed.app.request(
          `/slicer/mrml?localfile=${encodeURIComponent(path.join(root, 'head.nrrd'))}&filetype=VolumeFile`,
          { method: 'POST' },
        )
      ).status,
      403,
    );
  });
});

test('POST /mrml loads MarkupsFile and TransformFile (JSON, ITK txt, grid NRRD)', async () => {
  writeFileSync(
    path.join(root, 'pts.mrk.json'),
    JSON.stringify({
      markups: [
        {
          type: 'Fiducial',
          coordinateSystem: 'LPS',
          controlPoints: [{ label: 'P1', position: [1, 2, 3] }],
        },
      ],
    }),
  );
  const m = await json(
    t.app.request('/slicer/mrml?localfile=pts.mrk.json&filetype=MarkupsFile', { method: 'POST' }),
  );
  const list = t.ctx.scene.byId(m.loadedNodeIDs[0]);
  assert.ok(list?.kind === 'fiducials');
  assert.deepEqual(list.points[0]!.position, [-1, -2, 3]);
  writeFileSync(
    path.join(root, 't.json'),
    JSON.stringify({ matrix: [1, 0, 0, 5, 0, 1, 0, 6, 0, 0, 1, 7, 0, 0, 0, 1] }),
  );
  const tj = await json(
    t.app.request('/slicer/mrml?localfile=t.json&filetype=TransformFile', { method: 'POST' }),
  );
  const tn = t.ctx.scene.byId(tj.loadedNodeIDs[0]);
  assert.ok(tn?.kind === 'linearTransform' && tn.matrixToParent[3] === 5);
  // ITK: translation (1,2,3) LPS from parent → to parent in RAS is (+1,+2,-3)
  writeFileSync(
    path.join(root, 'itk.txt'),
    '#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1 1 2 3\nFixedParameters: 0 0 0\n',
  );
  const ti = await json(
    t.app.request('/slicer/mrml?localfile=itk.txt&filetype=TransformFile', { method: 'POST' }),
  );
  const itkNode = t.ctx.scene.byId(ti.loadedNodeIDs[0]);
  assert.ok(itkNode?.kind === 'linearTransform');
  assert.deepEqual(
    [itkNode.matrixToParent[3], itkNode.matrixToParent[7], itkNode.matrixToParent[11]].map(
      (x) => x + 0,
    ),
    [1, 2, -3],
  );
  writeFileSync(
    path.join(root, 'bad.txt'),
    'Transform: BSplineTransform_double_3_3\nParameters: 1\n',
  );
  assert.equal(
    (
      await t.app.request('/slicer/mrml?localfile=bad.txt&filetype=TransformFile', {
        method: 'POST',
      })
    ).status,
    422,
  );
  writeFileSync(path.join(root, 'broken.mrk.json'), '{not json');
  assert.equal(
    (
      await t.app.request('/slicer/mrml?localfile=broken.mrk.json&filetype=MarkupsFile', {
        method: 'POST',
      })
    ).status,
    422,
  );
});
