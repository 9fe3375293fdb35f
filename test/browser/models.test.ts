/**
 * The viewer page lists models and draws them in the 3D view (headless Chromium; skipped with the
 * reason printed when there is none): a model uploaded through the page's file input is listed,
 * its visibility checkbox hides it on the server, and the 3D image changes with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSkipReason } from '../helpers/browser.js';
import { useBrowser } from '../helpers/browser-setup.js';

const noBrowser = browserSkipReason();
if (noBrowser) console.log(`# browser tests skipped: ${noBrowser}`);
const opts = { skip: noBrowser, timeout: 90_000 };

/** A closed box (12 triangles) as ASCII STL in RAS, centred in the sample head. */
function boxStl(): string {
  const v = (i: number) => [i & 1 ? 40 : -40, i & 2 ? 40 : -40, i & 4 ? 40 : -40];
  // prettier-ignore
  const t = [0,2,1, 1,2,3, 4,5,6, 5,7,6, 0,1,4, 1,5,4, 2,6,3, 3,6,7, 0,4,2, 2,4,6, 1,3,5, 3,7,5];
  const f: string[] = [];
  for (let k = 0; k < t.length; k += 3)
    f.push(
      `facet normal 0 0 0\nouter loop\n${[0, 1, 2].map((q) => `vertex ${v(t[k + q]!).join(' ')}`).join('\n')}\nendloop\nendfacet`,
    );
  return `solid box SPACE=RAS\n${f.join('\n')}\nendsolid box\n`;
}

const env = useBrowser({ skip: noBrowser, width: 1280, height: 800, viewerPage: true });

const threeDImage = () =>
  env.page.evaluate(async () => {
    const img = (globalThis as any).document.querySelector('.view.threeD img');
    if (!img?.src) return '';
    const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    let s = 0;
    for (const x of buf) s = (s * 31 + x) >>> 0;
    return `${buf.length}:${s}`;
  });

test(
  'a model added on the page is listed, drawn in 3D, and hidden by its checkbox',
  opts,
  async () => {
    await env.page.evaluate(() => (globalThis as any).voxelgate.idle());
    const before3d = await threeDImage();
    await env.page.setInputFiles('#model-file', {
      name: 'box.stl',
      mimeType: 'model/stl',
      buffer: Buffer.from(boxStl()),
    });
    await env.page.waitForSelector('#models li[data-id]', { timeout: 20_000 });
    const models = (await (await fetch(`${env.server.url}/slicer/models`)).json()) as Array<{
      id: string;
      name: string;
      numberOfTriangles: number;
    }>;
    assert.equal(models.length, 1);
    assert.equal(models[0]!.name, 'box');
    assert.match((await env.page.textContent('#models')) ?? '', /box\s+12 triangles/);
    // The 3D view re-renders with the box (it hides the head's centre).
    await env.page.waitForFunction(
      async (prev) => {
        await (globalThis as any).voxelgate.idle();
        const img = (globalThis as any).document.querySelector('.view.threeD img');
        const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let s = 0;
        for (const x of buf) s = (s * 31 + x) >>> 0;
        return `${buf.length}:${s}` !== prev;
      },
      before3d,
      { timeout: 20_000 },
    );
    await env.page.uncheck(`#models li[data-id="${models[0]!.id}"] input[type=checkbox]`);
    await env.page.waitForFunction(
      async (url) => {
        const m: any = await (await fetch(url)).json();
        return m[0]?.display?.visible === false;
      },
      `${env.server.url}/slicer/models`,
      { timeout: 20_000 },
    );
    assert.deepEqual(env.consoleLog.errors, []);
  },
);
