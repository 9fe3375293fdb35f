/**
 * Property-based fuzzing (fast-check) of the multipart/related parser and of QIDO-RS parameters.
 * - Multipart: any body written with any valid boundary parses back to the same parts whatever
 *   the chunk splits; garbage and mutated bodies give events or a `bad_request` AppError, never
 *   another error or a hang, and the outcome does not depend on the chunk splits.
 * - QIDO: random keys (attribute keywords, tags, paging and control keys, garbage) and values
 *   (wildcards, ranges, lists, unicode, malformed percent-encoding) on every search route: 200,
 *   204 or 400, never 5xx; `parseQido` returns or throws an AppError.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { multipartBody, parseMultipart } from '../../src/dicom/multipart.js';
import { parseQido } from '../../src/dicom/query.js';
import { isAppError } from '../../src/errors.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

// ---------- multipart ----------
const BCHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?";
const boundary = fc
  .array(fc.constantFrom(...BCHARS.split('')), { minLength: 1, maxLength: 70 })
  .map((a) => a.join(''));

// eslint-disable-next-line @typescript-eslint/require-await -- the parser takes an AsyncIterable
async function* chunked(buf: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const p of points) {
    if (p > from) yield buf.subarray(from, p);
    from = Math.max(from, p);
  }
  if (from < buf.length) yield buf.subarray(from);
}

interface Parsed {
  parts: Array<{ headers: Record<string, string>; data: Buffer }>;
  error?: string;
}

async function parseAll(body: Buffer, b: string, cuts: number[]): Promise<Parsed> {
  const out: Parsed = { parts: [] };
  let cur: { headers: Record<string, string>; chunks: Buffer[] } | undefined;
  try {
    for await (const ev of parseMultipart(chunked(body, cuts), b)) {
      if (ev.kind === 'part') cur = { headers: ev.headers, chunks: [] };
      else if (ev.kind === 'data') cur!.chunks.push(ev.chunk);
      else {
        out.parts.push({ headers: cur!.headers, data: Buffer.concat(cur!.chunks) });
        cur = undefined;
      }
    }
  } catch (e) {
    assert.ok(isAppError(e), `not an AppError: ${(e as Error)?.stack ?? String(e)}`);
    assert.equal(e.code, 'bad_request');
    out.error = e.code;
  }
  return out;
}

/** Part data that likes to look like delimiters: CRLFs, dashes and pieces of the boundary. */
const trickyData = (b: string) =>
  fc
    .array(
      fc.oneof(
        fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u)),
        fc.constantFrom('\r\n', '--', '\r\n--', '\r\n\r\n', '-').map((s) => Buffer.from(s)),
        fc.nat(b.length).map((n) => Buffer.from(`\r\n--${b.slice(0, n)}`)),
      ),
      { maxLength: 12 },
    )
    .map((a) => Buffer.concat(a));

test('multipart: what the writer writes, the parser reads back, for any boundary, data and chunk splits (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      boundary.chain((b) =>
        fc.tuple(
          fc.constant(b),
          fc.array(
            fc.tuple(
              fc.constantFrom(
                'application/dicom',
                'application/octet-stream',
                'text/plain; charset=utf-8',
              ),
              trickyData(b),
            ),
            { minLength: 1, maxLength: 4 },
          ),
        ),
      ),
      fc.array(fc.nat(), { maxLength: 10 }),
      async ([b, parts], cuts) => {
        const delim = Buffer.from(`\r\n--${b}`);
        fc.pre(
          parts.every(
            ([, d]) =>
              !Buffer.concat([d, Buffer.from('\r\n')]).includes(delim) &&
              !d.subarray(0, delim.length - 2).equals(delim.subarray(2)),
          ),
        );
        const body = multipartBody(
          parts.map(([contentType, data]) => ({ contentType, data })),
          b,
        );
        const got = await parseAll(body, b, cuts);
        assert.equal(got.error, undefined);
        assert.equal(got.parts.length, parts.length);
        got.parts.forEach((p, i) => {
          assert.equal(p.headers['content-type'], parts[i]![0]);
          assert.ok(p.data.equals(parts[i]![1]), `part ${i} data differs`);
        });
      },
    ),
    { numRuns: 1500 },
  );
});

