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
} from '../../src/imaging/geometry.js';
import { allocShared, type ImageVolume, type ScalarType } from '../../src/imaging/types.js';
import { toError } from '../../src/errors.js';
import { tempDir } from '../helpers/app.js';
import { rotationZYX } from '../helpers/phantom.js';

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
    direction: rotationZYX(0.3, -0.2, 0.5),
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

test('teem-style NRRD with the vector axis last (raw and gzip): read as itk-wasm reads it, and round-trips exactly over /slicer/volume', async () => {
  const { gzipSync } = await import('node:zlib');
  const { makeTestApp } = await import('../helpers/app.js');
  const [nx, ny, nz, nc] = [5, 4, 3, 3];
  // File order (teem: first axis fastest): x, y, z, then the component axis (planar blocks).
  const planar = new Int16Array(nx * ny * nz * nc);
  for (let c = 0; c < nc; c++)
    for (let v = 0; v < nx * ny * nz; v++) planar[c * nx * ny * nz + v] = v * 3 - 100 + c * 1000;
  const interleaved = new Int16Array(planar.length);
  for (let v = 0; v < nx * ny * nz; v++)
    for (let c = 0; c < nc; c++) interleaved[v * nc + c] = planar[c * nx * ny * nz + v]!;
  const header = (encoding: string) =>
    [
      'NRRD0004',
      '# Complete NRRD file format specification at:',
      '# http://teem.sourceforge.net/nrrd/format.html',
      'type: short',
      'dimension: 4',
      'space: left-posterior-superior',
      `sizes: ${nx} ${ny} ${nz} ${nc}`,
      'space directions: (1.5,0,0) (0,2,0) (0,0,2.5) none',
      'kinds: space space space 3-vector',
      'endian: little',
      `encoding: ${encoding}`,
      'space origin: (10,20,30)',
      '',
      '',
    ].join('\n');
  const raw = Buffer.from(planar.buffer);
  const t = await makeTestApp({ noSamples: true });
  try {
    for (const encoding of ['raw', 'gzip']) {
      const file = Buffer.concat([
        Buffer.from(header(encoding), 'latin1'),
        encoding === 'gzip' ? gzipSync(raw) : raw,
      ]);
      const ours = await decodeNrrd(file);
      assert.equal(ours.volume.components, nc);
      assert.deepEqual(ours.volume.dimensions, [nx, ny, nz]);
      assert.deepEqual(Array.from(ours.volume.data), Array.from(interleaved), encoding);
      assert.equal(ours.layout.componentKind, '3-vector');
      // itk-wasm (ITK's NrrdImageIO, itself built on teem) reads the same file the same way.
      const p = path.join(dir, `vector-last-${encoding}.nrrd`);
      writeFileSync(p, file);
      const im = await wrap(() => itk.readImageNode(p));
      assert.equal(im.imageType.components, nc);
      assert.deepEqual(Array.from(im.size), [nx, ny, nz]);
      assert.deepEqual(Array.from(im.data as Int16Array), Array.from(ours.volume.data), encoding);
      close(lpsToRas([...im.origin] as [number, number, number]), ours.volume.origin);
      close([...im.spacing], ours.volume.spacing);
      // Over HTTP: PUT then GET gives the same voxels (components first), geometry and kind.
      const put = await t.app.request(`/slicer/volume?name=vec-${encoding}`, {
        method: 'PUT',
        body: file,
      });
      const putJson = (await put.json()) as { id: string };
      assert.equal(put.status, 200, JSON.stringify(putJson));
      const got = await t.app.request(`/slicer/volume?id=${putJson.id}`);
      assert.equal(got.status, 200);
      const back = await decodeNrrd(new Uint8Array(await got.arrayBuffer()));
      assert.deepEqual(Array.from(back.volume.data), Array.from(interleaved));
      assert.equal(back.volume.scalarType, 'int16');
      assert.equal(back.layout.componentKind, '3-vector');
      close(back.volume.origin, ours.volume.origin);
      close(back.volume.spacing, ours.volume.spacing);
      close(back.volume.direction, ours.volume.direction);
      // and the stored copy (written while the body arrived, or on flush) reads back the same
      await t.ctx.sceneStore?.flush();
    }
  } finally {
    await t.close();
  }
});
