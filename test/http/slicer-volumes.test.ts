/** /slicer/volumes, /slicer/volume (NRRD in/out), /slicer/volumeSelection, /slicer/sampledata. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import request from 'supertest';
import {
  binaryParser,
  startTestServer,
  type TestServer,
  withTestApp,
  useTestApp,
} from '../helpers/app.js';
import { decodeNrrd, encodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';
import type { Config } from '../../src/server/config.js';

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

/** config.limits.volume (the lead's `--limit-volume`), typed loosely so it works before and after that merge. */
const volumeLimit = (volume: number) =>
  ({
    limits: { volume, stow: 1 << 30, json: 1 << 24, exec: 1 << 20 },
  }) as unknown as Partial<Config>;

const t = useTestApp();

function vol(
  scalarType: ImageVolume['scalarType'] = 'int16',
  dims: [number, number, number] = [4, 3, 2],
  components = 1,
): ImageVolume {
  const n = dims[0] * dims[1] * dims[2] * components;
  const data = allocShared(scalarType, n);
  for (let i = 0; i < n; i++) data[i] = ((i * 7) % 100) - (scalarType.startsWith('u') ? 0 : 50);
  return {
    scalarType,
    components,
    dimensions: dims,
    spacing: [1, 2, 3],
    origin: [10, -20, 30],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
  };
}

const put = async (path: string, body: Uint8Array, method = 'POST') =>
  t.app.request(path, { method, body: body as Uint8Array<ArrayBuffer> });

/** A cleared scene with four volumes: Dup (int16), Dup (float32), Labels, Color (RGB). */
async function fourVolumes() {
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  const a = await json(put('/slicer/volume?name=Dup', await encodeNrrd(vol())));
  const b = await json(put('/slicer/volume?name=Dup', await encodeNrrd(vol('float32'))));
  const l = await json(
    put('/slicer/volume?name=Labels&labelmap=true', await encodeNrrd(vol('uint8'))),
  );
  const rgb = await json(
    put('/slicer/volume?name=Color', await encodeNrrd(vol('uint8', [2, 2, 2], 3))),
  );
  return { a, b, l, rgb };
}

test('POST without id creates nodes (duplicate names kept); GET /volumes lists every class', async () => {
  const { a, b, l, rgb } = await fourVolumes();
  assert.deepEqual(
    { ...a, created: undefined },
    {
      success: true,
      id: 'vtkMRMLScalarVolumeNode1',
      name: 'Dup',
      class: 'vtkMRMLScalarVolumeNode',
      created: undefined,
    },
  );
  assert.equal(b.id, 'vtkMRMLScalarVolumeNode2');
  assert.equal(l.class, 'vtkMRMLLabelMapVolumeNode');
  assert.equal(rgb.class, 'vtkMRMLVectorVolumeNode');
  const list = await json(t.app.request('/slicer/volumes'));
  assert.deepEqual(
    list.map((v: { name: string; id: string }) => [v.name, v.id]),
    [
      ['Dup', 'vtkMRMLScalarVolumeNode1'],
      ['Dup', 'vtkMRMLScalarVolumeNode2'],
      ['Labels', 'vtkMRMLLabelMapVolumeNode1'],
      ['Color', 'vtkMRMLVectorVolumeNode1'],
    ],
  );
  assert.equal(list[1].scalarType, 'float32');
});

test('GET /volume returns exact NRRD; id by name, glob; gzip; label map hint round trip', async () => {
  await fourVolumes();
  const res = await t.app.request('/slicer/volume?id=vtkMRMLScalarVolumeNode2');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.match(res.headers.get('content-disposition') ?? '', /filename="Dup\.nrrd"/);
  const buf = Buffer.from(await res.arrayBuffer());
  assert.equal(Number(res.headers.get('content-length')), buf.length);
  const d = await decodeNrrd(buf);
  assert.equal(d.volume.scalarType, 'float32');
  assert.deepEqual([...d.volume.data], [...vol('float32').data]);
  assert.deepEqual(d.volume.origin, [10, -20, 30]);
  const gz = await t.app.request('/slicer/volume?id=Labels&encoding=gzip');
  const gzBuf = Buffer.from(await gz.arrayBuffer());
  assert.match(gzBuf.toString('latin1', 0, 400), /encoding: gzip/);
  const lab = await decodeNrrd(gzBuf);
  assert.equal(lab.header.keyValues.labelmap, 'true');
  // re-upload keeps the class through the NRRD hint
  const again = await json(put('/slicer/volume', gzBuf));
  assert.equal(again.class, 'vtkMRMLLabelMapVolumeNode');
  const rgb = await decodeNrrd(
    Buffer.from(await (await t.app.request('/slicer/volume?id=vtkMRMLVector*')).arrayBuffer()),
  );
  assert.equal(rgb.volume.components, 3);
  assert.equal(rgb.layout.componentKind, 'RGB-color');
  assert.equal((await t.app.request('/slicer/volume?id=nothing')).status, 404);
  assert.equal((await t.app.request('/slicer/volume?id=Dup&encoding=bz2')).status, 400);
});

