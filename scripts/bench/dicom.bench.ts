/**
 * DICOM archive benchmark: builds an archive of VG_BENCH_STUDIES studies (default 10,000) with
 * 10 tiny CT instances each (so 100,000 instances), plus one 500-instance series and a 256² series
 * for frames, then measures over loopback: QIDO study search (all, name wildcard, date range),
 * series metadata (500 instances), frame retrieval MB/s, STOW-RS instances/s, import instances/s.
 * Generation patches fixed-length UIDs/names into templates written once with dcmjs; ingestion
 * goes through the archive's bulk path (full parse, JSON, files, SQLite) like any import.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archive } from '../../src/dicom/archive.js';
import { importFiles } from '../../src/dicom/import.js';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { startServer } from '../../src/server/cli.js';
import { defaultConfig } from '../../src/server/config.js';
import type { BenchRow } from '../bench.js';
import { mbPerS, percentile } from './stats.js';

const STUDIES = Math.max(10, Number(process.env.VG_BENCH_STUDIES ?? 10_000));
const PER_STUDY = 10;
const NAMES = [
  'SMITH',
  'JONES',
  'MILLER',
  'GARCIA',
  'BROWN',
  'DAVIS',
  'WILSON',
  'MOORE',
  'TAYLOR',
  'CLARK',
];

function replaceAll(buf: Buffer, from: string, to: string): number {
  if (from.length !== to.length) throw new Error('replacement must keep the length');
  const a = Buffer.from(from, 'latin1');
  let n = 0;
  for (let at = buf.indexOf(a); at >= 0; at = buf.indexOf(a, at + a.length)) {
    buf.write(to, at, 'latin1');
    n++;
  }
  return n;
}

/** Instance templates (one per slice) and a function making study i from them. */
function studyFactory() {
  const t = syntheticSeries({
    rows: 8,
    columns: 8,
    slices: PER_STUDY,
    flat: true,
    seed: 'bench-template',
    patientName: 'NAMEXXXXXX^BENCH00000000',
    patientId: 'PID00000000',
    studyDate: '19990909',
    accessionNumber: 'ACC00000000',
  });
  const study = t.studyUid;
  return (i: number): Buffer[] => {
    const id = String(i).padStart(8, '0');
    const newStudy = study.slice(0, study.length - 8) + id;
    const name = NAMES[i % NAMES.length]!.padEnd(10, 'X');
    const year = 2000 + (i % 25);
    const date = `${year}${String((i % 12) + 1).padStart(2, '0')}${String((i % 28) + 1).padStart(2, '0')}`;
    return t.files.map((f) => {
      const b = Buffer.from(f);
      replaceAll(b, study, newStudy);
      replaceAll(b, 'NAMEXXXXXX^BENCH00000000', `${name}^BENCH${id}`);
      replaceAll(b, 'PID00000000', `PID${id}`);
      replaceAll(b, 'ACC00000000', `ACC${id}`);
      replaceAll(b, '19990909', date);
      return b;
    });
  };
}

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(20, n); i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times;
}
const p5099 = (t: number[]) =>
  `p50 ${percentile(t, 50).toFixed(2)} ms / p99 ${percentile(t, 99).toFixed(2)} ms`;

