/**
 * Token and CSRF guards over every route, enumerated from the route tables (`slicerRoutes`,
 * `dicomRoutes`, `staticRoutes`), so routes added later are covered without editing this file:
 * - every mutating request (POST/PUT/DELETE/PATCH, and GETs of routes flagged `mutates`) fails
 *   with 401 + WWW-Authenticate without a token, with a wrong token and with the read-only token,
 *   and changes nothing;
 * - every GET that is not flagged `mutates` leaves the scene and the archive as they were when
 *   sent without a token (so a forgotten `mutates` flag is caught);
 * - cross-origin (Origin or Sec-Fetch-Site) mutating requests fail even with the token.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { makeTestApp, type TestApp, withTestApp } from '../helpers/app.js';
import { slicerRoutes } from '../../src/http/slicer.js';
import { dicomRoutes } from '../../src/http/dicom.js';
import { staticRoutes } from '../../src/http/static.js';
import type { Method, RouteSpec } from '../../src/http/routes.js';
import { MUTATING } from '../../src/http/guards.js';
import { loadSample } from '../../src/scene/samples.js';
import { syntheticSeries } from '../../src/dicom/sample.js';

const TOKEN = 'rw-token-0123456789';
const READ = 'ro-token-0123456789';
const sample = syntheticSeries({ rows: 8, columns: 8, slices: 2, seed: 'auth-test' });

let t: TestApp;
before(async () => {
  t = await makeTestApp({ token: TOKEN, readToken: READ, enableExec: true, allowShutdown: true });
  t.ctx.requestShutdown = () => {}; // DELETE /slicer/system must not stop the test runner
  loadSample(t.ctx.scene, 'CTHeadPhantom');
  for (const f of sample.files) await t.ctx.archive!().ingest(f, { durable: false });
});
after(async () => t.close());

interface Probe {
  family: string;
  spec: RouteSpec;
  method: Method;
  url: string;
}

/** Every (route, method) of every family, with `:params` filled with stored UIDs. */
function probes(): Probe[] {
  const fill = (p: string) =>
    p
      .replace(':study', sample.studyUid)
      .replace(':series', sample.seriesUid)
      .replace(':sop', sample.sopUids[0]!)
      .replace(':frames', '1')
      .replace(':tag', '7FE00010')
      .replace(/:[a-zA-Z]+/g, 'x')
      .replace('/*', '/index.html');
  const families: Array<[string, RouteSpec[]]> = [
    ['/slicer', slicerRoutes(t.ctx)],
    ['/dicom', dicomRoutes(t.ctx)],
    ['', staticRoutes(t.ctx)],
  ];
  const out: Probe[] = [];
  for (const [family, specs] of families) {
    for (const spec of specs) {
      for (const method of Array.isArray(spec.method) ? spec.method : [spec.method]) {
        out.push({
          family,
          spec,
          method,
          url: `${family}${fill(spec.path)}`.replace(/\/$/, '') || '/',
        });
      }
    }
  }
  return out;
}

/** Query strings that make Slicer's GET-mutating routes act (names, commands, matrices). */
const ACTING_QUERIES = [
  '',
  '?name=CTHeadPhantom',
  '?cmd=next',
  '?m=1,0,0,0,1,0,0,0,1&p=1,2,3&q=1,0,0,0',
  '?id=vtkMRMLScalarVolumeNode1&name=x',
  '?viewersLayout=OneUp3D&contents=viewers',
];

/** Does a GET with this query count as mutating for the route? (evaluates the `mutates` predicate) */
async function flaggedMutating(spec: RouteSpec, query: string): Promise<boolean> {
  if (spec.mutates === undefined || spec.mutates === false) return false;
  if (spec.mutates === true) return true;
  const app = new Hono();
  let result = false;
  const pred = spec.mutates;
  app.get('/*', (c) => {
    result = pred(c);
    return c.text('');
  });
  await app.request(`/x${query}`);
  return result;
}

/** Scene, archive and the GUI layout (view geometry moved by render GETs is deliberately not counted). */
const state = async () => ({
  scene: t.ctx.scene.version,
  instances: (await t.ctx.archive!().counts()).instances,
  layout: (t.ctx as { views?: { layout?: unknown; contents?: unknown } }).views?.layout,
  contents: (t.ctx as { views?: { contents?: unknown } }).views?.contents,
});

