/**
 * `npm run bench -- dicom-scale`: the DICOM archive on SQLite (one process), on PostgreSQL (one
 * replica, index and files in the database) and on PostgreSQL with two replicas behind a
 * round-robin proxy, side by side in one table: QIDO, series metadata, frames, STOW-RS. Every
 * server is a child process (`voxelgate --no-slicer`), the database a throwaway cluster on this
 * machine (test/helpers/postgres.ts). Loads of 8 concurrent clients (a single client cannot show
 * what a second replica adds). VG_BENCH_SCALE_STUDIES (default 2,000 studies × 10 instances).
 * Skipped, with a reason, without PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archive } from '../../src/dicom/archive.js';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { postgresSkipReason, startPostgres } from '../../test/helpers/postgres.js';
import { startProxy, startReplicaProcess } from '../../test/helpers/replicas.js';
import type { BenchRow } from '../bench.js';
import { mbPerS, percentile } from './stats.js';

const STUDIES = Math.max(10, Number(process.env.VG_BENCH_SCALE_STUDIES ?? 2000));
const CLIENTS = 8;

/** The same archive content for every backend. */
function content() {
  const studies = Array.from({ length: STUDIES }, (_, i) =>
    syntheticSeries({
      rows: 8,
      columns: 8,
      slices: 10,
      flat: true,
      seed: `scale-${i}`,
      patientName: `${['SMITH', 'JONES', 'MILLER', 'GARCIA'][i % 4]}^P${i}`,
      studyDate: `20${String(10 + (i % 10)).padStart(2, '0')}0101`,
    }),
  );
  const big = syntheticSeries({ rows: 8, columns: 8, slices: 500, flat: true, seed: 'scale-big' });
  const frames = syntheticSeries({ rows: 256, columns: 256, slices: 8, seed: 'scale-frames' });
  return { studies, big, frames };
}
type Content = ReturnType<typeof content>;

async function load(archive: Archive, c: Content): Promise<void> {
  let batch: Buffer[] = [];
  for (const s of c.studies) {
    batch.push(...s.files);
    if (batch.length >= 2000) {
      await archive.ingestMany(batch);
      batch = [];
    }
  }
  await archive.ingestMany([...batch, ...c.big.files, ...c.frames.files]);
  await archive.close();
}

/** Runs `fn` from CLIENTS concurrent clients for `ms`; returns latencies and bytes. */
async function load8(ms: number, fn: (i: number) => Promise<number>) {
  const lat: number[] = [];
  let bytes = 0;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() - t0 < ms) {
        const t = performance.now();
        bytes += await fn(n++);
        lat.push(performance.now() - t);
      }
    }),
  );
  const el = performance.now() - t0;
  return { lat, bytes, el, rps: (lat.length / el) * 1000 };
}

async function measure(base: string, c: Content): Promise<Record<string, string>> {
  const get = async (u: string, accept = 'application/dicom+json') => {
    const r = await fetch(`${base}/dicom${u}`, { headers: { accept } });
    const b = await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${u}: ${r.status}`);
    return b.byteLength;
  };
  const fmt = (x: { lat: number[]; rps: number }) =>
    `${x.rps.toFixed(0)}/s p50 ${percentile(x.lat, 50).toFixed(1)} ms`;
  const ohif = 'limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060';
  const out: Record<string, string> = {};
  out['QIDO /studies (OHIF list)'] = fmt(await load8(1500, () => get(`/studies?${ohif}`)));
  out['QIDO PatientName=smi*'] = fmt(
    await load8(1500, () => get(`/studies?PatientName=smi*&${ohif}`)),
  );
  out['QIDO StudyDate range'] = fmt(
    await load8(1500, () => get(`/studies?StudyDate=20120101-20121231&${ohif}`)),
  );
  out['series metadata, 500 instances'] = fmt(
    await load8(1500, () => get(`/studies/${c.big.studyUid}/series/${c.big.seriesUid}/metadata`)),
  );
  const f = await load8(1500, (i) =>
    get(
      `/studies/${c.frames.studyUid}/series/${c.frames.seriesUid}/instances/${c.frames.sopUids[i % 8]}/frames/1`,
      'multipart/related; type=application/octet-stream; transfer-syntax=*',
    ),
  );
  out['frames 256² int16'] = `${mbPerS(f.bytes, f.el)} p50 ${percentile(f.lat, 50).toFixed(1)} ms`;
  // STOW-RS: 4 clients × 2 requests of 50 instances (64², durable).
  let stored = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async (_, k) => {
      for (let r = 0; r < 2; r++) {
        const s = syntheticSeries({
          rows: 64,
          columns: 64,
          slices: 50,
          flat: true,
          seed: `scale-stow-${k}-${r}-${base}`,
        });
        const res = await fetch(`${base}/dicom/studies`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=B0' },
          body: multipartBody(
            s.files.map((d) => ({ contentType: 'application/dicom', data: d })),
            'B0',
          ),
        });
        await res.arrayBuffer();
        if (res.status === 200) stored += s.files.length;
      }
    }),
  );
  out['STOW-RS 4 clients × 2 × 50 (64², durable)'] =
    `${((stored / (performance.now() - t0)) * 1000).toFixed(0)} instances/s`;
  return out;
}

export async function run(): Promise<BenchRow[]> {
  const skip = postgresSkipReason();
  if (skip) return [{ group: 'dicom-scale', name: 'skipped', value: skip }];
  const c = content();
  const root = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-scale-'));
  const pg = await startPostgres();
  const results: Array<Record<string, string>> = [];
  try {
    // SQLite, one process.
    const sqliteDir = path.join(root, 'sqlite');
    process.stderr.write(`bench: dicom-scale loading ${STUDIES * 10 + 508} instances (SQLite)\n`);
    await load(await Archive.open({ data: sqliteDir }), c);
    const s1 = await startReplicaProcess(undefined, { data: sqliteDir });
    try {
      results.push(await measure(s1.url, c));
    } finally {
      await s1.kill();
    }
    // PostgreSQL: index and files in the database.
    const db = pg.createDatabase('scale');
    process.stderr.write('bench: dicom-scale loading (PostgreSQL)\n');
    await load(await Archive.open({ data: root, index: db, storage: 'postgres' }), c);
    const p1 = await startReplicaProcess(db);
    try {
      results.push(await measure(p1.url, c));
    } finally {
      await p1.kill();
    }
    const [a, b] = await Promise.all([startReplicaProcess(db), startReplicaProcess(db)]);
    const proxy = await startProxy([a.url, b.url]);
    try {
      results.push(await measure(proxy.url, c));
    } finally {
      await proxy.close();
      await a.kill();
      await b.kill();
    }
  } finally {
    pg.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return Object.keys(results[0]!).map((name) => ({
    group: 'dicom-scale',
    name: `${name} — SQLite | PG 1 replica | PG 2 replicas+proxy`,
    value: results.map((r) => r[name]).join(' | '),
  }));
}
