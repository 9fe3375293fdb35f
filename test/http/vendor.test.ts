/**
 * /vendor/: the demo pages' npm files are served from node_modules through a fixed list, and
 * nothing else (other package files, path escapes, encoded slashes) can be reached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { makeTestApp } from '../helpers/app.js';
import { VENDOR_FILES } from '../../src/http/vendor.js';

test('every listed /vendor/ file is served from its npm package, as JavaScript', async () => {
  const t = await makeTestApp();
  try {
    for (const [pkg, files] of Object.entries(VENDOR_FILES))
      for (const f of files) {
        const res = await t.app.request(`/vendor/${pkg}/${f}`);
        assert.equal(res.status, 200, `${pkg}/${f}`);
        assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
        assert.ok((await res.arrayBuffer()).byteLength > 100);
      }
    // Byte-exact with the installed package file.
    const threeMain = createRequire(import.meta.url).resolve('three');
    const module = path.join(path.dirname(threeMain), 'three.module.js');
    const res = await t.app.request('/vendor/three/build/three.module.js');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), readFileSync(module));
  } finally {
    await t.close();
  }
});

test('/vendor/ serves nothing outside the list (no other package file, no path escape)', async () => {
  const t = await makeTestApp();
  try {
    for (const p of [
      '/vendor/three/package.json',
      '/vendor/three/build/three.cjs',
      '/vendor/three/examples/jsm/loaders/../../../package.json',
      '/vendor/three/examples/jsm/loaders/..%2F..%2F..%2Fpackage.json',
      '/vendor/%2e%2e/package.json',
      '/vendor/hono/package.json',
      '/vendor/',
      '/vendor/three/build/three.module.js/',
    ]) {
      const res = await t.app.request(p);
      assert.equal(res.status, 404, p);
      assert.equal(((await res.json()) as { success: boolean }).success, false, p);
    }
    const put = await t.app.request('/vendor/three/build/three.module.js', { method: 'PUT' });
    assert.equal(put.status, 405);
  } finally {
    await t.close();
  }
});
