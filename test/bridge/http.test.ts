/** /slicer/dicom/* and /slicer/accessDICOMwebStudy over HTTP, including a pull from a second server. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { makeTestApp, startTestServer, type TestApp, type TestServer } from '../helpers/app.js';
import { BRAIN, readAll } from './helpers.js';

const BRAIN_STUDY = '0.0.0.0.2.8811.20010413115754.12432';

describe('/slicer/dicom endpoints (in-process)', () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp({ dicomwebRemotes: ['http://127.0.0.1:9'] });
    for (const b of readAll(BRAIN)) await t.ctx.archive!().ingest(b, { durable: false });
  });
  after(() => t.close());
  const req = (path: string, init?: RequestInit) => t.app.request(`http://127.0.0.1${path}`, init);
  const post = (path: string, body?: unknown) =>
    req(path, {
      method: 'POST',
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
    });

  it('GET /slicer/dicom/loadables lists the series and why', async () => {
    const res = await req(`/slicer/dicom/loadables?studyInstanceUID=${BRAIN_STUDY}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      series: Array<{
        loadable: boolean;
        instances: number;
        volumes: Array<{ dimensions: number[] }>;
      }>;
    };
    assert.equal(body.series.length, 1);
    assert.equal(body.series[0]!.loadable, true);
    assert.deepEqual(body.series[0]!.volumes[0]!.dimensions, [256, 256, 19]);
  });

  it('POST /slicer/dicom/load adds the volume; save writes a new series that loads back identically', async () => {
    const res = await post(`/slicer/dicom/load?studyInstanceUID=${BRAIN_STUDY}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      success: boolean;
      loadedNodeIDs: string[];
      warnings: string[];
    };
    assert.equal(body.success, true);
    assert.equal(body.loadedNodeIDs.length, 1);
    const id = body.loadedNodeIDs[0]!;
    const vols = (await (await req('/slicer/volumes')).json()) as Array<{
      id: string;
      dimensions: number[];
    }>;
    assert.deepEqual(vols.find((v) => v.id === id)!.dimensions, [256, 256, 19]);

    const s = await post(`/slicer/dicom/save?id=${id}&seriesDescription=Copy`);
    assert.equal(s.status, 200);
    const saved = (await s.json()) as {
      studyInstanceUID: string;
      seriesInstanceUID: string;
      instances: number;
    };
    assert.equal(saved.studyInstanceUID, BRAIN_STUDY);
    assert.equal(saved.instances, 19);
    // Visible over DICOMweb
    const q = await req(
      `/dicom/studies/${BRAIN_STUDY}/series/${saved.seriesInstanceUID}/instances`,
    );
    assert.equal(((await q.json()) as unknown[]).length, 19);
    const l = await post(
      `/slicer/dicom/load?studyInstanceUID=${BRAIN_STUDY}&seriesInstanceUID=${saved.seriesInstanceUID}`,
    );
    const id2 = ((await l.json()) as { loadedNodeIDs: string[] }).loadedNodeIDs[0]!;
    const a = Buffer.from(await (await req(`/slicer/volume?id=${id}`)).arrayBuffer());
    const b = Buffer.from(await (await req(`/slicer/volume?id=${id2}`)).arrayBuffer());
    const data = (x: Buffer) => x.subarray(x.indexOf('\n\n') + 2);
    assert.ok(data(a).equals(data(b)), 'voxels differ after save → load');
  });

  it('bad parameters are 4xx naming the parameter', async () => {
    const cases: Array<[string, number, string | undefined, unknown?]> = [
      ['/slicer/dicom/load', 400, 'studyInstanceUID'],
      ['/slicer/dicom/load?studyInstanceUID=abc', 400, 'studyInstanceUID'],
      [
        `/slicer/dicom/load?studyInstanceUID=${BRAIN_STUDY}&seriesInstanceUID=1.2.x`,
        400,
        'seriesInstanceUID',
      ],
      ['/slicer/dicom/load?studyInstanceUID=1.2.3', 404, undefined],
      ['/slicer/dicom/save?id=nope', 404, undefined],
      ['/slicer/dicom/save?studyInstanceUID=1.2.3.4', 404, undefined],
      [
        '/slicer/accessDICOMwebStudy',
        400,
        'studyUID',
        { dicomWEBPrefix: 'http://127.0.0.1:9/dicom' },
      ],
      ['/slicer/accessDICOMwebStudy', 400, 'dicomWEBPrefix', { studyUID: '1.2.3' }],
      [
        '/slicer/accessDICOMwebStudy',
        400,
        'studyUID',
        { dicomWEBPrefix: 'http://127.0.0.1:9', studyUID: 'x;y' },
      ],
      [
        '/slicer/accessDICOMwebStudy',
        400,
        'dicomWEBPrefix',
        { dicomWEBPrefix: 'not a url', studyUID: '1.2.3' },
      ],
    ];
    for (const [path, status, parameter, body] of cases) {
      const res = await post(path, body);
      const j = (await res.json()) as { success: boolean; parameter?: string; message: string };
      assert.equal(res.status, status, `${path} ${JSON.stringify(body)}: ${j.message}`);
      assert.equal(j.success, false);
      if (parameter) assert.equal(j.parameter, parameter, j.message);
    }
    const get = await req('/slicer/dicom/loadables');
    assert.equal(get.status, 400);
  });

  it('accessDICOMwebStudy toward an origin not allowed is 403 naming --dicomweb-remote', async () => {
    const res = await post('/slicer/accessDICOMwebStudy', {
      dicomWEBPrefix: 'http://example.org:8042',
      dicomWEBStore: 'dicom-web',
      studyUID: '1.2.3',
      accessToken: 'x',
    });
    assert.equal(res.status, 403);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /--dicomweb-remote http:\/\/example\.org:8042/,
    );
  });

  it('an allowed but unreachable remote is 502', async () => {
    const res = await post('/slicer/accessDICOMwebStudy', {
      dicomWEBPrefix: 'http://127.0.0.1:9',
      dicomWEBStore: 'dicom',
      studyUID: '1.2.3',
    });
    assert.equal(res.status, 502);
  });
});

describe('accessDICOMwebStudy between two voxelgate servers', () => {
  let source: TestServer;
  let sink: TestServer;
  let silent: http.Server;
  let silentOrigin = '';
  let picky: http.Server; // refuses whole-study retrieval, proxies the rest to the source
  let pickyOrigin = '';
  const series = syntheticSeries({ rows: 32, columns: 32, slices: 6, seed: 'bridge-remote' });
  before(async () => {
    source = await startTestServer({ token: 'source-token-123' });
    const boundary = 'bridgetest';
    const stow = await fetch(`${source.url}/dicom/studies`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        authorization: 'Bearer source-token-123',
      },
      body: multipartBody(
        series.files.map((f) => ({ contentType: 'application/dicom', data: f })),
        boundary,
      ),
    });
    assert.equal(stow.status, 200, await stow.text());
    silent = http.createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentOrigin = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    picky = http.createServer((req, res) => {
      if (
        /^\/dicom\/studies\/[0-9.]+$/.test(req.url ?? '') ||
        /\/series\/[0-9.]+$/.test(req.url ?? '')
      ) {
        res.writeHead(406).end();
        return;
      }
      fetch(`${source.url}${req.url}`, {
        headers: { accept: req.headers.accept ?? '*/*' },
      }).then(
        async (r) => {
          res.writeHead(r.status, {
            'content-type': r.headers.get('content-type') ?? 'application/octet-stream',
          });
          res.end(Buffer.from(await r.arrayBuffer()));
        },
        () => res.writeHead(502).end(),
      );
    });
    await new Promise<void>((r) => picky.listen(0, '127.0.0.1', r));
    pickyOrigin = `http://127.0.0.1:${(picky.address() as { port: number }).port}`;
    sink = await startTestServer({
      dicomwebRemotes: [source.url, silentOrigin, pickyOrigin],
      dicomwebTimeoutMs: 500,
    });
  });
  after(async () => {
    await sink?.close();
    await source?.close();
    silent?.closeAllConnections();
    await new Promise((r) => silent?.close(r));
    picky?.closeAllConnections();
    await new Promise((r) => picky?.close(r));
  });

  it('pulls the study, stores it locally and loads its series', async () => {
    const res = await fetch(`${sink.url}/slicer/accessDICOMwebStudy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        dicomWEBPrefix: source.url,
        dicomWEBStore: 'dicom',
        studyUID: series.studyUid,
        accessToken: 'source-token-123',
      }),
    });
    const body = (await res.json()) as {
      success: boolean;
      instances: number;
      loadedNodeIDs: string[];
      via: string;
      message?: string;
    };
    assert.equal(res.status, 200, body.message);
    assert.equal(body.instances, 6);
    assert.equal(body.via, 'study');
    assert.equal(body.loadedNodeIDs.length, 1);
    const local = await fetch(`${sink.url}/dicom/studies/${series.studyUid}/instances`);
    assert.equal(((await local.json()) as unknown[]).length, 6);
    const vols = (await (await fetch(`${sink.url}/slicer/volumes`)).json()) as Array<{
      id: string;
      dimensions: number[];
      scalarType: string;
    }>;
    const v = vols.find((x) => x.id === body.loadedNodeIDs[0])!;
    assert.deepEqual(v.dimensions, [32, 32, 6]);
    assert.equal(v.scalarType, 'int16'); // uint16 stored, intercept −1024 → HU in int16
    // Pulling again stores nothing new but loads again.
    const again = await fetch(`${sink.url}/slicer/accessDICOMwebStudy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        dicomWEBPrefix: source.url,
        dicomWEBStore: 'dicom',
        studyUID: series.studyUid,
        accessToken: 'source-token-123',
      }),
    });
    const b2 = (await again.json()) as {
      instances: number;
      loadedNodeIDs: string[];
      message?: string;
    };
    assert.equal(again.status, 200, b2.message);
    assert.equal(b2.instances, 6);
    assert.equal(b2.loadedNodeIDs.length, 1);
  });

  it('falls back to per-instance retrieval when the server refuses study and series retrieval', async () => {
    const other = syntheticSeries({
      rows: 16,
      columns: 16,
      slices: 3,
      seed: 'bridge-remote-fallback',
    });
    const boundary = 'fb';
    const stow = await fetch(`${source.url}/dicom/studies`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        authorization: 'Bearer source-token-123',
      },
      body: multipartBody(
        other.files.map((f) => ({ contentType: 'application/dicom', data: f })),
        boundary,
      ),
    });
    assert.equal(stow.status, 200);
    const res = await fetch(`${sink.url}/slicer/accessDICOMwebStudy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        dicomWEBPrefix: pickyOrigin,
        dicomWEBStore: 'dicom',
        studyUID: other.studyUid,
      }),
    });
    const body = (await res.json()) as {
      instances: number;
      via: string;
      loadedNodeIDs: string[];
      message?: string;
    };
    assert.equal(res.status, 200, body.message);
    assert.equal(body.via, 'instances');
    assert.equal(body.instances, 3);
    assert.equal(body.loadedNodeIDs.length, 1);
  });

  it('a study over the size limit is refused (502) and nothing is stored', async () => {
    const other = syntheticSeries({ rows: 32, columns: 32, slices: 4, seed: 'bridge-remote-big' });
    const boundary = 'big';
    await fetch(`${source.url}/dicom/studies`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        authorization: 'Bearer source-token-123',
      },
      body: multipartBody(
        other.files.map((f) => ({ contentType: 'application/dicom', data: f })),
        boundary,
      ),
    });
    const limits = sink.ctx.config.limits;
    const saved = limits.stow;
    limits.stow = 5000;
    try {
      const res = await fetch(`${sink.url}/slicer/accessDICOMwebStudy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          dicomWEBPrefix: source.url,
          dicomWEBStore: 'dicom',
          studyUID: other.studyUid,
        }),
      });
      assert.equal(res.status, 502);
      assert.match(((await res.json()) as { message: string }).message, /larger than the limit/);
    } finally {
      limits.stow = saved;
    }
    const local = await fetch(`${sink.url}/dicom/studies?StudyInstanceUID=${other.studyUid}`);
    const text = await local.text();
    assert.ok(
      local.status === 204 ||
        (local.status === 200 && (JSON.parse(text) as unknown[]).length === 0),
      `${local.status} ${text.slice(0, 200)}`,
    );
  });

  it('a remote that does not answer in time is 504', async () => {
    const res = await fetch(`${sink.url}/slicer/accessDICOMwebStudy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dicomWEBPrefix: silentOrigin, studyUID: '1.2.3' }),
    });
    assert.equal(res.status, 504);
    assert.match(((await res.json()) as { message: string }).message, /--dicomweb-timeout/);
  });

  it('an unknown remote study is 404', async () => {
    const res = await fetch(`${sink.url}/slicer/accessDICOMwebStudy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dicomWEBPrefix: `${source.url}/dicom`, studyUID: '1.2.3.999' }),
    });
    assert.equal(res.status, 404);
  });
});