test('the route tables are enumerated (sanity)', () => {
  const all = probes();
  assert.ok(all.length > 60, `only ${all.length} probes`);
  assert.ok(all.some((p) => p.url === '/slicer/exec' && p.method === 'POST'));
  assert.ok(all.some((p) => p.url.startsWith('/dicom/studies') && p.method === 'POST'));
  const flagged = all.filter((p) => p.spec.mutates).map((p) => p.spec.path);
  for (const p of ['/sampledata', '/volumeSelection', '/tracking', '/gui'])
    assert.ok(flagged.includes(p), `${p} is not flagged mutates`);
});

test('every mutating request without, with a wrong or with the read-only token: 401 + WWW-Authenticate, nothing changed', async () => {
  let checked = 0;
  for (const p of probes()) {
    const queries = MUTATING.has(p.method) ? ['?id=vtkMRMLScalarVolumeNode1&name=x'] : [];
    if (!MUTATING.has(p.method))
      for (const q of ACTING_QUERIES) if (await flaggedMutating(p.spec, q)) queries.push(q);
    for (const q of queries) {
      for (const auth of [
        undefined,
        'Bearer wrong-token-000000',
        `Bearer ${READ}`,
        `Bearer ${TOKEN}x`,
        'Basic dXNlcjpwYXNz',
        'Bearer',
      ]) {
        const before = await state();
        const headers: Record<string, string> = {
          'content-type': p.url.endsWith('/exec')
            ? 'application/javascript'
            : 'application/octet-stream',
        };
        if (auth) headers.authorization = auth;
        const res = await t.app.request(p.url + q, {
          method: p.method,
          headers,
          body: MUTATING.has(p.method) ? 'x' : undefined,
        });
        assert.equal(
          res.status,
          401,
          `${p.method} ${p.url}${q} with ${auth ?? 'no token'}: ${res.status} ${await res.text()}`,
        );
        assert.match(
          res.headers.get('www-authenticate') ?? '',
          /^Bearer realm=/,
          `${p.method} ${p.url}`,
        );
        assert.deepEqual(
          await state(),
          before,
          `${p.method} ${p.url}${q} changed state without a valid token`,
        );
        checked++;
      }
    }
  }
  assert.ok(checked > 150, `only ${checked} checks`);
  // HEAD is served by GET handlers: the GET-mutating routes guard it too.
  for (const url of [
    '/slicer/volumeSelection',
    '/slicer/tracking?p=1,2,3',
    '/slicer/sampledata?name=CTHeadPhantom',
    '/slicer/gui?viewersLayout=OneUp3D',
  ]) {
    const before = await state();
    const res = await t.app.request(url, { method: 'HEAD' });
    assert.equal(res.status, 401, `HEAD ${url}`);
    assert.deepEqual(await state(), before, `HEAD ${url}`);
  }
});

test('GETs not flagged mutates change nothing (a forgotten flag is caught)', async () => {
  for (const p of probes().filter((x) => x.method === 'GET')) {
    for (const q of ACTING_QUERIES) {
      if (await flaggedMutating(p.spec, q)) continue;
      const before = await state();
      const res = await t.app.request(p.url + q);
      await res.body?.cancel();
      assert.ok(res.status < 500, `GET ${p.url}${q}: ${res.status}`);
      assert.deepEqual(
        await state(),
        before,
        `GET ${p.url}${q} changed state but the route is not flagged mutates`,
      );
    }
  }
});

test('the read-write token passes the guards of every mutating route (not 401/403)', async () => {
  for (const p of probes()) {
    if (!MUTATING.has(p.method) && !p.spec.mutates) continue;
    if (p.url === '/slicer/system' && p.method === 'DELETE') continue; // would request a shutdown (harmless here, but noisy)
    const q = p.spec.mutates && !MUTATING.has(p.method) ? '?name=CTHeadPhantom' : '';
    const res = await t.app.request(p.url + q, {
      method: p.method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': p.url.endsWith('/exec') ? 'application/javascript' : 'application/json',
      },
      body: MUTATING.has(p.method) ? '{}' : undefined,
    });
    await res.body?.cancel();
    assert.ok(res.status !== 401 && res.status !== 403, `${p.method} ${p.url}: ${res.status}`);
    assert.ok(res.status < 500, `${p.method} ${p.url}: ${res.status}`);
  }
});

