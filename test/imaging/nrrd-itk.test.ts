/**
 * Cross-checks the NRRD codec against itk-wasm both ways: itk-wasm reads what we write, and we
 * read what it writes (values, spacing, origin, direction). itk-wasm is LPS with a column-major
 * direction; its errors are raw numbers, so every call is wrapped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { decodeNrrd, encodeNrrd } from '../../src/imaging/nrrd.js';
import {
  directionLpsToRas,
  lpsToRas,
  mat3FromItkDirection,
  mat3ToItkDirection,
  mul3,
} from '../../src/imaging/geometry.js';
import {
  allocShared,
  type ImageVolume,
  type Mat3,
  type ScalarType,
} from '../../src/imaging/types.js';
import { toError } from '../../src/errors.js';
import { tempDir } from '../helpers/app.js';

type Itk = typeof import('@itk-wasm/image-io');
let itk: Itk;
let dir: string;
before(async () => {
  itk = await import('@itk-wasm/image-io');
  dir = tempDir('vg-itk-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const wrap = async <T>(p: () => Promise<T>): Promise<T> => {
  try {
    return await p();
  } catch (e) {
    throw toError(e);
  }
};
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9, what = '') => {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++)
    assert.ok(
      Math.abs(a[i]! - b[i]!) <= tol,
      `${what}: ${Array.from(a).join(',')} vs ${Array.from(b).join(',')}`,
    );
};

function rotation(ax: number, ay: number, az: number): Mat3 {
  const [ca, sa, cb, sb, cc, sc] = [
    Math.cos(ax),
    Math.sin(ax),
    Math.cos(ay),
    Math.sin(ay),
    Math.cos(az),
    Math.sin(az),
  ];
  const rx: Mat3 = [1, 0, 0, 0, ca, -sa, 0, sa, ca];
  const ry: Mat3 = [cb, 0, sb, 0, 1, 0, -sb, 0, cb];
  const rz: Mat3 = [cc, -sc, 0, sc, cc, 0, 0, 0, 1];
  return mul3(rz, mul3(ry, rx));
}

function volumeOf(
  scalarType: ScalarType,
  components: number,
  fill: (i: number) => number,
): ImageVolume {
  const dims: [number, number, number] = [5, 4, 3];
  const n = dims[0] * dims[1] * dims[2] * components;
  const data = allocShared(scalarType, n);
  for (let i = 0; i < n; i++) data[i] = fill(i);
  return {
    scalarType,
    components,
    dimensions: dims,
    spacing: [0.8, 1.25, 2.5],
    origin: [-30.5, 12.25, 7],
    direction: rotation(0.3, -0.2, 0.5),
    data,
  };
}

const cases: Array<[string, ImageVolume, 'raw' | 'gzip']> = [
  ['int16 oblique raw', volumeOf('int16', 1, (i) => ((i * 37) % 2000) - 1000), 'raw'],
  ['int16 oblique gzip', volumeOf('int16', 1, (i) => ((i * 37) % 2000) - 1000), 'gzip'],
  ['float64 gzip', volumeOf('float64', 1, (i) => Math.sin(i) * 1e5), 'gzip'],
  ['uint8 RGB', volumeOf('uint8', 3, (i) => (i * 7) % 256), 'raw'],
  ['float32 3-vector', volumeOf('float32', 3, (i) => i / 3 - 10), 'gzip'],
  ['uint32', volumeOf('uint32', 1, (i) => i * 100000), 'raw'],
];

test('itk-wasm reads what we write', async () => {
  for (const [name, v, encoding] of cases) {
    const file = path.join(dir, `ours-${name.replace(/\W+/g, '-')}.nrrd`);
    writeFileSync(file, await encodeNrrd(v, { encoding }));
    const im = await wrap(() => itk.readImageNode(file));
    assert.equal(im.imageType.componentType, v.scalarType, name);
    assert.equal(im.imageType.components, v.components, name);
    assert.deepEqual(im.size, v.dimensions, name);
    close(im.spacing, v.spacing, 1e-9, `${name} spacing`);
    close(im.origin, lpsToRas(v.origin), 1e-9, `${name} origin`);
    close(
      directionLpsToRas(mat3FromItkDirection(im.direction as Float64Array)),
      v.direction,
      1e-9,
      `${name} direction`,
    );
    close(im.data as ArrayLike<number>, v.data, 0, `${name} data`);
  }
});

test('we read what itk-wasm writes', async () => {
  const { default: Image } = await import('itk-wasm').then((m) => ({ default: m.Image }));
  const { ImageType } = await import('itk-wasm');
  for (const [name, v, encoding] of cases) {
    const pixelType = v.components === 1 ? 'Scalar' : v.scalarType === 'uint8' ? 'RGB' : 'Vector';
    const im = new Image(new ImageType(3, v.scalarType, pixelType, v.components));
    im.size = [...v.dimensions];
    im.spacing = [...v.spacing];
    im.origin = lpsToRas(v.origin);
    im.direction = mat3ToItkDirection(directionLpsToRas(v.direction));
    im.data = new (v.data.constructor as new (a: ArrayLike<number>) => typeof v.data)(v.data);
    const file = path.join(dir, `itk-${name.replace(/\W+/g, '-')}.nrrd`);
    await wrap(() => itk.writeImageNode(im, file, { useCompression: encoding === 'gzip' }));
    const r = await decodeNrrd(readFileSync(file));
    assert.equal(r.volume.scalarType, v.scalarType, name);
    assert.equal(r.volume.components, v.components, name);
    assert.deepEqual(r.volume.dimensions, v.dimensions, name);
    close(r.volume.spacing, v.spacing, 1e-6, `${name} spacing`);
    close(r.volume.origin, v.origin, 1e-6, `${name} origin`);
    close(r.volume.direction, v.direction, 1e-6, `${name} direction`);
    close(r.volume.data, v.data, 0, `${name} data`);
    assert.equal(r.layout.encoding, encoding, name);
  }
});
