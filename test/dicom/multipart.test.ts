import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { multipartBody, parseContentType, parseMultipart } from '../../src/dicom/multipart.js';
import { isAppError } from '../../src/errors.js';

// eslint-disable-next-line @typescript-eslint/require-await -- the parser takes an AsyncIterable
async function* chunked(buf: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  let prev = 0;
  for (const c of [...new Set(cuts.map((x) => x % (buf.length + 1)))].sort((a, b) => a - b)) {
    if (c > prev) yield buf.subarray(prev, c);
    prev = Math.max(prev, c);
  }
  if (prev < buf.length) yield buf.subarray(prev);
}

async function collect(body: Buffer, boundary: string, cuts: number[] = []) {
  const parts: Array<{ headers: Record<string, string>; data: Buffer }> = [];
  for await (const ev of parseMultipart(chunked(body, cuts), boundary)) {
    if (ev.kind === 'part') parts.push({ headers: ev.headers, data: Buffer.alloc(0) });
    else if (ev.kind === 'data')
      parts[parts.length - 1]!.data = Buffer.concat([parts[parts.length - 1]!.data, ev.chunk]);
  }
  return parts;
}

describe('multipart/related', () => {
  it('round-trips parts split at any chunk boundary (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(2000), { maxLength: 12 }),
        async (datas, cuts) => {
          const boundary = 'b0undary';
          const body = multipartBody(
            datas.map((d) => ({ contentType: 'application/dicom', data: d })),
            boundary,
          );
          const parts = await collect(body, boundary, cuts);
          assert.equal(parts.length, datas.length);
          parts.forEach((p, i) => {
            assert.deepEqual(new Uint8Array(p.data), datas[i]);
            assert.equal(p.headers['content-type'], 'application/dicom');
          });
        },
      ),
      { numRuns: 150 },
    );
  });
  it('handles data that contains near-delimiters, a preamble and an epilogue', async () => {
    const data = Buffer.from('x\r\n--bound\r\n--boun');
    const body = Buffer.concat([
      Buffer.from('preamble\r\n'),
      multipartBody([{ contentType: 'application/dicom', data }], 'boundary'),
      Buffer.from('epilogue'),
    ]);
    const parts = await collect(body, 'boundary', [3, 15, 30, 31, 32]);
    assert.equal(parts.length, 1);
    assert.deepEqual(parts[0]!.data, data);
  });
  it('rejects bodies without boundary or closing delimiter', async () => {
    const bad = (e: unknown) => isAppError(e) && e.code === 'bad_request';
    await assert.rejects(collect(Buffer.from('no boundary here'), 'abc'), bad);
    await assert.rejects(
      collect(
        Buffer.from('--abc\r\nContent-Type: application/dicom\r\n\r\nDATA without end'),
        'abc',
      ),
      bad,
    );
  });
  it('writes what naive clients parse: starts with --boundary, CRLF before delimiters', () => {
    const body = multipartBody(
      [
        {
          contentType: 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1',
          data: Buffer.from([1, 2]),
        },
      ],
      'B',
    );
    assert.equal(
      body.toString('latin1'),
      '--B\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n\x01\x02\r\n--B--\r\n',
    );
  });
  it('parses Content-Type parameters, quoted or not', () => {
    assert.deepEqual(
      parseContentType('multipart/related; type="application/dicom"; boundary=abc'),
      { type: 'multipart/related', params: { type: 'application/dicom', boundary: 'abc' } },
    );
    assert.equal(parseContentType('Multipart/Related;boundary="a;b"').params.boundary, 'a;b');
  });
});
