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

/**
 * archive.ts is the archive's only door (docs/architecture.md): outside src/dicom nothing imports
 * the index or storage implementations, reaches into `archive.catalog` / `archive.store`, or
 * opens archive files with `fs` (the HTTP handlers and the bridge read through Archive's methods).
 */
it('nothing outside src/dicom touches the catalog, the store or archive files', () => {
  const src = path.join(PACKAGE_ROOT, 'src');
  const files = (readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.startsWith(`dicom${path.sep}`))
    .map((f) => f.split(path.sep).join('/'));
  const internals = /\/dicom\/(catalog|catalog-pg|archive-index|store|store-pg|store-memory)\.js$/;
  const bad: string[] = [];
  for (const f of files) {
    const text = readFileSync(path.join(src, f), 'utf8');
    for (const m of text.matchAll(/from '([^']+)'/g))
      if (internals.test(m[1]!)) bad.push(`${f} imports ${m[1]}`);
    if (/\.(catalog|store)\s*[.!]/.test(text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, '')))
      bad.push(`${f} reaches into archive.catalog/archive.store`);
    // The DICOM HTTP handlers and the bridge have no business with the file system.
    if (
      /^(http\/dicom|http\/dicom\.ts|bridge)\b/.test(f) &&
      /from 'node:fs(\/promises)?'/.test(text)
    )
      bad.push(`${f} imports node:fs`);
  }
  assert.deepEqual(bad, []);
});
