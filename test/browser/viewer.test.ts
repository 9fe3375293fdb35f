/**
 * The viewer page at `/` in headless Chromium (playwright-core + the system chromium).
 * Skipped, with the reason printed, when there is no Chromium; single tests skip with a reason
 * when the server lacks the endpoint they exercise (`/slicer/system/status` lists them).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'playwright-core';
import { pixelToRas } from '../../docroot/app/geometry.mjs';
import { browserSkipReason } from '../helpers/browser.js';
import { useBrowser } from '../helpers/browser-setup.js';

const noBrowser = browserSkipReason();
if (noBrowser) console.log(`# browser tests skipped: ${noBrowser}`);

let status: { endpoints: string[]; dicomArchive?: boolean };

/** Every /slicer/slice request the page sends, with the number in flight at that moment. */
const sliceRequests: Array<{ url: string; inFlight: number }> = [];
let inFlight = 0;
let maxInFlight = 0;
const isRedSlice = (r: Request) =>
  r.url().includes('/slicer/slice?') && r.url().includes('view=red');

const env = useBrowser({
  skip: noBrowser,
  width: 1280,
  height: 800,
  viewerPage: true,
  onPage: (page) => {
    page.on('request', (r) => {
      if (!isRedSlice(r)) return;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      sliceRequests.push({ url: r.url(), inFlight });
    });
    const done = (r: Request) => {
      if (isRedSlice(r)) inFlight--;
    };
    page.on('requestfinished', done);
    page.on('requestfailed', done);
  },
  ready: async ({ server }) => {
    status = (await (await fetch(`${server.url}/slicer/system/status`)).json()) as typeof status;
  },
});

const opts = { skip: noBrowser, timeout: 60_000 };

/** The endpoints a test relies on must be advertised by the server (a missing one is a failure). */
function needs(t: TestContext, ...endpoints: string[]): boolean {
  const missing = endpoints.filter((e) => !status.endpoints.includes(e));
  assert.deepEqual(missing, [], `"${t.name}" needs ${missing.join(', ')}`);
  return true;
}

// Callbacks below run in the page; `g` is its global object (no DOM types in this Node project).

const idle = () => env.page.evaluate(() => (globalThis as any).voxelgate.idle());
const redState = () =>
  env.page.evaluate(() => {
    const v = (globalThis as any).voxelgate.app.views.red;
    return {
      index: v.state.index as number,
      count: v.state.count as number,
      shownUrl: v.shownUrl as string | null,
    };
  });
/** The bytes of the image the red view shows (its blob: URL), as base64. */
const redImage = () =>
  env.page.evaluate(async () => {
    const img = (globalThis as any).document.querySelector('.view.red img');
    const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    let s = '';
    for (const x of buf) s += String.fromCharCode(x);
    return btoa(s);
  });

test('the page loads with no console errors and shows the server status', opts, async () => {
  await env.page.waitForTimeout(300);
  assert.deepEqual(env.consoleLog.errors, []);
  const text = await env.page.textContent('#status');
  assert.match(text ?? '', /voxelgate \d+\.\d+\.\d+/);
  assert.match(text ?? '', /exec off/);
  assert.match(text ?? '', /auth off/);
  assert.match(text ?? '', new RegExp(env.server.url.replace(/[.]/g, '\\.')));
  // Every control has an accessible name.
  const unlabelled = await env.page.evaluate(() =>
    [...(globalThis as any).document.querySelectorAll('select, input:not([type=file]), button')]
      .filter((el: any) => !el.hidden && !el.closest('[hidden]'))
      .filter(
        (el: any) =>
          // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing -- 0 labels and empty strings count as missing
          !(el.labels?.length || el.getAttribute('aria-label') || el.textContent?.trim()),
      )
      .map((el: any) => String(el.outerHTML).slice(0, 80)),
  );
  assert.deepEqual(unlabelled, []);
});

