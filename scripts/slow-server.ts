/**
 * Experiment: how the viewer page behaves when renders are slow. A proxy in front of a real
 * voxelgate holds every `/slicer/slice` and `/slicer/threeD` request back by `--delay` ms (as a
 * busy or remote server would), the page is driven in Chromium, and the script reports what was
 * sent and what the user saw.
 *
 *   node --import tsx scripts/slow-server.ts [--delay 500] [--json]
 *
 * Scenarios: a burst of 50 wheel notches (as fast as the browser takes them), 50 notches spread
 * over 1 s (a quick flick), and 1 s of window/level dragging.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer } from '../test/helpers/app.js';
import { browserSkipReason, launchBrowser } from '../test/helpers/browser.js';

const args = process.argv.slice(2);
const delays = args.includes('--delay')
  ? [Number(args[args.indexOf('--delay') + 1])]
  : [0, 100, 500];

const why = browserSkipReason();
if (why) {
  console.error(`slow-server: ${why}`);
  process.exit(1);
}

interface ProxyStats {
  slice: number;
  threeD: number;
  /** Requests in flight per view (red, yellow, green, threeD) and the most seen for any one view. */
  inFlight: Record<string, number>;
  maxInFlight: number;
  /** The most in flight over all views together. */
  maxTotal: number;
}

/** A reverse proxy that delays render requests; counts them and the concurrency it sees. */
async function delayingProxy(
  target: string,
  delay: () => number,
): Promise<{ url: string; stats: ProxyStats; close(): Promise<void> }> {
  const stats: ProxyStats = { slice: 0, threeD: 0, inFlight: {}, maxInFlight: 0, maxTotal: 0 };
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const p = req.url ?? '/';
    const render = p.startsWith('/slicer/slice?')
      ? 'slice'
      : p.startsWith('/slicer/threeD?')
        ? 'threeD'
        : null;
    if (render) {
      stats[render]++;
      const view =
        render === 'threeD' ? 'threeD' : (new URL(p, 'http://x').searchParams.get('view') ?? 'red');
      stats.inFlight[view] = (stats.inFlight[view] ?? 0) + 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight[view]);
      stats.maxTotal = Math.max(
        stats.maxTotal,
        Object.values(stats.inFlight).reduce((a, x) => a + x, 0),
      );
      res.on('close', () => stats.inFlight[view]!--);
    }
    const forward = () => {
      const up = http.request(
        { host: t.hostname, port: t.port, method: req.method, path: p, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (render && delay() > 0) setTimeout(forward, delay());
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const server = await startTestServer({ noSamples: false });
let currentDelay = 0;
const proxy = await delayingProxy(server.url, () => currentDelay);
const b = await launchBrowser({ width: 1280, height: 800 });
const results: Array<Record<string, unknown>> = [];
try {
  const page = await b.context.newPage();
  await page.goto(`${proxy.url}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });

  const idle = () => page.evaluate(() => (globalThis as any).voxelgate.idle());
  await idle();
  /** Times (ms since t0) at which the red view's image changed. */
  await page.evaluate(() => {
    const g = globalThis as any;
    g.__shown = [];
    const img = g.document.querySelector('.view.red img');
    new g.MutationObserver(() =>
      g.__shown.push({
        t: g.performance.now(),
        draft: g.voxelgate.app.views.red.el.classList.contains('draft'),
      }),
    ).observe(img, { attributes: true, attributeFilter: ['src'] });
  });
  const canvas = page.locator('.view.red .canvas');
  const box = (await canvas.boundingBox())!;

  for (const delay of delays) {
    for (const scenario of [
      'burst of 50 notches',
      '50 notches over 1 s',
      'window/level drag for 1 s',
    ] as const) {
      currentDelay = 0;
      await canvas.focus();
      await page.keyboard.press('Home');
      await idle();
      currentDelay = delay;
      Object.assign(proxy.stats, { slice: 0, threeD: 0, maxInFlight: 0, maxTotal: 0 });

      const t0 = await page.evaluate(
        () => (((globalThis as any).__shown = []), (globalThis as any).performance.now()),
      );
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const start = Date.now();
      if (scenario === 'burst of 50 notches')
        await Promise.all(Array.from({ length: 50 }, () => page.mouse.wheel(0, -100)));
      else if (scenario === '50 notches over 1 s') {
        for (let i = 0; i < 50; i++) {
          void page.mouse.wheel(0, -100);
          await new Promise((r) => setTimeout(r, 20));
        }
      } else {
        await page.mouse.down();
        for (let i = 0; i < 50; i++) {
          await page.mouse.move(box.x + box.width / 2 + i * 3, box.y + box.height / 2 - i);
          await new Promise((r) => setTimeout(r, 20));
        }
        await page.mouse.up();
      }
      const inputMs = Date.now() - start;
      await idle();
      const doneMs = Date.now() - start;

      const shown = (await page.evaluate(() => (globalThis as any).__shown)) as Array<{
        t: number;
        draft: boolean;
      }>;
      const st = (await page.evaluate(
        () => (globalThis as any).voxelgate.app.views.red.state.index,
      )) as number;
      const firstImage = shown[0] ? Math.round(shown[0].t - t0) : null;
      results.push({
        delayMs: delay,
        scenario,
        inputMs,
        sliceRequests: proxy.stats.slice,
        maxInFlightPerView: proxy.stats.maxInFlight,
        maxInFlightAllViews: proxy.stats.maxTotal,
        imagesShown: shown.length,
        draftsShown: shown.filter((s) => s.draft).length,
        firstImageMs: firstImage,
        finalImageMs: doneMs,
        finalSlice: st,
      });
    }
  }
} finally {
  await b.close();
  await proxy.close();
  await server.close();
}
if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
else {
  console.log(
    'slice requests of all views; in flight: per view / all views; images, first and final image: the red view',
  );
  console.log(
    'delay  scenario                    input  requests  in flight  images (drafts)  first image  final image  final slice',
  );
  for (const r of results) {
    console.log(
      // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- cells of a results record
      `${String(r.delayMs).padStart(5)}  ${String(r.scenario).padEnd(26)}  ${String(r.inputMs).padStart(5)}  ${String(r.sliceRequests).padStart(8)}  ${`${r.maxInFlightPerView} / ${r.maxInFlightAllViews}`.padStart(9)}  ${`${r.imagesShown} (${r.draftsShown})`.padStart(15)}  ${`${r.firstImageMs} ms`.padStart(11)}  ${`${r.finalImageMs} ms`.padStart(11)}  ${String(r.finalSlice).padStart(11)}`,
    );
  }
}
