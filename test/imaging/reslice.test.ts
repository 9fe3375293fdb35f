import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDENTITY4, transformPoint, worldToIjkMatrix } from '../../src/imaging/geometry.js';
import { reslice, trilinear, pixelToRasMatrix } from '../../src/imaging/reslice.js';
import { ORIENTATION_MATRICES, sliceToRasOf } from '../../src/views/views.js';
import { rampVolume } from '../helpers/phantom.js';

describe('reslice', () => {
  // value = i + 10 j + 100 k, identity geometry (voxel (i,j,k) at RAS (i,j,k)).
  const vol = rampVolume([10, 10, 6], [1, 10, 100, 0]);
  const w2i = worldToIjkMatrix(vol, IDENTITY4);
  // Axial, centre (3.75, 3.25, 2.5), 8 mm over 8 px: pixel (col,row) → RAS (7.25 − col, 6.75 − row, 2.5).
  const g = {
    sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES.axial, [3.75, 3.25, 2.5]),
    fov: [8, 8] as [number, number],
    size: [8, 8] as [number, number],
  };

  it('maps pixel centres to RAS as documented', () => {
    assert.deepEqual(transformPoint(pixelToRasMatrix(g), [2, 1, 0]), [5.25, 5.75, 2.5]);
  });

  it('linear sampling equals the hand-computed trilinear value', () => {
    const out = reslice(vol, w2i, g, 'linear');
    // (col 2, row 1) → i 5.25, j 5.75, k 2.5 → 5.25 + 57.5 + 250
    assert.ok(Math.abs(out[1 * 8 + 2]! - 312.75) < 1e-4, String(out[1 * 8 + 2]));
    // (col 0, row 0) → i 7.25, j 6.75 → 7.25 + 67.5 + 250
    assert.ok(Math.abs(out[0]! - 324.75) < 1e-4, 'Math.abs(out[0]! - 324.75) < 1e-4');
  });

  it('linear sampling on a voxel-centre plane (bilinear fast path) equals the hand-computed value', () => {
    const g2 = { ...g, sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES.axial, [3.75, 3.25, 2]) };
    const out = reslice(vol, w2i, g2, 'linear');
    assert.ok(Math.abs(out[1 * 8 + 2]! - 262.75) < 1e-4, String(out[1 * 8 + 2]));
    // The same plane through the general trilinear path (a hair off the voxel centre).
    const g3 = {
      ...g,
      sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES.axial, [3.75, 3.25, 2 + 1e-5]),
    };
    assert.ok(
      Math.abs(reslice(vol, w2i, g3, 'linear')[1 * 8 + 2]! - 262.75) < 1e-2,
      'trilinear path agrees',
    );
  });

  it('nearest sampling picks the nearest voxel (ties round up)', () => {
    const out = reslice(vol, w2i, g, 'nearest');
    // i 5.25 → 5, j 5.75 → 6, k 2.5 → 3
    assert.equal(out[1 * 8 + 2], 5 + 60 + 300);
  });

  it('trilinear clamps at the border and interpolates exactly inside', () => {
    assert.equal(trilinear(vol.data, vol.dimensions, 1, 0, -0.4, 0, 0), 0);
    assert.ok(
      Math.abs(trilinear(vol.data, vol.dimensions, 1, 0, 1.5, 2.5, 3.5) - (1.5 + 25 + 350)) < 1e-9,
      'Math.abs(trilinear(vol.data, vol.dimensions, 1, 0, 1.5, 2.5, 3.5) - (1.5 + 25 + 350)) < 1e-9',
    );
  });

  it('outside the volume is NaN', () => {
    const far = { ...g, sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES.axial, [100, 100, 2.5]) };
    const out = reslice(vol, w2i, far, 'linear');
    assert.ok(
      out.every((v) => Number.isNaN(v)),
      'out.every((v) => Number.isNaN(v))',
    );
  });

  it('samples through a parent transform (world → local)', () => {
    // The volume moved +100 mm along R: world RAS (105.25, …) is local (5.25, …).
    const moved: typeof IDENTITY4 = [1, 0, 0, 100, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    const w2iMoved = worldToIjkMatrix(vol, moved);
    const g2 = { ...g, sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES.axial, [103.75, 3.25, 2.5]) };
    const out = reslice(vol, w2iMoved, g2, 'linear');
    assert.ok(
      Math.abs(out[1 * 8 + 2]! - 312.75) < 1e-4,
      'Math.abs(out[1 * 8 + 2]! - 312.75) < 1e-4',
    );
  });

  it('multi-component volumes keep their components', () => {
    const rgb = { ...rampVolume([4, 4, 4], [1, 0, 0, 0]), components: 3 };
    rgb.data = new Float32Array(4 * 4 * 4 * 3).map(
      (_, n) => (n % 3) * 10 + (Math.floor(n / 3) % 4),
    );
    const out = reslice(
      rgb,
      worldToIjkMatrix(rgb, IDENTITY4),
      {
        sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES.axial, [1, 1, 1]),
        fov: [1, 1],
        size: [1, 1],
      },
      'nearest',
    );
    assert.deepEqual([...out], [1, 11, 21]);
  });
});

