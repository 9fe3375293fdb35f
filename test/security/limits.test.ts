/**
 * Body limits per route family (`config.limits`): NRRD uploads (volume, grid transform), STOW-RS,
 * JSON bodies (transform, markups), local JSON files (`localfile=`), and exec. Over the limit →
 * 413, both with a declared Content-Length and with a streamed (chunked) body; nothing changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTestApp, tempDir } from '../helpers/app.js';
import { DEFAULT_LIMITS } from '../../src/server/config.js';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';

const KiB = 1024;
type Body = NonNullable<RequestInit['body']>;
const TOKEN = 'limits-token-012345';

/** A body as a stream of `n` chunks of `size` bytes (no Content-Length: chunked). */
function streamed(n: number, size: number, first?: Buffer): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i === 0 && first) c.enqueue(first);
      else if (i < n) c.enqueue(new Uint8Array(size).fill(65));
      else c.close();
      i++;
    },
  });
}

test('each route family enforces its own limit (declared and streamed bodies) → 413, nothing stored', async () => {
  const imports = tempDir();
  writeFileSync(
    path.join(imports, 'big.mrk.json'),
    JSON.stringify({
      markups: [{ type: 'Fiducial', controlPoints: [], pad: 'x'.repeat(40 * KiB) }],
    }),
  );
  const t = await makeTestApp({
    enableExec: true,
    token: TOKEN,
    importRoots: [imports],
    limits: { ...DEFAULT_LIMITS, volume: 64 * KiB, stow: 64 * KiB, json: 16 * KiB, exec: 8 * KiB },
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    const v0 = t.ctx.scene.version;
    const nrrdHead = Buffer.from(
      'NRRD0004\ntype: uchar\ndimension: 3\nsizes: 64 64 64\nencoding: raw\n\n',
    );
    const cases: Array<[string, string, Record<string, string>, () => Body]> = [
      ['POST', '/slicer/volume', {}, () => Buffer.concat([nrrdHead, Buffer.alloc(64 * 64 * 64)])],
      ['POST', '/slicer/volume', {}, () => streamed(40, 4 * KiB, nrrdHead)],
      [
        'POST',
        '/slicer/gridTransform',
        {},
        () =>
          streamed(
            40,
            4 * KiB,
            Buffer.from(
              'NRRD0004\ntype: float\ndimension: 4\nsizes: 3 32 32 32\nkinds: vector domain domain domain\nencoding: raw\n\n',
            ),
          ),
      ],
      [
        'PUT',
        '/slicer/transform',
        { 'content-type': 'application/json' },
        () =>
          JSON.stringify({
            matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
            pad: 'x'.repeat(20 * KiB),
          }),
      ],
      [
        'POST',
        '/slicer/markups',
        { 'content-type': 'application/json' },
        () => streamed(8, 4 * KiB),
      ],
      [
        'POST',
        '/slicer/exec',
        { 'content-type': 'application/javascript' },
        () => `__execResult = 1; // ${'x'.repeat(9 * KiB)}`,
      ],
      [
        'POST',
        '/slicer/exec',
        { 'content-type': 'application/javascript' },
        () => streamed(4, 4 * KiB),
      ],
      [
        'POST',
        '/dicom/studies',
        { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' },
        () =>
          multipartBody(
            syntheticSeries({ rows: 64, columns: 64, slices: 12, seed: 'limits' }).files.map(
              (data) => ({ contentType: 'application/dicom', data }),
            ),
            'b',
          ),
      ],
      [
        'POST',
        '/dicom/studies',
        { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' },
        () => streamed(40, 4 * KiB, Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n')),
      ],
      ['POST', '/slicer/mrml?localfile=big.mrk.json&filetype=MarkupsFile', {}, () => ''],
    ];
    for (const [method, url, headers, body] of cases) {
      const b = body();
      const res = await t.app.request(url, {
        method,
        headers: { ...auth, ...headers },
        body: b === '' ? undefined : b,
        ...(b instanceof ReadableStream ? { duplex: 'half' } : {}),
      });
      const text = await res.text();
      assert.equal(res.status, 413, `${method} ${url}: ${res.status} ${text.slice(0, 200)}`);
      assert.match(text, /limit/i);
    }
    assert.equal(t.ctx.scene.version, v0);
    assert.equal((await t.ctx.archive!().counts()).instances, 0);
    // Under the limits the same routes work.
    const ok = await t.app.request('/slicer/exec', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/javascript' },
      body: '__execResult = 2',
    });
    assert.equal(ok.status, 200);
  } finally {
    await t.close();
  }
});
