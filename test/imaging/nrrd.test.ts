/** NRRD codec: hand-written headers for every variant teem/ITK/Slicer/pynrrd write, and errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
  decodeNrrd,
  encodeNrrd,
  NrrdDecoder,
  nrrdHeaderText,
  parseNrrdHeader,
} from '../../src/imaging/nrrd.js';
import { AppError } from '../../src/errors.js';
import type { ImageVolume, Mat3 } from '../../src/imaging/types.js';

const nrrd = (header: string[], data: Uint8Array | string, eol = '\n') =>
  Buffer.concat([
    Buffer.from(header.join(eol) + eol + eol, 'latin1'),
    Buffer.from(data as Uint8Array),
  ]);
const close = (a: readonly number[], b: readonly number[], tol = 1e-9) => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol, `${a.join(',')} vs ${b.join(',')}`));
};
const i16 = (vals: number[], big = false) => {
  const b = Buffer.alloc(vals.length * 2);
  vals.forEach((v, i) => (big ? b.writeInt16BE(v, i * 2) : b.writeInt16LE(v, i * 2)));
  return b;
};
async function rejects(bytes: Uint8Array, re: RegExp, code = 'unprocessable') {
  await assert.rejects(decodeNrrd(bytes), (e: unknown) => {
    assert.ok(e instanceof AppError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}
const base = [
  'NRRD0004',
  'type: short',
  'dimension: 3',
  'sizes: 2 2 1',
  'endian: little',
  'encoding: raw',
];
const vals = [1, -2, 300, -32768];

test('raw little-endian short with LPS geometry converts to RAS', async () => {
  const { volume } = await decodeNrrd(
    nrrd(
      [
        ...base,
        'space: left-posterior-superior',
        'space directions: (-2,0,0) (0,-3,0) (0,0,4)',
        'space origin: (10,20,30)',
      ],
      i16(vals),
    ),
  );
  assert.equal(volume.scalarType, 'int16');
  assert.deepEqual([...volume.data], vals);
  assert.deepEqual(volume.dimensions, [2, 2, 1]);
  close(volume.spacing, [2, 3, 4]);
  close(volume.origin, [-10, -20, 30]);
  close(volume.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
});

test('every type alias', async () => {
  const cases: Array<[string, string, number]> = [
    ['short', 'int16', 2],
    ['int16', 'int16', 2],
    ['signed short', 'int16', 2],
    ['short int', 'int16', 2],
    ['signed short int', 'int16', 2],
    ['int16_t', 'int16', 2],
    ['uchar', 'uint8', 1],
    ['unsigned char', 'uint8', 1],
    ['uint8', 'uint8', 1],
    ['uint8_t', 'uint8', 1],
    ['signed char', 'int8', 1],
    ['int8', 'int8', 1],
    ['int8_t', 'int8', 1],
    ['ushort', 'uint16', 2],
    ['unsigned short', 'uint16', 2],
    ['unsigned short int', 'uint16', 2],
    ['uint16', 'uint16', 2],
    ['uint16_t', 'uint16', 2],
    ['int', 'int32', 4],
    ['signed int', 'int32', 4],
    ['int32', 'int32', 4],
    ['int32_t', 'int32', 4],
    ['uint', 'uint32', 4],
    ['unsigned int', 'uint32', 4],
    ['uint32', 'uint32', 4],
    ['uint32_t', 'uint32', 4],
    ['float', 'float32', 4],
    ['double', 'float64', 8],
  ];
  for (const [name, type, bytes] of cases) {
    const h = [
      'NRRD0004',
      `type: ${name}`,
      'dimension: 1',
      'sizes: 3',
      'endian: little',
      'encoding: raw',
    ];
    const { volume } = await decodeNrrd(nrrd(h, Buffer.alloc(3 * bytes, 1)));
    assert.equal(volume.scalarType, type, name);
    assert.deepEqual(volume.dimensions, [3, 1, 1]);
  }
  await rejects(
    nrrd(['NRRD0004', 'type: int64', 'dimension: 1', 'sizes: 1', 'encoding: raw'], Buffer.alloc(8)),
    /int64.*not supported/,
  );
  await rejects(
    nrrd(['NRRD0004', 'type: quad', 'dimension: 1', 'sizes: 1', 'encoding: raw'], Buffer.alloc(8)),
    /unknown type "quad"/,
  );
});

test('big endian raw, gzip and hex are byte-swapped', async () => {
  const h = base.map((l) => (l === 'endian: little' ? 'endian: big' : l));
  assert.deepEqual([...(await decodeNrrd(nrrd(h, i16(vals, true)))).volume.data], vals);
  const gz = h.map((l) => (l === 'encoding: raw' ? 'encoding: gzip' : l));
  assert.deepEqual(
    [...(await decodeNrrd(nrrd(gz, zlib.gzipSync(i16(vals, true))))).volume.data],
    vals,
  );
  const gzAlias = h.map((l) => (l === 'encoding: raw' ? 'encoding: gz' : l));
  assert.deepEqual(
    [...(await decodeNrrd(nrrd(gzAlias, zlib.gzipSync(i16(vals, true))))).volume.data],
    vals,
  );
  const hex = h.map((l) => (l === 'encoding: raw' ? 'encoding: hex' : l));
  const hexText = i16(vals, true)
    .toString('hex')
    .replace(/(.{6})/g, '$1\n');
  assert.deepEqual([...(await decodeNrrd(nrrd(hex, hexText))).volume.data], vals);
  const f64 = [
    'NRRD0004',
    'type: double',
    'dimension: 1',
    'sizes: 2',
    'endian: big',
    'encoding: raw',
  ];
  const b = Buffer.alloc(16);
  b.writeDoubleBE(Math.PI, 0);
  b.writeDoubleBE(-1e300, 8);
  assert.deepEqual([...(await decodeNrrd(nrrd(f64, b))).volume.data], [Math.PI, -1e300]);
});

test('ascii encoding (ascii, txt, text) with odd whitespace', async () => {
  for (const enc of ['ascii', 'txt', 'text']) {
    const h = ['NRRD0004', 'type: float', 'dimension: 2', 'sizes: 3 2', `encoding: ${enc}`];
    const { volume } = await decodeNrrd(nrrd(h, '1.5 2\t-3e2\n4,\n5  nan\n'));
    assert.deepEqual([...volume.data].slice(0, 5), [1.5, 2, -300, 4, 5]);
    assert.ok(Number.isNaN(volume.data[5]!));
    assert.deepEqual(volume.dimensions, [3, 2, 1]);
  }
  await rejects(
    nrrd(['NRRD0004', 'type: short', 'dimension: 1', 'sizes: 3', 'encoding: ascii'], '1 2'),
    /truncated/,
  );
  await rejects(
    nrrd(['NRRD0004', 'type: short', 'dimension: 1', 'sizes: 2', 'encoding: ascii'], '1 x'),
    /"x" is not a number/,
  );
  await rejects(
    nrrd(['NRRD0004', 'type: short', 'dimension: 1', 'sizes: 1', 'encoding: ascii'], '1.5'),
    /not an integer/,
  );
});

test('ascii split across chunks', async () => {
  const d = new NrrdDecoder();
  const bytes = nrrd(
    ['NRRD0004', 'type: int', 'dimension: 1', 'sizes: 3', 'encoding: ascii'],
    '123 456 789',
  );
  for (let i = 0; i < bytes.length; i += 3) await d.push(bytes.subarray(i, i + 3));
  assert.deepEqual([...(await d.end()).volume.data], [123, 456, 789]);
});

test('space variants: RAS, LAS, abbreviations, scanner-xyz, 3D-right-handed, space dimension', async () => {
  const geo = ['space directions: (1,0,0) (0,2,0) (0,0,3)', 'space origin: (5,6,7)'];
  const cases: Array<[string, number[]]> = [
    ['space: right-anterior-superior', [5, 6, 7]],
    ['space: RAS', [5, 6, 7]],
    ['space: left-anterior-superior', [-5, 6, 7]],
    ['space: LAS', [-5, 6, 7]],
    ['space: left-posterior-superior', [-5, -6, 7]],
    ['space: LPS', [-5, -6, 7]],
    ['space: scanner-xyz', [-5, -6, 7]],
    ['space: 3D-right-handed', [-5, -6, 7]],
    ['space: 3D-left-handed', [-5, -6, 7]],
    ['space dimension: 3', [-5, -6, 7]],
  ];
  for (const [space, origin] of cases) {
    const { volume } = await decodeNrrd(nrrd([...base, space, ...geo], i16(vals)));
    close(volume.origin, origin);
    close(volume.spacing, [1, 2, 3]);
  }
  await rejects(nrrd([...base, 'space: RAST', ...geo], i16(vals)), /space-time/);
  await rejects(nrrd([...base, 'space: mars', ...geo], i16(vals)), /unknown space "mars"/);
  await rejects(nrrd([...base, ...geo], i16(vals)), /needs "space"/);
});

test('oblique directions split into unit direction and spacing', async () => {
  const c = Math.cos(0.3),
    s = Math.sin(0.3);
  const { volume } = await decodeNrrd(
    nrrd(
      [
        ...base,
        'space: RAS',
        `space directions: (${2 * c},${2 * s},0) (${-3 * s},${3 * c},0) (0,0,1.5)`,
        'space origin: (0,0,0)',
      ],
      i16(vals),
    ),
  );
  close(volume.spacing, [2, 3, 1.5]);
  close(volume.direction, [c, -s, 0, s, c, 0, 0, 0, 1]);
});

test('vector axis: none direction and kinds become components', async () => {
  const h = [
    'NRRD0005',
    'type: unsigned char',
    'dimension: 4',
    'space: left-posterior-superior',
    'sizes: 3 2 1 1',
    'space directions: none (1,0,0) (0,1,0) (0,0,1)',
    'kinds: RGB-color domain domain domain',
    'endian: little',
    'encoding: raw',
    'space origin: (0,0,0)',
  ];
  const r = await decodeNrrd(nrrd(h, Buffer.from([1, 2, 3, 4, 5, 6])));
  assert.equal(r.volume.components, 3);
  assert.equal(r.layout.componentKind, 'RGB-color');
  assert.deepEqual(r.volume.dimensions, [2, 1, 1]);
  for (const kind of ['vector', '3-vector', 'covariant-vector', 'RGBA-color', 'list']) {
    const k = [
      'NRRD0004',
      'type: float',
      'dimension: 3',
      'sizes: 2 3 4',
      `kinds: ${kind} domain domain`,
      'encoding: raw',
      'endian: little',
    ];
    const v = await decodeNrrd(nrrd(k, Buffer.alloc(2 * 3 * 4 * 4)));
    assert.equal(v.volume.components, 2, kind);
    assert.deepEqual(v.volume.dimensions, [3, 4, 1]);
  }
  // Slicer's buggy grid-transform header: 3 directions for a 4-D array
  const slicer = [
    'NRRD0004',
    'type: float',
    'dimension: 4',
    'space: left-posterior-superior',
    'sizes: 3 2 2 2',
    'space directions: (-1,0,0) (0,-1,0) (0,0,1)',
    'kinds: vector domain domain domain',
    'endian: little',
    'encoding: raw',
    'space origin: (0,0,0)',
  ];
  assert.equal((await decodeNrrd(nrrd(slicer, Buffer.alloc(3 * 8 * 4)))).volume.components, 3);
  // A 2-D image with its components on the last axis: moved to the first (interleaved) position.
  const planar = new Float32Array([1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 300, 400]);
  const last = await decodeNrrd(
    nrrd(
      [
        'NRRD0004',
        'type: float',
        'dimension: 3',
        'space: RAS',
        'sizes: 2 2 3',
        'space directions: (1,0,0) (0,1,0) none',
        'encoding: raw',
      ],
      Buffer.from(planar.buffer),
    ),
  );
  assert.equal(last.volume.components, 3);
  assert.deepEqual(last.volume.dimensions, [2, 2, 1]);
  assert.deepEqual(Array.from(last.volume.data), [1, 10, 100, 2, 20, 200, 3, 30, 300, 4, 40, 400]);
});

test('2-D images are one slice (space dimension 2 and 3)', async () => {
  const two = [
    'NRRD0004',
    'type: uchar',
    'dimension: 2',
    'space dimension: 2',
    'sizes: 2 2',
    'space directions: (0.5,0) (0,0.5)',
    'space origin: (1,2)',
    'encoding: raw',
  ];
  const a = await decodeNrrd(nrrd(two, Buffer.from([1, 2, 3, 4])));
  assert.deepEqual(a.volume.dimensions, [2, 2, 1]);
  close(a.volume.spacing, [0.5, 0.5, 1]);
  close(a.volume.origin, [-1, -2, 0]);
  const three = [
    'NRRD0004',
    'type: uchar',
    'dimension: 2',
    'space: RAS',
    'sizes: 2 2',
    'space directions: (0,1,0) (0,0,1)',
    'encoding: raw',
  ];
  const b = await decodeNrrd(nrrd(three, Buffer.from([1, 2, 3, 4])));
  close(b.volume.direction, [0, 0, 1, 1, 0, 0, 0, 1, 0] as Mat3);
  const plain = [
    'NRRD0001',
    'type: uchar',
    'dimension: 2',
    'sizes: 2 2',
    'spacings: 0.5 2',
    'axis mins: 1 2',
    'encoding: raw',
  ];
  const c = await decodeNrrd(nrrd(plain, Buffer.from([1, 2, 3, 4])));
  close(c.volume.spacing, [0.5, 2, 1]);
  close(c.volume.origin, [-1, -2, 0]);
});

test('byte skip, byte skip -1, line skip, comments, key/values, CRLF, other fields', async () => {
  const h = [
    ...base,
    '# a comment',
    'byte skip: 3',
    'line skip: 2',
    'content: my volume',
    'labels: "x" "y" "z"',
    'units: "mm" "mm" "mm"',
    'space units: "mm" "mm" "mm"',
    'space: RAS',
    'measurement frame: (1,0,0) (0,1,0) (0,0,1)',
    'thicknesses: nan nan 2',
    'centers: cell cell cell',
    'Slicer.thing:=a:=b \\n c\\\\',
    'empty:=',
  ];
  const r = await decodeNrrd(
    nrrd(h, Buffer.concat([Buffer.from('line one\nline two\nabc'), i16(vals)]), '\r\n'),
  );
  assert.deepEqual([...r.volume.data], vals);
  assert.equal(r.header.keyValues['Slicer.thing'], 'a:=b \n c\\');
  assert.equal(r.header.keyValues.empty, '');
  assert.equal(r.header.fields.get('content'), 'my volume');
  assert.equal(r.header.fields.get('space units'), '"mm" "mm" "mm"');
  assert.deepEqual(r.header.comments, ['a comment']);
  const tail = [...base, 'byte skip: -1'];
  assert.deepEqual(
    [
      ...(await decodeNrrd(nrrd(tail, Buffer.concat([Buffer.from('junk junk'), i16(vals)])))).volume
        .data,
    ],
    vals,
  );
  const gz = [...base.map((l) => (l === 'encoding: raw' ? 'encoding: gzip' : l)), 'byte skip: 4'];
  assert.deepEqual(
    [
      ...(await decodeNrrd(nrrd(gz, zlib.gzipSync(Buffer.concat([Buffer.alloc(4, 9), i16(vals)])))))
        .volume.data,
    ],
    vals,
  );
  await rejects(
    nrrd([...gz.slice(0, -1), 'byte skip: -1'], zlib.gzipSync(i16(vals))),
    /byte skip: -1 is only allowed with raw/,
  );
});

test('header split at every byte position and data in tiny chunks', async () => {
  const bytes = nrrd(
    [...base, 'space: RAS', 'space directions: (1,0,0) (0,1,0) (0,0,1)'],
    i16(vals),
    '\r\n',
  );
  for (let cut = 1; cut < bytes.length; cut += 7) {
    const d = new NrrdDecoder();
    await d.push(bytes.subarray(0, cut));
    for (let i = cut; i < bytes.length; i += 2) await d.push(bytes.subarray(i, i + 2));
    assert.deepEqual([...(await d.end()).volume.data], vals);
  }
});

test('malformed input is a clear 422 (or 413 for oversize)', async () => {
  await rejects(Buffer.from('P5 2 2 255\n'), /not a NRRD file/);
  await rejects(Buffer.alloc(0), /empty/);
  await rejects(Buffer.from('NRRD0004\ntype: short\n'), /not terminated/);
  await rejects(
    nrrd(
      base.filter((l) => !l.startsWith('type')),
      i16(vals),
    ),
    /"type" is missing/,
  );
  await rejects(
    nrrd(
      base.filter((l) => !l.startsWith('sizes')),
      i16(vals),
    ),
    /"sizes" is missing/,
  );
  await rejects(
    nrrd(
      base.map((l) => (l.startsWith('sizes') ? 'sizes: 2 2' : l)),
      i16(vals),
    ),
    /sizes has 2 values but dimension is 3/,
  );
  await rejects(
    nrrd(
      base.map((l) => (l.startsWith('sizes') ? 'sizes: 2 0 1' : l)),
      i16(vals),
    ),
    /sizes must be ≥ 1/,
  );
  await rejects(
    nrrd(
      base.map((l) => (l.startsWith('sizes') ? 'sizes: 2 x 1' : l)),
      i16(vals),
    ),
    /sizes must be an integer/,
  );
  await rejects(nrrd(base, i16(vals).subarray(0, 5)), /truncated: got 5 of 8 bytes/);
  await rejects(
    nrrd(base, Buffer.concat([i16(vals), Buffer.alloc(2)])),
    /longer than sizes × type/,
  );
  await rejects(
    nrrd(
      base.map((l) => (l.startsWith('encoding') ? 'encoding: bzip2' : l)),
      i16(vals),
    ),
    /bzip2/,
  );
  await rejects(
    nrrd(
      base.map((l) => (l.startsWith('encoding') ? 'encoding: gzip' : l)),
      Buffer.from('not gzip at all'),
    ),
    /gzip data is corrupt/,
  );
  await rejects(
    nrrd(
      base.map((l) => (l.startsWith('encoding') ? 'encoding: gzip' : l)),
      zlib.gzipSync(i16(vals)).subarray(0, 12),
    ),
    /gzip data is truncated|truncated/,
  );
  await rejects(nrrd([...base, 'data file: x.raw'], ''), /detached headers/);
  await rejects(
    nrrd([...base, 'space: RAS', 'space directions: (1,0,0) (0,0,0) (0,0,1)'], i16(vals)),
    /zero-length/,
  );
  await rejects(
    nrrd([...base, 'space: RAS', 'space directions: (1,0,0) (0,1,0) (0,a,1)'], i16(vals)),
    /not a finite number/,
  );
  await rejects(
    nrrd([...base, 'space: RAS', 'space origin: (1,2)'], i16(vals)),
    /space origin must be one vector of 3 values/,
  );
  await rejects(nrrd([...base, 'this line is bad'], i16(vals)), /header line 7/);
  await assert.rejects(
    decodeNrrd(
      nrrd(
        base.map((l) => (l.startsWith('sizes') ? 'sizes: 1000 1000 1000' : l)),
        '',
      ),
      { maxBytes: 1e6 },
    ),
    (e: AppError) => e.code === 'payload_too_large' && e.message.includes('more than the limit'),
  );
});

test('writer: LPS header, exact types, vector axis, key/values; round trip raw and gzip', async () => {
  const c = Math.cos(0.4),
    s = Math.sin(0.4);
  const volume: ImageVolume = {
    scalarType: 'float64',
    components: 1,
    dimensions: [3, 2, 2],
    spacing: [0.7, 1.1, 2.5],
    origin: [-12.5, 3.25, 99],
    direction: [c, -s, 0, s, c, 0, 0, 0, 1],
    data: Float64Array.from({ length: 12 }, (_, i) => i * 1.25 - 3),
  };
  const text = nrrdHeaderText(volume, { keyValues: { 'my key': 'line1\nline2' }, content: 'x' });
  assert.match(text, /^NRRD0004\n/);
  assert.match(text, /\ntype: double\n/);
  assert.match(text, /\nspace: left-posterior-superior\n/);
  assert.match(text, /\nkinds: domain domain domain\n/);
  assert.match(text, /\nmy key:=line1\\nline2\n/);
  assert.ok(text.endsWith('\n\n'));
  const h = parseNrrdHeader(text);
  assert.equal(h.fields.get('space origin'), '(12.5,-3.25,99)');
  for (const encoding of ['raw', 'gzip'] as const) {
    const r = await decodeNrrd(await encodeNrrd(volume, { encoding, keyValues: { a: 'b' } }));
    assert.deepEqual([...r.volume.data], [...volume.data]);
    close(r.volume.origin, volume.origin, 0);
    close(r.volume.spacing, volume.spacing, 1e-12);
    close(r.volume.direction, volume.direction, 1e-12);
    assert.equal(r.header.keyValues.a, 'b');
  }
  const rgb: ImageVolume = {
    ...volume,
    scalarType: 'uint8',
    components: 3,
    data: Uint8Array.from({ length: 36 }, (_, i) => i),
  };
  const rgbText = nrrdHeaderText(rgb);
  assert.match(rgbText, /\ndimension: 4\n/);
  assert.match(rgbText, /\nsizes: 3 3 2 2\n/);
  assert.match(rgbText, /\nspace directions: none \(/);
  assert.match(rgbText, /\nkinds: RGB-color domain domain domain\n/);
  const back = await decodeNrrd(await encodeNrrd(rgb));
  assert.equal(back.volume.components, 3);
  assert.deepEqual([...back.volume.data], [...rgb.data]);
  assert.ok(back.volume.data.buffer instanceof SharedArrayBuffer);
});
