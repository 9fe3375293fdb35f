/**
 * Slicer's demo pages in headless Chromium: ServerTests/timecube.html (shipped as an adaptation
 * under docroot/ServerTests) fetches /slicer/timeimage with random 3- to 6-digit colours in a
 * loop and textures a WebGL cube with them. It must run with no console errors, on a default
 * server and with --token --auth all (the page opened with ?access_token=).
 *
 * ServerTests/threejs.html and ServerTests/modelviewer.html (adaptations too, their libraries
 * served from node_modules at /vendor/) load the 3D view's models as glTF from
 * /slicer/threeDGraphics: the test puts a model (an STL made here) and a segment surface in the
 * scene, waits for the page's glTF loader callback, and checks that the canvas shows something.
 * Both run with no console errors (Slicer's threejs.html first POSTs a Python script that
 * downloads a demo scene; the adaptation leaves that request out, see the page's header).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/app.js';
import sharp from 'sharp';
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

/** A closed box (12 triangles, ±30 mm) as ASCII STL in RAS. */
function boxStl(): string {
  const v = (i: number) => [i & 1 ? 30 : -30, i & 2 ? 30 : -30, i & 4 ? 30 : -30];
  // prettier-ignore
  const t = [0,2,1, 1,2,3, 4,5,6, 5,7,6, 0,1,4, 1,5,4, 2,6,3, 3,6,7, 0,4,2, 2,4,6, 1,3,5, 3,7,5];
  const f: string[] = [];
  for (let k = 0; k < t.length; k += 3)
    f.push(
      `facet normal 0 0 0\nouter loop\n${[0, 1, 2].map((q) => `vertex ${v(t[k + q]!).join(' ')}`).join('\n')}\nendloop\nendfacet`,
    );
  return `solid box SPACE=RAS\n${f.join('\n')}\nendsolid box\n`;
}

/** A raw NRRD label map (uint8, 32³, 1 mm, RAS origin −16): one ball of label 1, radius 10. */
function ballLabelmapNrrd(): Buffer {
  const n = 32;
  const data = Buffer.alloc(n * n * n);
  for (let k = 0, p = 0; k < n; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++, p++)
        if ((i - 16) ** 2 + (j - 16) ** 2 + (k - 16) ** 2 <= 100) data[p] = 1;
  const header =
    'NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\n' +
    `sizes: ${n} ${n} ${n}\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n` +
    'kinds: domain domain domain\nendian: little\nencoding: raw\n' +
    'space origin: (16,16,-16)\n\n';
  return Buffer.concat([Buffer.from(header, 'latin1'), data]);
}

/** Pixels of a PNG screenshot that differ from `bg` (RGB) by more than 24 in some channel. */
async function pixelsNot(png: Buffer, bg: [number, number, number]): Promise<number> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += info.channels)
    if (
      Math.abs(data[i]! - bg[0]) > 24 ||
      Math.abs(data[i + 1]! - bg[1]) > 24 ||
      Math.abs(data[i + 2]! - bg[2]) > 24
    )
      n++;
  return n;
}

for (const [mode, config, query] of [
  ['default server', {}, ''],
  [
    '--token --auth all, page opened with ?access_token=',
    { token: TOKEN, auth: 'all' as const },
    `?access_token=${TOKEN}`,
  ],
] as const) {
  for (const pageName of ['threejs.html', 'modelviewer.html'] as const) {
    test(
      `Slicer ServerTests/${pageName} loads /slicer/threeDGraphics without console errors (${mode})`,
      { skip: noBrowser },
      async () => {
        const server = await startTestServer(config);
        const b = await launchBrowser({ width: 640, height: 640 });
        try {
          const headers: Record<string, string> = { 'content-type': 'model/stl' };
          if ('token' in config) headers.authorization = `Bearer ${config.token}`;
          const put = await fetch(`${server.url}/slicer/model?name=Box&color=0.9,0.3,0.2`, {
            method: 'PUT',
            headers,
            body: boxStl(),
          });
          assert.equal(put.status, 200, await put.text());
          // A segmentation whose segment surface is in the 3D view too: a second glTF mesh.
          const seg = await fetch(`${server.url}/slicer/segmentation?name=Ball`, {
            method: 'PUT',
            headers: { ...headers, 'content-type': 'application/octet-stream' },
            body: ballLabelmapNrrd(),
          });
          assert.equal(seg.status, 200, await seg.text());
          const surf = await fetch(`${server.url}/slicer/segmentation/surfaces?id=Ball`, {
            method: 'POST',
            headers,
          });
          assert.equal(surf.status, 200, await surf.text());

          const page = await b.context.newPage();
          const log = watchConsole(page);
          const slicerCalls: string[] = [];
          page.on('response', (r) => {
            const u = new URL(r.url());
            if (!u.pathname.startsWith('/slicer')) return;
            slicerCalls.push(`${r.request().method()} ${u.pathname}${u.search} ${r.status()}`);
          });
          await page.goto(`${server.url}/ServerTests/${pageName}${query}`);
          let shoot: () => Promise<Buffer>;
          let bg: [number, number, number];
          if (pageName === 'threejs.html') {
            // The box model and the ball's segment surface.
            await page.waitForFunction('window.threejsPieces >= 2', undefined, {
              timeout: 60_000,
            });
            assert.equal(await page.evaluate('window.threejsPieces'), 2);
            // Slicer's first request (Python to /slicer/exec, downloading a demo scene) is left
            // out of the adaptation; it is replayed in clients.ts (→ 400, exec runs JavaScript).
            assert.deepEqual(slicerCalls.sort(), [
              `GET /slicer/fiducials 200`,
              `GET /slicer/threeDGraphics 200`,
            ]);
            assert.deepEqual(log.errors, []);
            shoot = () => page.locator('canvas').first().screenshot();
            bg = [0, 0, 0];
          } else {
            await page.waitForFunction('window.modelViewerLoaded === true', undefined, {
              timeout: 60_000,
            });
            assert.deepEqual(slicerCalls, ['GET /slicer/threeDGraphics 200']);
            assert.deepEqual(log.errors, []);
            shoot = () => page.locator('model-viewer').screenshot();
            bg = [255, 255, 255];
          }
          // The frame with the model may come a little after the load callback: a few tries.
          let drawn = 0;
          for (let i = 0; i < 20 && drawn <= 500; i++) drawn = await pixelsNot(await shoot(), bg);
          console.log(`# ${pageName} (${mode}): ${drawn} pixels drawn over the background`);
          assert.ok(drawn > 500, `only ${drawn} pixels drawn over the background`);
        } finally {
          await b.close();
          await server.close();
        }
      },
    );
  }
}
