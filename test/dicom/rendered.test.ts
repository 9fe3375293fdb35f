import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { ImageInfo } from '../../src/dicom/part10.js';
import { parseRenderQuery, renderFrame } from '../../src/dicom/rendered.js';
import { isAppError } from '../../src/errors.js';

const base: ImageInfo = {
  rows: 2,
  columns: 2,
  samplesPerPixel: 1,
  bitsAllocated: 16,
  bitsStored: 16,
  pixelRepresentation: 1,
  photometric: 'MONOCHROME2',
  planarConfiguration: 0,
  numberOfFrames: 1,
  rescaleSlope: 1,
  rescaleIntercept: 0,
};
/** Decoded pixels; grey PNGs (checked to be 1-channel files) as one channel. */
const raw = async (png: Buffer) => {
  const channels = (await sharp(png).metadata()).channels;
  const img = channels === 1 ? sharp(png).extractChannel(0) : sharp(png);
  const out = await img.raw().toBuffer({ resolveWithObject: true });
  return { data: out.data, info: { channels } };
};

describe('renderFrame', () => {
  it('applies rescale and the window; MONOCHROME1 inverts', async () => {
    const px = new Uint8Array(new Int16Array([-1000, 0, 40, 1000]).buffer);
    const out = await raw(
      await renderFrame(px, { ...base, windowCenter: 40, windowWidth: 400 }, { format: 'png' }),
    );
    assert.equal(out.info.channels, 1);
    assert.deepEqual([...out.data], [0, 102, 128, 255]);
    const inv = await raw(
      await renderFrame(
        px,
        { ...base, windowCenter: 40, windowWidth: 400, photometric: 'MONOCHROME1' },
        { format: 'png' },
      ),
    );
    assert.deepEqual([...inv.data], [255, 153, 127, 0]);
  });
  it('falls back to the data range when the window width is 0', async () => {
    const px = new Uint8Array(new Int16Array([0, 100, 200, 300]).buffer);
    const out = await raw(
      await renderFrame(px, { ...base, windowCenter: 0, windowWidth: 0 }, { format: 'png' }),
    );
    assert.equal(out.data[0], 0);
    assert.equal(out.data[3], 255);
  });
  it('renders RGB, planar configuration 0 and 1', async () => {
    const rgb = {
      ...base,
      samplesPerPixel: 3,
      bitsAllocated: 8,
      bitsStored: 8,
      pixelRepresentation: 0,
      photometric: 'RGB',
    };
    const inter = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
    const planar = new Uint8Array([255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30]);
    const a = await raw(await renderFrame(inter, rgb, { format: 'png' }));
    const b = await raw(
      await renderFrame(planar, { ...rgb, planarConfiguration: 1 }, { format: 'png' }),
    );
    assert.equal(a.info.channels, 3);
    assert.deepEqual([...a.data], [...inter]);
    assert.deepEqual([...b.data], [...inter]);
  });
  it('parses viewport/window/quality and rejects bad ones', () => {
    const q = (m: Record<string, string | undefined>) => (n: string) => m[n];
    assert.deepEqual(
      parseRenderQuery(
        q({ viewport: '64,32', window: '40,400,sigmoid', quality: '80' }),
        'jpeg',
        false,
      ),
      {
        format: 'jpeg',
        viewport: { width: 64, height: 32 },
        window: { center: 40, width: 400, fn: 'sigmoid' },
        quality: 80,
      },
    );
    assert.deepEqual(parseRenderQuery(q({}), 'png', true).viewport, { width: 128, height: 128 });
    for (const bad of [
      { viewport: 'a,b' },
      { window: '1,0' },
      { window: '1,2,cubic' },
      { quality: '0' },
    ])
      assert.throws(
        () => parseRenderQuery(q(bad), 'jpeg', false),
        (e) => isAppError(e) && e.code === 'invalid_parameter',
      );
  });
});
