/** The 3D golden-image scenes: one CT-like phantom, one job per mode (64×64). Used by the test and by scripts/regen-golden.ts. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IDENTITY4 } from '../../src/imaging/geometry.js';
import { projectionWindow, type Mode3D, type ThreeDJob } from '../../src/imaging/render3d.js';
import { autoWindowLevel, volumeStats } from '../../src/imaging/window-level.js';
import { sphereVolume } from './phantom.js';

export const GOLDEN_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'golden',
);

export function goldenPhantom(background = -1000) {
  return sphereVolume({
    dimensions: [64, 64, 64],
    origin: [-32, -32, -32],
    background,
    spheres: [
      { centre: [0, 0, 0], radius: 26, value: 40 },
      { centre: [12, 0, 0], radius: 7, value: 900 },
      { centre: [-6, 10, 8], radius: 5, value: 500 },
      { centre: [0, -8, -12], radius: 6, value: -500 },
    ],
  });
}

export const GOLDEN_CASES: Array<{
  name: string;
  mode: Mode3D;
  preset: string;
  axis: 'a' | 's' | 'l';
  orbitX: number;
  orbitY: number;
  background?: number;
}> = [
  { name: 'mip', mode: 'mip', preset: 'ct-bone', axis: 'a', orbitX: 20, orbitY: 10 },
  // MinIP needs a phantom without air around the body (every ray would find −1000).
  {
    name: 'minip',
    mode: 'minip',
    preset: 'ct-bone',
    axis: 'l',
    orbitX: 0,
    orbitY: 0,
    background: 200,
  },
  {
    name: 'composite-ct-bone',
    mode: 'composite',
    preset: 'ct-bone',
    axis: 'a',
    orbitX: 30,
    orbitY: 15,
  },
  {
    name: 'composite-ct-soft-tissue',
    mode: 'composite',
    preset: 'ct-soft-tissue',
    axis: 's',
    orbitX: 0,
    orbitY: 0,
  },
];

export function goldenJob(c: (typeof GOLDEN_CASES)[number]): ThreeDJob {
  const volume = goldenPhantom(c.background);
  const stats = volumeStats(volume.data);
  const wl =
    c.mode === 'composite' ? autoWindowLevel(volume.data) : projectionWindow(c.mode, stats);
  return {
    kind: 'threeD',
    volume,
    worldFromLocal: IDENTITY4,
    camera: {
      axis: c.axis,
      orbitX: c.orbitX,
      orbitY: c.orbitY,
      roll: 0,
      panX: 0,
      panY: 0,
      zoom: 1.2,
    },
    mode: c.mode,
    preset: c.preset,
    size: [64, 64],
    background: [0, 0, 0],
    wl,
    stats,
  };
}
