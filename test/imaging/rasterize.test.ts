/**
 * Rasterizer unit tests: watertight coverage (top-left rule on exact sub-pixel edge functions),
 * orthographic camera, determinism.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rasterize, type RasterJob } from '../../src/imaging/rasterize.js';

/** A square [−0.3, 0.3]² at z = 0 tiled by a jittered 12×12 grid of triangle pairs. */
function tiledSquare(seed: number) {
  const n = 12;
  let r = seed;
  const rand = () => ((r = (r * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.03;
  const positions: number[] = [];
  for (let j = 0; j <= n; j++)
    for (let i = 0; i <= n; i++) {
      const inner = i > 0 && i < n && j > 0 && j < n;
      positions.push(
        -0.3 + (0.6 * i) / n + (inner ? rand() : 0),
        -0.3 + (0.6 * j) / n + (inner ? rand() : 0),
        0,
      );
    }
  const indices: number[] = [];
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) {
      const a = j * (n + 1) + i;
      indices.push(a, a + 1, a + n + 2, a, a + n + 2, a + n + 1);
    }
  return { positions: new Float32Array(positions), indices: new Uint32Array(indices) };
}

function job(
  kind: 'perspective' | 'orthographic',
  seed: number,
  output: RasterJob['output'] = 'label',
): RasterJob {
  return {
    kind: 'raster',
    width: 80,
    height: 60,
    output,
    meshes: [{ ...tiledSquare(seed), color: [0.5, 0.5, 0.5], opacity: 1, label: [7, 0, 0] }],
    camera: {
      kind,
      worldFromCamera: [1, 0, 0, 0.01, 0, 1, 0, -0.02, 0, 0, 1, 1, 0, 0, 0, 1],
      fx: kind === 'perspective' ? 70 : 70,
      fy: 70,
      cx: 40.25,
      cy: 30.5,
      near: 0.01,
      far: 10,
    },
  };
}

test('a tiled square covers exactly the pixels whose centres it contains (no gaps along shared edges)', () => {
  for (const kind of ['perspective', 'orthographic'] as const)
    for (const seed of [1, 2, 3]) {
      const img = rasterize(job(kind, seed));
      const d = img.data as Uint8Array;
      let got = 0,
        want = 0;
      for (let y = 0; y < 60; y++)
        for (let x = 0; x < 80; x++) {
          if (d[3 * (y * 80 + x)] === 7) got++;
          // Square edges in pixels (camera at x = 0.01, y = −0.02, 1 m away): u = 70·(X − 0.01) + 40.25.
          const X = (x + 0.5 - 40.25) / 70 + 0.01,
            Y = -((y + 0.5 - 30.5) / 70) - 0.02;
          if (X >= -0.3 && X < 0.3 && Y > -0.3 && Y <= 0.3) want++;
        }
      assert.ok(Math.abs(got - want) <= 2, `${kind} seed ${seed}: ${got} covered vs ${want}`);
      // No holes inside: every pixel well inside the square is covered.
      for (let y = 12; y < 48; y++)
        for (let x = 22; x < 58; x++) assert.equal(d[3 * (y * 80 + x)], 7, `${kind} (${x}, ${y})`);
    }
});

test('rasterize is deterministic and colour output has no holes inside a tiled surface', () => {
  const a = rasterize(job('perspective', 5, 'color'));
  const b = rasterize(job('perspective', 5, 'color'));
  assert.deepEqual(a.data, b.data);
  const d = a.data as Uint8Array;
  for (let y = 12; y < 48; y++)
    for (let x = 22; x < 58; x++)
      assert.notDeepEqual([d[3 * (y * 80 + x)], d[3 * (y * 80 + x) + 1]], [204, 229]);
});
