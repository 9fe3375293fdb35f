/**
 * `/vendor/<package>/<file>`: the few browser files of npm packages that the demo pages under
 * docroot/ServerTests need (three.js with its GLTFLoader and post-processing passes for
 * threejs.html, @google/model-viewer for modelviewer.html), served from node_modules so no page
 * needs the network and no minified copy is committed. Only the files in `VENDOR_FILES` are
 * served: the URL is looked up in that list, never joined onto a folder, so nothing else in
 * node_modules (or outside it) can be reached.
 */
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { notFound } from '../errors.js';
import type { RouteSpec } from './routes.js';
import { fileResponse } from './static.js';

/** package → files inside it (paths relative to the package folder). */
export const VENDOR_FILES: Record<string, readonly string[]> = {
  three: [
    'build/three.module.js',
    'examples/jsm/libs/lil-gui.module.min.js',
    'examples/jsm/loaders/GLTFLoader.js',
    'examples/jsm/utils/BufferGeometryUtils.js',
    'examples/jsm/controls/OrbitControls.js',
    'examples/jsm/postprocessing/EffectComposer.js',
    'examples/jsm/postprocessing/MaskPass.js',
    'examples/jsm/postprocessing/Pass.js',
    'examples/jsm/postprocessing/RenderPass.js',
    'examples/jsm/postprocessing/ShaderPass.js',
    'examples/jsm/postprocessing/UnrealBloomPass.js',
    'examples/jsm/shaders/CopyShader.js',
    'examples/jsm/shaders/LuminosityHighPassShader.js',
  ],
  '@google/model-viewer': ['dist/model-viewer.min.js'],
};

const require = createRequire(import.meta.url);

/** The folder of an installed package: up from its main file to the package.json naming it. */
function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = require(path.join(dir, 'package.json')) as { name?: string };
      if (pkg.name === name) return dir;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of the package ${name}`);
    dir = up;
  }
}

/** URL path (`/vendor/three/build/three.module.js`) → absolute file. */
function vendorTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const [pkg, files] of Object.entries(VENDOR_FILES)) {
    let dir: string;
    try {
      dir = packageDir(pkg);
    } catch {
      continue; // not installed: its URLs answer 404
    }
    for (const f of files) table.set(`/vendor/${pkg}/${f}`, path.join(dir, f));
  }
  return table;
}

export function vendorRoutes(): RouteSpec[] {
  let table: Map<string, string> | undefined;
  return [
    {
      method: 'GET',
      path: '/vendor/*',
      handler: async (c) => {
        const urlPath = new URL(c.req.url).pathname;
        const file = (table ??= vendorTable()).get(urlPath);
        if (!file) throw notFound(`no such file: ${urlPath}`);
        const stat = await fsp.stat(file).catch(() => null);
        if (!stat?.isFile()) throw notFound(`no such file: ${urlPath}`);
        return fileResponse(c, file, stat);
      },
    },
  ];
}
