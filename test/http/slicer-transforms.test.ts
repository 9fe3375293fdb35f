/** /slicer/transforms, /slicer/transform (JSON), /slicer/tracking, /slicer/gridTransform(s) (NRRD). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTestApp } from '../helpers/app.js';
import { decodeNrrd, encodeNrrd, parseNrrdHeader } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const t = useTestApp();

const send = (path: string, method: string, body?: unknown) =>
  t.app.request(path, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });

test('create with nested or flat matrix, GET by id/name, list, update, parent chain, delete', async () => {
  const a = await json(
    send('/slicer/transform?name=A', 'POST', {
      matrix: [
        [1, 0, 0, 10],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    }),
  );
  assert.equal(a.id, 'vtkMRMLLinearTransformNode1');
  assert.deepEqual(a.matrix[0], [1, 0, 0, 10]);
  const b = await json(
    send('/slicer/transform', 'PUT', {
      name: 'B',
      matrix: [0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 1],
      parentTransformID: 'A',
    }),
  );
  assert.deepEqual(
    [b.name, b.parentTransformID, b.created],
    ['B', 'vtkMRMLLinearTransformNode1', true],
  );
  // children of B go through B then A: world = A · B
  assert.deepEqual(b.matrixToWorld, [
    [0, -1, 0, 10],
    [1, 0, 0, 0],
    [0, 0, 1, 5],
    [0, 0, 0, 1],
  ]);
  const got = await json(t.app.request('/slicer/transform?id=B'));
  assert.deepEqual(got.matrix[2], [0, 0, 1, 5]);
  assert.deepEqual(await json(t.app.request('/slicer/transforms')), [
    {
      name: 'A',
      id: 'vtkMRMLLinearTransformNode1',
      class: 'vtkMRMLLinearTransformNode',
      parentTransformID: null,
    },
    {
      name: 'B',
      id: 'vtkMRMLLinearTransformNode2',
      class: 'vtkMRMLLinearTransformNode',
      parentTransformID: 'vtkMRMLLinearTransformNode1',
    },
  ]);
  const upd = await json(
    send('/slicer/transform?id=vtkMRMLLinearTransformNode2&parentTransformID=none', 'PUT', {
      matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    }),
  );
  assert.deepEqual([upd.created, upd.parentTransformID, upd.matrix[0][1]], [false, null, 0]);
  assert.equal((await t.app.request('/slicer/transform?id=B', { method: 'DELETE' })).status, 200);
  assert.equal((await t.app.request('/slicer/transform?id=B')).status, 404);
});

test('invalid matrices and bodies → 400 naming the problem', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ matrix: [1, 2, 3] }, /4×4|16 numbers/],
    [
      {
        matrix: [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 1, 1],
        ],
      },
      /last row/,
    ],
    [{ matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'x'] }, /finite number/],
    [
      {
        matrix: [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
          [0, 0, 0],
        ],
      },
      /4 rows must have 4/,
    ],
    [{ name: 5 }, /name/],
    [[1, 2], /JSON object/],
  ];
  for (const [body, re] of cases) {
    const r = await send('/slicer/transform?name=X', 'POST', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match((await json(r)).message, re);
  }
  const notJson = await t.app.request('/slicer/transform', {
    method: 'PUT',
    body: '{oops',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(notJson.status, 400);
  assert.equal((await send('/slicer/transform?parentTransformID=nothing', 'POST', {})).status, 400);
});

test('tracking: m is row-major 3×3, q (w,x,y,z) overrides m, p translates; updates "tracker"', async () => {
  const r = await t.app.request('/slicer/tracking?m=0,-1,0,1,0,0,0,0,1&p=1,2,3', { method: 'PUT' });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { message: string }).message, 'Set matrix');
  const id = r.headers.get('x-node-id')!;
  const m1 = await json(t.app.request(`/slicer/transform?id=${id}`));
  assert.equal(m1.name, 'tracker');
  assert.deepEqual(m1.matrix, [
    [0, -1, 0, 1],
    [1, 0, 0, 2],
    [0, 0, 1, 3],
    [0, 0, 0, 1],
  ]);
  // 90° about z as a quaternion: w = cos 45°, z = sin 45°; p keeps its old value
  await t.app.request(`/slicer/tracking?q=${Math.SQRT1_2},0,0,${Math.SQRT1_2}&m=1,0,0,0,1,0,0,0,1`);
  const m2 = await json(t.app.request('/slicer/transform?id=tracker'));
  const round = (rows: number[][]) =>
    rows.map((row) => row.map((x) => Math.round(x * 1e9) / 1e9 + 0));
  assert.deepEqual(round(m2.matrix), [
    [0, -1, 0, 1],
    [1, 0, 0, 2],
    [0, 0, 1, 3],
    [0, 0, 0, 1],
  ]);
  assert.equal(
    (await json(t.app.request('/slicer/transforms'))).filter(
      (x: { name: string }) => x.name === 'tracker',
    ).length,
    1,
  );
  for (const bad of ['m=1,2,3', 'p=1,2,NaN', 'q=0,0,0,0', 'p=1,,3', 'p=Infinity,0,0']) {
    const res = await t.app.request(`/slicer/tracking?${bad}`);
    assert.equal(res.status, 400, bad);
    assert.match((await json(res)).message, new RegExp(`^${bad[0]}`));
  }
});

function grid(): ImageVolume {
  const n = 3 * 4 * 3 * 2;
  const data = allocShared('float32', n);
  for (let i = 0; i < n; i += 3) [data[i], data[i + 1], data[i + 2]] = [1, 2, 3];
  const c = Math.cos(0.5),
    s = Math.sin(0.5);
  return {
    scalarType: 'float32',
    components: 3,
    dimensions: [4, 3, 2],
    spacing: [2, 3, 4],
    origin: [5, 6, 7],
    direction: [c, -s, 0, s, c, 0, 0, 0, 1],
    data,
  };
}

test('grid transforms: POST LPS NRRD → RAS vectors; GET 4-D NRRD with none + real directions, real type', async () => {
  // the NRRD holds LPS vectors (1,2,3): in RAS they are (-1,-2,3)
  const g = grid();
  const body = await encodeNrrd(g, { componentKind: 'vector' });
  const r = await json(
    t.app.request('/slicer/gridTransform?name=Warp', {
      method: 'POST',
      body: body as Uint8Array<ArrayBuffer>,
    }),
  );
  assert.equal(r.id, 'vtkMRMLGridTransformNode1');
  const node = t.ctx.scene.byId(r.id);
  assert.ok(node?.kind === 'gridTransform');
  assert.deepEqual([...node.grid.data.slice(0, 3)], [-1, -2, 3]);
  assert.deepEqual(await json(t.app.request('/slicer/gridTransforms')), [
    { name: 'Warp', id: 'vtkMRMLGridTransformNode1' },
  ]);
  const res = await t.app.request('/slicer/gridTransform?id=Warp');
  const buf = Buffer.from(await res.arrayBuffer());
  const h = parseNrrdHeader(buf.toString('latin1', 0, buf.indexOf('\n\n')));
  assert.equal(h.fields.get('dimension'), '4');
  assert.equal(h.fields.get('type'), 'float');
  assert.equal(h.fields.get('kinds'), 'vector domain domain domain');
  assert.match(h.fields.get('space directions')!, /^none \(/);
  const back = await decodeNrrd(buf);
  assert.deepEqual([...back.volume.data], [...g.data]);
  back.volume.direction.forEach((x, i) => assert.ok(Math.abs(x - g.direction[i]!) < 1e-12));
  // replace, and refuse non-vector data
  const f64 = { ...g, scalarType: 'float64' as const, data: allocShared('float64', g.data.length) };
  const rep = await json(
    t.app.request('/slicer/gridTransform?id=Warp', {
      method: 'PUT',
      body: (await encodeNrrd(f64)) as Uint8Array<ArrayBuffer>,
    }),
  );
  assert.equal(rep.created, false);
  assert.match(
    (await t.app.request('/slicer/gridTransform?id=Warp')).headers.get('content-length') ?? '',
    /^\d+$/,
  );
  const scalar: ImageVolume = { ...g, components: 1, data: allocShared('float32', 24) };
  const bad = await t.app.request('/slicer/gridTransform', {
    method: 'POST',
    body: (await encodeNrrd(scalar)) as Uint8Array<ArrayBuffer>,
  });
  assert.equal(bad.status, 422);
  assert.match((await json(bad)).message, /3-component/);
  const ints: ImageVolume = {
    ...g,
    scalarType: 'int16',
    data: allocShared('int16', g.data.length),
  };
  assert.equal(
    (
      await t.app.request('/slicer/gridTransform', {
        method: 'POST',
        body: (await encodeNrrd(ints)) as Uint8Array<ArrayBuffer>,
      })
    ).status,
    422,
  );
  assert.equal((await t.app.request('/slicer/gridTransform?id=nothing')).status, 404);
});