test('CSRF: cross-origin simple requests (exec, DELETE, STOW, GET-mutating) fail even with the token; same-origin passes', async () => {
  const evil = { origin: 'http://evil.example' };
  if (!t.ctx.scene.nodes().some((n) => n.kind === 'volume'))
    loadSample(t.ctx.scene, 'CTHeadPhantom'); // earlier tests may have cleared the scene
  if ((await t.ctx.archive!().counts()).instances === 0)
    for (const f of sample.files) await t.ctx.archive!().ingest(f, { durable: false });
  const before = await state();
  const cases: Array<[string, RequestInit]> = [
    [
      '/slicer/exec',
      {
        method: 'POST',
        body: '__execResult = 1',
        headers: { ...evil, 'content-type': 'text/plain' },
      },
    ],
    [
      '/slicer/exec',
      {
        method: 'POST',
        body: '__execResult = 1',
        headers: {
          ...evil,
          'content-type': 'application/javascript',
          authorization: `Bearer ${TOKEN}`,
        },
      },
    ],
    ['/slicer/mrml', { method: 'DELETE', headers: { ...evil, authorization: `Bearer ${TOKEN}` } }],
    [
      `/dicom/studies/${sample.studyUid}`,
      { method: 'DELETE', headers: { ...evil, authorization: `Bearer ${TOKEN}` } },
    ],
    [
      '/dicom/studies',
      {
        method: 'POST',
        body: 'x',
        headers: { ...evil, 'content-type': 'multipart/related; boundary=x' },
      },
    ],
    [
      '/slicer/sampledata?name=CTHeadPhantom',
      { headers: { ...evil, authorization: `Bearer ${TOKEN}` } },
    ],
    [
      '/slicer/volumeSelection?cmd=next',
      { headers: { 'sec-fetch-site': 'cross-site', authorization: `Bearer ${TOKEN}` } },
    ],
    [
      '/slicer/tracking?p=1,2,3',
      { headers: { 'sec-fetch-site': 'same-site', authorization: `Bearer ${TOKEN}` } },
    ],
    [
      '/slicer/fiducial?r=1&a=2&s=3',
      {
        method: 'POST',
        headers: { 'sec-fetch-site': 'cross-site', authorization: `Bearer ${TOKEN}` },
      },
    ],
  ];
  for (const [url, init] of cases) {
    const res = await t.app.request(url, init);
    assert.equal(res.status, 403, `${init.method ?? 'GET'} ${url}: ${res.status}`);
    assert.match(((await res.json()) as { message: string }).message, /cross-(origin|site)/);
  }
  assert.deepEqual(await state(), before);
  // Same origin (the viewer page) and the browser's own navigation pass.
  const same = await t.app.request('http://localhost/slicer/volumeSelection', {
    headers: {
      origin: 'http://localhost',
      'sec-fetch-site': 'same-origin',
      authorization: `Bearer ${TOKEN}`,
    },
  });
  assert.equal(same.status, 200);
  const typed = await t.app.request('/slicer/volumeSelection', {
    headers: { 'sec-fetch-site': 'none', authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(typed.status, 200);
  // Reads from other sites stay possible (no token needed with --auth mutating).
  assert.equal(
    (await t.app.request('/slicer/volumes', { headers: { 'sec-fetch-site': 'cross-site' } }))
      .status,
    200,
  );
});

test('without a token configured, GET-mutating routes are still CSRF-guarded', async () => {
  await withTestApp({}, async (open) => {
    loadSample(open.ctx.scene, 'CTHeadPhantom');
    const v = open.ctx.scene.version;
    const img = await open.app.request('/slicer/sampledata?name=MRHeadObliquePhantom', {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(img.status, 403);
    assert.equal(open.ctx.scene.version, v);
    assert.equal(
      (await open.app.request('/slicer/sampledata?name=MRHeadObliquePhantom')).status,
      200,
    );
    assert.equal(
      (
        await open.app.request('/slicer/sampledata', {
          headers: { 'sec-fetch-site': 'cross-site' },
        })
      ).status,
      200,
      'the list is a read',
    );
  });
});

test('--auth all: the read-only token reads but cannot act through a GET-mutating route', async () => {
  await withTestApp({ token: TOKEN, readToken: READ, auth: 'all' }, async (all) => {
    loadSample(all.ctx.scene, 'CTHeadPhantom');
    const v = all.ctx.scene.version;
    assert.equal(
      (await all.app.request('/slicer/volumes', { headers: { authorization: `Bearer ${READ}` } }))
        .status,
      200,
    );
    const act = await all.app.request('/slicer/volumeSelection?cmd=next', {
      headers: { authorization: `Bearer ${READ}` },
    });
    assert.equal(act.status, 401);
    assert.match(act.headers.get('www-authenticate') ?? '', /Bearer/);
    const act2 = await all.app.request(`/slicer/tracking?p=1,2,3&access_token=${READ}`);
    assert.equal(act2.status, 401);
    assert.equal(all.ctx.scene.version, v);
    assert.equal(
      (
        await all.app.request('/slicer/volumeSelection?cmd=next', {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).status,
      200,
    );
  });
});
