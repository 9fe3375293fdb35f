/**
 * Property-based fuzzing of the NRRD reader (fast-check): generated headers (every field, with
 * valid, out-of-range, huge and garbage values), mutated valid files (byte flips, truncation,
 * inserted garbage) and random chunk splits. Through the HTTP route (POST/PUT /slicer/volume,
 * POST /slicer/gridTransform), every answer is 2xx or 4xx, never 5xx, and the volume already in
 * the scene never changes unless a replacement of it succeeded. Directly, the decoder returns a
 * volume or throws an AppError, and chunking never changes the outcome.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { decodeNrrd, decodeNrrdStream, encodeNrrd } from '../../src/imaging/nrrd.js';
import { isAppError } from '../../src/errors.js';
import { loadSample } from '../../src/scene/samples.js';
import type { ImageVolume } from '../../src/imaging/types.js';
import { DEFAULT_LIMITS } from '../../src/server/config.js';

const LIMIT = 4 * 1024 * 1024;
let t: TestApp;
let keptId: string;
let valid: Buffer[];

const volumeHash = (id: string) => {
  const n = t.ctx.scene.byId(id);
  if (n?.kind !== 'volume') return 'missing';
  const v = n.volume;
  return createHash('sha1')
    .update(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength))
    .update(JSON.stringify([v.dimensions, v.spacing, v.origin, v.direction, v.scalarType, n.name]))
    .digest('hex');
};

before(async () => {
  t = await makeTestApp({ limits: { ...DEFAULT_LIMITS, volume: LIMIT } });
  keptId = loadSample(t.ctx.scene, 'MRHeadObliquePhantom').id;
  const small: ImageVolume = {
    scalarType: 'int16',
    components: 1,
    dimensions: [3, 4, 5],
    spacing: [1, 2, 3],
    origin: [1, 2, 3],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: Int16Array.from({ length: 60 }, (_, i) => i * 37 - 900),
  };
  const rgb: ImageVolume = {
    ...small,
    scalarType: 'uint8',
    components: 3,
    data: Uint8Array.from({ length: 180 }, (_, i) => i),
  };
  valid = [
    await encodeNrrd(small),
    await encodeNrrd(small, { encoding: 'gzip' }),
    await encodeNrrd(rgb),
  ];
});
after(async () => t.close());

// ---------- generators ----------
const int = fc.oneof(
  fc.integer({ min: -3, max: 8 }),
  fc.integer(),
  fc.constantFrom(0, 1, 2 ** 31, 2 ** 53, 1e6, 65536),
);
const numText = fc.oneof(
  fc.double().map(String),
  int.map(String),
  fc.constantFrom('nan', 'NaN', 'inf', '-inf', '1e309', '', '1,2', '0x10', ' '),
);
const vec = (n: number) =>
  fc.array(numText, { minLength: 0, maxLength: n + 1 }).map((a) => `(${a.join(',')})`);
const words = (g: fc.Arbitrary<string>, max = 5) =>
  fc.array(g, { minLength: 0, maxLength: max }).map((a) => a.join(' '));

const fieldLine: fc.Arbitrary<string> = fc.oneof(
  fc
    .constantFrom(
      'signed char',
      'uchar',
      'short',
      'ushort',
      'int',
      'uint',
      'float',
      'double',
      'int64',
      'block',
      'long long',
      'half',
      'x',
    )
    .map((v) => `type: ${v}`),
  int.map((v) => `dimension: ${v}`),
  words(fc.oneof(int.map(String), numText)).map((v) => `sizes: ${v}`),
  fc
    .constantFrom('raw', 'gzip', 'gz', 'ascii', 'text', 'txt', 'hex', 'bzip2', 'bz2', 'zip', 'x')
    .map((v) => `encoding: ${v}`),
  fc.constantFrom('little', 'big', 'middle').map((v) => `endian: ${v}`),
  fc
    .constantFrom(
      'left-posterior-superior',
      'right-anterior-superior',
      'LPS',
      'RAS',
      'scanner-xyz',
      '3D-right-handed',
      'nonsense',
    )
    .map((v) => `space: ${v}`),
  int.map((v) => `space dimension: ${v}`),
  fc
    .array(fc.oneof(vec(3), fc.constant('none')), { maxLength: 5 })
    .map((a) => `space directions: ${a.join(' ')}`),
  vec(3).map((v) => `space origin: ${v}`),
  words(numText).map((v) => `spacings: ${v}`),
  fc
    .array(
      fc.constantFrom('domain', 'space', 'vector', 'list', 'RGB-color', '3-color', 'none', '???'),
      { maxLength: 5 },
    )
    .map((a) => `kinds: ${a.join(' ')}`),
  int.map((v) => `line skip: ${v}`),
  int.map((v) => `byte skip: ${v}`),
  fc
    .constantFrom('/etc/passwd', '../../etc/passwd', 'x.raw', 'LIST', '%d.raw 1 3 1')
    .map((v) => `data file: ${v}`),
  fc.array(vec(3), { maxLength: 4 }).map((a) => `measurement frame: ${a.join(' ')}`),
  fc
    .tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }))
    .map(([k, v]) => `${k}:=${v}`),
  fc.string({ maxLength: 40 }).map((s) => `#${s}`),
  fc.string({ maxLength: 60 }),
);

const magic = fc.constantFrom(
  'NRRD0004',
  'NRRD0005',
  'NRRD0001',
  'NRRD0009',
  'NRRD',
  'nrrd0004',
  'NRRD0004 ',
  '',
);
const bodyOf = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
  fc.uint8Array({ maxLength: 200 }).map((b) => gzipSync(b)),
  fc
    .array(fc.oneof(fc.integer({ min: -2000, max: 2000 }).map(String), numText), { maxLength: 80 })
    .map((a) => Buffer.from(a.join(' '))),
  fc.nat(130).map((n) => Buffer.alloc(n * 2, 1)),
  fc.constant(Buffer.alloc(0)),
);

/** A generated header (valid core fields, then random lines) with a generated body. */
const generated = fc
  .tuple(
    magic,
    fc.boolean(),
    fc.array(fieldLine, { minLength: 0, maxLength: 10 }),
    fc.constantFrom('\n', '\r\n'),
    bodyOf,
  )
  .map(([m, core, lines, nl, body]) => {
    const head = [
      m,
      ...(core
        ? ['type: short', 'dimension: 3', 'sizes: 3 4 5', 'encoding: raw', 'endian: little']
        : []),
      ...lines,
    ];
    return Buffer.concat([Buffer.from(head.join(nl) + nl + nl, 'latin1'), body]);
  });

