/**
 * Jobs over HTTP (in-process app, real worker pool): start/wait/list/get, bad input naming the
 * field, cancel leaving the scene unchanged, a crashing or never-yielding plug-in failing alone,
 * the full queue answering 503, direct calls, and plug-ins loaded from the examples folder.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { registerPluginModules } from '../../src/jobs/plugins.js';
import type { LinearTransformNode, VolumeNode } from '../../src/scene/scene.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { rampVolume } from '../helpers/phantom.js';

const EXAMPLES = ['add.mjs', 'progress.mjs', 'threshold-filter.mjs'].map((f) =>
  path.join(PACKAGE_ROOT, 'examples', f),
);
const MISBEHAVING = path.join(PACKAGE_ROOT, 'test/fixtures/plugins/misbehaving.mjs');

async function appWithPlugins(overrides = {}): Promise<TestApp> {
  const t = await makeTestApp({ jobTimeoutMs: 60_000, ...overrides });
  await registerPluginModules(t.ctx.functions, [...EXAMPLES, MISBEHAVING]);
  return t;
}

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

function addRamp(t: TestApp, name = 'Ramp'): VolumeNode {
  return t.ctx.scene.add<VolumeNode>({
    kind: 'volume',
    className: 'vtkMRMLScalarVolumeNode',
    name,
    volume: rampVolume([12, 10, 8], [1, 10, 100, 0]),
    display: {},
    attributes: {},
  });
}

async function waitState(
  t: TestApp,
  id: string,
  states: string[],
): Promise<Record<string, unknown>> {
  for (;;) {
    const j = (await (await t.app.request(`/slicer/jobs/${id}`)).json()) as Record<string, unknown>;
    if (states.includes(j.state as string)) return j;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('GET /slicer/functions lists built-ins and plug-ins with JSON Schemas', async () => {
  const t = await appWithPlugins();
  try {
    const res = await t.app.request('/slicer/functions');
    assert.equal(res.status, 200);
    const list = (await res.json()) as Array<Record<string, unknown>>;
    const names = list.map((f) => f.name);
    for (const n of [
      'median',
      'gaussian',
      'resample',
      'crop',
      'downsample',
      'register',
      'add',
      'progress',
    ])
      assert.ok(names.includes(n), `${n} listed`);
    const median = list.find((f) => f.name === 'median')!;
    assert.equal((median.params as { type: string }).type, 'object');
    assert.equal(median.source, 'builtin');
    const progress = list.find((f) => f.name === 'progress')!;
    assert.equal(progress.streams, true);
    assert.equal(progress.source, 'plugin');
  } finally {
    await t.close();
  }
});

test('POST /slicer/jobs: 202 + Location, then ?wait answers 200 with the finished job', async () => {
  const t = await appWithPlugins();
  try {
    const res = await t.app.request(
      '/slicer/jobs',
      json({ function: 'add', params: { a: 2, b: 3 } }),
    );
    assert.equal(res.status, 202);
    const j = (await res.json()) as Record<string, any>;
    assert.equal(res.headers.get('location'), `/slicer/jobs/${j.id}`);
    assert.deepEqual(j.links, {
      self: `/slicer/jobs/${j.id}`,
      events: `/slicer/jobs/${j.id}/events`,
    });
    assert.ok(['queued', 'running', 'succeeded'].includes(j.state));
    const done = await waitState(t, j.id, ['succeeded', 'failed']);
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { nodeIds: [], values: 5 });
    assert.equal(done.progress, 1);
    for (const k of ['createdAt', 'startedAt', 'finishedAt']) assert.ok(done[k], k);

    const w = await t.app.request(
      '/slicer/jobs?wait=60',
      json({ function: 'add', params: { a: 1, b: 1 } }),
    );
    assert.equal(w.status, 200);
    const wj = (await w.json()) as Record<string, any>;
    assert.equal(wj.state, 'succeeded');
    assert.equal(wj.result.values, 2);

    const list = (await (await t.app.request('/slicer/jobs')).json()) as Array<{ id: string }>;
    assert.deepEqual(
      list.map((x) => x.id),
      [wj.id, j.id],
    );
  } finally {
    await t.close();
  }
});

test('bad job requests are 4xx JSON naming the field', async () => {
  const t = await appWithPlugins();
  try {
    addRamp(t);
    t.ctx.scene.add<LinearTransformNode>({
      kind: 'linearTransform',
      className: 'vtkMRMLLinearTransformNode',
      name: 'T',
      matrixToParent: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      attributes: {},
    });
    const cases: Array<[unknown, number, string | undefined, RegExp]> = [
      [{ function: 'nope' }, 404, undefined, /no function named "nope"/],
      [{ params: {} }, 400, 'function', /function/],
      [{ function: 'median', params: { radius: 'x' } }, 400, 'params.radius', /integer/],
      [{ function: 'median', params: { radius: 99 } }, 400, 'params.radius', /<= 5/],
      [{ function: 'median', params: { radus: 1 } }, 400, 'params.radus', /not a parameter/],
      [{ function: 'add', params: { a: 1 } }, 400, 'params.b', /required/],
      [{ function: 'median', params: { volume: 'T' } }, 400, 'params.volume', /not a volume/],
      [
        { function: 'median', params: { volume: 'Nowhere' } },
        404,
        'params.volume',
        /no volume node/,
      ],
      [{ function: 'median', params: [] }, 400, 'params', /object/],
      [{ function: 'median', extra: 1 }, 400, 'extra', /not a field/],
    ];
    for (const [body, status, parameter, message] of cases) {
      const res = await t.app.request('/slicer/jobs', json(body));
      const b = (await res.json()) as { success: boolean; message: string; parameter?: string };
      assert.equal(res.status, status, JSON.stringify(body) + ' ' + b.message);
      assert.equal(b.success, false);
      assert.equal(b.parameter, parameter, JSON.stringify(body));
      assert.match(b.message, message);
    }
    const notJson = await t.app.request('/slicer/jobs', {
      method: 'POST',
      body: '{',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(notJson.status, 400);
    assert.equal((await t.app.request('/slicer/jobs/job999')).status, 404);
    assert.equal((await t.app.request('/slicer/jobs/job999', { method: 'DELETE' })).status, 404);
  } finally {
    await t.close();
  }
});

test('cancel stops a running job, discards its results and leaves the scene unchanged', async () => {
  const t = await appWithPlugins();
  try {
    addRamp(t);
    const before = t.ctx.scene.nodes().map((n) => n.id);
    const res = await t.app.request(
      '/slicer/jobs',
      json({ function: 'progress', params: { steps: 1000, delayMs: 20 } }),
    );
    const { id } = (await res.json()) as { id: string };
    await waitState(t, id, ['running']);
    const del = await t.app.request(`/slicer/jobs/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(((await del.json()) as { state: string }).state, 'cancelled');
    const again = await t.app.request(`/slicer/jobs/${id}`, { method: 'DELETE' });
    assert.equal(again.status, 409);
    assert.equal(((await again.json()) as { code: string }).code, 'conflict');
    const j = await waitState(t, id, ['cancelled']);
    assert.equal(j.result, undefined);
    assert.deepEqual(
      t.ctx.scene.nodes().map((n) => n.id),
      before,
    );
    // A filter cancelled mid-run adds nothing either (its staged node is dropped).
    const f = await t.app.request(
      '/slicer/jobs',
      json({ function: 'thresholdMask', params: { lower: 0 } }),
    );
    const fid = ((await f.json()) as { id: string }).id;
    await t.app.request(`/slicer/jobs/${fid}`, { method: 'DELETE' });
    await waitState(t, fid, ['cancelled', 'succeeded']);
    await new Promise((r) => setTimeout(r, 100));
    const st = ((await (await t.app.request(`/slicer/jobs/${fid}`)).json()) as { state: string })
      .state;
    if (st === 'cancelled')
      assert.deepEqual(
        t.ctx.scene.nodes().map((n) => n.id),
        before,
      );
  } finally {
    await t.close();
  }
});

test('a plug-in that throws, crashes its worker, spins or hangs fails alone; the server keeps serving', async () => {
  const t = await appWithPlugins({ jobTimeoutMs: 1500 });
  try {
    const run = async (fn: string, params = {}) => {
      const r = await t.app.request('/slicer/jobs?wait=30', json({ function: fn, params }));
      return (await r.json()) as { state: string; error?: { code: string; message: string } };
    };
    const thrown = await run('fails');
    assert.equal(thrown.state, 'failed');
    assert.deepEqual(thrown.error, { code: 'function_error', message: 'boom' });
    const crashed = await run('crashes');
    assert.equal(crashed.state, 'failed');
    assert.equal(crashed.error?.code, 'worker_crashed');
    const spun = await run('spins');
    assert.equal(spun.state, 'failed');
    assert.equal(spun.error?.code, 'timeout');
    const hung = await run('hangs');
    assert.equal(hung.error?.code, 'timeout');
    const bad = await run('badVolume');
    assert.equal(bad.state, 'failed');
    assert.match(bad.error!.message, /dimensions need 64/);
    // Still serving, and jobs still run.
    const ok = await run('add', { a: 1, b: 2 });
    assert.equal(ok.state, 'succeeded');
    assert.equal(t.ctx.scene.nodes().length, 0);
  } finally {
    await t.close();
  }
});
