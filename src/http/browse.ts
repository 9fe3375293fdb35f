/**
 * `/browse`: the prebuilt OHIF viewer from `vendor/ohif/` (installed by `npm run ohif:install`,
 * which rewrites its asset paths to `/browse/` and points it at the same-origin `/dicom`).
 *
 * - files of the dist are served with the static handler (ETag/304, Range, no traversal, `.wasm`
 *   as application/wasm);
 * - any other path without a file extension (`/browse/viewer`, `/browse/?…`) gets the dist's
 *   `index.html`: OHIF's router (basename `/browse`) handles it in the browser;
 * - without the dist, `/browse` answers a short page saying how to install it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'hono';
import { AppError } from '../errors.js';
import { type AppContext } from '../server/context.js';
import { PACKAGE_ROOT } from '../util/package.js';
import { createStaticHandler } from './static.js';
import type { RouteSpec } from './routes.js';

export const BROWSE_PREFIX = '/browse';
export const DEFAULT_OHIF_DIR = path.join(PACKAGE_ROOT, 'vendor', 'ohif');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function notInstalledPage(dir: string): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OHIF is not installed — voxelgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}code,pre{background:#f3f3f3;border-radius:3px;padding:0 .25em}pre{padding:.6rem .8rem}</style>
</head><body>
<h1>OHIF viewer is not installed</h1>
<p><code>/browse</code> serves the prebuilt <a href="https://ohif.org/">OHIF</a> viewer (<code>@ohif/app</code>) on top of voxelgate's DICOMweb archive at <code>/dicom</code>. It is not part of the git repository; fetch it once with:</p>
<pre>npm run ohif:install</pre>
<p>This runs <code>npm pack @ohif/app</code> (about 50&nbsp;MB), keeps its <code>dist/</code> in <code>${escapeHtml(path.relative(PACKAGE_ROOT, dir) || dir)}/</code> and configures it for this server. Reload this page afterwards; no restart is needed.</p>
<p>Meanwhile the <a href="/">voxelgate viewer page</a> lists the DICOM studies too, and <a href="/dicom/studies">/dicom/studies</a> answers QIDO-RS.</p>
</body></html>`;
  return new Response(html, {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' },
  });
}

/** The last path segment has a file extension (`app.bundle.js`, `x.wasm`): a file, not a route. */
const looksLikeFile = (p: string) => /\.[a-z0-9]{1,8}$/i.test(p.slice(p.lastIndexOf('/') + 1));

export function createBrowseHandler(dir: string = DEFAULT_OHIF_DIR) {
  const serveFile = createStaticHandler(dir, { prefix: BROWSE_PREFIX });
  const index = path.join(dir, 'index.html');
  return async function browse(c: Context): Promise<Response> {
    if (!existsSync(index)) return notInstalledPage(dir);
    const p = new URL(c.req.url).pathname;
    if (p === BROWSE_PREFIX) {
      const u = new URL(c.req.url);
      return new Response(null, {
        status: 301,
        headers: { location: `${BROWSE_PREFIX}/${u.search}` },
      });
    }
    try {
      return await serveFile(c);
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'not_found' || looksLikeFile(p)) throw e;
    }
    // SPA fallback: OHIF's own routes (study list, /viewer, …) all load index.html.
    return serveFile(c, `${BROWSE_PREFIX}/index.html`);
  };
}

export function browseRoutes(_ctx: AppContext, dir: string = DEFAULT_OHIF_DIR): RouteSpec[] {
  const handler = createBrowseHandler(dir);
  return [
    { method: 'GET', path: BROWSE_PREFIX, handler },
    { method: 'GET', path: `${BROWSE_PREFIX}/*`, handler },
  ];
}
