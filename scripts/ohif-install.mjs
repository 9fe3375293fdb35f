#!/usr/bin/env node
/**
 * `npm run ohif:install`: fetches the prebuilt OHIF viewer (`@ohif/app`, pinned) with `npm pack`,
 * extracts its `dist/` into `vendor/ohif/` (gitignored), drops what viewing does not need
 * (`ort/`, the ~136 MB onnx runtime), rewrites `index.html` so every asset loads from `/browse/`,
 * and writes an `app-config.js` that points OHIF at voxelgate's same-origin `/dicom`.
 *
 * Usage: node scripts/ohif-install.mjs [--force] [--version X.Y.Z] [--from file.tgz]
 * Idempotent: does nothing when the pinned version is already installed (unless --force).
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const OHIF_VERSION = '3.12.10';
export const BASE = '/browse';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'vendor', 'ohif');

/** The app-config.js voxelgate serves (dicomweb.md §5, same-origin roots, router under /browse). */
export function appConfig(base = BASE) {
  return `/** Written by voxelgate's scripts/ohif-install.mjs: OHIF at ${base}, DICOMweb at the same origin's /dicom. */
window.config = {
  routerBasename: '${base}',
  extensions: [],
  modes: [],
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  investigationalUseDialog: { option: 'never' },
  defaultDataSourceName: 'dicomweb',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'dicomweb',
      configuration: {
        friendlyName: 'voxelgate DICOMweb',
        name: 'voxelgate',
        qidoRoot: '/dicom',
        wadoRoot: '/dicom',
        wadoUriRoot: '/dicom',
        qidoSupportsIncludeField: true,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        omitQuotationForMultipartRequest: true,
        bulkDataURI: { enabled: true },
      },
    },
  ],
};
`;
}

/**
 * Rewrites the dist's index.html for a sub-path: `PUBLIC_URL` and every absolute root-relative
 * `src`/`href` (`/app.bundle.….js`, `/app-config.js`, icons, manifest) get the `/browse` prefix.
 */
export function rewriteIndexHtml(html, base = BASE) {
  let out = html.replace(/window\.PUBLIC_URL\s*=\s*(['"])\/\1/g, `window.PUBLIC_URL=$1${base}/$1`);
  out = out.replace(/\b(src|href)=(["'])\/(?!\/)([^"']*)\2/g, (m, attr, q, rest) =>
    rest.startsWith(base.slice(1) + '/') ? m : `${attr}=${q}${base}/${rest}${q}`,
  );
  return out;
}

/** Webpack's runtime public path (`__webpack_require__.p = "/"`) in every bundle and worker. */
export function rewriteBundle(js, base = BASE) {
  return js.replace(/(__webpack_require__\.p\s*=\s*)(["'])\/\2/g, `$1$2${base}/$2`);
}

/** `url(/font.woff2)` in CSS and `"/assets/…"` icon paths in manifest.json. */
export function rewriteCss(css, base = BASE) {
  return css.replace(/url\((["']?)\/(?!\/)/g, `url($1${base}/`);
}
export function rewriteManifest(json, base = BASE) {
  return json.replace(/"(src|start_url)":\s*"\/(?!\/)/g, `"$1": "${base}/`);
}

/** Applies the rewrites to a dist folder in place; returns how many files changed. */
export function rewriteDist(dist, base = BASE) {
  let changed = 0;
  const edit = (file, fn) => {
    const before = readFileSync(file, 'utf8');
    const after = fn(before, base);
    if (after !== before) {
      writeFileSync(file, after);
      changed++;
    }
  };
  for (const name of readdirSync(dist)) {
    const file = path.join(dist, name);
    if (name.endsWith('.js')) edit(file, rewriteBundle);
    else if (name.endsWith('.css')) edit(file, rewriteCss);
    else if (name === 'manifest.json') edit(file, rewriteManifest);
    else if (name === 'index.html') edit(file, rewriteIndexHtml);
  }
  return changed;
}

function main() {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const vi = args.indexOf('--version');
  const version = vi >= 0 ? args[vi + 1] : OHIF_VERSION;
  const fi = args.indexOf('--from');
  const from = fi >= 0 ? path.resolve(args[fi + 1]) : undefined;
  const stamp = path.join(target, '.voxelgate-ohif-version');
  if (
    !force &&
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8').trim() === version &&
    existsSync(path.join(target, 'index.html'))
  ) {
    console.log(
      `OHIF ${version} is already installed in ${path.relative(root, target)}/ (use --force to reinstall)`,
    );
    return;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'voxelgate-ohif-'));
  try {
    let tgz = from;
    if (!tgz) {
      console.log(`npm pack @ohif/app@${version} (about 50 MB) …`);
      const out = execFileSync(
        'npm',
        ['pack', `@ohif/app@${version}`, '--silent', '--no-audit', '--no-fund'],
        { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const name = out.trim().split('\n').pop();
      tgz = path.join(tmp, name ?? '');
      if (!name || !existsSync(tgz))
        throw new Error(`npm pack did not produce a tarball (said: ${out.trim()})`);
    }
    console.log('extracting dist/ …');
    execFileSync('tar', ['xzf', tgz, '-C', tmp, 'package/dist'], { stdio: 'inherit' });
    const dist = path.join(tmp, 'package', 'dist');
    if (!existsSync(path.join(dist, 'index.html')))
      throw new Error('the package has no dist/index.html');
    // Not needed for viewing: onnx runtime (AI tools, ~136 MB) and the service worker (it would
    // cache /browse assets across voxelgate upgrades).
    for (const drop of ['ort', 'sw.js', 'sw.js.map', '_redirects', '_headers', 'serve.json'])
      rmSync(path.join(dist, drop), { recursive: true, force: true });
    const changed = rewriteDist(dist);
    console.log(`rewrote ${changed} file(s) for the ${BASE}/ base path`);
    writeFileSync(path.join(dist, 'app-config.js'), appConfig());
    writeFileSync(path.join(dist, '.voxelgate-ohif-version'), `${version}\n`);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(path.dirname(target), { recursive: true });
    try {
      renameSync(dist, target);
    } catch {
      cpSync(dist, target, { recursive: true });
    }
    const files = readdirSync(target).length;
    console.log(
      `OHIF ${version} installed in ${path.relative(root, target)}/ (${files} entries); voxelgate serves it at ${BASE}/`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`ohif:install failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
