/** Guards and /slicer/exec: tokens, CSRF, DNS rebinding, exec sandbox behaviour. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, withTestApp, withTestServer } from '../helpers/app.js';
import { secretEquals, requestToken } from '../../src/http/guards.js';
import { startServer } from '../../src/server/cli.js';
import { defaultConfig } from '../../src/server/config.js';

const TOKEN = 'test-token-123456';
const js = (code: string, token: string | null = TOKEN, extra: Record<string, string> = {}) => ({
  method: 'POST',
  body: code,
  headers: {
    'content-type': 'application/javascript',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  },
});

type Json = Record<string, any>;

test('secretEquals and requestToken', () => {
  assert.equal(secretEquals('abc', 'abc'), true);
  assert.equal(secretEquals('abc', 'abd'), false);
  assert.equal(secretEquals('abc', 'abcd'), false);
  assert.equal(
    requestToken('Bearer xyz', 'POST', () => 'q'),
    'xyz',
  );
  assert.equal(
    requestToken(undefined, 'GET', () => 'q'),
    'q',
  );
  // ?access_token= on any method (Slicer clients can only set a base URL).
  assert.equal(
    requestToken(undefined, 'POST', () => 'q'),
    'q',
  );
});

test('exec is 404 with a hint when not enabled, for every method', async () => {
  await withTestApp({}, async (t) => {
    for (const method of ['GET', 'POST']) {
      const res = await t.app.request('/slicer/exec', {
        method,
        ...(method === 'POST'
          ? { body: '1', headers: { 'content-type': 'application/javascript' } }
          : {}),
      });
      assert.equal(res.status, 404, method);
      assert.match(((await res.json()) as Json).message, /--enable-exec/);
    }
  });
});

test('exec needs a token, POST and a JavaScript content type', async () => {
  await withTestApp({ enableExec: true, token: TOKEN }, async (t) => {
    const noToken = await t.app.request('/slicer/exec', js('__execResult = 1', null));
    assert.equal(noToken.status, 401);
    assert.match(noToken.headers.get('www-authenticate') ?? '', /Bearer/);
    assert.equal(
      (await t.app.request('/slicer/exec', js('__execResult = 1', 'wrong-token-000'))).status,
      401,
    );
    const get = await t.app.request(
      `/slicer/exec?source=${encodeURIComponent('__execResult=1')}&access_token=${TOKEN}`,
    );
    assert.equal(get.status, 405);
    assert.match(((await get.json()) as Json).message, /POST/);
    // text/plain is what Slicer clients send; with the token it is no CSRF risk.
    const plain = await t.app.request('/slicer/exec', {
      method: 'POST',
      body: '__execResult=1',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(plain.status, 200);
    assert.deepEqual(await plain.json(), 1);
    const form = await t.app.request('/slicer/exec', {
      method: 'POST',
      body: '__execResult=1',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${TOKEN}`,
      },
    });
    assert.equal(form.status, 415);
    const ok = await t.app.request('/slicer/exec', js('__execResult = {answer: 6 * 7}'));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'application/json');
    assert.deepEqual(await ok.json(), { answer: 42 });
    const nothing = await t.app.request('/slicer/exec', js('const a = 1;'));
    assert.deepEqual(await nothing.json(), {});
  });
});

test('exec: scene API, console capture, errors with line numbers, time limit', async () => {
  await withTestApp({ enableExec: true, token: TOKEN, execTimeoutMs: 300 }, async (t) => {
    const v0 = t.ctx.scene.version;
    const res = await t.app.request(
      '/slicer/exec',
      js(`
      const id = scene.addVolume({ name: 'ramp', scalarType: 'float32', dimensions: [4, 3, 2], data: Array.from({ length: 24 }, (_, i) => i / 2) });
      const v = scene.getVolume(id);
      v.data[0] = -5;
      console.log('made', id, v.dimensions);
      const t = scene.setTransform({ name: 'shift', matrix: [[1,0,0,10],[0,1,0,0],[0,0,1,0],[0,0,0,1]] });
      scene.setParentTransform(id, t);
      const f = scene.addFiducial({ position: [1, 2, 3], label: 'tip' });
      __execResult = { id, t, f, type: v.scalarType, sum: v.data.reduce((a, b) => a + b, 0), nodes: scene.nodes().length };
    `),
    );
    const result = (await res.json()) as Json;
    assert.equal(res.status, 200, JSON.stringify(result));
    assert.equal(result.type, 'float32');
    assert.equal(result.sum, (23 * 24) / 4 - 5);
    assert.equal(result.nodes, 3);
    assert.deepEqual(JSON.parse(res.headers.get('x-exec-console')!), [
      `made ${result.id} [ 4, 3, 2 ]`,
    ]);
    assert.match(res.headers.get('server-timing')!, /^exec;dur=\d+(\.\d)?$/);
    const node = t.ctx.scene.byId(result.id);
    assert.equal(node?.kind, 'volume');
    assert.equal(node?.parentTransformID, result.t);
    if (node?.kind === 'volume') assert.equal(node.volume.data[0], -5);
    assert.ok(t.ctx.scene.version > v0);

    const err = await t.app.request('/slicer/exec', js('const a = 1;\nconst b = 2;\nnull.boom;\n'));
    assert.equal(err.status, 400);
    const eb = (await err.json()) as Json;
    assert.equal(eb.line, 3);
    assert.match(eb.message, /TypeError.*line 3/);

    const syntax = await t.app.request('/slicer/exec', js('let x = ;'));
    assert.equal(syntax.status, 400);
    assert.match(((await syntax.json()) as Json).message, /SyntaxError/);

    const started = Date.now();
    const loop = await t.app.request('/slicer/exec', js('while (true) {}'));
    assert.equal(loop.status, 400);
    assert.match(((await loop.json()) as Json).message, /time limit/);
    assert.ok(Date.now() - started < 5000);

    const micro = await t.app.request(
      '/slicer/exec',
      js('const spin = () => Promise.resolve().then(spin); spin();'),
    );
    assert.equal(micro.status, 400);

    const badResult = await t.app.request('/slicer/exec', js('__execResult = { big: 10n }'));
    assert.equal(badResult.status, 400);
    assert.match(((await badResult.json()) as Json).message, /JSON/);

    const apiErr = await t.app.request('/slicer/exec', js('scene.getVolume("nope")'));
    assert.equal(apiErr.status, 400);
    assert.match(((await apiErr.json()) as Json).message, /nope/);
  });
});

test('--token protects every mutating request; GET stays open unless --auth all', async () => {
  await withTestApp({ token: TOKEN, allowShutdown: true }, async (t) => {
    const del = await t.app.request('/slicer/system', { method: 'DELETE' });
    assert.equal(del.status, 401);
    assert.equal((await t.app.request('/slicer/system/version')).status, 200);
  });
  await withTestApp({ token: TOKEN, auth: 'all', readToken: 'read-only-token-1' }, async (all) => {
    assert.equal((await all.app.request('/slicer/system/version')).status, 401);
    assert.equal(
      (
        await all.app.request('/slicer/system/version', {
          headers: { authorization: 'Bearer read-only-token-1' },
        })
      ).status,
      200,
    );
    assert.equal(
      (await all.app.request('/slicer/system/version?access_token=read-only-token-1')).status,
      200,
    );
    assert.equal(
      (
        await all.app.request('/slicer/system/version', {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).status,
      200,
    );
    const roWrite = await all.app.request('/slicer/system', {
      method: 'DELETE',
      headers: { authorization: 'Bearer read-only-token-1' },
    });
    assert.equal(roWrite.status, 401);
  });
});

test('CSRF: a simple cross-origin POST is refused even with exec on; same-origin and CORS-allowed origins pass', async () => {
  await withTestApp({ enableExec: true, token: TOKEN }, async (t) => {
    const evil = await t.app.request('/slicer/exec', {
      method: 'POST',
      body: '__execResult=1',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
    });
    assert.equal(evil.status, 403);
    assert.match(((await evil.json()) as Json).message, /cross-origin/);
    const evilJs = await t.app.request(
      '/slicer/exec',
      js('__execResult=1', TOKEN, { origin: 'http://evil.example' }),
    );
    assert.equal(evilJs.status, 403);
    const same = await t.app.request(
      'http://localhost/slicer/exec',
      js('__execResult=1', TOKEN, { origin: 'http://localhost' }),
    );
    assert.equal(same.status, 200);
  });
  await withTestApp(
    { enableExec: true, token: TOKEN, cors: 'http://app.example' },
    async (cors) => {
      const ok = await cors.app.request(
        '/slicer/exec',
        js('__execResult=1', TOKEN, { origin: 'http://app.example' }),
      );
      assert.equal(ok.status, 200);
    },
  );
});

test('DNS rebinding: a foreign Host header is refused on a loopback server', async () => {
  await withTestServer({}, async (server) => {
    const port = server.listening.port;
    const evil = await rawRequest(port, '/slicer/system/version', 'GET', {
      Host: `rebind.example:${port}`,
    });
    assert.equal(evil.status, 403);
    assert.match(JSON.parse(evil.body).message, /DNS-rebinding/);
    assert.equal((await fetch(`http://localhost:${port}/slicer/system/version`)).status, 200);
  });
  await withTestServer({ allowedHosts: ['myhost.lan'] }, async (allowed) => {
    const res = await rawRequest(allowed.listening.port, '/slicer/system/version', 'GET', {
      Host: `myhost.lan:${allowed.listening.port}`,
    });
    assert.equal(res.status, 200);
  });
});

test('binding beyond loopback without a token is refused unless --insecure; exec without --token generates one', async () => {
  await assert.rejects(
    startServer(defaultConfig({ host: '0.0.0.0' }), { out: () => {}, err: () => {} }),
    /refusing to listen on 0\.0\.0\.0 without --token/,
  );
  const lines: string[] = [];
  const running = await startServer(
    defaultConfig({ enableExec: true, data: (await import('../helpers/app.js')).tempDir() }),
    { out: (l) => lines.push(l), err: (l) => lines.push(l) },
  );
  try {
    const line = lines.find((l) => l.includes('Authorization: Bearer'));
    assert.ok(line, lines.join('\n'));
    const token = /Bearer (\S+)/.exec(line)![1]!;
    const res = await fetch(`${running.listening.url}slicer/exec`, {
      method: 'POST',
      body: '__execResult = 7',
      headers: { 'content-type': 'application/javascript', authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.json(), 7);
  } finally {
    await running.stop();
  }
});

test('--auth all: a page opened with ?access_token= gets a cookie that serves its own files, never writes', async () => {
  await withTestApp({ token: TOKEN, auth: 'all', allowShutdown: true }, async (t) => {
    assert.equal((await t.app.request('/')).status, 401);
    const page = await t.app.request(`/?access_token=${TOKEN}`, {
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    assert.equal(page.status, 200);
    const setCookie = page.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^voxelgate_token=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    assert.equal(
      (await t.app.request('/slicer/system/version', { headers: { cookie } })).status,
      200,
    );
    assert.equal(
      (
        await t.app.request('/slicer/system/version', {
          headers: { cookie: 'voxelgate_token=wrong-token-0000' },
        })
      ).status,
      401,
    );
    // writes and state-changing GETs still need the Authorization header
    assert.equal(
      (await t.app.request('/slicer/system', { method: 'DELETE', headers: { cookie } })).status,
      401,
    );
    assert.equal(
      (await t.app.request('/slicer/volumeSelection?cmd=next', { headers: { cookie } })).status,
      401,
    );
    // an API read with the token in the query gets no cookie (only page navigations do)
    const api = await t.app.request(`/slicer/system/version?access_token=${TOKEN}`);
    assert.equal(api.headers.get('set-cookie'), null);
  });
});
