/**
 * POST /slicer/segmentation/surfaces: each segment's closed surface encloses its voxels (volume
 * within a few percent of voxel count × voxel volume), is drawn by /slicer/threeD and exported by
 * threeDGraphics (validator: zero errors), and becomes model nodes with asModels=true.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import validator from 'gltf-validator';
import { makeTestApp } from '../helpers/app.js';
import { sphereVolume } from '../helpers/phantom.js';
import { addVolume, decode } from '../helpers/render.js';
import { createSegmentation } from '../../src/scene/segmentations.js';
import { segmentationFromLabelmap } from '../../src/imaging/segmentation.js';
import { allocShared, type Mat3, type Vec3 } from '../../src/imaging/types.js';

function twoBlobs() {
  const dimensions: Vec3 = [48, 40, 32];
  const data = allocShared('uint8', 48 * 40 * 32);
  for (let k = 0, p = 0; k < 32; k++)
    for (let j = 0; j < 40; j++)
      for (let i = 0; i < 48; i++, p++) {
        if ((i - 14) ** 2 + (j - 20) ** 2 + (k - 16) ** 2 <= 81) data[p] = 1;
        else if (((i - 34) / 9) ** 2 + ((j - 20) / 12) ** 2 + ((k - 16) / 7) ** 2 <= 1) data[p] = 2;
      }
  const c = Math.cos(0.2),
    s = Math.sin(0.2);
  return {
    scalarType: 'uint8' as const,
    components: 1,
    dimensions,
    spacing: [0.9, 1.1, 1.3] as Vec3,
    origin: [-20, -22, -20] as Vec3,
    direction: [c, 0, s, 0, 1, 0, -s, 0, c] as Mat3,
    data,
  };
}

test('POST /slicer/segmentation/surfaces: volumes match the voxels; drawn in 3D; exported; asModels', async () => {
  const t = await makeTestApp();
  try {
    addVolume(
      t.ctx.scene,
      sphereVolume({ dimensions: [32, 32, 32], origin: [-16, -16, -16], background: -1000 }),
    );
    const seg = createSegmentation(t.ctx.scene, {
      name: 'Seg',
      segmentation: segmentationFromLabelmap(twoBlobs()),
    });
    const before = await decode(
      await (await t.app.request('/slicer/threeD?size=64&format=png')).arrayBuffer(),
    );
    for (const smoothing of [0, 0.5]) {
      const res = await t.app.request(
        `/slicer/segmentation/surfaces?id=${seg.id}&smoothing=${smoothing}&decimation=${smoothing ? 0.5 : 0}`,
        { method: 'POST' },
      );
      const j = (await res.json()) as {
        segments: Array<{
          numberOfTriangles: number;
          surfaceVolumeMm3: number;
          voxelVolumeMm3: number;
        }>;
      };
      assert.equal(res.status, 200, JSON.stringify(j));
      assert.equal(j.segments.length, 2);
      for (const s of j.segments) {
        assert.ok(s.numberOfTriangles > 100);
        const err = Math.abs(s.surfaceVolumeMm3 - s.voxelVolumeMm3) / s.voxelVolumeMm3;
        assert.ok(
          err < 0.05,
          `smoothing ${smoothing}: ${s.surfaceVolumeMm3} vs ${s.voxelVolumeMm3} mm³`,
        );
      }
    }
    // The 3D view now shows the surfaces (the volume is transparent air).
    const after = await decode(
      await (await t.app.request('/slicer/threeD?size=64&format=png')).arrayBuffer(),
    );
    let changed = 0;
    for (let i = 0; i < after.data.length; i++) if (after.data[i] !== before.data[i]) changed++;
    assert.ok(changed > 300, `${changed} channel values changed`);
    // threeDGraphics carries both segment surfaces.
    const gltf = await (await t.app.request('/slicer/threeDGraphics')).text();
    const report = await validator.validateString(gltf);
    assert.equal(report.issues.numErrors, 0);
    const names = (JSON.parse(gltf).nodes as Array<{ name?: string; mesh?: number }>)
      .filter((n) => n.mesh !== undefined)
      .map((n) => n.name);
    assert.deepEqual(names.sort(), ['Seg: Segment_1', 'Seg: Segment_2']);
    // As models.
    const res = await t.app.request(`/slicer/segmentation/surfaces?id=${seg.id}&asModels=true`, {
      method: 'POST',
    });
    const j = (await res.json()) as { modelIDs: string[] };
    assert.equal(j.modelIDs.length, 2);
    const models = (await (await t.app.request('/slicer/models')).json()) as Array<{
      name: string;
    }>;
    assert.deepEqual(models.map((m) => m.name).sort(), ['Seg_Segment_1', 'Seg_Segment_2']);
    // Bad parameters.
    assert.equal(
      (
        await t.app.request(`/slicer/segmentation/surfaces?id=${seg.id}&smoothing=2`, {
          method: 'POST',
        })
      ).status,
      400,
    );
    assert.equal(
      (await t.app.request('/slicer/segmentation/surfaces?id=nope', { method: 'POST' })).status,
      404,
    );
  } finally {
    await t.close();
  }
});
