/**
 * DICOM SEG export and import through /slicer/dicom/save, /slicer/dicom/loadables and
 * /slicer/dicom/load: the SEG (and the reference series saved for it) pass dciodvfy with zero
 * errors; dcmtk's dcm2json (an independent reader) sees the segments, frames, positions and bits
 * we meant; loading the SEG gives back the same segments, colours, codes and voxels on the same
 * grid; bad or broken SEGs are refused with 422 naming the problem.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { segNrrdChunks } from '../../src/imaging/seg-nrrd.js';
import { segmentMask, type Segmentation } from '../../src/imaging/segmentation.js';
import { readSeg } from '../../src/bridge/seg.js';
import { isSegmentationNode, type SegmentationNode } from '../../src/scene/scene.js';
import type { Mat3, Vec3 } from '../../src/imaging/types.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { dciodvfy, dciodvfySkipReason } from '../helpers/dciodvfy.js';
import { LIVER_TAGS, labelVolume } from '../segmentation/fixtures.js';

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

let t: TestApp;
before(async () => {
  t = await makeTestApp();
});
after(() => t.close());

const DIMS: Vec3 = [20, 16, 9];
const c = Math.cos(0.3),
  s = Math.sin(0.3);
const GRID = {
  spacing: [0.9, 1.1, 2.5] as Vec3,
  origin: [-12, 30, -40] as Vec3,
  direction: [c, -s, 0, s, c, 0, 0, 0, 1] as Mat3,
};

function segmentation(): Segmentation {
  const a = labelVolume(
    DIMS,
    (i, j, k) => (k >= 2 && k <= 6 && i < 10 ? (j < 8 ? 1 : 2) : 0),
    GRID,
  );
  const b = labelVolume(
    DIMS,
    (i, j, k) => (k >= 4 && i >= 6 && i < 14 && j >= 4 && j < 12 ? 3 : 0),
    GRID,
  );
  const n = a.data.length;
  const data = new Uint8Array(new SharedArrayBuffer(n * 2));
  for (let p = 0; p < n; p++) {
    data[p * 2] = a.data[p]!;
    data[p * 2 + 1] = b.data[p]!;
  }
  return {
    labelmap: { ...a, components: 2, data },
    segments: [
      {
        id: 'Segment_1',
        name: 'liver',
        color: [0.866667, 0.509804, 0.396078],
        labelValue: 1,
        layer: 0,
        tags: { TerminologyEntry: LIVER_TAGS.split('|')[1]!.slice('TerminologyEntry:'.length) },
      },
      {
        id: 'kidney_id',
        name: 'kidney',
        color: [0.2, 0.6, 0.9],
        labelValue: 2,
        layer: 0,
        tags: {},
      },
      { id: 'mass', name: 'mass (overlaps)', color: [1, 1, 0], labelValue: 3, layer: 1, tags: {} },
    ],
  };
}

async function segBytes(x: Segmentation): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const ch of segNrrdChunks(x)) parts.push(Buffer.from(ch));
  return Buffer.concat(parts);
}

async function sceneWithSegmentation(): Promise<{ volumeId: string; segId: string }> {
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  const ct = labelVolume(
    DIMS,
    (i, j, k) => -1000 + ((i * 37 + j * 11 + k * 5) % 1400),
    GRID,
    'int16',
  );
  const v = await json(
    t.app.request('/slicer/volume?name=CT', {
      method: 'POST',
      body: (await encodeNrrd(ct)) as Uint8Array<ArrayBuffer>,
    }),
  );
  const sg = await json(
    t.app.request('/slicer/segmentation?name=Organs&referenceVolume=CT', {
      method: 'PUT',
      body: (await segBytes(segmentation())) as Uint8Array<ArrayBuffer>,
    }),
  );
  return { volumeId: v.id, segId: sg.id };
}

async function part10Of(series: string): Promise<Buffer[]> {
  const archive = t.ctx.archive!();
  const study = (await archive.studyOfSeries(series))!;
  return Promise.all((await archive.instances(study, series)).map((r) => archive.part10(r, true)));
}

test('SEG export: reference volume saved first, SEG and CT pass dciodvfy, dcm2json reads our frames', async (tt) => {
  const { segId } = await sceneWithSegmentation();
  const res = await json(t.app.request(`/slicer/dicom/save?id=${segId}`, { method: 'POST' }));
  assert.equal(res.success, true, JSON.stringify(res));
  assert.equal(res.referenceSaved, true);
  assert.equal(res.segments, 3);
  // liver: k 2..6 (5 frames); kidney: k 2..6 (5); mass: k 4..8 (5)
  assert.equal(res.frames, 15);
  const [seg] = await part10Of(res.seriesInstanceUID);
  const skip = dciodvfySkipReason();
  if (skip) tt.diagnostic(`dciodvfy skipped: ${skip}`);
  else {
    const v = await dciodvfy(seg!);
    assert.equal(v.iod, 'Segmentation', v.output);
    assert.deepEqual(v.errors, [], v.output);
    tt.diagnostic(
      `dciodvfy SEG: ${v.errors.length} errors, ${v.warnings.length} warnings: ${v.warnings.join(' | ')}`,
    );
    const ct = await part10Of(res.referencedSeriesInstanceUID);
    const vc = await dciodvfy(ct[0]!);
    assert.equal(vc.iod, 'CTImage', vc.output);
    assert.deepEqual(vc.errors, [], vc.output);
  }
  // Independent reader: dcmtk's dcm2json.
  if (!existsSync('/usr/bin/dcm2json')) {
    tt.diagnostic('dcm2json (dcmtk) not installed: independent read skipped');
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vg-seg-'));
  try {
    writeFileSync(path.join(dir, 'seg.dcm'), seg!);
    const j = JSON.parse(
      execFileSync('/usr/bin/dcm2json', [path.join(dir, 'seg.dcm')], {
        maxBuffer: 256 << 20,
      }).toString(),
    ) as Record<string, { Value?: unknown[]; InlineBinary?: string }>;
    const segs = j['00620002']!.Value as Array<Record<string, { Value: unknown[] }>>;
    assert.deepEqual(
      segs.map((x) => x['00620005']!.Value[0]),
      ['liver', 'kidney', 'mass (overlaps)'],
    );
    const liverType = (segs[0]!['0062000F']!.Value[0] as Record<string, { Value: unknown[] }>)[
      '00080100'
    ]!.Value[0];
    assert.equal(liverType, '10200004');
    const frames = j['52009230']!.Value as Array<
      Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>
    >;
    assert.equal(frames.length, 15);
    const bits = Buffer.from(j['7FE00010']!.InlineBinary!, 'base64');
    const orig = segmentation();
    const [ni, nj] = DIMS;
    // Check every frame's bits against the original mask at the frame's own position.
    const rasToLps = (p: number[]) => [-p[0]!, -p[1]!, p[2]!];
    frames.forEach((f, fi) => {
      const segNo = f['0062000A']!.Value[0]!['0062000B']!.Value[0] as number;
      const ipp = (f['00209113']!.Value[0]!['00200032']!.Value as number[]).map(Number);
      // k from the position: origin (LPS) + k·2.5·z
      const o = rasToLps(GRID.origin);
      const k = Math.round((ipp[2]! - o[2]!) / 2.5);
      assert.ok(Math.abs(ipp[0]! - o[0]!) < 1e-3 && Math.abs(ipp[1]! - o[1]!) < 1e-3);
      const { mask } = segmentMask(orig, orig.segments[segNo - 1]!.id);
      for (let p = 0; p < ni * nj; p++) {
        const bit = fi * ni * nj + p;
        assert.equal(
          (bits[bit >> 3]! >> (bit & 7)) & 1,
          mask[k * ni * nj + p],
          `frame ${fi + 1} pixel ${p}`,
        );
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SEG listed by loadables, loaded by series= with the same segments, voxels and grid', async () => {
  const { segId } = await sceneWithSegmentation();
  const saved = await json(t.app.request(`/slicer/dicom/save?id=${segId}`, { method: 'POST' }));
  const list = await json(
    t.app.request(`/slicer/dicom/loadables?studyInstanceUID=${saved.studyInstanceUID}`),
  );
  const segItem = list.series.find(
    (x: { seriesInstanceUID: string }) => x.seriesInstanceUID === saved.seriesInstanceUID,
  );
  assert.deepEqual(
    [segItem.kind, segItem.loadable, segItem.modality, segItem.segments, segItem.frames],
    ['segmentation', true, 'SEG', ['liver', 'kidney', 'mass (overlaps)'], 15],
  );
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  const lv = await json(
    t.app.request(`/slicer/dicom/load?series=${saved.referencedSeriesInstanceUID}`, {
      method: 'POST',
    }),
  );
  const ls = await json(
    t.app.request(`/slicer/dicom/load?series=${saved.seriesInstanceUID}`, { method: 'POST' }),
  );
  assert.equal(ls.success, true, JSON.stringify(ls));
  const node = t.ctx.scene.byId(ls.loadedNodeIDs[0]) as SegmentationNode;
  assert.ok(isSegmentationNode(node));
  assert.equal(node.referenceVolumeId, lv.loadedNodeIDs[0]);
  const orig = segmentation();
  const back = node.segmentation;
  assert.deepEqual(back.labelmap.dimensions, DIMS, 'the grid of the source series (all slices)');
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(back.labelmap.spacing[i]! - GRID.spacing[i]!) < 1e-6);
    assert.ok(Math.abs(back.labelmap.origin[i]! - GRID.origin[i]!) < 1e-6);
  }
  back.labelmap.direction.forEach((x, i) => assert.ok(Math.abs(x - GRID.direction[i]!) < 1e-6));
  assert.deepEqual(
    back.segments.map((x) => [x.id, x.name]),
    orig.segments.map((x) => [x.id, x.name]),
  );
  back.segments.forEach((x, i) =>
    x.color.forEach((v, j) =>
      assert.ok(Math.abs(v - orig.segments[i]!.color[j]!) < 2e-3, `${x.id} colour`),
    ),
  );
  assert.match(
    back.segments[0]!.tags.TerminologyEntry!,
    /SCT\^123037004\^Anatomical Structure~SCT\^10200004\^Liver/,
  );
  for (const seg of orig.segments)
    assert.deepEqual(
      Array.from(segmentMask(back, seg.id).mask),
      Array.from(segmentMask(orig, seg.id).mask),
      seg.id,
    );
  assert.equal(back.labelmap.components, 2, 'the overlapping segment is on a second layer');
});

test('SEG export refuses what it cannot write; a broken SEG is refused on load, nothing stored', async () => {
  await t.app.request('/slicer/mrml', { method: 'DELETE' });
  const lone = await json(
    t.app.request('/slicer/segmentation?name=Lone', {
      method: 'PUT',
      body: (await encodeNrrd(
        labelVolume([4, 4, 2], (i) => (i ? 1 : 0)),
      )) as Uint8Array<ArrayBuffer>,
    }),
  );
  const r = await t.app.request(`/slicer/dicom/save?id=${lone.id}`, { method: 'POST' });
  assert.equal(r.status, 422);
  assert.match(((await r.json()) as { message: string }).message, /no reference volume/);
  // A SEG with its pixel data cut short.
  const { segId } = await sceneWithSegmentation();
  const saved = await json(t.app.request(`/slicer/dicom/save?id=${segId}`, { method: 'POST' }));
  const [seg] = await part10Of(saved.seriesInstanceUID);
  const truncated = Buffer.from(seg!);
  // PixelData is the last element: shorten its value and its declared length by 40 bytes.
  const at = truncated.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const len = truncated.readUInt32LE(at + 8);
  truncated.writeUInt32LE(len - 40, at + 8);
  await assert.rejects(readSeg(truncated.subarray(0, truncated.length - 40)), /missing frames/);
});
