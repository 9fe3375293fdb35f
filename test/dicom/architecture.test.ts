/** src/dicom is the archive core: it never imports the scene, hono or the HTTP layer. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/server/context.js';

it('src/dicom imports neither scene, http, server nor hono', () => {
  const dir = path.join(PACKAGE_ROOT, 'src/dicom');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/from '([^']+)'/g)) {
      assert.ok(!/(\/scene\/|\/http\/|\/server\/|^hono)/.test(m[1]!), `${f} imports ${m[1]}`);
    }
  }
});
