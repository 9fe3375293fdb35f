/**
 * One pixel path: a file whose 16-bit words hold garbage above BitsStored (12 bits, signed) goes
 * to both readers of pixels — the rendered/WADO-URI frame renderer and the series loader behind
 * /slicer/dicom/load — and both must see the same values: the low 12 bits, sign-extended, rescaled
 * (checked against values computed here independently, and against each other).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { makeTestApp } from '../helpers/app.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { multipartBody } from '../../src/dicom/multipart.js';

const ROWS = 16;

/** Sets a US element's value in an Explicit VR Little Endian file (`gggg,eeee` → value). */
function patchUS(file: Buffer, group: number, element: number, value: number): void {
  const tag = Buffer.from([
    group & 0xff,
    group >> 8,
    element & 0xff,
    element >> 8,
    0x55,
    0x53,
    2,
    0,
  ]);
  const at = file.indexOf(tag);
  assert.ok(at > 0, `tag ${group.toString(16)},${element.toString(16)} not found`);
  file.writeUInt16LE(value, at + 8);
}

/** Two slices, BitsStored 12, signed, RescaleIntercept −1024; the top 4 bits of every word are garbage. */
function garbageSeries() {
  const s = syntheticSeries({ rows: ROWS, columns: ROWS, slices: 2, seed: 'pixel-path' });
  const expected: number[][] = [];
  const files = s.files.map((f, k) => {
    const b = Buffer.from(f);
    patchUS(b, 0x0028, 0x0101, 12); // BitsStored
    patchUS(b, 0x0028, 0x0102, 11); // HighBit
    patchUS(b, 0x0028, 0x0103, 1); // PixelRepresentation
    const px = b.length - ROWS * ROWS * 2;
    const values: number[] = [];
    for (let i = 0; i < ROWS * ROWS; i++) {
      const v = ((i * 37 + k * 11) % 4096) - 2048; // a 12-bit signed value
      const garbage = ((i * 7 + k) % 16) << 12;
      b.writeUInt16LE((v & 0xfff) | garbage, px + i * 2);
      values.push(v - 1024); // rescale slope 1, intercept −1024
    }
    expected.push(values);
    return b;
  });
  return { ...s, files, expected };
}

test('garbage above BitsStored: the renderer and the series loader see the same masked, sign-extended, rescaled values', async () => {
  const t = await makeTestApp({ noSamples: true });
  try {
    const s = garbageSeries();
    const stow = await t.app.request('/dicom/studies', {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=pp' },
      body: multipartBody(
        s.files.map((data) => ({ contentType: 'application/dicom', data })),
        'pp',
      ),
    });
    assert.equal(stow.status, 200, await stow.text());

    // The series loader.
    const load = await t.app.request(`/slicer/dicom/load?studyInstanceUID=${s.studyUid}`, {
      method: 'POST',
    });
    const loadText = await load.text();
    assert.equal(load.status, 200, loadText);
    const id = (JSON.parse(loadText) as { loadedNodeIDs: string[] }).loadedNodeIDs[0]!;
    const node = t.ctx.scene.byId(id);
    assert.ok(node?.kind === 'volume');
    const loaded = Array.from(node.volume.data as ArrayLike<number>);
    assert.equal(loaded.length, 2 * ROWS * ROWS);

    // The renderer: a window that maps every value to a distinct-enough grey, PNG (lossless).
    const [c, w] = [-1024, 4096];
    const grey = (x: number) => Math.min(255, Math.max(0, Math.round(((x - c) / w + 0.5) * 255)));
    for (let k = 0; k < 2; k++) {
      const slice = loaded.slice(k * ROWS * ROWS, (k + 1) * ROWS * ROWS);
      // loader == independent expectation (slice order: along +z, as the instances)
      assert.deepEqual(slice, s.expected[k], `loader, slice ${k}`);
      const res = await t.app.request(
        `/dicom/studies/${s.studyUid}/series/${s.seriesUid}/instances/${s.sopUids[k]}/rendered?window=${c},${w},linear-exact`,
        { headers: { accept: 'image/png' } },
      );
      assert.equal(res.status, 200);
      const { data, info } = await sharp(Buffer.from(await res.arrayBuffer()))
        .raw()
        .toBuffer({ resolveWithObject: true });
      assert.equal(info.width, ROWS);
      const rendered = Array.from({ length: ROWS * ROWS }, (_, i) => data[i * info.channels]!);
      // renderer == window(loader's values): the two readers agree pixel for pixel
      assert.deepEqual(rendered, slice.map(grey), `renderer vs loader, slice ${k}`);
      // and WADO-URI renders through the same path
      const uri = await t.app.request(
        `/dicom/wado?requestType=WADO&objectUID=${s.sopUids[k]}&contentType=image%2Fpng&windowCenter=${c}&windowWidth=${w}`,
      );
      assert.equal(uri.status, 200);
    }
  } finally {
    await t.close();
  }
});
