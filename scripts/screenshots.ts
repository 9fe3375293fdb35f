/**
 * Writes the README screenshots: `docs/screenshot-viewer.png` (the page at `/` on the sample
 * scene) and `docs/screenshot-ohif.png` (OHIF at `/browse` on the sample study). Starts its own
 * server on an ephemeral port over a temporary data folder, drives the system Chromium.
 *
 *   node --import tsx scripts/screenshots.ts [--out docs]
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_OHIF_DIR } from '../src/http/browse.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { startTestServer } from '../test/helpers/app.js';
import { browserSkipReason, launchBrowser } from '../test/helpers/browser.js';

const args = process.argv.slice(2);
const outDir = path.resolve(
  args.includes('--out') ? args[args.indexOf('--out') + 1]! : path.join(PACKAGE_ROOT, 'docs'),
);

const why = browserSkipReason();
if (why) {
  console.error(`screenshots: ${why}`);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
const server = await startTestServer({ noSamples: false });
const b = await launchBrowser({ width: 1440, height: 900 });
try {
  const page = await b.context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  const idle = () => page.evaluate(() => (globalThis as any).voxelgate.idle());
  await idle();
  const red = page.locator('.view.red .canvas');
  await red.focus();
  for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowUp');
  await idle();
  // A fiducial in the red view (after scrolling, so it is on the slice shown), the DICOM series open.
  const status = (await (await fetch(`${server.url}/slicer/system/status`)).json()) as {
    endpoints: string[];
  };
  if (
    status.endpoints.includes('GET /slicer/view') &&
    status.endpoints.includes('POST /slicer/fiducial')
  ) {
    await page.click('#place');
    const box = (await page.locator('.view.red img').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.58, box.y + box.height * 0.42);
    await page.waitForSelector('#fiducials ol > li');
    await page.click('#place');
  }
  const series = page.locator('#studies button[aria-expanded]').first();
  if (await series.count()) {
    await series.click();
    await page
      .locator('#studies .series li')
      .first()
      .waitFor({ timeout: 10_000 })
      .catch(() => {});
  }
  await page.evaluate(() => (globalThis as any).document.activeElement?.blur());
  await idle();
  await page.waitForTimeout(300);
  const viewerPng = path.join(outDir, 'screenshot-viewer.png');
  await page.screenshot({ path: viewerPng });
  console.log(`wrote ${path.relative(process.cwd(), viewerPng)}`);

  if (!existsSync(path.join(DEFAULT_OHIF_DIR, 'index.html'))) {
    console.error(
      'screenshots: OHIF is not installed (npm run ohif:install); skipped docs/screenshot-ohif.png',
    );
  } else {
    const studies = (await (await fetch(`${server.url}/dicom/studies`)).json()) as Array<
      Record<string, { Value?: unknown[] }>
    >;
    const uid = studies[0]?.['0020000D']?.Value?.[0] as string | undefined;
    if (!uid) throw new Error('no study in the archive');
    const o = await b.context.newPage();
    o.setDefaultTimeout(60_000);
    await o.goto(`${server.url}/browse/viewer?StudyInstanceUIDs=${uid}`);
    await o.locator('canvas.cornerstone-canvas').first().waitFor();
    const skip = o.getByText('Skip all');
    for (let i = 0; i < 10; i++) {
      if (await skip.isVisible().catch(() => false)) {
        await skip.click();
        break;
      }
      await o.waitForTimeout(500);
    }
    // Scroll to the middle of the series and let the viewport settle.
    const vp = o.locator('canvas.cornerstone-canvas').first();
    const box = (await vp.boundingBox())!;
    await o.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 14; i++) await o.mouse.wheel(0, 100);
    await o.mouse.move(5, box.y + box.height - 5);
    await o.waitForTimeout(2500);
    const ohifPng = path.join(outDir, 'screenshot-ohif.png');
    await o.screenshot({ path: ohifPng });
    console.log(`wrote ${path.relative(process.cwd(), ohifPng)}`);
  }
} finally {
  await b.close();
  await server.close();
}
