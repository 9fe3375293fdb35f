/** `/browse` (OHIF dist from vendor/ohif) over a real socket, with a fake dist; the install script's rewrites; `/slicer/system/status`. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Hono } from 'hono';
import { browseRoutes } from '../../src/http/browse.js';
import { errorResponse } from '../../src/http/errors.js';
import { mountRoutes } from '../../src/http/routes.js';
import { defaultConfig } from '../../src/server/config.js';
import { createContext } from '../../src/server/context.js';
import {
  appConfig,
  rewriteBundle,
  rewriteCss,
  rewriteIndexHtml,
  rewriteManifest,
} from '../../scripts/ohif-install.mjs';
import { startTestServer, tempDir, type TestServer } from '../helpers/app.js';

let dir: string;
let server: TestServer;

function browseApp(ohifDir: string): Hono {
  const app = new Hono();
  app.onError((err) => errorResponse(err, () => {}));
  mountRoutes(app, browseRoutes(createContext(defaultConfig()), ohifDir));
  return app;
}

before(async () => {
  dir = tempDir();
  mkdirSync(path.join(dir, 'dist', 'assets'), { recursive: true });
  writeFileSync(
    path.join(dir, 'dist', 'index.html'),
    '<!doctype html><script>window.PUBLIC_URL=\'/browse/\';</script><div id="root"></div>',
  );
  writeFileSync(path.join(dir, 'dist', 'app.bundle.abc.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'dist', 'x.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  writeFileSync(path.join(dir, 'dist', 'assets', 'favicon.ico'), 'ico');
  writeFileSync(path.join(dir, 'secret.txt'), 'outside');
  server = await startTestServer();
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('without the dist, /browse and its sub-paths say how to install it', async () => {
  const app = browseApp(path.join(dir, 'missing'));
  for (const p of ['/browse', '/browse/', '/browse/viewer?StudyInstanceUIDs=1.2']) {
    const res = await app.request(p);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /npm run ohif:install/);
  }
});

test('with the dist: files, SPA fallback, wasm type, 404 for missing files, no way out', async () => {
  const app = browseApp(path.join(dir, 'dist'));
  const root = await app.request('/browse?x=1');
  assert.equal(root.status, 301);
  assert.equal(root.headers.get('location'), '/browse/?x=1');
  for (const p of [
    '/browse/',
    '/browse/viewer?StudyInstanceUIDs=1.2.3',
    '/browse/local/deep/route',
  ]) {
    const res = await app.request(p);
    assert.equal(res.status, 200, p);
    assert.match(await res.text(), /id="root"/, p);
  }
  const js = await app.request('/browse/app.bundle.abc.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  const etag = js.headers.get('etag') ?? '';
  assert.equal(
    (await app.request('/browse/app.bundle.abc.js', { headers: { 'if-none-match': etag } })).status,
    304,
  );
  const wasm = await app.request('/browse/x.wasm');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal((await app.request('/browse/assets/favicon.ico')).status, 200);
  assert.equal((await app.request('/browse/nope.bundle.js')).status, 404);
  for (const p of [
    '/browse/../secret.txt',
    '/browse/%2e%2e/secret.txt',
    '/browse/..%2fsecret.txt',
  ]) {
    const res = await app.request(p);
    assert.notEqual(await res.text(), 'outside', p);
  }
});

test('the running server mounts /browse before the docroot, and /slicer/system/status reports the setup', async () => {
  const res = await fetch(`${server.url}/browse/viewer`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const status = (await (await fetch(`${server.url}/slicer/system/status`)).json()) as Record<
    string,
    unknown
  >;
  assert.equal(status.url, server.listening.url);
  assert.equal(status.exec, false);
  assert.equal(status.auth, 'off');
  assert.equal(typeof status.version, 'string');
  assert.equal(JSON.stringify(status).includes('token'), false);
});

test('ohif-install rewrites: index.html, webpack public path, CSS and manifest; app-config points at /dicom', () => {
  const html = rewriteIndexHtml(
    `<script>window.PUBLIC_URL = '/';</script><script src="/app-config.js"></script><link href="/app.bundle.css" rel="stylesheet"><link href="//cdn.example/x.css"><script src="/browse/already.js"></script>`,
  );
  assert.match(html, /window\.PUBLIC_URL='\/browse\/'/);
  assert.match(html, /src="\/browse\/app-config\.js"/);
  assert.match(html, /href="\/browse\/app\.bundle\.css"/);
  assert.match(html, /href="\/\/cdn\.example\/x\.css"/);
  assert.match(html, /src="\/browse\/already\.js"/);
  assert.equal(
    rewriteBundle('/******/ \t\t__webpack_require__.p = "/";'),
    '/******/ \t\t__webpack_require__.p = "/browse/";',
  );
  assert.equal(
    rewriteCss('a{src:url(/31fb.woff2)}b{background:url("/x.png")}c{background:url(data:x)}'),
    'a{src:url(/browse/31fb.woff2)}b{background:url("/browse/x.png")}c{background:url(data:x)}',
  );
  assert.equal(
    rewriteManifest('{"src": "/assets/a.png","start_url": "/"}'),
    '{"src": "/browse/assets/a.png","start_url": "/browse/"}',
  );
  const cfg = appConfig();
  assert.match(cfg, /routerBasename: '\/browse'/);
  assert.match(cfg, /qidoRoot: '\/dicom'/);
  assert.match(cfg, /wadoRoot: '\/dicom'/);
});
