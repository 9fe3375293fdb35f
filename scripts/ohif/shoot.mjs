// Screenshots of OHIF's study list and viewer: node scripts/ohif/shoot.mjs <ohif-url> <out-dir> <StudyInstanceUID…>
import { chromium } from 'playwright-core';
const [base, outDir, ...studies] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const log = [];
page.on('response', (r) => {
  if (r.url().includes('/dicom'))
    log.push(`${r.status()} ${r.request().method()} ${r.url().replace(/^https?:\/\/[^/]+/, '')}`);
});
page.on('requestfailed', (r) => log.push(`FAILED ${r.url()} ${r.failure()?.errorText}`));
page.on('console', (m) => {
  if (m.type() === 'error') log.push(`console.error ${m.text().slice(0, 200)}`);
});
await page
  .goto(`${base}/`, { waitUntil: 'networkidle', timeout: 60000 })
  .catch((e) => log.push('goto ' + e.message));
await page.waitForTimeout(5000);
await page.screenshot({ path: `${outDir}/study-list.png` });
for (const [i, st] of studies.entries()) {
  await page
    .goto(`${base}/viewer?StudyInstanceUIDs=${st}`, { waitUntil: 'networkidle', timeout: 90000 })
    .catch((e) => log.push('goto ' + e.message));
  await page.waitForTimeout(12000);
  const skip = page.getByText('Skip all');
  if (await skip.count())
    await skip
      .first()
      .click()
      .catch(() => {});
  await page.waitForTimeout(2000);
  await page.screenshot({ path: `${outDir}/viewer-${i}.png` });
}
await browser.close();
const counts = {};
for (const l of log) {
  const k =
    l.split(' ').slice(0, 2).join(' ') +
    ' ' +
    (l.includes('/frames/')
      ? 'frames'
      : l.includes('/metadata')
        ? 'metadata'
        : l.includes('/series')
          ? 'series'
          : l.includes('/studies')
            ? 'studies'
            : 'other');
  counts[k] = (counts[k] || 0) + 1;
}
console.log(JSON.stringify(counts, null, 1));
console.log(
  log
    .filter((l) => !/^200 /.test(l))
    .slice(0, 30)
    .join('\n'),
);