test('the sample volume is listed with its type and dimensions', opts, async (t) => {
  if (!needs(t, 'GET /slicer/volumes')) return;
  const vols = (await (await fetch(`${env.server.url}/slicer/volumes`)).json()) as Array<{
    id: string;
    name: string;
    dimensions: number[];
  }>;
  assert.ok(vols.length > 0, 'the test server starts with a sample volume');
  const row = env.page.locator(`#volumes tr[data-id="${vols[0]!.id}"]`);
  await row.waitFor();
  const text = await row.textContent();
  assert.match(text ?? '', new RegExp(vols[0]!.name));
  assert.match(text ?? '', new RegExp(vols[0]!.dimensions.join('×')));
});

test('wheel-scrolling the red view changes its slice image', opts, async (t) => {
  if (!needs(t, 'GET /slicer/volumes', 'GET /slicer/slice')) return;
  const canvas = env.page.locator('.view.red .canvas');
  await canvas.focus();
  await env.page.keyboard.press('Home');
  await idle();
  const first = await redImage();
  assert.equal((await redState()).index, 0);
  const box = (await canvas.boundingBox())!;
  await env.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let i = 0; i < 30; i++) await env.page.mouse.wheel(0, -100);
  await idle();
  const after = await redImage();
  assert.equal((await redState()).index, 30);
  assert.notEqual(after, first, 'a different slice shows a different image');
});

/** Home, then a clean slate for the request log, pointer over the red view. */
async function startAtFirstSlice() {
  const canvas = env.page.locator('.view.red .canvas');
  await canvas.focus();
  await env.page.keyboard.press('Home');
  await idle();
  const box = (await canvas.boundingBox())!;
  await env.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  sliceRequests.length = 0;
  maxInFlight = 0;
}

test(
  'a burst of 50 wheel events sends only a few renders, one at a time, and ends on the right slice',
  opts,
  async (t) => {
    if (!needs(t, 'GET /slicer/volumes', 'GET /slicer/slice')) return;
    // 1. Real wheel input, as fast as the browser takes it: the request rate follows the answers.
    await startAtFirstSlice();
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 50 }, () => env.page.mouse.wheel(0, -100)));
    const burstMs = Date.now() - t0;
    await env.page.waitForFunction(
      () => (globalThis as any).voxelgate.app.views.red.state.index >= 50,
    );
    await idle();
    let st = await redState();
    console.log(
      `# 50 real wheel notches in ${burstMs} ms → ${sliceRequests.length} /slicer/slice requests, max ${maxInFlight} in flight`,
    );
    assert.equal(st.index, Math.min(50, st.count - 1), 'the view ends 50 slices on');
    assert.equal(maxInFlight, 1, 'never more than one request in flight');
    assert.ok(
      sliceRequests.length < 25,
      `far fewer renders than wheel events, got ${sliceRequests.length}`,
    );

    // 2. 50 wheel events within one task (a fast flick): a draft, the newest draft, the full render.
    await startAtFirstSlice();
    await env.page.evaluate(() => {
      const g = globalThis as any;
      const el = g.document.querySelector('.view.red .canvas');
      for (let i = 0; i < 50; i++)
        el.dispatchEvent(
          new g.WheelEvent('wheel', {
            deltaY: -100,
            deltaMode: 0,
            bubbles: true,
            cancelable: true,
          }),
        );
    });
    await idle();
    st = await redState();
    const drafts = sliceRequests.filter((r) => r.url.includes('format=jpeg')).length;
    console.log(
      `# 50 wheel events in one task → ${sliceRequests.length} requests (${drafts} drafts + ${sliceRequests.length - drafts} full)`,
    );
    assert.equal(st.index, Math.min(50, st.count - 1));
    assert.equal(maxInFlight, 1);
    assert.ok(sliceRequests.length <= 3, `at most a few renders, got ${sliceRequests.length}`);
    const last = new URL(sliceRequests.at(-1)!.url);
    assert.equal(last.searchParams.get('format'), 'png', 'the last render is the full-quality one');
    assert.equal(
      Number(last.searchParams.get('scrollTo')),
      Number((st.index / (st.count - 1)).toFixed(6)),
    );
    assert.equal(
      st.shownUrl && new URL(st.shownUrl, env.server.url).search,
      last.search,
      'the image shown is the answer to the last request',
    );
    // The server renders that same state to the same image.
    const direct = Buffer.from(
      await (await fetch(`${env.server.url}/slicer/slice${last.search}`)).arrayBuffer(),
    ).toString('base64');
    assert.equal(await redImage(), direct);
  },
);

