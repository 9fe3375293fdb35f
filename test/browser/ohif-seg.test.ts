/**
 * OHIF lists and displays a DICOM SEG saved by voxelgate over its source series: the sample study
 * is loaded into the scene, a segmentation is made on its volume and saved as SEG, and OHIF (at
 * /browse, on voxelgate's /dicom) shows the SEG series in the study, opens it, and draws the
 * segment in its colour in the right place. Skipped (with the reason) without Chromium or the
 * OHIF dist; fails instead under VOXELGATE_REQUIRE_BROWSER=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { boxSegNrrd, ohifSkipReason, useBrowser } from '../helpers/browser-setup.js';

const reason = ohifSkipReason();
if (reason) console.log(`# OHIF SEG test skipped: ${reason}`);
/** Where to write a screenshot of the result (docs), when set. */
const shot = process.env.VOXELGATE_OHIF_SEG_SHOT;

const env = useBrowser({ skip: reason, width: 1400, height: 900 });

const post = async (u: string, body?: Uint8Array, method = 'POST'): Promise<any> => {
  const r = await fetch(env.server.url + u, {
    method,
    body: body as Uint8Array<ArrayBuffer> | undefined,
  });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j;
};

test(
  'OHIF lists the SEG voxelgate saved and draws it over its source series',
  { skip: reason, timeout: 180_000 },
  async () => {
    const studies = (await (await fetch(`${env.server.url}/dicom/studies`)).json()) as Array<
      Record<string, { Value?: unknown[] }>
    >;
    const uid = String(studies[0]!['0020000D']!.Value![0]);
    const loaded = await post(`/slicer/dicom/load?studyInstanceUID=${uid}`);
    const volId = loaded.loadedNodeIDs[0] as string;
    const file = await boxSegNrrd(env.server.url, volId, {
      range: (n) => [Math.floor(n * 0.3), Math.floor(n * 0.7)],
      segment: { id: 'Segment_1', name: 'Voxelgate box', color: [1, 0.2, 0.2] },
    });
    const seg = await post(`/slicer/segmentation?name=Box&referenceVolume=${volId}`, file, 'PUT');
    const saved = await post(`/slicer/dicom/save?id=${seg.id}&seriesDescription=Voxelgate%20SEG`);
    assert.equal(saved.studyInstanceUID, uid, 'the SEG goes into the source study');
    assert.equal(saved.referenceSaved, false, 'the source series is referenced, not saved again');

    const page = await env.browser.context.newPage();
    page.setDefaultTimeout(60_000);
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400 && new URL(r.url()).origin === env.server.url)
        failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${env.server.url}/browse/viewer?StudyInstanceUIDs=${uid}`);
    const skip = page.getByText('Skip all');
    // The study's series panel lists the SEG (by its description and modality).
    const thumb = page.getByText('Voxelgate SEG').first();
    await thumb.waitFor();
    await page.locator('canvas.cornerstone-canvas').first().waitFor();
    // The first-visit tour covers the page; dismiss it when it shows.
    for (let i = 0; i < 10; i++) {
      if (await skip.isVisible().catch(() => false)) {
        await skip.click().catch(() => {});
        break;
      }
      await page.waitForTimeout(500);
    }
    await thumb.dblclick({ force: true });
    // OHIF asks whether to open the segmentation in the viewport.
    const yes = page.getByRole('button', { name: 'Yes' }).first();
    const asked = await yes
      .waitFor({ timeout: 20_000 })
      .then(() => true)
      .catch(() => false);
    if (asked) await yes.click();
    // The overlay: red segment pixels (fill and outline) over the grey CT, around the centre of
    // the viewport (the box covers the middle 40 % of the phantom in both directions).
    const viewport = page.locator('canvas.cornerstone-canvas').first();
    let red = 0,
      cx = 0,
      cy = 0,
      w = 0,
      h = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      // OHIF replaces the canvas element when the segmentation loads: a screenshot taken at
      // that moment fails ("not attached to the DOM"); look again.
      const png = await viewport.screenshot().catch(() => undefined);
      if (!png) {
        await page.waitForTimeout(250);
        continue;
      }
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      ({ width: w, height: h } = info);
      red = cx = cy = 0;
      for (let p = 0, y = 0; y < h; y++)
        for (let x = 0; x < w; x++, p += info.channels) {
          if (data[p]! > 120 && data[p]! > 2 * data[p + 1]! && data[p]! > 2 * data[p + 2]!) {
            red++;
            cx += x;
            cy += y;
          }
        }
      if (red > 1000) break;
      await page.waitForTimeout(1000);
    }
    if (shot) writeFileSync(shot, await page.screenshot());
    assert.ok(red > 1000, `the SEG overlay shows in red (${red} pixels)`);
    assert.ok(Math.abs(cx / red - w / 2) < w * 0.1, 'the overlay is centred horizontally');
    assert.ok(Math.abs(cy / red - h / 2) < h * 0.1, 'the overlay is centred vertically');
    assert.deepEqual(failed, [], 'no failed requests to voxelgate');
    await page.close();
  },
);
