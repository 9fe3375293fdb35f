/**
 * The DICOMweb suite on PostgreSQL: the same test files that run on the embedded SQLite archive
 * (in `npm test`) run again in a child test runner with VOXELGATE_TEST_INDEX=postgres, so every
 * app and server they make uses a fresh database of a throwaway cluster (test/helpers/app.ts
 * `backendOverrides`): index and files in PostgreSQL, and index in PostgreSQL with files on disk.
 * Skips with a reason without PostgreSQL server binaries (fails instead under
 * VOXELGATE_REQUIRE_POSTGRES=1, as .ci/run sets).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { postgresSkipReason } from '../helpers/postgres.js';

const skip = postgresSkipReason();
if (skip) console.log(`# skipping the PostgreSQL DICOMweb suite: ${skip}`);

/** Everything DICOMweb: in-process routes, a real client, STOW, rendering, the bridge round trip. */
const SUITE = [
  'test/dicom/http.test.ts',
  'test/dicom/conformance.test.ts',
  'test/dicom/stow.test.ts',
  'test/bridge/round-trip.test.ts',
];

/** The parent runner's NODE_TEST_CONTEXT would make the child skip its files (recursion guard). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function runSuite(
  files: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
      { cwd: PACKAGE_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const summary = (out: string) =>
  ['tests', 'pass', 'fail', 'cancelled']
    .map((k) => new RegExp(`ℹ ${k} (\\d+)`).exec(out)?.[0] ?? `${k} ?`)
    .join(', ');

describe('the DICOMweb suite on PostgreSQL', { skip }, () => {
  it('index and storage in PostgreSQL (--index postgres://… --storage postgres)', async () => {
    const r = await runSuite(SUITE, {
      VOXELGATE_TEST_INDEX: 'postgres',
      VOXELGATE_TEST_STORAGE: 'postgres',
    });
    console.log(`# ${summary(r.out)}`);
    assert.equal(r.code, 0, r.out.slice(-8000));
    assert.match(r.out, /ℹ fail 0/);
  });

  it('OHIF in Chromium against --index postgres://… --storage postgres', async () => {
    // test/browser/ohif.test.ts skips itself, with its reason, without Chromium or the OHIF build.
    const r = await runSuite(['test/browser/ohif.test.ts'], {
      VOXELGATE_TEST_INDEX: 'postgres',
      VOXELGATE_TEST_STORAGE: 'postgres',
    });
    console.log(`# ${summary(r.out)}`);
    assert.equal(r.code, 0, r.out.slice(-8000));
    assert.match(r.out, /ℹ fail 0/);
  });

  it('index in PostgreSQL, files on disk (--storage fs)', async () => {
    const r = await runSuite(['test/dicom/http.test.ts'], {
      VOXELGATE_TEST_INDEX: 'postgres',
      VOXELGATE_TEST_STORAGE: 'fs',
    });
    console.log(`# ${summary(r.out)}`);
    assert.equal(r.code, 0, r.out.slice(-8000));
    assert.match(r.out, /ℹ fail 0/);
  });
});