describe('resliceGrey (fused reslice + window/level)', () => {
  it('equals reslice + windowLevelToGrey byte for byte (nearest; linear on voxel-centre planes); declines other cases', async () => {
    const { resliceGrey } = await import('../../src/imaging/reslice.js');
    const { windowLevelToGrey } = await import('../../src/imaging/window-level.js');
    const vol = rampVolume([20, 18, 12], [1.3, 10.7, 100.1, -300]);
    const w2i = worldToIjkMatrix(vol, IDENTITY4);
    const wls = [
      { window: 400, level: 40 },
      { window: 255, level: 127.5 },
      { window: 3, level: 200 },
    ];
    let covered = 0;
    for (const [orient, centre, fov] of [
      ['axial', [9.5, 8.5, 5], [30, 24]],
      ['sagittal', [7, 8.3, 5.2], [22, 22]],
      ['coronal', [9.1, 4, 6], [25, 13]],
      ['axial', [9.5, 8.5, 5.5], [30, 24]], // between voxel planes: linear not covered
    ] as const) {
      const g = {
        sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES[orient], centre),
        fov: fov as unknown as [number, number],
        size: [37, 29] as [number, number],
      };
      for (const interp of ['nearest', 'linear'] as const) {
        for (const wl of wls) {
          const fused = new Uint8Array(37 * 29).fill(7);
          const ok = resliceGrey(vol, w2i, g, interp, wl, fused);
          const ref = new Uint8Array(37 * 29);
          windowLevelToGrey(reslice(vol, w2i, g, interp), wl, ref);
          if (interp === 'linear' && centre[2] === 5.5) assert.equal(ok, false);
          if (!ok) continue;
          covered++;
          assert.deepEqual(fused, ref, `${orient} ${interp} ${JSON.stringify(wl)}`);
        }
      }
    }
    assert.ok(covered >= 15, String(covered));
  });

  it('equals reslice + windowLevelToGrey on zoomed int16 views (rows sharing source rows), part outside, flipped axes', async () => {
    const { resliceGrey } = await import('../../src/imaging/reslice.js');
    const { windowLevelToGrey } = await import('../../src/imaging/window-level.js');
    const { allocShared } = await import('../../src/imaging/types.js');
    const dims: [number, number, number] = [23, 19, 7];
    const data = allocShared('int16', dims[0] * dims[1] * dims[2]);
    let seed = 7;
    for (let p = 0; p < data.length; p++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[p] = ((seed >>> 16) % 2400) - 1200;
    }
    // Flipped i and j axes (LPS-like direction), anisotropic spacing.
    const vol = rampVolume(dims, [0, 0, 0, 0], {
      scalarType: 'int16',
      data,
      spacing: [0.7, 1.3, 2],
      direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
      origin: [10, 12, -3],
    });
    const w2i = worldToIjkMatrix(vol, IDENTITY4);
    let checked = 0;
    for (const orient of ['axial', 'sagittal', 'coronal'] as const) {
      for (const [zoom, size] of [
        [3.1, [64, 50]],
        [0.37, [41, 67]],
        [1.9, [128, 96]],
      ] as const) {
        // A voxel-centre plane (k = 3, j = 9, i = 11) so the linear case is covered.
        const centre: [number, number, number] =
          orient === 'axial'
            ? [2, 1, 3]
            : orient === 'sagittal'
              ? [10 - 11 * 0.7, 0, 0]
              : [0, 12 - 9 * 1.3, 0];
        const g = {
          sliceToRAS: sliceToRasOf(ORIENTATION_MATRICES[orient], centre),
          fov: [size[0] / zoom, size[1] / zoom] as [number, number],
          size: [size[0], size[1]] as [number, number],
        };
        for (const wl of [
          { window: 400, level: 40 },
          { window: 2400, level: 0 },
          { window: 1, level: 0.5 },
        ]) {
          const fused = new Uint8Array(size[0] * size[1]).fill(7);
          const ok = resliceGrey(vol, w2i, g, 'linear', wl, fused);
          assert.ok(ok, `${orient} zoom ${zoom}: the fused path covers a voxel-centre plane`);
          const ref = new Uint8Array(size[0] * size[1]);
          windowLevelToGrey(reslice(vol, w2i, g, 'linear'), wl, ref);
          assert.deepEqual(fused, ref, `${orient} zoom ${zoom} ${JSON.stringify(wl)}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 27);
  });
});