test('PUT with id replaces data in place (same id and position), keeps name unless given', async () => {
  await fourVolumes();
  const before = await json(t.app.request('/slicer/mrml/ids'));
  const r = await json(
    put(
      '/slicer/volume?id=vtkMRMLScalarVolumeNode1',
      await encodeNrrd(vol('float64', [2, 2, 2])),
      'PUT',
    ),
  );
  assert.deepEqual([r.id, r.name, r.created], ['vtkMRMLScalarVolumeNode1', 'Dup', false]);
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids')), before);
  const d = await decodeNrrd(
    Buffer.from(
      await (await t.app.request('/slicer/volume?id=vtkMRMLScalarVolumeNode1')).arrayBuffer(),
    ),
  );
  assert.equal(d.volume.scalarType, 'float64');
  // id that matches nothing: a new node named after it (Slicer's behaviour)
  const n = await json(put('/slicer/volume?id=MyBrain', await encodeNrrd(vol())));
  assert.deepEqual([n.name, n.created], ['MyBrain', true]);
});

test('bad uploads: 4xx naming the problem, scene unchanged', async () => {
  const ids = await json(t.app.request('/slicer/mrml/ids'));
  const good = await encodeNrrd(vol());
  const cases: Array<[Uint8Array, number, RegExp]> = [
    [Buffer.from('hello'), 422, /not a NRRD file/],
    [Buffer.alloc(0), 422, /empty/],
    [good.subarray(0, good.length - 3), 422, /truncated/],
    [Buffer.concat([good, Buffer.alloc(4)]), 422, /longer than/],
    [
      Buffer.from(good.toString('latin1').replace('type: short', 'type: quad'), 'latin1'),
      422,
      /unknown type "quad"/,
    ],
    [
      Buffer.from(good.toString('latin1').replace('sizes: 4 3 2', 'sizes: 4 3'), 'latin1'),
      422,
      /sizes has 2 values/,
    ],
  ];
  for (const [body, status, re] of cases) {
    const res = await put('/slicer/volume?id=vtkMRMLScalarVolumeNode1', body, 'PUT');
    assert.equal(res.status, status);
    const j = await json(res);
    assert.equal(j.success, false);
    assert.match(j.message, re);
  }
  const r = await t.app.request('/slicer/volume?id=Labels&labelmap=maybe', {
    method: 'POST',
    body: good as Uint8Array<ArrayBuffer>,
  });
  assert.equal(r.status, 400);
  assert.equal((await json(r)).parameter, 'labelmap');
  const tr = await json(t.app.request('/slicer/transform?name=T', { method: 'POST' }));
  const conflict = await put(`/slicer/volume?id=${tr.id}`, good);
  assert.equal(conflict.status, 409);
  await t.app.request(`/slicer/transform?id=${tr.id}`, { method: 'DELETE' });
  assert.deepEqual(await json(t.app.request('/slicer/mrml/ids')), ids);
});

test('oversize upload → 413 and nothing changes', async () => {
  await withTestApp(volumeLimit(100), async (small) => {
    const res = await small.app.request('/slicer/volume', {
      method: 'POST',
      body: (await encodeNrrd(vol('float64', [4, 4, 4]))) as Uint8Array<ArrayBuffer>,
    });
    assert.equal(res.status, 413);
    assert.match((await json(res)).message, /limit/);
    assert.deepEqual(await json(small.app.request('/slicer/volumes')), []);
  });
});

