/**
 * The viewer page shows segmentations: a `.seg.nrrd` dropped on the page is uploaded (the shown
 * volume as reference), listed with its segments (swatch, name, visibility), drawn over the slice
 * views, and hidden again with a segment's visibility toggle. Headless Chromium; skipped with the
 * reason when there is none (fails instead under VOXELGATE_REQUIRE_BROWSER=1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSkipReason } from '../helpers/browser.js';
import { boxSegNrrd, useBrowser } from '../helpers/browser-setup.js';

const noBrowser = browserSkipReason();
if (noBrowser) console.log(`# browser tests skipped: ${noBrowser}`);

const env = useBrowser({ skip: noBrowser, width: 1280, height: 900, viewerPage: true });

const idle = () => env.page.evaluate(() => (globalThis as any).voxelgate.idle());

/** Counts pixels of the red view's image close to an RGB colour. */
const redPixelsNear = (rgb: [number, number, number]) =>
  env.page.evaluate(async (c) => {
    const d = (globalThis as any).document;
    const img = d.querySelector('.view.red img');
    const bmp = await (globalThis as any).createImageBitmap(await (await fetch(img.src)).blob());
    const cv = d.createElement('canvas');
    cv.width = bmp.width;
    cv.height = bmp.height;
    const g = cv.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const px = g.getImageData(0, 0, bmp.width, bmp.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4)
      if (
        Math.abs(px[i] - c[0]) <= 2 &&
        Math.abs(px[i + 1] - c[1]) <= 2 &&
        Math.abs(px[i + 2] - c[2]) <= 2
      )
        n++;
    return n;
  }, rgb);

/** A .seg.nrrd on the sample volume's grid: a pure-green box in its middle (outline colour). */
const segFileFor = (volumeId: string) =>
  boxSegNrrd(env.server.url, volumeId, {
    range: (n) => [Math.floor(n / 3), Math.floor((2 * n) / 3)],
    segment: { id: 'Segment_1', name: 'Box', color: [0, 1, 0] },
  });

test(
  'drop a .seg.nrrd: listed with swatch and name, drawn over the slices, hidden by its toggle',
  { skip: noBrowser, timeout: 90_000 },
  async () => {
    const vols = (await (await fetch(`${env.server.url}/slicer/volumes`)).json()) as Array<{
      id: string;
    }>;
    assert.ok(vols.length > 0, 'the test server starts with a sample volume');
    await idle();
    assert.equal(await redPixelsNear([0, 255, 0]), 0, 'no green before the segmentation');
    const file = await segFileFor(vols[0]!.id);
    // Drop the file on the segmentation drop zone (a DataTransfer built in the page).
    const b64 = file.toString('base64');
    await env.page.evaluate((data) => {
      const d = (globalThis as any).document;
      const bin = atob(data);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new (globalThis as any).DataTransfer();
      dt.items.add(
        new (globalThis as any).File([bytes], 'organs.seg.nrrd', {
          type: 'application/octet-stream',
        }),
      );
      d.getElementById('seg-dropzone').dispatchEvent(
        new (globalThis as any).DragEvent('drop', {
          dataTransfer: dt,
          bubbles: true,
          cancelable: true,
        }),
      );
    }, b64);
    await env.page.waitForSelector('#segmentations li[data-segment="Segment_1"]', {
      timeout: 20_000,
    });
    const item = await env.page.textContent('#segmentations li[data-segment="Segment_1"]');
    assert.match(item ?? '', /Box/);
    const swatch = await env.page.getAttribute(
      '#segmentations li[data-segment="Segment_1"] .swatch',
      'style',
    );
    assert.match(swatch ?? '', /rgb\(0, ?255, ?0\)/);
    const list = (await (await fetch(`${env.server.url}/slicer/segmentations`)).json()) as Record<
      string,
      { name: string }
    >;
    assert.deepEqual(
      Object.values(list).map((x) => x.name),
      ['organs'],
    );
    // The overlay: outline pixels in pure green, fill blended.
    await env.page.waitForFunction(() => true);
    await idle();
    let green = 0;
    for (let i = 0; i < 20 && green === 0; i++) {
      await env.page.waitForTimeout(200);
      await idle();
      green = await redPixelsNear([0, 255, 0]);
    }
    assert.ok(green > 20, `the red view shows the segment outline (${green} green pixels)`);
    // Hide the segment with its checkbox: the overlay goes away.
    await env.page.click('#segmentations li[data-segment="Segment_1"] input[type=checkbox]');
    let after = green;
    for (let i = 0; i < 20 && after > 0; i++) {
      await env.page.waitForTimeout(200);
      await idle();
      after = await redPixelsNear([0, 255, 0]);
    }
    assert.equal(after, 0, 'hidden segment: no green');
    const j = (await (await fetch(`${env.server.url}/slicer/segmentation?format=json`)).json()) as {
      segments: Array<{ visible: boolean }>;
    };
    assert.equal(j.segments[0]!.visible, false);
    assert.deepEqual(env.consoleLog.errors, []);
  },
);
