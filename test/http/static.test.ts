/** Static docroot over real sockets: MIME types, index.html, 304, Range, no listing, no escape. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { rawRequest, startTestServer, tempDir, type TestServer } from '../helpers/app.js';

const CANARY = 'CANARY-4f1d-must-never-be-served';
let dir: string;
let server: TestServer;

before(async () => {
  dir = tempDir();
  const docroot = path.join(dir, 'www');
  mkdirSync(path.join(docroot, 'sub'), { recursive: true });
  mkdirSync(path.join(docroot, 'empty'));
  writeFileSync(path.join(dir, 'canary.txt'), CANARY);
  mkdirSync(path.join(dir, 'outside'));
  writeFileSync(path.join(dir, 'outside', 'canary.txt'), CANARY);
  writeFileSync(path.join(docroot, 'index.html'), '<!doctype html><title>root</title>');
  writeFileSync(path.join(docroot, 'sub', 'index.html'), '<!doctype html><title>sub</title>');
  writeFileSync(path.join(docroot, 'app.mjs'), 'export const x = 1;\n');
  writeFileSync(path.join(docroot, 'mod.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  writeFileSync(path.join(docroot, 'data.json'), '{"a":1}');
  writeFileSync(path.join(docroot, 'pic.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(path.join(docroot, 'vol.nrrd'), 'NRRD0004\n');
  writeFileSync(path.join(docroot, 'my file.txt'), 'spaces work');
  writeFileSync(path.join(docroot, 'digits.txt'), '0123456789');
  writeFileSync(path.join(docroot, '.secret'), CANARY);
  symlinkSync(path.join(dir, 'outside'), path.join(docroot, 'link-out'));
  symlinkSync(path.join(dir, 'canary.txt'), path.join(docroot, 'link-file.txt'));
  server = await startTestServer({ docroot });
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (p: string, headers: Record<string, string> = {}, method = 'GET') =>
  rawRequest(server.listening.port, p, method, headers);

test('index.html for / and for folders; folder without slash redirects; no listing', async () => {
  assert.match((await get('/')).body, /<title>root/);
  assert.match((await get('/sub/')).body, /<title>sub/);
  const redirect = await get('/sub?x=1');
  assert.equal(redirect.status, 301);
  assert.match(redirect.headers, /location: \/sub\/\?x=1/i);
  const empty = await get('/empty/');
  assert.equal(empty.status, 404);
  assert.deepEqual(Object.keys(JSON.parse(empty.body)).sort(), ['code', 'message', 'success']);
});

test('media types', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/index.html', /content-type: text\/html; charset=utf-8/i],
    ['/app.mjs', /content-type: text\/javascript/i],
    ['/mod.wasm', /content-type: application\/wasm/i],
    ['/data.json', /content-type: application\/json/i],
    ['/pic.svg', /content-type: image\/svg\+xml/i],
    ['/vol.nrrd', /content-type: application\/octet-stream/i],
  ];
  for (const [p, re] of cases) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    assert.match(r.headers, re, p);
  }
  const spaced = await get('/my%20file.txt?cache=1');
  assert.equal(spaced.body, 'spaces work');
});

test('HEAD, ETag/Last-Modified with 304, Range with 206 and 416', async () => {
  const head = await get('/digits.txt', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.match(head.headers, /content-length: 10/i);
  const full = await get('/digits.txt');
  const etag = /etag: (.+)/i.exec(full.headers)![1]!.trim();
  const lastModified = /last-modified: (.+)/i.exec(full.headers)![1]!.trim();
  assert.equal((await get('/digits.txt', { 'If-None-Match': etag })).status, 304);
  assert.equal((await get('/digits.txt', { 'If-Modified-Since': lastModified })).status, 304);
  assert.equal((await get('/digits.txt', { 'If-None-Match': '"other"' })).status, 200);
  const part = await get('/digits.txt', { Range: 'bytes=2-4' });
  assert.equal(part.status, 206);
  assert.equal(part.body, '234');
  assert.match(part.headers, /content-range: bytes 2-4\/10/i);
  assert.equal((await get('/digits.txt', { Range: 'bytes=-3' })).body, '789');
  assert.equal((await get('/digits.txt', { Range: 'bytes=7-' })).body, '789');
  const bad = await get('/digits.txt', { Range: 'bytes=50-60' });
  assert.equal(bad.status, 416);
  assert.match(bad.headers, /content-range: bytes \*\/10/i);
  assert.equal(JSON.parse(bad.body).code, 'range_not_satisfiable');
  assert.equal((await get('/digits.txt', { Range: 'bytes=0-1,4-5' })).status, 200); // multiple ranges: whole file
});

test('no traversal variant reads a file outside docroot; every refusal is the JSON error shape', async () => {
  const abs = encodeURI(path.join(dir, 'canary.txt'));
  const variants = [
    '/../canary.txt',
    '/../../canary.txt',
    '/..%2fcanary.txt',
    '/..%2Fcanary.txt',
    '/%2e%2e/canary.txt',
    '/%2e%2e%2fcanary.txt',
    '/%2E%2E/%2E%2E/canary.txt',
    '/.%2e/canary.txt',
    '/..%5ccanary.txt',
    '/%5c..%5ccanary.txt',
    '/..\\canary.txt',
    '/sub/../../canary.txt',
    '/sub/%2e%2e/%2e%2e/canary.txt',
    '//canary.txt',
    `/${abs}`,
    `//${abs}`,
    `/%2f${abs.slice(1)}`,
    '/%252e%252e/canary.txt',
    '/%c0%ae%c0%ae/canary.txt',
    '/%c0%af..%c0%afcanary.txt',
    '/....//canary.txt',
    '/..;/canary.txt',
    '/link-out/canary.txt',
    '/link-file.txt',
    '/.secret',
    '/%2esecret',
    '/index.html%00.txt',
    '/%00',
    '/%ff%fe',
    '/C:/Windows/win.ini',
    '/c%3a%5cwindows',
  ];
  for (const v of variants) {
    const r = await get(v);
    assert.ok(!r.body.includes(CANARY), `${v} leaked the canary (status ${r.status})`);
    assert.notEqual(r.status, 200, v);
    assert.ok(r.status >= 300 && r.status < 500, `${v} → ${r.status}`);
    if (r.status >= 400) {
      const body = JSON.parse(r.body);
      assert.equal(body.success, false, v);
      assert.equal(typeof body.message, 'string', v);
      assert.equal(typeof body.code, 'string', v);
    }
  }
});

test('methods other than GET/HEAD on static paths get 405 with Allow', async () => {
  const r = await get('/index.html', { 'Content-Length': '0' }, 'POST');
  assert.equal(r.status, 405);
  assert.match(r.headers, /allow: GET, HEAD, OPTIONS/i);
  assert.equal(JSON.parse(r.body).code, 'method_not_allowed');
});
