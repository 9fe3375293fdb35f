/**
 * OHIF at /browse on voxelgate's own /dicom, in headless Chromium: the study list shows the
 * sample study, the viewer opens, and its image canvas is not blank. Skipped, with the reason
 * printed, without Chromium, without the OHIF dist (`npm run ohif:install`) or without the
 * DICOM archive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Stats } from 'sharp';
import { ohifSkipReason, useBrowser } from '../helpers/browser-setup.js';

const reason = ohifSkipReason();
if (reason) console.log(`# OHIF test skipped: ${reason}`);

const env = useBrowser({ skip: reason, width: 1280, height: 800 });

test(
  'OHIF at /browse lists the sample study, opens it, and draws a non-blank image',
  { skip: reason, timeout: 150_000 },
  async () => {
    const status = (await (await fetch(`${env.server.url}/slicer/system/status`)).json()) as {
      dicomArchive?: boolean;
    };
    assert.ok(status.dicomArchive, 'the test server has a DICOM archive');
    const studies = (await (await fetch(`${env.server.url}/dicom/studies`)).json()) as Array<
      Record<string, { Value?: unknown[] }>
    >;
    assert.ok(studies.length > 0, 'the sample study is in the archive');
    const uid = String(studies[0]!['0020000D']!.Value![0]);
    const pn = studies[0]!['00100010']?.Value?.[0] as { Alphabetic?: string } | undefined;
    const name = (pn?.Alphabetic ?? '').split('^')[0]!;

    const page = await env.browser.context.newPage();
    page.setDefaultTimeout(60_000);
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400 && new URL(r.url()).origin === env.server.url)
        failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${env.server.url}/browse/`);
    const row = page.getByText(new RegExp(name || 'Phantom')).first();
    await row.waitFor();
    await row.click();
    await page
      .getByRole('button', { name: /Basic Viewer/i })
      .first()
      .click();
    await page.waitForURL(/\/browse\/viewer\?StudyInstanceUIDs=/);
    assert.ok(page.url().includes(uid), `the viewer opened ${uid}`);
    // The first-visit tour dims the viewport; dismiss it when it shows.
    const skip = page.getByText('Skip all');
    const canvas = page.locator('canvas.cornerstone-canvas').first();
    await canvas.waitFor();
    let stats: Stats | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (await skip.isVisible().catch(() => false)) await skip.click().catch(() => {});
      // (a canvas OHIF replaces while it loads cannot be photographed: look again)
      const png = await canvas.screenshot().catch(() => undefined);
      if (png) {
        stats = await sharp(png).stats();
        if (stats.channels[0]!.max > 60 && stats.channels[0]!.stdev > 10) break;
      }
      await page.waitForTimeout(1000);
    }
    assert.ok(stats, 'the viewport canvas could be photographed');
    const ch = stats.channels[0]!;
    assert.ok(
      ch.max > 60 && ch.stdev > 10,
      `the canvas shows an image (max ${ch.max}, stdev ${ch.stdev.toFixed(1)})`,
    );
    assert.deepEqual(failed, [], 'no failed requests to voxelgate');
    await page.close();
  },
);
