/**
 * The storage-area contract (dicom/store.ts `StorageArea`), run on the file system store and on
 * its in-memory twin (dicom/store-memory.ts), so the twin keeps the contract it claims: objects
 * never overwritten, exact bytes and ranges back, ENOENT for what is not there, adopt moves a temp
 * file in, sweep removes exactly the unreferenced objects.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DicomStore, type StorageArea } from '../../src/dicom/store.js';
import { MemoryStore } from '../../src/dicom/store-memory.js';
import { tempDir } from '../helpers/app.js';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SOP = '1.2.826.0.1.3680043.8.498.2';

const AREAS: Array<{ name: string; make: () => { area: StorageArea; done: () => void } }> = [
  {
    name: 'file system',
    make: () => {
      const dir = tempDir();
      const area = new DicomStore(dir);
      area.initSync();
      return { area, done: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'memory twin', make: () => ({ area: new MemoryStore(), done: () => undefined }) },
];

for (const { name, make } of AREAS) {
  describe(`storage area: ${name}`, () => {
    it('writes never overwrite; reads, ranges and removes are exact', async () => {
      const { area, done } = make();
      try {
        const rel = area.newVersion(STUDY, SOP);
        assert.notEqual(area.newVersion(STUDY, SOP), rel, 'every version name is new');
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
        await area.write(rel, bytes);
        await area.sync([rel]);
        await assert.rejects(area.write(rel, new Uint8Array([1])));
        assert.deepEqual(new Uint8Array(await area.read(rel)), bytes);
        assert.deepEqual([...(await area.readRange(rel, 10, 3))], [10, 11, 12]);
        const parts = await area.readRanges(rel, [
          [0, 2],
          [254, 2],
        ]);
        assert.deepEqual(
          parts.map((p) => [...p]),
          [
            [0, 1],
            [254, 255],
          ],
        );
        await area.remove(rel);
        await assert.rejects(area.read(rel), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      } finally {
        done();
      }
    });

    it('adopt moves a finished temp file in; sweep removes only unreferenced objects', async () => {
      const { area, done } = make();
      try {
        const tmp = area.tempPath();
        writeFileSync(tmp, Buffer.from('spilled upload'));
        const kept = area.newVersion(STUDY, SOP);
        await area.adopt(tmp, kept);
        assert.equal(existsSync(tmp), false, 'the temp file is gone');
        assert.equal((await area.read(kept)).toString(), 'spilled upload');
        const orphan = area.newVersion(STUDY, SOP);
        await area.write(orphan, new Uint8Array([7]));
        await area.sync([kept, orphan]);
        const removed = await area.sweep((rel) => rel === kept);
        assert.ok(removed.includes(orphan), `${orphan} swept (${removed.join(', ')})`);
        assert.ok(!removed.includes(kept));
        assert.equal((await area.read(kept)).toString(), 'spilled upload');
        await assert.rejects(area.read(orphan));
      } finally {
        done();
      }
    });
  });
}
