/**
 * Scene persistence: a restart restores the scene byte-identically (ids, names, order, values,
 * geometry, transforms, fiducials, active volume), and a SIGKILL in the middle of writes loses
 * nothing that was acknowledged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { encodeNrrd, decodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';
import { Scene, type VolumeNode } from '../../src/scene/scene.js';
import { receiveNrrd, SceneStore } from '../../src/scene/persistence.js';
import { startTestServer, tempDir, withTestServer } from '../helpers/app.js';

function volume(
  seed: number,
  scalarType: ImageVolume['scalarType'] = 'int16',
  dims: [number, number, number] = [8, 6, 4],
  components = 1,
): ImageVolume {
  const n = dims[0] * dims[1] * dims[2] * components;
  const data = allocShared(scalarType, n);
  for (let i = 0; i < n; i++)
    data[i] = scalarType.startsWith('float')
      ? Math.sin(i + seed) * 1000.123
      : (i * 31 + seed) % 120;
  const c = Math.cos(0.1 * seed),
    s = Math.sin(0.1 * seed);
  return {
    scalarType,
    components,
    dimensions: dims,
    spacing: [0.7, 1.1, 3.3],
    origin: [seed, -0.1 * seed, 1 / 3],
    direction: [c, -s, 0, s, c, 0, 0, 0, 1],
    data,
  };
}

async function snapshot(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const get = async (p: string) => {
    const r = await fetch(url + p);
    out[p] = `${r.status} ${Buffer.from(await r.arrayBuffer()).toString('base64')}`;
  };
  await get('/slicer/mrml/properties');
  await get('/slicer/volumes');
  await get('/slicer/transforms');
  await get('/slicer/fiducials');
  await get('/slicer/gridTransforms');
  const ids = (await (await fetch(url + '/slicer/mrml/ids')).json()) as string[];
  for (const id of ids) {
    if (id.includes('VolumeNode')) {
      await get(`/slicer/volume?id=${id}`);
      await get(`/slicer/volume?id=${id}&encoding=gzip`);
    }
    if (id.includes('GridTransform')) await get(`/slicer/gridTransform?id=${id}`);
  }
  return out;
}

test('restart restores the scene byte-identically', async () => {
  const data = tempDir('vg-persist-');
  try {
    const s1 = await startTestServer({ data });
    let before: Record<string, string>;
    try {
      const post = async (p: string, body?: Uint8Array | string, method = 'POST') => {
        const r = await fetch(s1.url + p, {
          method,
          ...(body !== undefined ? { body: body as string } : {}),
        });
        const text = await r.text();
        assert.ok(r.ok, `${p}: ${r.status} ${text}`);
        return JSON.parse(text) as { id: string };
      };
      await post('/slicer/volume?name=A', await encodeNrrd(volume(1)));
      await post('/slicer/volume?name=A', await encodeNrrd(volume(2, 'float64')));
      await post('/slicer/volume?name=Lab&labelmap=true', await encodeNrrd(volume(3, 'uint8')));
      await post('/slicer/volume?name=RGB', await encodeNrrd(volume(4, 'uint8', [3, 3, 3], 3)));
      await post('/slicer/volume?name=gone', await encodeNrrd(volume(5)));
      await post('/slicer/volume?id=gone', undefined, 'DELETE');
      await post(
        '/slicer/transform?name=T',
        JSON.stringify({ matrix: [1, 0, 0, 1.5, 0, 1, 0, -2.25, 0, 0, 1, 1 / 3, 0, 0, 0, 1] }),
      );
      await post('/slicer/mrml/parent?id=Lab&parentTransformID=T', undefined, 'PUT');
      await post(
        '/slicer/gridTransform?name=G',
        await encodeNrrd(volume(6, 'float32', [4, 3, 2], 3)),
      );
      await post('/slicer/fiducial?r=1.1&a=-2&s=0.3333&label=P', 'x');
      await post('/slicer/volumeSelection?cmd=next', undefined, 'GET');
      await post('/slicer/volume?id=vtkMRMLScalarVolumeNode1', await encodeNrrd(volume(7)), 'PUT'); // replace data
      before = await snapshot(s1.url);
    } finally {
      await s1.close();
    }
    await withTestServer({ data }, async (s2) => {
      const after = await snapshot(s2.url);
      assert.deepEqual(Object.keys(after), Object.keys(before));
      for (const k of Object.keys(before)) assert.equal(after[k], before[k], k);
      // ids are not reused after a restart
      const r = await (
        await fetch(s2.url + '/slicer/volume?name=new', {
          method: 'POST',
          body: await encodeNrrd(volume(8)),
        })
      ).json();
      assert.equal((r as { id: string }).id, 'vtkMRMLScalarVolumeNode4');
      // only files the index names remain
      const files = readdirSync(path.join(data, 'scene', 'volumes'));
      assert.equal(files.length, 6, files.join(', '));
    });
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('flush coalesces and a corrupt index refuses to start', async () => {
  const data = tempDir('vg-store-');
  try {
    const scene = new Scene();
    const store = new SceneStore(scene, data, { debounceMs: 10_000 });
    await store.open();
    const adds = [];
    for (let i = 0; i < 20; i++) {
      scene.add<VolumeNode>({
        kind: 'volume',
        className: 'vtkMRMLScalarVolumeNode',
        name: `v${i}`,
        volume: volume(i),
        attributes: {},
        display: {},
      });
      adds.push(store.flush());
    }
    await Promise.all(adds);
    await store.close();
    const index = JSON.parse(readFileSync(path.join(data, 'scene', 'index.json'), 'utf8'));
    assert.equal(index.nodes.length, 20);
    const again = new Scene();
    const s2 = new SceneStore(again, data);
    assert.deepEqual(await s2.open(), { loaded: 20, existed: true, removed: [] });
    await s2.close();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(data, 'scene', 'index.json'), '{"nodes": [');
    await assert.rejects(new SceneStore(new Scene(), data).open(), /not valid JSON/);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('voxels edited in place and published with update(id, {}) are rewritten', async () => {
  const data = tempDir('vg-inplace-');
  try {
    const scene = new Scene();
    const store = new SceneStore(scene, data, { debounceMs: 10_000 });
    await store.open();
    const n = scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'v',
      volume: volume(1),
      attributes: {},
      display: {},
    });
    await store.flush();
    scene.update(n.id, { name: 'renamed' }); // metadata only: the volume file is kept
    await store.flush();
    const files1 = readdirSync(path.join(data, 'scene', 'volumes'));
    n.volume.data[0] = 99; // what /slicer/exec does, then publishes
    scene.update(n.id, {});
    await store.flush();
    const files2 = readdirSync(path.join(data, 'scene', 'volumes'));
    assert.notDeepEqual(files2, files1);
    await store.close();
    // The replaced file is removed after the index that no longer names it (not awaited by the
    // flush: the unlink follows it in the store's queue).
    const files3 = readdirSync(path.join(data, 'scene', 'volumes'));
    assert.equal(files3.length, 1, files3.join());
    assert.ok(!files1.includes(files3[0]!));
    const again = new Scene();
    await new SceneStore(again, data).open();
    const back = again.byId(n.id);
    assert.ok(back?.kind === 'volume');
    assert.equal(back.volume.data[0], 99);
    assert.equal(back.name, 'renamed');
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('staged uploads survive concurrent flushes (cleanup never removes a staged file)', async () => {
  const data = tempDir('vg-stage-');
  try {
    const scene = new Scene();
    const store = new SceneStore(scene, data, { debounceMs: 0 });
    await store.open();
    const body = await encodeNrrd(volume(9, 'int16', [64, 64, 16]));
    async function* slowly() {
      for (let i = 0; i < body.length; i += 8192) {
        yield body.subarray(i, i + 8192);
        if (i % (64 * 8192) === 0) {
          scene.add<VolumeNode>({
            kind: 'volume',
            className: 'vtkMRMLScalarVolumeNode',
            name: `noise${i}`,
            volume: volume(i),
            attributes: {},
            display: {},
          });
          await store.flush();
        }
      }
    }
    const received = await receiveNrrd(slowly(), { store });
    const node = scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'staged',
      volume: received.decoded.volume,
      attributes: {},
      display: {},
    });
    scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'late',
      volume: volume(1),
      attributes: {},
      display: {},
    });
    const racing = store.flush();
    await received.commit();
    await racing;
    await store.flush();
    await store.close();
    const again = new Scene();
    await new SceneStore(again, data).open();
    const back = again.byId(node.id);
    assert.ok(back?.kind === 'volume');
    assert.deepEqual([...back.volume.data], [...received.decoded.volume.data]);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------

async function spawnServer(data: string): Promise<{ child: ChildProcess; url: string }> {
  const portFile = path.join(data, `port-${Date.now()}`);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/main.ts',
      '--port',
      '0',
      '--port-file',
      portFile,
      '--data',
      data,
      '--no-samples',
      '--quiet',
      '--log-level',
      'error',
    ],
    {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 300 && !existsSync(portFile); i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
    await sleep(50);
  }
  const port = readFileSync(portFile, 'utf8').trim();
  return { child, url: `http://127.0.0.1:${port}` };
}

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

test('SIGKILL during writes loses nothing acknowledged and the scene loads', async () => {
  const data = tempDir('vg-kill-');
  const acked = new Map<string, number>(); // node id → seed of its acknowledged data
  // Replacements sent but not acknowledged before the kill may or may not have landed.
  const unacked = new Map<string, Set<number>>();
  try {
    for (let round = 0; round < 3; round++) {
      const { child, url } = await spawnServer(data);
      try {
        // everything acknowledged so far is there
        for (const [id, seed] of acked) {
          const r = await fetch(`${url}/slicer/volume?id=${id}`);
          assert.equal(r.status, 200, `round ${round}: ${id} missing`);
          const d = await decodeNrrd(Buffer.from(await r.arrayBuffer()));
          const got = [...d.volume.data.subarray(0, 50)];
          const candidates = [seed, ...(unacked.get(id) ?? [])];
          const match = candidates.find(
            (s) =>
              JSON.stringify(got) ===
              JSON.stringify([...volume(s, 'int16', [64, 64, 64]).data.subarray(0, 50)]),
          );
          assert.ok(
            match !== undefined,
            `${id} data is neither the acknowledged upload (seed ${seed}) nor one sent after it (${[...(unacked.get(id) ?? [])].join(', ') || 'none'})`,
          );
          acked.set(id, match);
        }
        unacked.clear();
        // a few acknowledged uploads (new nodes and replacements), then more in flight when killed
        const inflight: Array<Promise<unknown>> = [];
        for (let i = 0; i < 6; i++) {
          const seed = round * 100 + i;
          const target =
            i % 3 === 2 && acked.size > 0 ? [...acked.keys()][i % acked.size] : undefined;
          const body = await encodeNrrd(volume(seed, 'int16', [64, 64, 64]));
          if (target) unacked.set(target, (unacked.get(target) ?? new Set()).add(seed));
          const p = fetch(
            `${url}/slicer/volume${target ? `?id=${target}` : `?name=r${round}-${i}`}`,
            { method: target ? 'PUT' : 'POST', body },
          )
            .then(async (r) => {
              if (r.ok) {
                const j = (await r.json()) as { id: string };
                acked.set(j.id, seed);
                unacked.get(j.id)?.delete(seed);
              }
            })
            .catch(() => {});
          if (i < 3) await p;
          else inflight.push(p);
        }
        await sleep(5 + round * 10);
      } finally {
        await kill(child);
      }
    }
    const { child, url } = await spawnServer(data);
    try {
      const ids = (await (await fetch(`${url}/slicer/mrml/ids`)).json()) as string[];
      for (const id of acked.keys()) assert.ok(ids.includes(id), `${id} lost`);
    } finally {
      await kill(child);
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('recovery before the first commit: files a killed first write left are removed', async () => {
  const data = tempDir('vg-store-');
  try {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    // A first upload staged its volume file, then the process died before index.json existed.
    mkdirSync(path.join(data, 'scene', 'volumes'), { recursive: true });
    writeFileSync(path.join(data, 'scene', 'volumes', 'vtkMRMLScalarVolumeNode1-1.nrrd'), 'x');
    writeFileSync(path.join(data, 'scene', 'index.json.123.tmp'), '{');
    const store = new SceneStore(new Scene(), data);
    const opened = await store.open();
    assert.equal(opened.existed, false);
    assert.deepEqual(opened.removed.sort(), [
      'index.json.123.tmp',
      'volumes/vtkMRMLScalarVolumeNode1-1.nrrd',
    ]);
    assert.deepEqual(readdirSync(path.join(data, 'scene', 'volumes')), []);
    await store.close();
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