test('multipart: garbage and mutated bodies → parts or bad_request, the same whatever the chunk splits (property)', async () => {
  const valid = multipartBody(
    [
      { contentType: 'application/dicom', data: Buffer.from('DICM-ish payload\r\n--not-it') },
      { contentType: 'application/dicom', data: Buffer.alloc(50, 7) },
    ],
    'vgBoundary',
  );
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
    fc
      .tuple(
        fc.array(fc.tuple(fc.nat(valid.length), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        fc.option(fc.nat(valid.length)),
        fc.option(
          fc.tuple(
            fc.nat(valid.length),
            fc.constantFrom(
              '\r\n',
              '--',
              '--vgBoundary',
              '\r\n--vgBoundary--',
              '\r\n\r\n',
              'x'.repeat(20000),
            ),
          ),
        ),
      )
      .map(([flips, cut, ins]) => {
        let b = Buffer.from(valid);
        for (const [p, v] of flips) if (p < b.length) b[p] = v;
        if (ins)
          b = Buffer.concat([b.subarray(0, ins[0]), Buffer.from(ins[1]), b.subarray(ins[0])]);
        return cut === null ? b : b.subarray(0, cut);
      }),
  );
  await fc.assert(
    fc.asyncProperty(
      body,
      fc.constantFrom('vgBoundary', 'x', 'a'.repeat(201), '', 'vgBoundary--'),
      fc.array(fc.nat(), { maxLength: 8 }),
      async (buf, b, cuts) => {
        const whole = await parseAll(buf, b, []);
        const split = await parseAll(buf, b, cuts);
        assert.equal(split.error, whole.error);
        assert.equal(split.parts.length, whole.parts.length);
        split.parts.forEach((p, i) => assert.ok(p.data.equals(whole.parts[i]!.data)));
      },
    ),
    { numRuns: 2000 },
  );
});

// ---------- QIDO ----------
const KEYS = [
  'PatientName',
  'PatientID',
  'StudyDate',
  'StudyTime',
  'AccessionNumber',
  'ModalitiesInStudy',
  'StudyInstanceUID',
  'SeriesInstanceUID',
  'SOPInstanceUID',
  'Modality',
  'SeriesNumber',
  'InstanceNumber',
  'StudyDescription',
  'SeriesDescription',
  'ReferringPhysicianName',
  'PatientBirthDate',
  'StudyID',
  'SOPClassUID',
  'SeriesDate',
  'AcquisitionDateTime',
  '00100010',
  '0020000D',
  '0020000E',
  '00080020',
  '00080030',
  '00080061',
  '00100010.00100020',
  '00101002.00100020',
  'x00100010',
  'includefield',
  'includeField',
  'limit',
  'offset',
  'fuzzymatching',
  'requestType',
  'accept',
  'charset',
  'constructor',
  '__proto__',
  'toString',
  '',
];
const qidoValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '*',
    '?',
    '**',
    'Phantom*',
    'P?antom^*',
    '20240101',
    '20240101-',
    '-20240101',
    '20240101-20231231',
    '-',
    '--',
    '2024-01-01',
    '20241301',
    '99999999',
    '120000.000000-',
    '1200-1300',
    '250000',
    'CT',
    'CT,MR',
    'CT\\MR',
    '\\',
    ',',
    '1.2.3,4.5.6',
    '1.2.*',
    'all',
    'ALL',
    'true',
    'TRUE',
    'maybe',
    '0',
    '-1',
    '999999999',
    '9999999999',
    '1e3',
    ' 5 ',
    '%',
    '%zz',
    'null',
    'undefined',
    '\u0000',
    '😀',
    'a'.repeat(5000),
  ),
  fc.nat().map(String),
);
const rawPercent = fc.constantFrom(
  '%',
  '%zz',
  '%E0%A4%A',
  '%c0%ae',
  '%ff',
  '%00',
  '+',
  '&&',
  '==',
  '=%',
  '%2',
  '%%',
);

let t: TestApp;
const ct = syntheticSeries({ rows: 8, columns: 8, slices: 4, seed: 'qido-fuzz' });
before(async () => {
  t = await makeTestApp();
  for (const f of ct.files) await t.ctx.archive!().ingest(f, { durable: false });
});
after(async () => t.close());

test('parseQido: any parameters give a query or an AppError (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })), qidoValue),
        { maxLength: 8 },
      ),
      (params) => {
        try {
          parseQido(params);
        } catch (e) {
          assert.ok(isAppError(e), `not an AppError: ${String(e)}`);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('QIDO-RS routes: random keys and values → 200/204/400, never 5xx (property)', async () => {
  const routes = [
    '/dicom/studies',
    '/dicom/series',
    '/dicom/instances',
    `/dicom/studies/${ct.studyUid}/series`,
    `/dicom/studies/${ct.studyUid}/instances`,
    `/dicom/studies/${ct.studyUid}/series/${ct.seriesUid}/instances`,
    '/dicom/studies/1.2.3/series',
  ];
  const seen = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.array(
        fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })), qidoValue),
        { maxLength: 6 },
      ),
      fc.option(
        fc.array(fc.oneof(rawPercent, fc.constantFrom(...KEYS)), { minLength: 1, maxLength: 4 }),
      ),
      async (route, params, raw) => {
        const qs = new URLSearchParams(params).toString() + (raw ? `&${raw.join('')}` : '');
        const res = await t.app.request(`${route}?${qs}`, {
          headers: { accept: 'application/dicom+json' },
        });
        await res.arrayBuffer();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        assert.ok(
          [200, 204, 400].includes(res.status),
          `${route}?${qs.slice(0, 300)} → ${res.status}`,
        );
      },
    ),
    { numRuns: 1500 },
  );
  assert.ok((seen.get(200) ?? 0) > 0 && (seen.get(400) ?? 0) > 0, JSON.stringify([...seen]));
});
