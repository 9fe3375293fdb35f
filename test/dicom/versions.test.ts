/**
 * The archive's versioned files: a replaced version stays readable by a reader holding it and is
 * deleted when that reader finishes; an aborted session leaves nothing; startup recovery removes
 * temp files and files no row names, but keeps files of a live writer in another process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Archive } from '../../src/dicom/archive.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { tempDir } from '../helpers/app.js';

const version = (n: number) =>
  syntheticSeries({ rows: 8, columns: 8, slices: 1, seed: 'versions', pixelOffset: n }).files[0]!;
const pixels = (file: Buffer) => file.subarray(file.length - 128);

/** Lets queued removals (fire-and-forget after a commit or a release) run. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function listArchiveFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

test('a replaced file version is deleted only after the reader holding it finishes', async () => {
  const dir = tempDir('vg-versions-');
  const archive = Archive.openSync(dir);
  try {
    const v0 = version(0);
    const r = await archive.ingest(v0);
    const row = archive.catalog.instance(r.sopInstanceUid)!;
    const release = archive.lease([row]);
    const v1 = version(1);
    await archive.ingest(v1);
    await settle();
    const now = archive.catalog.instance(r.sopInstanceUid)!;
    assert.notEqual(now.file, row.file, 'the new version has a file of its own');
    assert.ok(existsSync(archive.store.abs(row.file)), 'held by the reader: still there');
    const [held] = await archive.storedFrames(row, [1]);
    assert.ok(Buffer.from(held!.data).equals(pixels(v0)), 'the reader still reads its version');
    const [fresh] = await archive.storedFrames(now, [1]);
    assert.ok(Buffer.from(fresh!.data).equals(pixels(v1)));
    release();
    // The delete runs on the file-system thread pool: wait for it (bounded), not a fixed number
    // of turns, so a loaded machine does not fail the test.
    const gone = () => !existsSync(archive.store.abs(row.file));
    for (let t = Date.now(); !gone() && Date.now() - t < 10_000;) await settle();
    assert.ok(gone(), 'deleted once the reader finished');
    // identical bytes: no new version
    await archive.ingest(v1);
    assert.equal(archive.catalog.instance(r.sopInstanceUid)!.file, now.file);
  } finally {
    await archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an aborted session leaves no file and no row; a committed one is all there', async () => {
  const dir = tempDir('vg-versions-');
  const archive = Archive.openSync(dir);
  try {
    const s = syntheticSeries({ rows: 8, columns: 8, slices: 3, seed: 'versions-abort' });
    const session = archive.session();
    for (const f of s.files) assert.equal((await session.add(f)).outcome, 'staged');
    await session.abort();
    assert.equal(archive.catalog.counts().instances, 0);
    assert.deepEqual(
      listArchiveFiles(path.join(dir, 'dicom', 'files')),
      [],
      'staged files removed',
    );
    const again = archive.session();
    for (const f of s.files) await again.add(f);
    await again.commit();
    assert.equal(archive.catalog.counts().instances, 3);
    assert.equal(listArchiveFiles(path.join(dir, 'dicom', 'files')).length, 3);
  } finally {
    await archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startup recovery removes temp and unreferenced files, keeps referenced ones and those of a live writer', async () => {
  const dir = tempDir('vg-versions-');
  const archive = Archive.openSync(dir);
  try {
    const r = await archive.ingest(version(0));
    const kept = archive.catalog.instance(r.sopInstanceUid)!.file;
    const root = path.join(dir, 'dicom');
    const studyDir = path.dirname(path.join(root, kept));
    const hash = 'a'.repeat(40);
    const live = process.ppid.toString(36); // a process that is running (our parent)
    const files = {
      orphanDead: `${hash}.mabc00-zzzzzz.dcm`, // a writer that is gone (pid out of range)
      orphanLive: `${hash}.mabc01-${live}.dcm`, // a live writer in another process: kept
      legacyOrphan: `${'b'.repeat(40)}.dcm`,
      legacyTemp: `${'c'.repeat(40)}.dcm.1a2b3c4d.tmp`,
    };
    for (const f of Object.values(files)) writeFileSync(path.join(studyDir, f), 'x');
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    writeFileSync(path.join(root, 'tmp', 'part-123-abcdef.tmp'), 'x');
    writeFileSync(path.join(root, 'tmp', `p${live}-abcdef.tmp`), 'x');
    const removed = (await archive.recover()).sort();
    const rel = (f: string) => path.relative(root, path.join(studyDir, f));
    assert.deepEqual(
      removed,
      [
        rel(files.orphanDead),
        rel(files.legacyOrphan),
        rel(files.legacyTemp),
        path.join('tmp', 'part-123-abcdef.tmp'),
      ].sort(),
    );
    assert.ok(existsSync(path.join(root, kept)), 'the referenced file stays');
    assert.ok(existsSync(path.join(studyDir, files.orphanLive)), 'a live writer’s file stays');
    assert.ok(existsSync(path.join(root, 'tmp', `p${live}-abcdef.tmp`)));
  } finally {
    await archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
