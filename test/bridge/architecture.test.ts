/** Layering: only src/bridge (and the http/server edges) may know both the archive and the scene. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/server/context.js';

const imports = (dir: string) =>
  readdirSync(path.join(PACKAGE_ROOT, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({
      f,
      specs: [
        ...readFileSync(path.join(PACKAGE_ROOT, dir, f), 'utf8').matchAll(/from '([^']+)'/g),
      ].map((m) => m[1]!),
    }));

it('src/scene imports neither dicom nor bridge; src/bridge imports neither http nor hono', () => {
  for (const { f, specs } of imports('src/scene'))
    for (const s of specs) assert.ok(!/\/(dicom|bridge)\//.test(s), `scene/${f} imports ${s}`);
  for (const { f, specs } of imports('src/bridge'))
    for (const s of specs)
      assert.ok(!/(\/http\/|\/server\/|^hono)/.test(s), `bridge/${f} imports ${s}`);
});
