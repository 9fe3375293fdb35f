import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  negotiateBulk,
  negotiateFrames,
  negotiateInstances,
  negotiateJson,
  negotiateRendered,
  parseAccept,
} from '../../src/dicom/accept.js';
import { isAppError } from '../../src/errors.js';

const LE = '1.2.840.10008.1.2.1';
const JPEG = '1.2.840.10008.1.2.4.50';
const J2K = '1.2.840.10008.1.2.4.91';
const is406 = (e: unknown) => isAppError(e) && e.code === 'not_acceptable';

describe('Accept parsing', () => {
  it('parses lists, quoted and unquoted parameters, q-values and duplicates', () => {
    const r = parseAccept(
      'application/dicom+json, multipart/related; type="application/octet-stream"; transfer-syntax="*"; transfer-syntax=1.2, image/png;q=0.5',
    );
    assert.deepEqual(
      r.map((x) => x.type),
      ['application/dicom+json', 'multipart/related', 'image/png'],
    );
    assert.deepEqual(r[1]!.params, { type: 'application/octet-stream', 'transfer-syntax': '*' });
    assert.equal(r[2]!.q, 0.5);
    assert.deepEqual(
      parseAccept(undefined).map((x) => x.type),
      ['*/*'],
    );
    assert.deepEqual(
      parseAccept('image/png;q=0.2, image/jpeg').map((x) => x.type),
      ['image/jpeg', 'image/png'],
    );
  });
});

describe('negotiation', () => {
  it('JSON: never 406 when dicom+json or a wildcard is in the list', () => {
    for (const a of [
      undefined,
      '*/*',
      'application/dicom+json',
      'application/json',
      'application/dicom+json, multipart/related; type=application/octet-stream',
    ])
      negotiateJson(a);
    assert.throws(() => negotiateJson('image/png'), is406);
  });
  it('frames: OHIF and dicomweb-client forms', () => {
    assert.deepEqual(
      negotiateFrames(
        'multipart/related; type=application/octet-stream; transfer-syntax=*',
        JPEG,
        1,
      ),
      { native: true, multipart: true },
    );
    assert.deepEqual(
      negotiateFrames(
        'multipart/related; type="application/octet-stream"; transfer-syntax="*"',
        LE,
        1,
      ),
      { native: true, multipart: true },
    );
    assert.deepEqual(
      negotiateFrames('multipart/related; type="application/octet-stream"', JPEG, 1),
      { native: false, multipart: true },
    );
    assert.deepEqual(
      negotiateFrames('multipart/related; type="image/jpeg"; transfer-syntax=' + JPEG, JPEG, 2),
      { native: true, multipart: true },
    );
    assert.deepEqual(negotiateFrames('application/octet-stream', LE, 1), {
      native: false,
      multipart: false,
    });
    assert.deepEqual(negotiateFrames(undefined, J2K, 1), { native: false, multipart: true });
    assert.throws(() => negotiateFrames('multipart/related; type="image/jp2"', JPEG, 1), is406);
    assert.deepEqual(
      negotiateFrames(
        'multipart/related; type="image/jp2", multipart/related; type=application/octet-stream',
        J2K,
        1,
      ),
      { native: true, multipart: true },
    );
  });
  it('instances: stored with transfer-syntax=*, Explicit LE otherwise', () => {
    assert.deepEqual(
      negotiateInstances(
        'multipart/related; type="application/dicom"; transfer-syntax=*',
        J2K,
        true,
      ),
      { asStored: true, multipart: true },
    );
    assert.deepEqual(negotiateInstances('multipart/related; type="application/dicom"', J2K, true), {
      asStored: false,
      multipart: true,
    });
    assert.deepEqual(negotiateInstances('application/dicom', LE, true), {
      asStored: true,
      multipart: false,
    });
    assert.throws(() => negotiateInstances('application/dicom', LE, false), is406);
    assert.throws(
      () =>
        negotiateInstances(
          'multipart/related; type="application/dicom"; transfer-syntax=1.2.3',
          J2K,
          true,
        ),
      is406,
    );
  });
  it('bulk and rendered', () => {
    assert.deepEqual(negotiateBulk('multipart/related; type="application/octet-stream"'), {
      multipart: true,
    });
    assert.deepEqual(negotiateBulk('application/octet-stream'), { multipart: false });
    assert.equal(negotiateRendered(undefined), 'jpeg');
    assert.equal(negotiateRendered('image/png'), 'png');
    assert.throws(() => negotiateRendered('application/dicom'), is406);
    assert.throws(
      () => negotiateRendered('image/jpeg, multipart/related; type="application/dicom"'),
      (e) => isAppError(e) && e.code === 'bad_request',
    );
  });
});