export async function run(): Promise<BenchRow[]> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-dicom-'));
  const rows: BenchRow[] = [];
  try {
    // 1. Build the archive.
    const archive = Archive.openSync(data);
    const make = studyFactory();
    let t0 = performance.now();
    const batch: Buffer[] = [];
    for (let i = 0; i < STUDIES; i++) {
      batch.push(...make(i));
      if (batch.length >= 2000 || i === STUDIES - 1) {
        await archive.ingestMany(batch.splice(0));
        if (i % 1000 < 200)
          process.stderr.write(`bench: dicom archive ${i + 1}/${STUDIES} studies\r`);
      }
    }
    const big = syntheticSeries({
      rows: 8,
      columns: 8,
      slices: 500,
      flat: true,
      seed: 'bench-big',
      patientName: 'BIG^SERIES',
    });
    await archive.ingestMany(big.files);
    const frames = syntheticSeries({
      rows: 256,
      columns: 256,
      slices: 8,
      seed: 'bench-frames',
      patientName: 'FRAMES^SERIES',
    });
    await archive.ingestMany(frames.files);
    const buildMs = performance.now() - t0;
    const counts = await archive.counts();
    await archive.close();
    process.stderr.write('\n');
    rows.push({
      group: 'dicom',
      name: `build archive (${counts.studies} studies / ${counts.instances} instances, bulk path)`,
      value: `${((counts.instances / buildMs) * 1000).toFixed(0)} instances/s (${(buildMs / 1000).toFixed(1)} s)`,
    });

    // 2. Serve it.
    const running = await startServer(defaultConfig({ data }), { out: () => {}, err: () => {} });
    const base = `${running.listening.url}dicom`;
    const get = async (u: string, accept = 'application/dicom+json') => {
      const r = await fetch(u, { headers: { accept } });
      const b = await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${u}: ${r.status}`);
      return b.byteLength;
    };
    try {
      const ohif = 'limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060';
      rows.push({
        group: 'dicom',
        name: 'QIDO /studies (OHIF study list, limit=101)',
        value: p5099(await timeIt(200, () => get(`${base}/studies?${ohif}`))),
        aim: 'p50 ≤ 10 ms',
      });
      rows.push({
        group: 'dicom',
        name: 'QIDO /studies PatientName=*smi*',
        value: p5099(await timeIt(200, () => get(`${base}/studies?PatientName=*smi*&${ohif}`))),
        aim: 'p50 ≤ 10 ms',
      });
      rows.push({
        group: 'dicom',
        name: 'QIDO /studies StudyDate=20100101-20101231',
        value: p5099(
          await timeIt(200, () => get(`${base}/studies?StudyDate=20100101-20101231&${ohif}`)),
        ),
        aim: 'p50 ≤ 10 ms',
      });
      rows.push({
        group: 'dicom',
        name: 'QIDO /studies/{st}/series',
        value: p5099(await timeIt(200, () => get(`${base}/studies/${big.studyUid}/series`))),
      });
      rows.push({
        group: 'dicom',
        name: 'series metadata, 500 instances',
        value: p5099(
          await timeIt(30, () =>
            get(`${base}/studies/${big.studyUid}/series/${big.seriesUid}/metadata`),
          ),
        ),
        aim: '≤ 50 ms',
      });
      let bytes = 0;
      const ft0 = performance.now();
      let k = 0;
      while (performance.now() - ft0 < 2000) {
        const sop = frames.sopUids[k++ % frames.sopUids.length]!;
        bytes += await get(
          `${base}/studies/${frames.studyUid}/series/${frames.seriesUid}/instances/${sop}/frames/1`,
          'multipart/related; type=application/octet-stream; transfer-syntax=*',
        );
      }
      rows.push({
        group: 'dicom',
        name: 'frames 256² int16, 1 client',
        value: `${mbPerS(bytes, performance.now() - ft0)} (${k} frames)`,
      });

      // STOW-RS: 3 requests of 100 small CT instances (64², durable writes).
      let stored = 0;
      let stowMs = 0;
      for (let r = 0; r < 3; r++) {
        const s = syntheticSeries({
          rows: 64,
          columns: 64,
          slices: 100,
          seed: `bench-stow-${r}`,
          flat: true,
        });
        const body = multipartBody(
          s.files.map((d) => ({ contentType: 'application/dicom', data: d })),
          'benchBoundary',
        );
        const t = performance.now();
        const res = await fetch(`${base}/studies`, {
          method: 'POST',
          headers: {
            'content-type': 'multipart/related; type="application/dicom"; boundary=benchBoundary',
          },
          body,
        });
        await res.arrayBuffer();
        stowMs += performance.now() - t;
        if (res.status === 200) stored += s.files.length;
      }
      rows.push({
        group: 'dicom',
        name: 'STOW-RS 3×100 instances (64², fsync per file)',
        value: `${((stored / stowMs) * 1000).toFixed(0)} instances/s`,
        aim: '≥ 300 instances/s',
      });
    } finally {
      await running.stop();
    }

    // 3. Import 1,000 files from a folder into a fresh archive.
    const dir = path.join(data, 'import-src');
    mkdirSync(dir);
    const imp = syntheticSeries({
      rows: 64,
      columns: 64,
      slices: 1000,
      seed: 'bench-import',
      flat: true,
    });
    imp.files.forEach((f, i) => writeFileSync(path.join(dir, `${i}.dcm`), f));
    const fresh = Archive.openSync(path.join(data, 'fresh'));
    t0 = performance.now();
    const summary = await importFiles(fresh, [dir]);
    const impMs = performance.now() - t0;
    await fresh.close();
    rows.push({
      group: 'dicom',
      name: 'import 1,000 files (64², fsync per file)',
      value: `${((summary.stored / impMs) * 1000).toFixed(0)} instances/s`,
    });
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
  return rows;
}