test('volumeSelection cycles the active volume; DELETE /volume', async () => {
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  for (const n of ['A', 'B', 'C']) await put(`/slicer/volume?name=${n}`, await encodeNrrd(vol()));
  assert.equal(t.ctx.scene.activeVolumeId, 'vtkMRMLScalarVolumeNode3');
  const next = await json(t.app.request('/slicer/volumeSelection?cmd=next'));
  assert.deepEqual([next.name, t.ctx.scene.activeVolumeId], ['A', 'vtkMRMLScalarVolumeNode1']);
  const prev = await json(t.app.request('/slicer/volumeSelection?cmd=previous'));
  assert.equal(prev.name, 'C');
  assert.equal((await json(t.app.request('/slicer/volumeSelection'))).name, 'A');
  assert.equal((await t.app.request('/slicer/volumeSelection?cmd=sideways')).status, 400);
  // GET /volume without id → the first scalar volume (Slicer's vtkMRMLScalarVolumeNode*)
  assert.equal(
    (await t.app.request('/slicer/volume')).headers.get('x-node-id'),
    'vtkMRMLScalarVolumeNode1',
  );
  const del = await t.app.request('/slicer/volume?id=A', { method: 'DELETE' });
  assert.deepEqual(await del.json(), { success: true, id: 'vtkMRMLScalarVolumeNode1' });
  assert.equal(t.ctx.scene.activeVolumeId, undefined);
  assert.equal((await t.app.request('/slicer/volume', { method: 'DELETE' })).status, 400);
  assert.equal((await t.app.request('/slicer/volume?id=A', { method: 'DELETE' })).status, 404);
});

test('sampledata: list, load CT phantom with realistic HU, oblique MR, label map; unknown → 404', async () => {
  const list = await json(t.app.request('/slicer/sampledata'));
  assert.ok(list.some((s: { name: string }) => s.name === 'CTHeadPhantom'));
  const ct = await json(t.app.request('/slicer/sampledata?name=CTHeadPhantom'));
  assert.equal(ct.success, true);
  const node = t.ctx.scene.byId(ct.id);
  assert.ok(node?.kind === 'volume');
  const v = node.volume;
  assert.equal(v.scalarType, 'int16');
  const at = (i: number, j: number, k: number) =>
    v.data[(k * v.dimensions[1] + j) * v.dimensions[0] + i]!;
  const [ci, cj, ck] = v.dimensions.map((d) => Math.floor(d / 2)) as [number, number, number];
  assert.ok(Math.abs(at(0, 0, 0) + 1000) <= 10, `corner is air: ${at(0, 0, 0)}`);
  assert.ok(at(ci, cj, ck + 20) > 15 && at(ci, cj, ck + 20) < 50, `brain ${at(ci, cj, ck + 20)}`);
  let maxHu = -Infinity;
  for (let i = 0; i < v.dimensions[0]; i++) maxHu = Math.max(maxHu, at(i, cj, ck));
  assert.ok(maxHu > 1200 && maxHu < 1500, `skull ${maxHu}`);
  const mr = await json(t.app.request('/slicer/sampledata?name=MRHead'));
  const mrNode = t.ctx.scene.byId(mr.id);
  assert.ok(
    mrNode?.kind === 'volume' &&
      mrNode.volume.scalarType === 'uint16' &&
      mrNode.volume.direction[1] !== 0,
  );
  const lab = await json(
    t.app.request('/slicer/sampledata?name=HeadLabelPhantom', { method: 'POST' }),
  );
  assert.equal(t.ctx.scene.byId(lab.id)?.className, 'vtkMRMLLabelMapVolumeNode');
  const bad = await t.app.request('/slicer/sampledata?name=Nope');
  assert.equal(bad.status, 404);
  assert.match((await json(bad)).message, /Nope was not found/);
});

