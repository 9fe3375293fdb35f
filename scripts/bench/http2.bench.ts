/**
 * HTTP/1.1 against HTTP/2 for OHIF's access pattern: fetch every frame of a 500-instance series
 * (256² int16, one WADO-RS /frames/1 request per instance, all issued at once as a viewer does).
 * Same server, same run: HTTP/1.1 through 6 connections (a browser's per-origin limit) and HTTP/2
 * through one connection, both over TLS (browsers speak h2 only with TLS), then h2c and HTTP/1.1 on
 * a plain socket with `--http2`. Rounds alternate the protocols; min / median / max of the rounds.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Archive } from '../../src/dicom/archive.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { startServer } from '../../src/server/cli.js';
import { defaultConfig } from '../../src/server/config.js';
import type { BenchRow } from '../bench.js';
import { makeCert } from '../../test/helpers/tls.js';

const INSTANCES = 500;
const ROUNDS = Math.max(1, Number(process.env.VG_BENCH_ROUNDS ?? 5));
const ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

function fetchAllH1(agent: http.Agent, base: string, paths: string[]): Promise<number> {
  const mod = base.startsWith('https') ? https : http;
  return Promise.all(
    paths.map(
      (p) =>
        new Promise<number>((resolve, reject) => {
          mod
            .get(base + p, { agent, headers: { accept: ACCEPT } }, (res) => {
              let n = 0;
              res.on('data', (d: Buffer) => (n += d.length));
              res.on('end', () =>
                res.statusCode === 200 ? resolve(n) : reject(new Error(`${p}: ${res.statusCode}`)),
              );
            })
            .on('error', reject);
        }),
    ),
  ).then((sizes) => sizes.reduce((a, b) => a + b, 0));
}

function fetchAllH2(session: http2.ClientHttp2Session, paths: string[]): Promise<number> {
  return Promise.all(
    paths.map(
      (p) =>
        new Promise<number>((resolve, reject) => {
          const s = session.request({ ':path': p, accept: ACCEPT });
          let n = 0;
          let status = 0;
          s.on('response', (h) => (status = Number(h[':status'])));
          s.on('data', (d: Buffer) => (n += d.length));
          s.on('end', () => (status === 200 ? resolve(n) : reject(new Error(`${p}: ${status}`))));
          s.on('error', reject);
          s.end();
        }),
    ),
  ).then((sizes) => sizes.reduce((a, b) => a + b, 0));
}

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { min: s[0]!, med: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const fmt = (ms: number[]) => {
  const { min, med, max } = stats(ms);
  return `${med.toFixed(0)} ms (min ${min.toFixed(0)}, max ${max.toFixed(0)})`;
};

export async function run(): Promise<BenchRow[]> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-h2-'));
  const rows: BenchRow[] = [];
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  try {
    const series = syntheticSeries({
      rows: 256,
      columns: 256,
      slices: INSTANCES,
      flat: true,
      seed: 'bench-h2',
      patientName: 'H2^BENCH',
    });
    const archive = Archive.openSync(data);
    await archive.ingestMany(series.files);
    await archive.close();
    const paths = series.sopUids.map(
      (sop) =>
        `/dicom/studies/${series.studyUid}/series/${series.seriesUid}/instances/${sop}/frames/1`,
    );
    const { key, cert } = makeCert(data);
    const ca = readFileSync(cert);
    for (const mode of ['tls', 'plain'] as const) {
      const running = await startServer(
        defaultConfig({
          data,
          ...(mode === 'tls' ? { tlsCert: cert, tlsKey: key } : { http2: true }),
        }),
        { out: () => {}, err: () => {} },
      );
      const base = running.listening.url.replace(/\/$/, '');
      const h1: number[] = [];
      const h2: number[] = [];
      let bytes = 0;
      try {
        for (let round = 0; round < ROUNDS + 1; round++) {
          const agent =
            mode === 'tls'
              ? new https.Agent({ keepAlive: true, maxSockets: 6, ca })
              : new http.Agent({ keepAlive: true, maxSockets: 6 });
          let t = performance.now();
          bytes = await fetchAllH1(agent, base, paths);
          const a = performance.now() - t;
          agent.destroy();
          const session = http2.connect(base, mode === 'tls' ? { ca } : {});
          t = performance.now();
          const b2 = await fetchAllH2(session, paths);
          const b = performance.now() - t;
          session.close();
          if (b2 !== bytes) throw new Error(`h2 fetched ${b2} bytes, HTTP/1.1 ${bytes}`);
          // round 0 warms caches and connections
          if (round > 0) {
            h1.push(a);
            h2.push(b);
          }
        }
      } finally {
        await running.stop('bench done');
      }
      const label = mode === 'tls' ? 'TLS' : 'plain';
      rows.push({
        group: 'http2',
        name: `${INSTANCES} frames (${(bytes / 1e6).toFixed(0)} MB), HTTP/1.1 ${label}, 6 connections`,
        value: fmt(h1),
      });
      rows.push({
        group: 'http2',
        name: `${INSTANCES} frames, ${mode === 'tls' ? 'h2' : 'h2c'}, 1 connection`,
        value: `${fmt(h2)}; ${(stats(h1).med / stats(h2).med).toFixed(2)}× HTTP/1.1's speed`,
      });
    }
    rows.push({ group: 'http2', name: 'load average during the run', value: load() });
    return rows;
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}
