/**
 * Facts about the installed package: its root folder (found from this file's location) and its
 * version. For the CLI, the status page and default paths (docroot, vendor/ohif).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (folder holding package.json), found from this file's location. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const PACKAGE_VERSION: string = (() => {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
})();
