import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchFilter, parseQido, wildcardRegExp } from '../../src/dicom/query.js';
import { isAppError } from '../../src/errors.js';

const parse = (qs: string) => parseQido(new URLSearchParams(qs));

describe('QIDO parameter parsing', () => {
  it('takes keywords and tags case-insensitively, values percent-decoded', () => {
    const q = parse('patientname=Phantom%5ESynthetic&00100020=*PHANTOM001*&ACCESSIONNUMBER=A%20B');
    assert.deepEqual(
      q.filters.map((f) => [f.tag, f.kind, f.values[0]]),
      [
        ['00100010', 'single', 'Phantom^Synthetic'],
        ['00100020', 'wildcard', '*PHANTOM001*'],
        ['00080050', 'single', 'A B'],
      ],
    );
  });
  it('reads UID lists with comma or backslash, and ModalitiesInStudy as a list', () => {
    assert.deepEqual(parse('StudyInstanceUID=1.2%2C1.3').filters[0]!.values, ['1.2', '1.3']);
    assert.deepEqual(parse('StudyInstanceUID=1.2%5C1.3').filters[0]!.values, ['1.2', '1.3']);
    const m = parse('ModalitiesInStudy=CT%2CMR').filters[0]!;
    assert.equal(m.kind, 'list');
    assert.deepEqual(m.values, ['CT', 'MR']);
  });
  it('parses date ranges with open ends and rejects bad dates', () => {
    const r = parse('StudyDate=20200101-20251231').filters[0]!;
    assert.deepEqual([r.kind, r.from, r.to], ['range', '20200101', '20251231']);
    assert.deepEqual(
      [parse('StudyDate=-20101231').filters[0]!.from, parse('StudyDate=20240101-').filters[0]!.to],
      ['', ''],
    );
    assert.throws(
      () => parse('StudyDate=2020-01-01'),
      (e) => isAppError(e) && e.code === 'invalid_parameter',
    );
  });
  it('reads includefield (comma, repeated, keyword, tag, all) and ignores unknown names', () => {
    const q = parse(
      'includefield=00081030%2C00080060&includefield=StudyDescription&includefield=NoSuchThing&includefield=all',
    );
    assert.deepEqual(q.includeFields, ['00081030', '00080060']);
    assert.equal(q.includeAll, true);
  });
  it('validates limit, offset and fuzzymatching; ignores unknown keys', () => {
    const q = parse('limit=101&offset=0&fuzzymatching=false&FooBar=1');
    assert.deepEqual([q.limit, q.offset, q.fuzzy, q.filters.length], [101, 0, false, 0]);
    for (const bad of ['limit=abc', 'limit=-1', 'offset=x', 'fuzzymatching=maybe']) {
      assert.throws(
        () => parse(bad),
        (e) => isAppError(e) && e.code === 'invalid_parameter',
        bad,
      );
    }
  });
  it('treats an empty value and a lone * as universal', () => {
    assert.equal(parse('PatientName=').filters[0]!.kind, 'universal');
    assert.equal(parse('PatientName=*').filters[0]!.kind, 'universal');
  });
});

describe('QIDO matching', () => {
  const pn = (s: string) => ({ vr: 'PN', Value: [{ Alphabetic: s }] });
  const f = (qs: string) => parse(qs).filters[0]!;
  it('matches PN case-insensitively, with wildcards', () => {
    assert.ok(matchFilter(f('PatientName=*phan*'), pn('Phantom^Synthetic')));
    assert.ok(matchFilter(f('PatientName=phantom%5Esynthetic'), pn('Phantom^Synthetic')));
    assert.ok(matchFilter(f('PatientName=Ph?ntom*'), pn('Phantom^Synthetic')));
    assert.ok(!matchFilter(f('PatientName=Ph?tom*'), pn('Phantom^Synthetic')));
  });
  it('matches other text case-sensitively', () => {
    assert.ok(matchFilter(f('StudyDescription=Head*'), { vr: 'LO', Value: ['Head CT'] }));
    assert.ok(!matchFilter(f('StudyDescription=head*'), { vr: 'LO', Value: ['Head CT'] }));
  });
  it('matches date ranges, also old-style dates', () => {
    assert.ok(matchFilter(f('StudyDate=19700102-20101231'), { vr: 'DA', Value: ['1996.06.11'] }));
    assert.ok(!matchFilter(f('StudyDate=20200101-'), { vr: 'DA', Value: ['20191231'] }));
    assert.ok(matchFilter(f('StudyDate=-20191231'), { vr: 'DA', Value: ['20191231'] }));
  });
  it('matches lists and needs a value for non-universal keys', () => {
    assert.ok(matchFilter(f('Modality=CT%2CMR'), { vr: 'CS', Value: ['MR'] }));
    assert.ok(!matchFilter(f('Modality=CT'), undefined));
    assert.ok(matchFilter(f('Modality='), undefined));
  });
  it('escapes regex characters in wildcards', () => {
    assert.ok(wildcardRegExp('a.b*', false).test('a.bc'));
    assert.ok(!wildcardRegExp('a.b*', false).test('axbc'));
  });
});
