/**
 * The viewer's Processing panel and live scene in headless Chromium: forms built from schemas
 * (node pickers), a job's progress bar fed by the event stream, cancel, and result nodes showing
 * up in the scene list without a reload; a volume added by another client appears at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { browserSkipReason } from '../helpers/browser.js';
import { useBrowser } from '../helpers/browser-setup.js';

const noBrowser = browserSkipReason();
if (noBrowser) console.log(`# browser tests skipped: ${noBrowser}`);

const env = useBrowser({
  skip: noBrowser,
  width: 1280,
  height: 900,
  viewerPage: true,
  server: {
    functionModules: ['add.mjs', 'progress.mjs', 'threshold-filter.mjs'].map((f) =>
      path.join(PACKAGE_ROOT, 'examples', f),
    ),
  },
});

const opts = { skip: noBrowser, timeout: 90_000 };
const volumeNames = () =>
  env.page.$$eval('#volumes tr td:first-child', (tds) => tds.map((td) => td.textContent?.trim()));

/** A segmentation made by a threshold job over plain HTTP (as another client would); its name. */
async function thresholdSegmentation(): Promise<string> {
  const res = await fetch(`${env.server.url}/slicer/jobs?wait=60`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      function: 'threshold',
      params: { volume: 'CTHeadPhantom', lower: 200 },
    }),
  });
  const j = (await res.json()) as { name: string; state: string };
  assert.equal(j.state, 'succeeded');
  return j.name;
}

/** Chooses function `fn` in the panel and `name` in its segmentation picker once it is listed. */
async function pickSegmentation(fn: string, name: string): Promise<void> {
  await env.page.selectOption('#proc-fn', fn);
  await env.page.waitForFunction(
    (n) =>
      [...(globalThis as any).document.querySelectorAll('#proc-p-segmentation option')].some(
        (o: any) => o.textContent === n,
      ),
    name,
  );
  await env.page.selectOption('#proc-p-segmentation', { label: name });
}

test(
  'the Processing panel builds forms from schemas, runs a job with a progress bar, and the result appears',
  opts,
  async () => {
    await env.page.waitForSelector('#proc-fn:not([disabled])');
    const fns = await env.page.$$eval('#proc-fn option', (os) => os.map((o) => (o as any).value));
    for (const n of ['median', 'gaussian', 'register', 'add', 'progress', 'thresholdMask'])
      assert.ok(fns.includes(n), `${n} offered`);
    // median: a volume picker listing the scene's volume, a radius field with its default.
    await env.page.selectOption('#proc-fn', 'median');
    const picker = await env.page.$$eval('#proc-p-volume option', (os) =>
      os.map((o) => o.textContent),
    );
    assert.ok(picker.includes('CTHeadPhantom'), picker.join(','));
    assert.equal(await env.page.inputValue('#proc-p-radius'), '1');

    await env.page.selectOption('#proc-fn', 'thresholdMask');
    await env.page.fill('#proc-p-lower', '50');
    await env.page.click('#proc-run');
    await env.page.waitForSelector('#proc-jobs li[data-state="succeeded"]', { timeout: 60_000 });
    const text = await env.page.textContent('#proc-jobs li[data-state="succeeded"]');
    assert.match(text!, /thresholdMask-\d+/);
    assert.match(text!, /1 node\(s\) added/);
    // The result node shows in the volume list without a reload (live event stream).
    await env.page.waitForFunction(() =>
      [...(globalThis as any).document.querySelectorAll('#volumes tr td:first-child')].some(
        (td: any) => /thresholdMask-\d+/.test(td.textContent ?? ''),
      ),
    );
    assert.deepEqual(env.consoleLog.errors, []);
  },
);

test('segmentation pickers list segmentations, including one a job just made', opts, async () => {
  await pickSegmentation('islands', await thresholdSegmentation());
  await env.page.click('#proc-run');
  await env.page.waitForSelector('#proc-jobs li[data-state="succeeded"] >> text=/islands-\\d+/');
});

test('a running job shows progress from the event stream and can be cancelled', opts, async () => {
  await env.page.selectOption('#proc-fn', 'progress');
  await env.page.fill('#proc-p-steps', '200');
  await env.page.fill('#proc-p-delayMs', '50');
  const before = (await env.page.$$('#proc-jobs li')).length;
  await env.page.click('#proc-run');
  await env.page.waitForFunction(
    (n) => (globalThis as any).document.querySelectorAll('#proc-jobs li').length > n,
    before,
  );
  const row = env.page.locator('#proc-jobs li').first();
  // Progress advances (several events) while it runs.
  await env.page.waitForFunction(() => {
    const bar = (globalThis as any).document.querySelector('#proc-jobs li progress');
    return bar && bar.value > 0.05;
  });
  assert.equal(await row.getAttribute('data-state'), 'running');
  const id = await row.getAttribute('data-job');
  await row.locator('button', { hasText: 'Cancel' }).click();
  await env.page.waitForSelector(`#proc-jobs li[data-job="${id}"][data-state="cancelled"]`);
  const job = (await (await fetch(`${env.server.url}/slicer/jobs/${id}`)).json()) as {
    state: string;
  };
  assert.equal(job.state, 'cancelled');
});

