/**
 * Graphics benchmark (issue 13): segment surfaces of a 256³ labelmap with 5 segments (marching
 * cubes + smoothing), /slicer/threeD 512² with a 200k-triangle model over a 256³ volume, glTF
 * export size and time, and POST /render 640×480 colour, depth and label of a 100k-triangle scene.
 * In-process (app.request), render worker pool as served.
 */
import { createHash } from 'node:crypto';
import { Document, WebIO } from '@gltf-transform/core';
import { IDENTITY3 } from '../../src/imaging/geometry.js';
import { maskSurface } from '../../src/imaging/surface.js';
import { allocShared } from '../../src/imaging/types.js';
import { putModel } from '../../src/scene/models.js';
import type { VolumeNode } from '../../src/scene/scene.js';
import { createApp } from '../../src/server/app.js';
import { defaultConfig } from '../../src/server/config.js';
import { closeContext, createContext } from '../../src/server/context.js';
import type { BenchRow } from '../bench.js';
import { percentile } from './stats.js';

const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;

/** UV sphere with 4·seg² triangles. */
function sphere(c: number[], r: number, seg: number) {
  const positions: number[] = [];
  const indices: number[] = [];
  const n = 2 * seg;
  for (let i = 0; i <= seg; i++) {
    const th = (Math.PI * i) / seg;
    for (let j = 0; j < n; j++) {
      const ph = (Math.PI * j) / seg;
      positions.push(
        c[0]! + r * Math.sin(th) * Math.cos(ph),
        c[1]! + r * Math.sin(th) * Math.sin(ph),
        c[2]! + r * Math.cos(th),
      );
    }
  }
  for (let i = 0; i < seg; i++)
    for (let j = 0; j < n; j++) {
      const a = i * n + j,
        b = i * n + ((j + 1) % n),
        cc = (i + 1) * n + j,
        d = (i + 1) * n + ((j + 1) % n);
      indices.push(a, cc, b, b, cc, d);
    }
  return { positions: new Float32Array(positions), indices: new Uint32Array(indices) };
}

