/**
 * Segmentation benchmark (`npm run bench -- segmentation`): a 512×512×300 int16 CT-like volume and
 * a 512×512×300 `.seg.nrrd` (gzip) with 10 segments on it.
 *
 * - upload: PUT /slicer/segmentation with the file (decode, checks, durable scene write);
 * - overlay: /slicer/slice 512² PNG with every segmentation drawn vs `segmentation=none`, over
 *   the same scrolled slices (distinct renders: the encoded-image cache is off), as a ratio; also
 *   the in-process render alone (no encoding);
 * - DICOM SEG export (first with the reference volume saved as a 300-slice series, then against
 *   the archived series) and import (`/slicer/dicom/load?series=`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IDENTITY3 } from '../../src/imaging/geometry.js';
import { segNrrdChunks } from '../../src/imaging/seg-nrrd.js';
import type { Segmentation } from '../../src/imaging/segmentation.js';
import { renderSlice } from '../../src/imaging/slice-render.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';
import { sliceJob } from '../../src/render/jobs.js';
import { RenderService } from '../../src/render/service.js';
import { Views, type SliceViewState } from '../../src/views/views.js';
import type { VolumeNode } from '../../src/scene/scene.js';
import { startServer } from '../../src/server/cli.js';
import { defaultConfig } from '../../src/server/config.js';
import type { BenchRow } from '../bench.js';
import { percentile } from './stats.js';

const DIMS: [number, number, number] = [512, 512, 300];

export function ct(): ImageVolume {
  const [di, dj, dk] = DIMS;
  const data = allocShared('int16', di * dj * dk);
  let p = 0;
  for (let k = 0; k < dk; k++)
    for (let j = 0; j < dj; j++)
      for (let i = 0; i < di; i++, p++) {
        const dx = i - 256,
          dy = (j - 256) * 1.2;
        data[p] = dx * dx + dy * dy < 220 * 220 ? 40 + ((i * 31 + j * 17 + k * 7) % 23) : -1000;
      }
  return {
    scalarType: 'int16',
    components: 1,
    dimensions: DIMS,
    spacing: [0.7, 0.7, 1],
    origin: [-179, -179, -150],
    direction: IDENTITY3,
    data,
  };
}

/** 10 ellipsoids ("organs") of different sizes spread through the volume, one layer. */
export function segmentation(v: ImageVolume): Segmentation {
  const [di, dj, dk] = DIMS;
  const data = allocShared('uint8', di * dj * dk);
  const blobs = Array.from({ length: 10 }, (_, s) => ({
    c: [140 + (s % 4) * 70, 150 + Math.floor(s / 4) * 90, 40 + s * 24],
    r: [30 + (s % 3) * 12, 26 + (s % 2) * 15, 18 + (s % 4) * 6],
  }));
  let p = 0;
  for (let k = 0; k < dk; k++)
    for (let j = 0; j < dj; j++)
      for (let i = 0; i < di; i++, p++) {
        for (let s = 0; s < 10; s++) {
          const b = blobs[s]!;
          const x = (i - b.c[0]!) / b.r[0]!,
            y = (j - b.c[1]!) / b.r[1]!,
            z = (k - b.c[2]!) / b.r[2]!;
          if (x * x + y * y + z * z <= 1) {
            data[p] = s + 1;
            break;
          }
        }
      }
  return {
    labelmap: { ...v, scalarType: 'uint8', components: 1, data },
    segments: Array.from({ length: 10 }, (_, s) => ({
      id: `Segment_${s + 1}`,
      name: `organ ${s + 1}`,
      color: [((s * 73) % 255) / 255, ((s * 151) % 255) / 255, ((s * 37 + 90) % 255) / 255],
      labelValue: s + 1,
      layer: 0,
      tags: {},
    })),
  };
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-seg-'));
  const running = await startServer(defaultConfig({ data: dataDir }), {
    out: () => {},
    err: () => {},
  });
  const base = running.listening.url.replace(/\/$/, '');
  const ctx = running.ctx;
  const call = async (method: string, u: string, body?: Uint8Array) => {
    const r = await fetch(base + u, { method, body: body as Uint8Array<ArrayBuffer> | undefined });
    const b = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200)
      throw new Error(`${method} ${u}: ${r.status} ${b.toString().slice(0, 300)}`);
    return b;
  };
  try {
    const volume = ct();
    const vnode = ctx.scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'CT',
      attributes: { 'DICOM.Modality': 'CT' },
      display: { window: 400, level: 40 },
      volume,
    });
    await ctx.sceneStore?.flush();
    const seg = segmentation(volume);
    const parts: Buffer[] = [];
    for await (const c of segNrrdChunks(seg)) parts.push(Buffer.from(c));
    const file = Buffer.concat(parts);

    // Upload.
    const up: number[] = [];
    let segId = '';
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const r = JSON.parse(
        (
          await call(
            'PUT',
            `/slicer/segmentation?name=Organs&referenceVolume=${vnode.id}${segId ? `&id=${segId}` : ''}`,
            file,
          )
        ).toString(),
      ) as { id: string };
      up.push(performance.now() - t);
      segId = r.id;
    }
    const upMs = percentile(up, 50);
    rows.push({
      group: 'segmentation',
      name: `PUT .seg.nrrd 512×512×300, 10 segments (${(file.length / 1e6).toFixed(1)} MB gzip)`,
      value: `${ms(upMs)} (${((DIMS[0] * DIMS[1] * DIMS[2]) / 1e6 / (upMs / 1000)).toFixed(0)} Mvoxel/s)`,
    });
    const get = percentile(
      await (async () => {
        const t: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          await call('GET', `/slicer/segmentation?id=${segId}`);
          t.push(performance.now() - t0);
        }
        return t;
      })(),
      50,
    );
    rows.push({ group: 'segmentation', name: 'GET .seg.nrrd (gzip)', value: ms(get) });

    // Overlay vs none, same slices, encoded-image cache off.
    const cached = ctx.renderer;
    ctx.renderer = new RenderService({ cacheBytes: 0 });
    const slices = Array.from({ length: 60 }, (_, i) => (40 + i * 4) / 299);
    const url = (sc: number, segp: string) =>
      `/slicer/slice?view=red&size=512&background=${vnode.id}&scrollTo=${sc.toFixed(5)}&segmentation=${segp}`;
    for (const sc of slices.slice(0, 10)) {
      await call('GET', url(sc, 'none'));
      await call('GET', url(sc, 'all'));
    }
    const tNone: number[] = [];
    const tSeg: number[] = [];
    for (let rep = 0; rep < 2; rep++)
      for (const sc of slices) {
        let t = performance.now();
        await call('GET', url(sc, 'none'));
        tNone.push(performance.now() - t);
        t = performance.now();
        await call('GET', url(sc + 1e-6, 'all'));
        tSeg.push(performance.now() - t);
      }
    const pNone = percentile(tNone, 50);
    const pSeg = percentile(tSeg, 50);
    rows.push({
      group: 'segmentation',
      name: '/slicer/slice 512² PNG, no segmentation',
      value: `p50 ${ms(pNone)} / p99 ${ms(percentile(tNone, 99))}`,
    });
    rows.push({
      group: 'segmentation',
      name: '/slicer/slice 512² PNG, 10-segment overlay (fill + outline)',
      value: `p50 ${ms(pSeg)} / p99 ${ms(percentile(tSeg, 99))} → ${(pSeg / pNone).toFixed(2)}× without`,
      aim: '≤ 1.3×',
    });
    ctx.renderer = cached;
    // Render alone (no HTTP, no encoding).
    const views = new Views();
    const raw = (segp: string) => {
      const times: number[] = [];
      for (const sc of slices) {
        const v = structuredClone(views.slice('red')) as SliceViewState;
        v.background = vnode.id;
        v.sliceToRAS = [...v.sliceToRAS] as typeof v.sliceToRAS;
        v.sliceToRAS[11] = -150 + sc * 299;
        if (segp === 'none') v.segmentation = '';
        const job = sliceJob(ctx.scene, views, v);
        const t = performance.now();
        renderSlice(job);
        times.push(performance.now() - t);
      }
      return percentile(times, 50);
    };
    raw('none');
    raw('all');
    const rNone = raw('none');
    const rSeg = raw('all');
    rows.push({
      group: 'segmentation',
      name: 'renderSlice 512² alone: overlay vs none',
      value: `${ms(rSeg)} vs ${ms(rNone)} → ${(rSeg / rNone).toFixed(2)}×`,
    });

    // DICOM SEG export: reference volume saved first (300 CT slices), then SEG only.
    let t = performance.now();
    const first = JSON.parse((await call('POST', `/slicer/dicom/save?id=${segId}`)).toString()) as {
      referencedSeriesInstanceUID: string;
      seriesInstanceUID: string;
      frames: number;
    };
    rows.push({
      group: 'segmentation',
      name: `SEG export incl. saving the reference series (300 CT slices + ${first.frames} frames)`,
      value: ms(performance.now() - t),
    });
    const loaded = JSON.parse(
      (
        await call('POST', `/slicer/dicom/load?series=${first.referencedSeriesInstanceUID}`)
      ).toString(),
    ) as { loadedNodeIDs: string[] };
    await call(
      'PUT',
      `/slicer/segmentation?id=${segId}&referenceVolume=${loaded.loadedNodeIDs[0]}`,
      file,
    );
    const exp: number[] = [];
    let last = first;
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      last = JSON.parse(
        (await call('POST', `/slicer/dicom/save?id=${segId}`)).toString(),
      ) as typeof first;
      exp.push(performance.now() - t);
    }
    rows.push({
      group: 'segmentation',
      name: `SEG export, reference series archived (${last.frames} frames, 10 segments)`,
      value: `p50 ${ms(percentile(exp, 50))}`,
    });
    const imp: number[] = [];
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      await call('POST', `/slicer/dicom/load?series=${last.seriesInstanceUID}`);
      imp.push(performance.now() - t);
    }
    rows.push({
      group: 'segmentation',
      name: 'SEG import (/slicer/dicom/load?series=), onto the 512×512×300 source grid',
      value: `p50 ${ms(percentile(imp, 50))}`,
    });
  } finally {
    await running.stop('bench done');
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}