/** A valid file with flipped bytes, cut short or with garbage inserted. */
const mutated = fc
  .tuple(
    fc.nat(2),
    fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    fc.option(fc.nat(420)),
    fc.option(fc.tuple(fc.nat(400), fc.uint8Array({ minLength: 1, maxLength: 40 }))),
  )
  .map(([which, flips, cut, insert]) => {
    let b = Buffer.from(valid[which]!);
    for (const [pos, val] of flips) if (pos < b.length) b[pos] = val;
    if (insert)
      b = Buffer.concat([b.subarray(0, insert[0]), Buffer.from(insert[1]), b.subarray(insert[0])]);
    return cut === null ? b : b.subarray(0, cut);
  });

const anyNrrd = fc.oneof(generated, mutated);

/** A body split into chunks at random points (as a stream). */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out.filter((c) => c.length > 0);
}
// eslint-disable-next-line @typescript-eslint/require-await -- the decoder takes an AsyncIterable
async function* chunksOf(parts: Buffer[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

async function outcome(p: Promise<{ volume: ImageVolume }>): Promise<string> {
  try {
    const { volume: v } = await p;
    return `ok ${v.scalarType} ${v.components} ${v.dimensions.join('x')} ${createHash('sha1')
      .update(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength))
      .digest('hex')}`;
  } catch (e) {
    assert.ok(isAppError(e), `not an AppError: ${(e as Error)?.stack ?? String(e)}`);
    return `error ${e.code}`;
  }
}

test('decoder: any input gives a volume or an AppError, and chunking never changes the outcome (property)', async () => {
  await fc.assert(
    fc.asyncProperty(anyNrrd, fc.array(fc.nat(), { maxLength: 6 }), async (buf, cuts) => {
      const whole = await outcome(decodeNrrd(buf, { maxBytes: LIMIT }));
      const split = await outcome(
        decodeNrrdStream(chunksOf(splitAt(buf, cuts)), { maxBytes: LIMIT }),
      );
      assert.equal(
        split.split(' ')[0],
        whole.split(' ')[0],
        'same success/failure whole and split',
      );
      if (whole.startsWith('ok')) assert.equal(split, whole);
    }),
    { numRuns: 3000 },
  );
});

test('POST/PUT /slicer/volume and POST /slicer/gridTransform: 2xx or 4xx, never 5xx; the stored volume never changes on failure (property)', async () => {
  let created = 0;
  let refused = 0;
  let keptHash = volumeHash(keptId); // this test's own baseline (it replaces the volume)
  await fc.assert(
    fc.asyncProperty(anyNrrd, fc.constantFrom('post', 'replace', 'grid'), async (buf, mode) => {
      const url =
        mode === 'post'
          ? '/slicer/volume?name=fuzz'
          : mode === 'replace'
            ? `/slicer/volume?id=${keptId}`
            : '/slicer/gridTransform?name=fuzzgrid';
      const res = await t.app.request(url, {
        method: mode === 'replace' ? 'PUT' : 'POST',
        body: buf,
        headers: { 'content-type': 'application/octet-stream' },
      });
      const text = await res.text();
      assert.ok(res.status < 500, `${mode}: ${res.status} ${text}`);
      assert.ok(
        res.status === 200 || (res.status >= 400 && res.status < 500),
        `${mode}: ${res.status}`,
      );
      if (res.status === 200) {
        created++;
        const id = (JSON.parse(text) as { id: string }).id;
        if (mode === 'replace') keptHash = volumeHash(keptId);
        else if (mode === 'post') t.ctx.scene.remove([id]);
      } else {
        refused++;
        assert.equal(volumeHash(keptId), keptHash, 'a refused upload changed the stored volume');
      }
    }),
    { numRuns: 1500 },
  );
  assert.ok(created > 0 && refused > 0, `created ${created}, refused ${refused}`);
});

test('huge declared sizes are refused with 413 before the data arrives', async () => {
  const keptHash = volumeHash(keptId);
  for (const sizes of [
    '100000 100000 100000',
    '4096 4096 4096',
    '2147483647 2 2',
    '65536 65536 1',
  ]) {
    const head = `NRRD0004\ntype: short\ndimension: 3\nsizes: ${sizes}\nencoding: raw\nendian: little\n\n`;
    const res = await t.app.request('/slicer/volume', { method: 'POST', body: head + 'xx' });
    assert.ok(res.status === 413 || res.status === 422, `${sizes}: ${res.status}`);
  }
  assert.equal(volumeHash(keptId), keptHash);
});