async function timeIt(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];

  // 1. Segment surfaces: 256³ labelmap, 5 segments (ellipsoids of 30–60 voxels radius).
  const N = 256;
  const labels = new Uint8Array(N * N * N);
  const segs = [
    [80, 90, 100, 50],
    [170, 90, 120, 45],
    [128, 170, 128, 60],
    [90, 180, 200, 30],
    [180, 170, 60, 40],
  ];
  for (let k = 0, p = 0; k < N; k++)
    for (let j = 0; j < N; j++)
      for (let i = 0; i < N; i++, p++)
        segs.forEach(([x, y, z, r], s) => {
          if ((i - x!) ** 2 + ((j - y!) / 1.2) ** 2 + (k - z!) ** 2 <= r! * r!) labels[p] = s + 1;
        });
  const geometry = {
    dimensions: [N, N, N] as [number, number, number],
    spacing: [1, 1, 1] as [number, number, number],
    origin: [0, 0, 0] as [number, number, number],
    direction: IDENTITY3,
  };
  let tris = 0;
  const t0 = performance.now();
  const mask = new Uint8Array(N * N * N);
  for (let s = 1; s <= segs.length; s++) {
    for (let p = 0; p < mask.length; p++) mask[p] = labels[p] === s ? 1 : 0;
    tris += (await maskSurface(mask, geometry, { smoothing: 0.5 })).indices.length / 3;
  }
  rows.push({
    group: 'graphics',
    name: 'segment surfaces 256³, 5 segments (MC + smoothing 0.5, one thread)',
    value: `${ms(performance.now() - t0)} (${(tris / 1000).toFixed(0)}k triangles)`,
  });

  // 2–3. threeD 512² with a 200k-triangle model; glTF export.
  const ctx = createContext(defaultConfig({ noSamples: true }));
  const app = createApp(ctx);
  try {
    const data = allocShared('int16', N * N * N);
    for (let k = 0, p = 0; k < N; k++)
      for (let j = 0; j < N; j++)
        for (let i = 0; i < N; i++, p++)
          data[p] = (i - 128) ** 2 + (j - 128) ** 2 + (k - 128) ** 2 < 100 ** 2 ? 300 : -1000;
    ctx.scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'ct',
      attributes: {},
      display: {},
      volume: {
        scalarType: 'int16',
        components: 1,
        dimensions: [N, N, N],
        spacing: [1, 1, 1],
        origin: [-128, -128, -128],
        direction: IDENTITY3,
        data,
      },
    });
    const model = sphere([0, 40, 0], 60, 224);
    putModel(ctx.scene, { name: 'ball', mesh: model, display: { color: [0.9, 0.8, 0.3] } });
    const q = '/slicer/threeD?size=512&format=png&preset=ct-bone';
    await app.request(q); // warm workers and the shared copies
    let k = 0;
    const t3 = await timeIt(6, async () => {
      // A new camera each time, so no cache or ETag hit.
      const r = await app.request(`${q}&orbitX=${++k}`);
      await r.arrayBuffer();
    });
    rows.push({
      group: 'graphics',
      name: `/slicer/threeD 512² + ${model.indices.length / 3 / 1000}k-triangle model, composite`,
      value: `p50 ${ms(percentile(t3, 50))}`,
    });
    let size = 0;
    const tg = await timeIt(5, async () => {
      size = (await (await app.request('/slicer/threeDGraphics?format=glb')).arrayBuffer())
        .byteLength;
    });
    rows.push({
      group: 'graphics',
      name: 'threeDGraphics GLB, 200k triangles',
      value: `p50 ${ms(percentile(tg, 50))}, ${(size / 1e6).toFixed(1)} MB`,
    });
    const tj = await timeIt(5, async () => {
      size = (await (await app.request('/slicer/threeDGraphics')).arrayBuffer()).byteLength;
    });
    rows.push({
      group: 'graphics',
      name: 'threeDGraphics glTF JSON (base64 buffer), 200k triangles',
      value: `p50 ${ms(percentile(tj, 50))}, ${(size / 1e6).toFixed(1)} MB`,
    });

    // 4. POST /render 640×480, 100k triangles.
    const doc = new Document();
    const buf = doc.createBuffer();
    const scene = doc.createScene();
    const cam = doc
      .createCamera('c')
      .setType('perspective')
      .setYFov(0.785398)
      .setAspectRatio(4 / 3);
    scene.addChild(doc.createNode('camera').setCamera(cam).setTranslation([0, 0, 1.5]));
    const s = sphere([0, 0, 0], 0.5, 158);
    scene.addChild(
      doc.createNode('ball').setMesh(
        doc.createMesh('ball').addPrimitive(
          doc
            .createPrimitive()
            .setAttribute(
              'POSITION',
              doc.createAccessor().setType('VEC3').setArray(s.positions).setBuffer(buf),
            )
            .setIndices(doc.createAccessor().setType('SCALAR').setArray(s.indices).setBuffer(buf))
            .setMaterial(doc.createMaterial('m').setBaseColorFactor([11 / 255, 0, 0, 1])),
        ),
      ),
    );
    const { json, resources } = await new WebIO().writeJSON(doc);
    for (const b of json.buffers ?? [])
      b.uri =
        'data:application/octet-stream;base64,' +
        Buffer.from(resources[b.uri!]!).toString('base64');
    const gltf = new TextEncoder().encode(JSON.stringify(json));
    const sha = createHash('sha256').update(gltf).digest('hex');
    for (const type of ['color', 'depth', 'label']) {
      const form = () => {
        const fd = new FormData();
        fd.append('scene', new Blob([gltf], { type: 'model/gltf+json' }), 'scene.gltf');
        const f: Record<string, string> = {
          scene_sha256: sha,
          image_type: type,
          width: '640',
          height: '480',
          near: '0.010000',
          far: '10.000000',
          focal_x: '579.411255',
          focal_y: '579.411255',
          fov_x: '1.000000',
          fov_y: '0.785398',
          center_x: '319.500000',
          center_y: '239.500000',
          submit: 'Render',
          ...(type === 'depth' ? { min_depth: '0.010000', max_depth: '10.000000' } : {}),
        };
        for (const [k, v] of Object.entries(f)) fd.append(k, v);
        return fd;
      };
      await app.request('/render', { method: 'POST', body: form() });
      const tr = await timeIt(8, async () => {
        const r = await app.request('/render', { method: 'POST', body: form() });
        if (r.status !== 200) throw new Error(await r.text());
        await r.arrayBuffer();
      });
      rows.push({
        group: 'graphics',
        name: `POST /render 640×480 ${type}, ${s.indices.length / 3 / 1000}k triangles`,
        value: `p50 ${ms(percentile(tr, 50))}`,
        aim: '≤ 100 ms',
      });
    }
  } finally {
    await closeContext(ctx);
  }
  return rows;
}