test('real socket: streamed PUT and GET of a larger volume (raw and gzip)', async () => {
  const s: TestServer = await startTestServer();
  try {
    const big = vol('int16', [64, 64, 32]);
    const body = await encodeNrrd(big);
    const r = await request(s.url)
      .put('/slicer/volume?name=Big')
      .set('content-type', 'application/octet-stream')
      .send(body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = await request(s.url)
      .get(`/slicer/volume?id=${r.body.id}`)
      .buffer(true)
      .parse(binaryParser as never);
    assert.deepEqual(Buffer.from(got.body as Buffer), body);
    const gz = await request(s.url)
      .get(`/slicer/volume?id=${r.body.id}&encoding=gzip`)
      .buffer(true)
      .parse(binaryParser as never);
    const d = await decodeNrrd(gz.body as Buffer);
    assert.deepEqual([...d.volume.data], [...big.data]);
    const gzUp = Buffer.from(
      body.toString('latin1').replace('encoding: raw', 'encoding: gzip'),
      'latin1',
    );
    const gzBody = Buffer.concat([
      gzUp.subarray(0, gzUp.indexOf('\n\n') + 2),
      zlib.gzipSync(body.subarray(body.indexOf('\n\n') + 2)),
    ]);
    const r2 = await request(s.url).post('/slicer/volume?name=Gz').send(gzBody);
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
  } finally {
    await s.close();
  }
});

test('real socket: truncated body (client hangs up) and over-limit Content-Length change nothing', async () => {
  const s: TestServer = await startTestServer(volumeLimit(64 * 64 * 32 * 2));
  try {
    const net = await import('node:net');
    const body = await encodeNrrd(vol('int16', [64, 64, 32]));
    const port = Number(new URL(s.url).port);
    const reply = await new Promise<string>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.write(
          `PUT /slicer/volume?name=Cut HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        sock.write(body.subarray(0, body.length >> 1));
        sock.end();
      });
      let got = '';
      sock.on('data', (d) => (got += d.toString('latin1')));
      sock.on('close', () => resolve(got));
      sock.on('error', () => resolve(got));
    });
    assert.ok(reply === '' || reply.startsWith('HTTP/1.1 400'), reply.slice(0, 80));
    const big = await request(s.url)
      .post('/slicer/volume?name=Big')
      .send(await encodeNrrd(vol('int16', [64, 64, 64])));
    assert.equal(big.status, 413);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await request(s.url).get('/slicer/volumes')).body, []);
    assert.deepEqual(s.ctx.scene.nodes(), []);
  } finally {
    await s.close();
  }
});

test('a raw NRRD whose Content-Length is too short for its declared sizes is refused before allocating', async () => {
  await withTestApp({}, async (t) => {
    const header =
      'NRRD0004\ntype: int16\ndimension: 3\nsizes: 1024 1024 1024\nencoding: raw\nendian: little\n\n';
    const body = Buffer.concat([Buffer.from(header, 'latin1'), Buffer.alloc(64)]);
    const res = await t.app.request('/slicer/volume?name=Liar', {
      method: 'POST',
      body,
      headers: { 'content-length': String(body.length) },
    });
    assert.equal(res.status, 422);
    assert.match(
      (await json(res)).message,
      /declares 2147483648 bytes of raw voxel data, but the body has only 64/,
    );
    assert.deepEqual(t.ctx.scene.nodes(), []);
  });
});

test('GET /volume?name= answers that exact name or 404, never another volume; DELETE by name', async () => {
  await withTestApp({ noSamples: true }, async (own) => {
    const up = async (name: string) =>
      json(
        own.app.request(`/slicer/volume?name=${encodeURIComponent(name)}`, {
          method: 'POST',
          body: (await encodeNrrd(vol())) as Uint8Array<ArrayBuffer>,
        }),
      );
    const a = await up('Alpha');
    const star = await up('Be*');
    const b = await up('Beta'); // active
    const get = (q: string) => own.app.request(`/slicer/volume?${q}`);
    const idOf = async (q: string) => {
      const r = await get(q);
      await r.arrayBuffer();
      return r.status === 200 ? r.headers.get('x-node-id') : r.status;
    };
    assert.equal(await idOf('name=Alpha'), a.id);
    assert.equal(await idOf('name=Be*'), star.id, 'a name is exact, not a glob');
    assert.equal(await idOf('name=alpha'), 404, 'case matters');
    assert.equal(await idOf('name=Nope'), 404, 'not the active volume');
    assert.equal(await idOf(`id=${a.id}&name=Alpha`), a.id);
    assert.equal(await idOf(`id=${a.id}&name=Beta`), 404, 'id and name disagree');
    // Slicer's default vtkMRMLScalarVolumeNode*: the first scalar volume, not the active one
    // (issue #15, docs/slicer-compat.md).
    assert.equal(await idOf(''), a.id, 'no id, no name: the first scalar volume');
    const del = await own.app.request('/slicer/volume?name=Alpha', { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(((await del.json()) as { id: string }).id, a.id);
    assert.equal(await idOf('name=Alpha'), 404);
    assert.equal(await idOf('name=Beta'), b.id);
  });
});
