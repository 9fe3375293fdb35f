/** App assembly in-process: error shape, 404/405, HEAD, OPTIONS and CORS, /slicer/system. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { withTestApp } from '../helpers/app.js';

async function expectError(res: Response, status: number, code: string) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);

  const body = (await res.json()) as Record<string, any>;
  assert.equal(body.success, false);
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  return body;
}

test('unknown paths get the JSON 404 shape, inside and outside /slicer', async () => {
  await withTestApp({}, async (t) => {
    await expectError(await t.app.request('/slicer/nope'), 404, 'not_found');
    await expectError(await t.app.request('/slicer'), 404, 'not_found');
    await expectError(await t.app.request('/slicer/system/versionx'), 404, 'not_found');
    await expectError(await t.app.request('/no-such-file.html'), 404, 'not_found');
  });
});

test('wrong method gets 405 with Allow; HEAD works where GET does', async () => {
  await withTestApp({}, async (t) => {
    const res = await t.app.request('/slicer/system/version', { method: 'PUT' });
    await expectError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
    const head = await t.app.request('/slicer/system/version', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.match(head.headers.get('content-type')!, /json/);
    const headImg = await t.app.request('/slicer/timeimage', { method: 'HEAD' });
    assert.equal(headImg.status, 200);
    assert.equal(headImg.headers.get('content-type'), 'image/png');
  });
});

test('OPTIONS without --cors answers 204 with Allow and no CORS headers', async () => {
  await withTestApp({}, async (t) => {
    const res = await t.app.request('/slicer/system/version', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const plain = await t.app.request('/slicer/system/version', { method: 'OPTIONS' });
    assert.equal(plain.status, 204);
    assert.equal(plain.headers.get('allow'), 'GET, HEAD, OPTIONS');
    const get = await t.app.request('/slicer/system/version', {
      headers: { origin: 'http://evil.example' },
    });
    assert.equal(get.headers.get('access-control-allow-origin'), null);
  });
});

test('with --cors: preflight 204 with the headers browsers need, and CORS on errors too', async () => {
  await withTestApp({ cors: 'http://localhost:3000' }, async (t) => {
    const pre = await t.app.request('/slicer/system/version', {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'accept, authorization',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(pre.headers.get('access-control-allow-methods')!, /GET/);
    assert.match(pre.headers.get('access-control-allow-headers')!, /authorization/);
    const err = await t.app.request('/slicer/nope', {
      headers: { origin: 'http://localhost:3000' },
    });
    assert.equal(err.status, 404);
    assert.equal(err.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(err.headers.get('access-control-expose-headers')!, /Warning/);
  });
  await withTestApp({ cors: '*' }, async (star) => {
    const res = await star.app.request('/slicer/timeimage?color=xyz', {
      headers: { origin: 'http://a.example' },
    });
    await expectError(res, 400, 'invalid_parameter');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });
});

test('GET /slicer/system/version has every key Slicer returns', async () => {
  await withTestApp({}, async (t) => {
    const res = await t.app.request('/slicer/system/version');
    assert.equal(res.status, 200);
    const v = (await res.json()) as Record<string, unknown>;
    for (const key of [
      'applicationName',
      'applicationDisplayName',
      'applicationVersion',
      'releaseType',
      'repositoryUrl',
      'repositoryBranch',
      'revision',
      'majorVersion',
      'minorVersion',
      'arch',
      'os',
      'isCustomMainApplication',
      'mainApplicationName',
      'mainApplicationRepositoryUrl',
      'mainApplicationRepositoryRevision',
      'mainApplicationRevision',
      'mainApplicationMajorVersion',
      'mainApplicationMinorVersion',
      'mainApplicationPatchVersion',
    ])
      assert.ok(key in v, key);
    assert.equal(v.applicationName, 'voxelgate');
  });
});

test('GET /slicer/timeimage is a 128×32 RGBA PNG with the border colour; bad colours are 400 naming the parameter', async () => {
  await withTestApp({}, async (t) => {
    const res = await t.app.request('/slicer/timeimage?color=ff0000');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const png = Buffer.from(await res.arrayBuffer());
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [128, 32, 4]);
    assert.deepEqual([...data.subarray(0, 4)], [255, 0, 0, 204]); // dotted border pixel
    const inner = (16 * 128 + 64) * 4; // middle of the image: transparent or text
    assert.ok(data[inner + 3] === 0 || data[inner] === 0x33);
    const short = await t.app.request('/slicer/timeimage?color=0f0');
    assert.equal(short.status, 200);
    for (const bad of ['nocolour', '1234567', '#ggg', '']) {
      const body = await expectError(
        await t.app.request(`/slicer/timeimage?color=${encodeURIComponent(bad)}`),
        400,
        'invalid_parameter',
      );
      assert.equal(body.parameter, 'color');
    }
  });
});

test('DELETE /slicer/system is 403 unless --allow-shutdown, then it requests a graceful shutdown', async () => {
  await withTestApp({}, async (t) => {
    const body = await expectError(
      await t.app.request('/slicer/system', { method: 'DELETE' }),
      403,
      'forbidden',
    );
    assert.match(body.message, /--allow-shutdown/);
  });
  await withTestApp({ allowShutdown: true }, async (allowed) => {
    let reason = '';
    const asked = new Promise<void>((resolve) => {
      allowed.ctx.requestShutdown = (r) => {
        reason = r;
        resolve();
      };
    });
    const res = await allowed.app.request('/slicer/system', { method: 'DELETE' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { success: true });
    await asked;
    assert.match(reason, /DELETE/);
  });
});

test('--no-slicer and --no-static remove their families', async () => {
  await withTestApp({ slicer: false, static: false }, async (t) => {
    await expectError(await t.app.request('/slicer/system/version'), 404, 'not_found');
    await expectError(await t.app.request('/'), 404, 'not_found');
  });
});
