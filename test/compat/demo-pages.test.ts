/**
 * Slicer's demo pages in headless Chromium: ServerTests/timecube.html (shipped as an adaptation
 * under docroot/ServerTests) fetches /slicer/timeimage with random 3- to 6-digit colours in a
 * loop and textures a WebGL cube with them. It must run with no console errors, on a default
 * server and with --token --auth all (the page opened with ?access_token=).
 * (threejs.html and modelviewer.html need /slicer/threeDGraphics — the models issue.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/app.js';
import { browserSkipReason, launchBrowser, watchConsole } from '../helpers/browser.js';

const noBrowser = browserSkipReason();
if (noBrowser) console.log(`# browser tests skipped: ${noBrowser}`);

const TOKEN = 'timecube-token-0123456789';

for (const [mode, config, query] of [
  ['default server', {}, ''],
  [
    '--token --auth all, page opened with ?access_token=',
    { token: TOKEN, auth: 'all' as const },
    `?access_token=${TOKEN}`,
  ],
] as const) {
  test(
    `Slicer ServerTests/timecube.html runs without console errors (${mode})`,
    { skip: noBrowser },
    async () => {
      const server = await startTestServer(config);
      const b = await launchBrowser({ width: 640, height: 640 });
      try {
        const page = await b.context.newPage();
        const log = watchConsole(page);
        const colours: string[] = [];
        const statuses: number[] = [];
        page.on('response', (r) => {
          const u = new URL(r.url());
          if (u.pathname !== '/slicer/timeimage') return;
          statuses.push(r.status());
          const c = u.searchParams.get('color');
          if (c !== null) colours.push(c);
        });
        await page.goto(`${server.url}/ServerTests/timecube.html${query}`);
        // The page asks for the next image as each one arrives: wait for a run of round trips.
        await page.waitForFunction('window.timecubeFrames >= 40', undefined, {
          timeout: 60_000,
        });
        assert.deepEqual(log.errors, []);
        assert.ok(statuses.length >= 40 && statuses.every((s) => s === 200), statuses.join(' '));
        assert.ok(
          colours.every((c) => /^[0-9a-f]{3,6}$/.test(c)),
          colours.join(' '),
        );
        // A WebGL canvas that was drawn into (the cube on the page's dark green clear colour).
        const drawn = await page.evaluate(
          "(() => { const c = document.getElementById('timecube-canvas'); return (c.getContext('webgl') ?? c.getContext('experimental-webgl')) !== null; })()",
        );
        assert.ok(drawn, 'no WebGL context');
      } finally {
        await b.close();
        await server.close();
      }
    },
  );
}
