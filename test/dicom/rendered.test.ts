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

describe('renderFrame grey path (one table over the stored range)', () => {
  /** PS3.3 C.11.2.1.2 / C.11.2.1.3.1 computed per pixel, independently of the table. */
  function reference(
    stored: number[],
    slope: number,
    intercept: number,
    win: { center: number; width: number; fn: string } | undefined,
    invert: boolean,
  ): number[] {
    const m = stored.map((s) => s * slope + intercept);
    const w = win ?? {
      center: (Math.min(...m) + Math.max(...m)) / 2,
      width: Math.max(1, Math.max(...m) - Math.min(...m)),
      fn: 'linear-exact',
    };
    return m.map((x) => {
      const { center: c, width: ww, fn } = w;
      const y =
        fn === 'linear'
          ? ww <= 1
            ? x <= c - 0.5
              ? 0
              : 1
            : (x - (c - 0.5)) / (ww - 1) + 0.5
          : fn === 'linear-exact'
            ? (x - c) / ww + 0.5
            : 1 / (1 + Math.exp((-4 * (x - c)) / ww));
      const g = y * 255 <= 0 ? 0 : y * 255 >= 255 ? 255 : Math.round(y * 255);
      return invert ? 255 - g : g;
    });
  }

  const cases = [
    { bits: 16, stored: 12, signed: 1, slope: 1, intercept: -1024, mono: 'MONOCHROME2' },
    { bits: 16, stored: 16, signed: 0, slope: 0.5, intercept: 10, mono: 'MONOCHROME1' },
    { bits: 16, stored: 16, signed: 1, slope: -2, intercept: 3, mono: 'MONOCHROME2' },
    { bits: 8, stored: 8, signed: 0, slope: 1, intercept: 0, mono: 'MONOCHROME2' },
    { bits: 32, stored: 32, signed: 1, slope: 1, intercept: 0, mono: 'MONOCHROME2' },
  ];
  const windows = [
    undefined,
    { center: 40, width: 400, fn: 'linear' as const },
    { center: 100, width: 1, fn: 'linear' as const },
    { center: -10, width: 333, fn: 'linear-exact' as const },
    { center: 500, width: 2000, fn: 'sigmoid' as const },
  ];
  for (const k of cases) {
    it(`${k.bits}/${k.stored} bits, ${k.signed ? 'signed' : 'unsigned'}, slope ${k.slope}, ${k.mono}: equals the per-pixel formulas for every window`, async () => {
      const rows = 16;
      const columns = 16;
      const n = rows * columns;
      const bytes = k.bits / 8;
      const buf = Buffer.alloc(n * bytes);
      const values: number[] = [];
      let seed = 12345;
      const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const span = k.bits === 32 ? 200_000 : 2 ** Math.min(k.stored, 12);
      for (let i = 0; i < n; i++) {
        const v = Math.floor(rnd() * span) - (k.signed ? span / 2 : 0);
        values.push(v);
        if (k.bits === 8) buf.writeUInt8(v, i);
        else if (k.bits === 16 && k.signed) buf.writeInt16LE(v, 2 * i);
        else if (k.bits === 16) buf.writeUInt16LE(v, 2 * i);
        else buf.writeInt32LE(v, 4 * i);
      }
      const im: ImageInfo = {
        ...base,
        rows,
        columns,
        bitsAllocated: k.bits,
        bitsStored: k.stored,
        pixelRepresentation: k.signed,
        photometric: k.mono,
        rescaleSlope: k.slope,
        rescaleIntercept: k.intercept,
      };
      for (const window of windows) {
        const png = await renderFrame(buf, im, { format: 'png', ...(window ? { window } : {}) });
        const got = [...(await raw(png)).data];
        const want = reference(values, k.slope, k.intercept, window, k.mono === 'MONOCHROME1');
        assert.deepEqual(got, want, JSON.stringify(window));
        // The same bytes at an odd offset (a frame inside a file buffer need not be aligned).
        const odd = Buffer.concat([Buffer.alloc(1), buf]).subarray(1);
        const png2 = await renderFrame(odd, im, { format: 'png', ...(window ? { window } : {}) });
        assert.deepEqual([...(await raw(png2)).data], want, `odd offset ${JSON.stringify(window)}`);
      }
    });
  }
});