test('a click on a slice with "Place points" on adds a fiducial at that point', opts, async (t) => {
  if (
    !needs(
      t,
      'GET /slicer/slice',
      'GET /slicer/fiducials',
      'POST /slicer/fiducial',
      'GET /slicer/view',
    )
  )
    return;
  const count = async () => {
    const f = (await (await fetch(`${env.server.url}/slicer/fiducials`)).json()) as Record<
      string,
      { markups: Array<{ position: number[] }> }
    >;
    return Object.values(f).flatMap((l) => l.markups);
  };
  const before = (await count()).length;
  await env.page.click('#place');
  const img = env.page.locator('.view.red img');
  const box = (await img.boundingBox())!;
  const fx = 0.6;
  const fy = 0.4;
  await idle();
  const [w, h] = await img.evaluate((el: any) => [el.naturalWidth, el.naturalHeight]);
  const view = (await (
    await fetch(`${env.server.url}/slicer/view?view=red&size=${w}x${h}`)
  ).json()) as {
    sliceToRAS: number[];
    fov: number[];
  };
  await env.page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
  await env.page.waitForFunction(
    (n) => (globalThis as any).document.querySelectorAll('#fiducials ol > li').length > n,
    before,
  );
  await env.page.click('#place');
  const points = await count();
  assert.equal(points.length, before + 1);
  const expected = pixelToRas(view, fx, fy, 1, 1);
  const got = points.at(-1)!.position;
  for (let i = 0; i < 3; i++)
    assert.ok(Math.abs(got[i]! - expected[i]!) < 1, `RAS ${got} ≈ ${expected}`);
  assert.deepEqual(env.consoleLog.errors, []);
});

test('the DICOM list shows the sample study', opts, async () => {
  assert.ok(status.dicomArchive, 'the test server has a DICOM archive');
  const studies = (await (await fetch(`${env.server.url}/dicom/studies`)).json()) as Array<
    Record<string, { Value?: string[] }>
  >;
  assert.ok(studies.length > 0, 'the test server starts with the sample study');
  const uid = studies[0]!['0020000D']!.Value![0]!;
  const li = env.page.locator(`#studies li[data-study="${uid}"]`);
  await li.waitFor();
  await li.locator('button[aria-expanded]').click();
  await li.locator('.series li').first().waitFor();
  const href = await li.locator('a').getAttribute('href');
  assert.equal(href, `browse/viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`);
  assert.deepEqual(env.consoleLog.errors, []);
});

test(
  'with every render held back 500 ms, a burst of 50 notches sends a draft and a full render, no more',
  opts,
  async (t) => {
    if (!needs(t, 'GET /slicer/volumes', 'GET /slicer/slice')) return;
    await startAtFirstSlice();
    await env.page.route('**/slicer/slice?*', async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    });
    try {
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 50 }, () => env.page.mouse.wheel(0, -100)));
      // The slice number in the view header follows the wheel before any image arrives.
      await env.page.waitForFunction(
        () => (globalThis as any).voxelgate.app.views.red.state.index >= 50,
      );
      const counterMs = Date.now() - t0;
      await idle();
      const ms = Date.now() - t0;
      console.log(
        `# slow server (500 ms a render): ${sliceRequests.length} requests; slice counter at 51 after ${counterMs} ms, final image after ${ms} ms`,
      );
      const st = await redState();
      assert.equal(st.index, Math.min(50, st.count - 1));
      assert.ok(sliceRequests.length <= 4, `got ${sliceRequests.length} requests`);
      assert.equal(maxInFlight, 1);
      assert.equal(new URL(sliceRequests.at(-1)!.url).searchParams.get('format'), 'png');
    } finally {
      await env.page.unroute('**/slicer/slice?*');
    }
  },
);
