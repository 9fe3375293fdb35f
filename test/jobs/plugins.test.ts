/** Plug-in loading: CLI options, services config parsing, and clear startup refusals. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { modulesOfServicesConfig } from '../../src/jobs/plugins.js';
import { parseConfig } from '../../src/server/config.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { startTestServer, tempDir } from '../helpers/app.js';

test('--functions (repeatable), --services-config, --jobs, --job-queue, --job-timeout parse', () => {
  const { config } = parseConfig(
    [
      '--functions',
      'a.mjs',
      '--functions',
      '/x/b.mjs',
      '--services-config',
      's.yaml',
      '--jobs',
      '3',
      '--job-queue',
      '4',
      '--job-timeout',
      '0',
    ],
    {},
    '/pkg',
    '/cwd',
  );
  assert.deepEqual(config.functionModules, ['/cwd/a.mjs', '/x/b.mjs']);
  assert.equal(config.servicesConfig, '/cwd/s.yaml');
  assert.equal(config.jobs, 3);
  assert.equal(config.jobQueue, 4);
  assert.equal(config.jobTimeoutMs, 0);
  const d = parseConfig([], {}, '/pkg', '/cwd').config;
  assert.equal(d.jobs, undefined); // cores − 1, at least 1
  assert.equal(d.jobTimeoutMs, 600_000);
  assert.throws(() => parseConfig(['--jobs', '0'], {}, '/pkg', '/cwd'), /--jobs must be between 1/);
});

test('a services config lists modules relative to itself (YAML and JSON)', () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 's.yaml'), 'functions:\n  - ./a.mjs\n  - module: sub/b.mjs\n');
  writeFileSync(path.join(dir, 's.json'), JSON.stringify({ services: [{ file: 'c.mjs' }] }));
  assert.deepEqual(modulesOfServicesConfig(path.join(dir, 's.yaml')), [
    path.join(dir, 'a.mjs'),
    path.join(dir, 'sub/b.mjs'),
  ]);
  assert.deepEqual(modulesOfServicesConfig(path.join(dir, 's.json')), [path.join(dir, 'c.mjs')]);
  writeFileSync(path.join(dir, 'empty.yaml'), 'other: 1\n');
  assert.throws(() => modulesOfServicesConfig(path.join(dir, 'empty.yaml')), /lists no modules/);
});

test('the server refuses to start with a plug-in that is missing, exports nothing, or reuses a name', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'nothing.mjs'), 'export const x = 1;\n');
  writeFileSync(path.join(dir, 'dup.mjs'), "export default { name: 'median', run() {} };\n");
  for (const [file, message] of [
    [path.join(dir, 'missing.mjs'), /cannot load plug-in module/],
    [path.join(dir, 'nothing.mjs'), /exports no function/],
    [path.join(dir, 'dup.mjs'), /already registered/],
  ] as const) {
    await assert.rejects(startTestServer({ functionModules: [file] }), message);
  }
  // The examples load.
  const s = await startTestServer({
    functionModules: ['add.mjs', 'progress.mjs', 'threshold-filter.mjs'].map((f) =>
      path.join(PACKAGE_ROOT, 'examples', f),
    ),
  });
  try {
    const names = (
      (await (await fetch(`${s.url}/slicer/functions`)).json()) as Array<{ name: string }>
    ).map((f) => f.name);
    assert.ok(['add', 'progress', 'thresholdMask'].every((n) => names.includes(n)));
  } finally {
    await s.close();
  }
});
