/**
 * The file side of Slicer's /mrml API: GET /slicer/mrml/file (write under --export-root only),
 * POST /slicer/mrml?url= (download from --import-url origins: size limit, time limit, redirects),
 * PUT /slicer/mrml (reload from the storage file, re-checked), the file-type table, plus the
 * request-shape fixes (glued `&` parameters, Python detection, lenient view values).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { decodeNrrd, encodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume, type Mat4 } from '../../src/imaging/types.js';
import { ungluedRequest } from '../../src/server/app.js';
import { looksLikePython } from '../../src/http/slicer/exec.js';
import { createFiducialList } from '../../src/scene/fiducials.js';
import { itkTextFromMatrixToParent } from '../../src/scene/file-types.js';
import type { VolumeNode } from '../../src/scene/scene.js';
import { matrixToParentFromItkText, putLinearTransform } from '../../src/scene/transforms.js';
import { makeTestApp, tempDir, type TestApp } from '../helpers/app.js';

type Json = Record<string, any>;

function vol(): ImageVolume {
  const data = allocShared('int16', 4 * 3 * 2);
  data.forEach((_, i) => (data[i] = i * 7 - 20));
  return {
    dimensions: [4, 3, 2],
    spacing: [1, 2, 3],
    origin: [10, -5, 2],
    direction: [0, 1, 0, -1, 0, 0, 0, 0, 1],
    scalarType: 'int16',
    components: 1,
    data,
  };
}

async function withApp(
  extra: Parameters<typeof makeTestApp>[0],
  fn: (t: TestApp, dirs: { inRoot: string; outRoot: string; outside: string }) => Promise<void>,
): Promise<void> {
  const inRoot = tempDir('vg-in-');
  const outRoot = tempDir('vg-out-');
  const outside = tempDir('vg-outside-');
  const t = await makeTestApp({ importRoots: [inRoot], exportRoots: [outRoot], ...extra });
  try {
    await fn(t, { inRoot, outRoot, outside });
  } finally {
    await t.close();
    for (const d of [inRoot, outRoot, outside]) rmSync(d, { recursive: true, force: true });
  }
}

const addVol = (t: TestApp, name = 'V') =>
  t.ctx.scene.add<VolumeNode>({
    kind: 'volume',
    className: 'vtkMRMLScalarVolumeNode',
    name,
    volume: vol(),
    attributes: {},
    display: {},
  });

test('GET /mrml/file writes each node kind; files load back identical', async () => {
  await withApp({}, async (t, { outRoot }) => {
    const v = addVol(t);
    const f = createFiducialList(t.ctx.scene, {
      name: 'pts',
      points: [{ label: 'p', position: [1.5, -2, 3] }],
    });
    const m: Mat4 = [0, -1, 0, 10, 1, 0, 0, -4, 0, 0, 1, 2.5, 0, 0, 0, 1];
    const lt = putLinearTransform(t.ctx.scene, { name: 'lt', matrix: m }).node;
    const q = (id: string, file: string, extra = '') =>
      t.app.request(
        `/slicer/mrml/file?id=${id}&localfile=${encodeURIComponent(path.join(outRoot, file))}${extra}`,
      );
    const raw = await q(v.id, 'v.nrrd', '&useCompression=false');
    assert.equal(raw.status, 200, await raw.clone().text());
    assert.equal(((await raw.json()) as Json).fileType, 'VolumeFile');
    const back = await decodeNrrd(readFileSync(path.join(outRoot, 'v.nrrd')));
    assert.deepEqual([...back.volume.data], [...v.volume.data]);
    assert.deepEqual(
      back.volume.direction.map((x) => x + 0),
      v.volume.direction.map((x) => x + 0),
    );
    assert.match(readFileSync(path.join(outRoot, 'v.nrrd'), 'latin1').slice(0, 300), /raw/);
    assert.equal((await q(v.id, 'vz.nrrd')).status, 200);
    assert.match(readFileSync(path.join(outRoot, 'vz.nrrd'), 'latin1').slice(0, 300), /gzip/);
    // relative localfile → under the first export root
    assert.equal(
      (await t.app.request(`/slicer/mrml/file?id=${f.id}&localfile=pts.mrk.json`)).status,
      200,
    );
    const mrk = JSON.parse(readFileSync(path.join(outRoot, 'pts.mrk.json'), 'utf8'));
    assert.deepEqual(mrk.markups[0].controlPoints[0].position, [-1.5, 2, 3]); // LPS
    assert.equal((await q(lt.id, 'lt.tfm')).status, 200);
    const again = matrixToParentFromItkText(readFileSync(path.join(outRoot, 'lt.tfm'), 'utf8'));
    again.forEach((x, i) => assert.ok(Math.abs(x - m[i]!) < 1e-9, `${i}: ${x} vs ${m[i]}`));
    assert.equal((await q(lt.id, 'lt.nrrd')).status, 400);
    // two matches → 400; none → 404
    addVol(t, 'V');
    assert.equal(
      (
        await t.app.request(
          `/slicer/mrml/file?name=V&localfile=${encodeURIComponent(path.join(outRoot, 'x.nrrd'))}`,
        )
      ).status,
      400,
    );
    assert.equal((await q('nope', 'x.nrrd')).status, 404);
    assert.equal((await t.app.request(`/slicer/mrml/file?id=${v.id}`)).status, 400);
  });
});

test('GET /mrml/file refuses paths outside --export-root (.., absolute, symlinked folder, symlink target kept)', async () => {
  await withApp({}, async (t, { outRoot, outside }) => {
    const v = addVol(t);
    symlinkSync(outside, path.join(outRoot, 'link'));
    writeFileSync(path.join(outside, 'keep.nrrd'), 'precious');
    symlinkSync(path.join(outside, 'keep.nrrd'), path.join(outRoot, 'file-link.nrrd'));
    for (const p of [
      path.join(outRoot, '..', path.basename(outside), 'a.nrrd'),
      path.join(outside, 'a.nrrd'),
      path.join(outRoot, 'link', 'a.nrrd'),
      '../escape.nrrd',
      outRoot,
    ]) {
      const r = await t.app.request(
        `/slicer/mrml/file?id=${v.id}&localfile=${encodeURIComponent(p)}`,
      );
      assert.equal(r.status, 403, `${p}: ${r.status}`);
      assert.equal(r.headers.get('content-type'), 'application/json');
    }
    assert.equal(
      (
        await t.app.request(
          `/slicer/mrml/file?id=${v.id}&localfile=${encodeURIComponent(path.join(outRoot, 'no', 'such', 'x.nrrd'))}`,
        )
      ).status,
      404,
    );
    // writing over a symlink replaces the link, never the file it points to
    const r = await t.app.request(
      `/slicer/mrml/file?id=${v.id}&localfile=${encodeURIComponent(path.join(outRoot, 'file-link.nrrd'))}`,
    );
    assert.equal(r.status, 200);
    assert.equal(readFileSync(path.join(outside, 'keep.nrrd'), 'utf8'), 'precious');
    assert.deepEqual(readdirSync(outside).sort(), ['keep.nrrd']);
    // file: URL form (Slicer's url=)
    const u = await t.app.request(
      `/slicer/mrml/file?id=${v.id}&url=${encodeURIComponent(`file://${path.join(outside, 'b.nrrd')}`)}`,
    );
    assert.equal(u.status, 403);
  });
  // no --export-root at all → 403 naming the option
  const bare = await makeTestApp();
  try {
    const v = addVol(bare);
    const r = await bare.app.request(`/slicer/mrml/file?id=${v.id}&localfile=/tmp/x.nrrd`);
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as Json).message, /--export-root/);
  } finally {
    await bare.close();
  }
});

test('PUT /mrml reloads from the storage file; a stored path outside --import-root is refused', async () => {
  await withApp({}, async (t, { inRoot, outside }) => {
    writeFileSync(path.join(inRoot, 'a.nrrd'), await encodeNrrd(vol()));
    const load = await t.app.request(
      `/slicer/mrml?localfile=${encodeURIComponent(path.join(inRoot, 'a.nrrd'))}&filetype=VolumeFile`,
      { method: 'POST' },
    );
    const [id] = ((await load.json()) as Json).loadedNodeIDs as string[];
    const node = t.ctx.scene.byId(id!) as VolumeNode;
    node.volume.data[0] = 999;
    const changed = vol();
    changed.data[1] = 4242;
    writeFileSync(path.join(inRoot, 'a.nrrd'), await encodeNrrd(changed)); // edited on disk
    const put = await t.app.request(`/slicer/mrml?id=${id}`, { method: 'PUT' });
    assert.deepEqual(await put.json(), { success: true, reloadedNodeIDs: [id] });
    const after = t.ctx.scene.byId(id!) as VolumeNode;
    assert.equal(after.volume.data[0], -20);
    assert.equal(after.volume.data[1], 4242);
    assert.equal(after.name, 'a');
    // a node never loaded from a file: Slicer's {"success": false}
    const mem = addVol(t, 'mem');
    const none = (await (
      await t.app.request(`/slicer/mrml?id=${mem.id}`, { method: 'PUT' })
    ).json()) as Json;
    assert.equal(none.success, false);
    assert.match(none.message, /not loaded from a file/);
    // storage attributes smuggled in through NRRD key/values do not open other files
    writeFileSync(path.join(outside, 'secret.nrrd'), await encodeNrrd(vol()));
    const evil = await t.app.request('/slicer/volume?name=evil', {
      method: 'POST',
      body: await encodeNrrd(vol(), {
        keyValues: {
          'storage.fileName': path.join(outside, 'secret.nrrd'),
          'storage.fileType': 'VolumeFile',
        },
      }),
    });
    const evilId = ((await evil.json()) as Json).id as string;
    const r = await t.app.request(`/slicer/mrml?id=${evilId}`, { method: 'PUT' });
    assert.equal(r.status, 403);
    assert.equal((await t.app.request('/slicer/mrml?id=nope', { method: 'PUT' })).status, 404);
  });
});

test('POST /mrml filetype table: unknown and Slicer-only types → 400 naming the supported ones', async () => {
  await withApp({}, async (t, { inRoot }) => {
    writeFileSync(path.join(inRoot, 'a.nrrd'), await encodeNrrd(vol()));
    for (const ft of ['ModelFile', 'SceneFile', 'Bogus']) {
      const r = await t.app.request(`/slicer/mrml?localfile=a.nrrd&filetype=${ft}`, {
        method: 'POST',
      });
      const b = (await r.json()) as Json;
      // Models landed (#13): ModelFile is a supported type, and a .nrrd is not a mesh (422).
      if (ft === 'ModelFile' && (r.status === 200 || r.status === 422)) continue;
      assert.equal(r.status, 400, ft);
      assert.equal(b.parameter, 'filetype');
      assert.match(b.message, /supported: VolumeFile, MarkupsFile, TransformFile/);
    }
    const miss = await t.app.request('/slicer/mrml?localfile=a.dat', { method: 'POST' });
    assert.match(((await miss.json()) as Json).message, /filetype.*VolumeFile/);
    // without filetype the name decides (.nrrd → VolumeFile), and the reply says which
    const inferred = await t.app.request('/slicer/mrml?localfile=a.nrrd', { method: 'POST' });
    assert.equal(((await inferred.json()) as Json).fileType, 'VolumeFile');
    const slicerUrl = await t.app.request(
      `/slicer/mrml?url=${encodeURIComponent('slicer://viewer/?studyUID=1.2')}&filetype=VolumeFile`,
      { method: 'POST' },
    );
    assert.equal(slicerUrl.status, 400);
  });
});

/** A local HTTP server whose routes behave badly on purpose. */
async function badServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const nrrd = await encodeNrrd(vol());
  const srv = http.createServer((req, res) => {
    const u = req.url ?? '';
    if (u === '/ok.nrrd') return res.writeHead(200, { 'content-length': nrrd.length }).end(nrrd);
    if (u === '/big.nrrd')
      return res.writeHead(200, { 'content-length': 50_000_000 }).end(Buffer.alloc(10));
    if (u === '/chunked.nrrd') {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024);
      let n = 0;
      const more = () => {
        if (n++ > 40 || res.destroyed) return res.end();
        res.write(chunk, more);
      };
      return more();
    }
    if (u === '/slow.nrrd') return; // never answers
    if (u === '/redirect-away.nrrd')
      return res.writeHead(302, { location: 'http://example.org/x.nrrd' }).end();
    if (u === '/redirect-ok.nrrd') return res.writeHead(302, { location: '/ok.nrrd' }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

test('POST /mrml?url=: only --import-url origins, size-limited, timed out, redirects checked, no leftovers', async () => {
  const bad = await badServer();
  try {
    await withApp(
      {
        importUrls: [bad.origin],
        importTimeoutMs: 400,
        limits: { volume: 1024 * 1024, stow: 1 << 30, json: 1 << 20, exec: 1 << 20, mesh: 1 << 20 },
      },
      async (t) => {
        const post = (p: string) =>
          t.app.request(
            `/slicer/mrml?url=${encodeURIComponent(bad.origin + p)}&filetype=VolumeFile`,
            { method: 'POST' },
          );
        const ok = await post('/ok.nrrd');
        assert.equal(ok.status, 200, await ok.clone().text());
        const id = (((await ok.json()) as Json).loadedNodeIDs as string[])[0]!;
        assert.equal(t.ctx.scene.byId(id)?.name, 'ok');
        assert.equal((await post('/redirect-ok.nrrd')).status, 200);
        const expect = async (p: string, status: number, msg: RegExp) => {
          const r = await post(p);
          const b = (await r.json()) as Json;
          assert.equal(r.status, status, `${p}: ${JSON.stringify(b)}`);
          assert.match(b.message, msg);
        };
        await expect('/big.nrrd', 413, /--limit-volume/);
        await expect('/chunked.nrrd', 413, /--limit-volume/);
        await expect('/slow.nrrd', 504, /--import-timeout/);
        await expect('/missing.nrrd', 502, /404/);
        await expect('/redirect-away.nrrd', 403, /not an allowed origin/);
        const other = await t.app.request(
          `/slicer/mrml?url=${encodeURIComponent('http://127.0.0.2:1/x.nrrd')}&filetype=VolumeFile`,
          { method: 'POST' },
        );
        assert.equal(other.status, 403);
        // Only the two good downloads stay in the cache (reloadable); failures leave nothing.
        const dir = path.join(t.dataDir, 'downloads');
        const left = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
        assert.equal(left.length, 2, left.join(' '));
        const put = await t.app.request(`/slicer/mrml?id=${id}`, { method: 'PUT' });
        assert.equal(((await put.json()) as Json).success, true);
      },
    );
  } finally {
    await bad.close();
  }
});

test('glued parameters, Python detection, ITK text round trip (units)', () => {
  const u = (s: string) => ungluedRequest(new Request(s)).url;
  assert.equal(u("http://h/slicer/volume&id='MRHead'"), 'http://h/slicer/volume?id=MRHead');
  assert.equal(u('http://h/slicer/volume&id=%27MRHead%27'), 'http://h/slicer/volume?id=MRHead');
  assert.equal(u('http://h/slicer/volume&id="A"&x=1'), 'http://h/slicer/volume?id=A&x=1');
  assert.equal(u('http://h/slicer/volume?id=a&b=c'), 'http://h/slicer/volume?id=a&b=c');
  assert.equal(u('http://h/dicom/studies&x=1'), 'http://h/dicom/studies&x=1');
  for (const js of [
    '__execResult = 1 + 1',
    'const v = scene.nodes(); __execResult = { n: v.length }',
    '__execResult = { url: "https://slicer.org" }',
    'for (const n of scene.nodes()) { console.log(n.id) }',
  ])
    assert.equal(looksLikePython(js), false, js);
  for (const py of [
    'import slicer\n__execResult = 1',
    '__execResult = len(slicer.mrmlScene.GetNodes())',
    'def f(x):\n    return x\n__execResult = f(2)',
    'from DICOMLib import DICOMUtils\nx = DICOMUtils.foo()',
    "v = slicer.util.getNode('MRHead')",
    'for n in nodes:\n    print(n)',
  ])
    assert.equal(looksLikePython(py), true, py);
  const m: Mat4 = [1, 0, 0, 1, 0, 0.8, -0.6, 2, 0, 0.6, 0.8, 3, 0, 0, 0, 1];
  const back = matrixToParentFromItkText(itkTextFromMatrixToParent(m));
  back.forEach((x, i) => assert.ok(Math.abs(x - m[i]!) < 1e-12));
});

test('lenient values: orientation=oblique keeps the plane, lookFromAxis=x keeps the camera; typos stay 400', async () => {
  await withApp({}, async (t) => {
    addVol(t);
    await t.app.request('/slicer/slice?view=red&orientation=sagittal&size=32');
    const before = JSON.stringify(t.ctx.views.slice('red'));
    const r = await t.app.request('/slicer/slice?view=red&orientation=oblique&size=32');
    assert.equal(r.status, 200);
    assert.equal(JSON.stringify(t.ctx.views.slice('red')), before);
    assert.equal(
      (await t.app.request('/slicer/slice?view=red&orientation=Reformat&size=32')).status,
      200,
    );
    assert.equal((await t.app.request('/slicer/slice?orientation=axail')).status, 400);
    await t.app.request('/slicer/threeD?lookFromAxis=anterior&size=32');
    const cam = JSON.stringify(t.ctx.views.threeD.camera);
    const x = await t.app.request('/slicer/threeD?lookFromAxis=x&size=32');
    assert.equal(x.status, 200);
    assert.equal(x.headers.get('content-type'), 'image/png');
    assert.equal(JSON.stringify(t.ctx.views.threeD.camera), cam);
    await t.app.request('/slicer/threeD?lookFromAxis=Left&size=32');
    assert.equal(t.ctx.views.threeD.camera.axis, 'l');
  });
});

test('exec: text/plain with ?access_token= runs; the Python 400 comes first even with exec off', async () => {
  const token = 'exec-token-0123456789';
  const on = await makeTestApp({ enableExec: true, token });
  try {
    const r = await on.app.request(`/slicer/exec?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '__execResult = [1, 2]',
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), [1, 2]);
    const no = await on.app.request('/slicer/exec', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '__execResult = [1, 2]',
    });
    assert.equal(no.status, 401);
  } finally {
    await on.close();
  }
  const off = await makeTestApp();
  try {
    const r = await off.app.request('/slicer/exec', { method: 'POST', body: 'import slicer' });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as Json).message, /JavaScript, not Python/);
    const js = await off.app.request('/slicer/exec', {
      method: 'POST',
      headers: { 'content-type': 'application/javascript' },
      body: '__execResult = 1',
    });
    assert.equal(js.status, 404);
  } finally {
    await off.close();
  }
});

test('sampledata: Slicer names map to a built-in stand-in; unknown names list what exists', async () => {
  await withApp({}, async (t) => {
    const r = await t.app.request('/slicer/sampledata?name=CTChest');
    const b = (await r.json()) as Json;
    assert.equal(b.sample, 'CTHeadPhantom');
    assert.equal(t.ctx.scene.byId(b.id)?.name, 'CTChest');
    const dti = await t.app.request('/slicer/sampledata?name=DTIBrain');
    assert.equal(dti.status, 404);
    const m = ((await dti.json()) as Json).message as string;
    assert.match(m, /Built-in: CTHeadPhantom, MRHeadObliquePhantom, HeadLabelPhantom/);
    assert.match(m, /MRHead.*CTACardio/);
  });
});

test('exec console header is capped at 8 KiB and counts dropped lines', async () => {
  const { consoleHeaders } = await import('../../src/http/slicer/exec.js');
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'é'.repeat(10)}`);
  const h = consoleHeaders(lines);
  assert.ok(h['x-exec-console']!.length <= 8192);
  assert.ok(/^[\x20-\x7e]*$/.test(h['x-exec-console']!));
  const kept = JSON.parse(h['x-exec-console']!) as string[];
  assert.equal(kept[0], lines[0]);
  assert.equal(kept.length + Number(h['x-exec-console-dropped']), 2000);
  assert.deepEqual(consoleHeaders(['a']), { 'x-exec-console': '["a"]' });
});

test('the storage file path stays on the server: not in GET /volume or exported NRRD key/values', async () => {
  await withApp({}, async (t, { inRoot, outRoot }) => {
    writeFileSync(path.join(inRoot, 'a.nrrd'), await encodeNrrd(vol()));
    const load = await t.app.request('/slicer/mrml?localfile=a.nrrd&filetype=VolumeFile', {
      method: 'POST',
    });
    const [id] = ((await load.json()) as Json).loadedNodeIDs as string[];
    const got = Buffer.from(await (await t.app.request(`/slicer/volume?id=${id}`)).arrayBuffer());
    assert.ok(!got.toString('latin1', 0, 2000).includes('storage.'));
    await t.app.request(`/slicer/mrml/file?id=${id}&localfile=out.nrrd`);
    assert.ok(
      !readFileSync(path.join(outRoot, 'out.nrrd'))
        .toString('latin1', 0, 2000)
        .includes('storage.'),
    );
  });
});

test('POST /slicer/open (slicerio slicer:// URLs): bad URLs are 400, other DICOMweb servers need --dicomweb-remote', async () => {
  await withApp({}, async (t) => {
    const open = (url: string) =>
      t.app.request(`/slicer/open?url=${encodeURIComponent(url)}`, { method: 'POST' });
    for (const bad of [
      'http://x/y.nrrd',
      'slicer://viewer/?x=1',
      'slicer://viewer/?studyUID=abc',
      'nonsense',
    ])
      assert.equal((await open(bad)).status, 400, bad);
    assert.equal((await t.app.request('/slicer/open', { method: 'POST' })).status, 400);
    const remote = await open(
      `slicer://viewer/?studyUID=1.2.3&dicomweb_endpoint=${encodeURIComponent('http://127.0.0.9:9/dicom')}`,
    );
    assert.equal(remote.status, 403, await remote.clone().text());
    assert.match(((await remote.json()) as Json).message, /--dicomweb-remote/);
  });
});
