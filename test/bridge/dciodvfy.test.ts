/**
 * Every series POST /slicer/dicom/save writes for a volume passes dciodvfy with zero errors: CT
 * (Hounsfield-like data), MR (source modality MR), Secondary Capture (other data) and label maps.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { dciodvfy, dciodvfySkipReason } from '../helpers/dciodvfy.js';
import { labelVolume } from '../segmentation/fixtures.js';

let t: TestApp;
before(async () => {
  t = await makeTestApp();
});
after(() => t.close());

const CASES = [
  {
    name: 'ct',
    iod: 'CTImage',
    q: '',
    fill: (i: number) => -1000 + i * 100,
    type: 'int16' as const,
  },
  {
    name: 'sc',
    iod: 'SCImage',
    q: '',
    fill: (i: number) => i * 10,
    type: 'uint8' as const,
  },
  {
    name: 'label',
    iod: 'SCImage',
    q: '&labelmap=true',
    fill: (i: number) => i % 3,
    type: 'uint8' as const,
  },
  {
    name: 'mr',
    iod: 'MRImage',
    q: '',
    fill: (i: number) => i * 10,
    type: 'int16' as const,
    mr: true,
  },
];

for (const c of CASES) {
  test(`a saved ${c.name} series passes dciodvfy`, { skip: dciodvfySkipReason() }, async () => {
    await t.app.request('/slicer/mrml', { method: 'DELETE' });
    const v = labelVolume([6, 5, 3], (i, j) => c.fill(i + j), { spacing: [0.7, 0.7, 2] }, c.type);
    const put = (await (
      await t.app.request(`/slicer/volume?name=${c.name}${c.q}`, {
        method: 'POST',
        body: (await encodeNrrd(v)) as Uint8Array<ArrayBuffer>,
      })
    ).json()) as { id: string };
    if (c.mr) t.ctx.scene.byId(put.id)!.attributes['DICOM.Modality'] = 'MR';
    const res = (await (
      await t.app.request(`/slicer/dicom/save?id=${put.id}`, { method: 'POST' })
    ).json()) as {
      studyInstanceUID: string;
      seriesInstanceUID: string;
    };
    const archive = t.ctx.archive!();
    const rows = await archive.instances(res.studyInstanceUID, res.seriesInstanceUID);
    const verdict = await dciodvfy(await archive.part10(rows[0]!, true));
    assert.equal(verdict.iod, c.iod, verdict.output);
    assert.deepEqual(verdict.errors, [], verdict.output);
  });
}