test('a volume added by another client appears at once (no focus, no reload)', opts, async () => {
  const namesBefore = await volumeNames();
  // Another client: add a volume with a job started over plain HTTP.
  const res = await fetch(`${env.server.url}/slicer/jobs?wait=60`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ function: 'median', params: { volume: 'CTHeadPhantom', radius: 0 } }),
  });
  const j = (await res.json()) as { name: string; state: string };
  assert.equal(j.state, 'succeeded');
  await env.page.waitForFunction(
    (name) =>
      [...(globalThis as any).document.querySelectorAll('#volumes tr td:first-child')].some(
        (td) => td.textContent?.trim() === name,
      ),
    j.name,
  );
  assert.equal((await volumeNames()).length, namesBefore.length + 1);
  // The job started elsewhere also shows in the panel, from the event stream.
  await env.page.waitForSelector(`#proc-jobs li[data-state="succeeded"] >> text=${j.name}`);
});

test(
  'a surfaces job run from the panel adds a model to the Models list; segment statistics show as a table',
  opts,
  async () => {
    const seg = await thresholdSegmentation();
    await pickSegmentation('surfaces', seg);
    assert.equal(await env.page.inputValue('#proc-p-smoothing'), '0.5');
    await env.page.fill('#proc-p-decimation', '0.5');
    await env.page.click('#proc-run');
    const done = env.page.locator('#proc-jobs li[data-state="succeeded"]', {
      hasText: /surfaces-\d+/,
    });
    await done.waitFor({ timeout: 60_000 });
    assert.match((await done.textContent())!, /1 node\(s\) added/);
    const jobName = /surfaces-\d+/.exec((await done.textContent())!)![0];
    // The model shows in the Models list without a reload (live event stream).
    await env.page.waitForFunction(
      (name) =>
        [...(globalThis as any).document.querySelectorAll('#models li b')].some((b: any) =>
          (b.textContent ?? '').startsWith(name),
        ),
      jobName,
    );
    const models = (await (await fetch(`${env.server.url}/slicer/models`)).json()) as Array<{
      name: string;
      numberOfTriangles: number;
    }>;
    const model = models.find((m) => m.name.startsWith(`${jobName} `));
    assert.ok(model && model.numberOfTriangles > 0, JSON.stringify(models));

    // segmentStatistics from the panel: the table is listed, and selecting it shows its rows.
    await env.page.selectOption('#proc-fn', 'segmentStatistics');
    await env.page.selectOption('#proc-p-segmentation', { label: seg });
    await env.page.selectOption('#proc-p-volume', { label: 'CTHeadPhantom' });
    await env.page.click('#proc-run');
    const stats = env.page.locator('#proc-jobs li[data-state="succeeded"]', {
      hasText: /segmentStatistics-\d+/,
    });
    await stats.waitFor({ timeout: 60_000 });
    const statsName = /segmentStatistics-\d+/.exec((await stats.textContent())!)![0];
    const item = env.page.locator('#tables li', { hasText: `${statsName} statistics` });
    await item.waitFor();
    await item.locator('button.link').click();
    await env.page.waitForSelector('#table-view table.values tbody tr');
    const headers = await env.page.$$eval('#table-view th', (ths) => ths.map((t) => t.textContent));
    assert.deepEqual(headers.slice(0, 4), [
      'Segment',
      'Segment ID',
      'Number of voxels',
      'Volume [mm3]',
    ]);
    const cells = await env.page.$$eval('#table-view tbody tr:first-child td', (tds) =>
      tds.map((t) => t.textContent),
    );
    const jobs = (await (await fetch(`${env.server.url}/slicer/jobs`)).json()) as Array<{
      name: string;
      result?: { values: { segments: Array<{ name: string; voxelCount: number }> } };
    }>;
    const values = jobs.find((j) => j.name === statsName)!.result!.values.segments[0]!;
    assert.equal(cells[0], values.name);
    assert.equal(cells[2], String(values.voxelCount));
    assert.deepEqual(env.consoleLog.errors, []);
  },
);
