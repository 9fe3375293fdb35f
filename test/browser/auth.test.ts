/** The viewer page on a server with a token (--token, auth for changes): the token field, refusals explained, changes with the token. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSkipReason, watchConsole } from '../helpers/browser.js';
import { useBrowser } from '../helpers/browser-setup.js';

const noBrowser = browserSkipReason();
if (noBrowser) console.log(`# browser auth test skipped: ${noBrowser}`);
const TOKEN = 'viewer-test-token-1234';

const env = useBrowser({ skip: noBrowser, server: { token: TOKEN } });

test(
  'with --token the page asks for it, explains a refusal, and changes the scene once given',
  { skip: noBrowser, timeout: 60_000 },
  async (t) => {
    const status = (await (await fetch(`${env.server.url}/slicer/system/status`)).json()) as {
      endpoints: string[];
      auth: string;
    };
    assert.equal(status.auth, 'mutating');
    const page = await env.browser.context.newPage();
    const log = watchConsole(page);
    await page.goto(`${env.server.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.textContent('#status')) ?? '', /auth on/);
    assert.equal(await page.isVisible('#token'), true);
    if (!status.endpoints.includes('DELETE /slicer/volume')) {
      console.log(`# skipped the rest of "${t.name}": the server lacks DELETE /slicer/volume`);
      return;
    }
    const count = async () =>
      ((await (await fetch(`${env.server.url}/slicer/volumes`)).json()) as unknown[]).length;
    const before = await count();
    await page.fill('#token', 'wrong-token-000000');
    await page.dispatchEvent('#token', 'change');
    const del = page.locator('#volumes button[aria-label^="Delete"]').first();
    page.once('dialog', (d) => void d.accept());
    await del.click();
    await page.waitForFunction(() =>
      /token|refused|unauthori/i.test(
        (globalThis as any).document.querySelector('#scene-msg').textContent,
      ),
    );
    assert.equal(await count(), before, 'nothing deleted with a wrong token');
    await page.fill('#token', TOKEN);
    await page.dispatchEvent('#token', 'change');
    page.once('dialog', (d) => void d.accept());
    await del.click();
    await page.waitForFunction(() =>
      /Deleted/.test((globalThis as any).document.querySelector('#scene-msg').textContent),
    );
    assert.equal(await count(), before - 1);
    // Failed requests (401) are network errors in the console; nothing else.
    assert.deepEqual(
      log.errors.filter((e) => !e.includes('status of 401')),
      [],
    );
    await page.close();
  },
);
