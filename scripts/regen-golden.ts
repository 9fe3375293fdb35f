/**
 * Regenerates the 3D golden images in test/fixtures/golden/ (the only way they change):
 *   node --import tsx scripts/regen-golden.ts
 * Look at the images before committing them.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { renderThreeD } from '../src/imaging/render3d.js';
import { GOLDEN_CASES, GOLDEN_DIR, goldenJob } from '../test/helpers/golden.js';

mkdirSync(GOLDEN_DIR, { recursive: true });
for (const c of GOLDEN_CASES) {
  const img = renderThreeD(goldenJob(c));
  let s = sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: img.channels },
  });
  if (img.channels === 1) s = s.toColourspace('b-w');
  const file = path.join(GOLDEN_DIR, `threeD-${c.name}.png`);
  await s.png({ compressionLevel: 9 }).toFile(file);
  console.log(
    `wrote ${file} (${img.width}×${img.height}, ${img.channels} channel${img.channels > 1 ? 's' : ''})`,
  );
}
