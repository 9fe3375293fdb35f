/**
 * The measuring half of `npm run bench -- vs-orthanc` (vs-orthanc.bench.ts starts it, inside a
 * network namespace that has only loopback when it can): builds one archive, loads it into
 * voxelgate (a child process) and Orthanc + DICOMweb (a child process), then runs the same
 * DICOMweb requests against both at 1 and 8 concurrent clients, rounds alternating between the
 * servers. Prints the rows as JSON on the last line of stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Archive } from '../../src/dicom/archive.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import type { BenchRow } from '../bench.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STUDIES = Math.max(1, Number(process.env.VG_BENCH_STUDIES ?? 1000)); // × 10 instances
const SECONDS = Math.max(0.5, Number(process.env.VG_BENCH_SECONDS ?? 2));
const ROUNDS = Math.max(1, Number(process.env.VG_BENCH_ROUNDS ?? 3));
const PLUGIN =
  process.env.ORTHANC_DICOMWEB_PLUGIN ?? '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function request(
  agent: http.Agent,
  url: string,
  init: { method?: string; accept?: string; body?: Buffer; type?: string } = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        agent,
        method: init.method ?? 'GET',
        headers: {
          ...(init.accept ? { accept: init.accept } : {}),
          ...(init.type ? { 'content-type': init.type } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

async function waitFor(url: string, ms = 30_000) {
  const agent = new http.Agent();
  const end = Date.now() + ms;
  for (;;) {
    try {
      if ((await request(agent, url)).status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One measured GET: reads the answer to its end but keeps its bytes only for an error message,
 * so the client's own allocations and garbage collection pace neither server.
 */
function drain(agent: http.Agent, url: string, accept: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers: { accept } }, (res) => {
      const status = res.statusCode ?? 0;
      const head: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        if (status !== 200 && head.length < 4) head.push(d);
      });
      res.on('end', () => {
        if (status === 200) resolve();
        else
          reject(new Error(`${url}: ${status} ${Buffer.concat(head).subarray(0, 200).toString()}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests per second that `clients` concurrent loops get from `make()` URLs in `SECONDS`. */
async function rate(clients: number, url: () => string, accept: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let n = 0;
  const stop = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < stop) {
        await drain(agent, url(), accept);
        n++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  return n / s;
}

export async function main(): Promise<BenchRow[]> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'vg-vs-orthanc-'));
  const children: ChildProcess[] = [];
  try {
    // 1. One archive: STUDIES studies of 10 small CT instances (QIDO), and a 512² CT series of 50
    // slices with the phantom (frames, metadata, retrieve, rendered).
    const files: Buffer[] = [];
    for (let i = 0; i < STUDIES; i++) {
      files.push(
        ...syntheticSeries({
          rows: 8,
          columns: 8,
          slices: 10,
          flat: true,
          seed: `vs-orthanc-${i}`,
          patientName: `PATIENT${i % 97}^BENCH${i}`,
          patientId: `PID${i}`,
        }).files,
      );
    }
    const ct = syntheticSeries({
      rows: 512,
      columns: 512,
      slices: 50,
      seed: 'vs-orthanc-ct',
      patientName: 'CT^BENCH',
    });
    files.push(...ct.files);
    process.stderr.write(`bench: vs-orthanc: ${files.length} instances generated\n`);

    // 2. voxelgate: bulk ingest, then serve from a child process.
    const vgData = path.join(work, 'vg');
    const archive = Archive.openSync(vgData);
    for (let i = 0; i < files.length; i += 2000) await archive.ingestMany(files.slice(i, i + 2000));
    await archive.close();
    const vgPort = await freePort();
    children.push(
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(ROOT, 'src/main.ts'),
          '--data',
          vgData,
          '--port',
          String(vgPort),
          '--port-tries',
          '1',
          '--quiet',
          '--no-samples',
          '--no-slicer',
          '--log-level',
          'error',
        ],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
      ),
    );
    const vg = `http://127.0.0.1:${vgPort}/dicom`;

    // 3. Orthanc 1.10 + DICOMweb: private storage, no DICOM port; upload over REST.
    const oPort = await freePort();
    const oDir = path.join(work, 'orthanc');
    mkdirSync(oDir);
    writeFileSync(
      path.join(oDir, 'orthanc.json'),
      JSON.stringify({
        Name: 'bench',
        StorageDirectory: path.join(oDir, 'db'),
        IndexDirectory: path.join(oDir, 'db'),
        Plugins: [PLUGIN],
        HttpPort: oPort,
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        DicomServerEnabled: false,
        StorageCompression: false,
        DicomWeb: {
          Enable: true,
          Root: '/dicom-web/',
          EnableWado: true,
          WadoRoot: '/wado',
          Ssl: false,
        },
      }),
    );
    children.push(
      spawn('Orthanc', [path.join(oDir, 'orthanc.json')], {
        stdio: ['ignore', 'ignore', 'ignore'],
      }),
    );
    const orthanc = `http://127.0.0.1:${oPort}/dicom-web`;
    await waitFor(`http://127.0.0.1:${oPort}/system`);
    const upload = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < files.length) {
          const f = files[next++]!;
          const r = await request(upload, `http://127.0.0.1:${oPort}/instances`, {
            method: 'POST',
            body: f,
            type: 'application/dicom',
          });
          if (r.status !== 200) throw new Error(`Orthanc upload: ${r.status}`);
        }
      }),
    );
    upload.destroy();
    // Both servers hold the files now; the client lets go of them so that its heap is small.
    const instanceCount = files.length;
    files.length = 0;
    ct.files.length = 0;
    await waitFor(`${vg}/studies?limit=1`);
    process.stderr.write(`bench: vs-orthanc: both servers hold ${instanceCount} instances\n`);

    // 4. The operations (paths relative to each server's DICOMweb root).
    const st = ct.studyUid;
    const se = ct.seriesUid;
    let k = 0;
    const sop = () => ct.sopUids[k++ % ct.sopUids.length]!;
    let w = 0;
    const ops: Array<{ name: string; path: () => string; accept: string; aim?: string }> = [
      {
        name: 'QIDO studies (OHIF list, limit=101)',
        path: () =>
          '/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
        accept: 'application/dicom+json',
      },
      {
        name: 'QIDO studies PatientName=PATIENT1*',
        path: () => '/studies?PatientName=PATIENT1*&limit=101',
        accept: 'application/dicom+json',
      },
      {
        name: 'QIDO series of a study',
        path: () => `/studies/${st}/series`,
        accept: 'application/dicom+json',
      },
      {
        name: 'series metadata (50 instances)',
        path: () => `/studies/${st}/series/${se}/metadata`,
        accept: 'application/dicom+json',
      },
      {
        name: 'frame 512² native',
        path: () => `/studies/${st}/series/${se}/instances/${sop()}/frames/1`,
        accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      },
      {
        name: 'instance retrieve (Part 10)',
        path: () => `/studies/${st}/series/${se}/instances/${sop()}`,
        accept: 'multipart/related; type="application/dicom"',
      },
      {
        name: 'rendered 512² JPEG',
        path: () => `/studies/${st}/series/${se}/instances/${sop()}/rendered`,
        accept: 'image/jpeg',
      },
      {
        // A window no earlier request asked for: every answer is rendered (no cache on either).
        name: 'rendered 512² JPEG, a new window each request',
        path: () =>
          `/studies/${st}/series/${se}/instances/${sop()}/rendered?window=40,${400 + (w++ % 100000)},linear`,
        accept: 'image/jpeg',
        // Not the measure (viewers ask again for the frames they show, and the cache
        // answers); shown so the cost of a first render is visible too.
        aim: 'information',
      },
    ];
    const rows: BenchRow[] = [];
    // VG_BENCH_OPS: a regular expression that picks operations by name (all when unset).
    const only = process.env.VG_BENCH_OPS ? new RegExp(process.env.VG_BENCH_OPS, 'i') : undefined;
    for (const op of ops.filter((o) => !only || only.test(o.name))) {
      for (const clients of [1, 8]) {
        const a: number[] = [];
        const b: number[] = [];
        await rate(1, () => vg + op.path(), op.accept); // warm both
        await rate(1, () => orthanc + op.path(), op.accept);
        for (let r = 0; r < ROUNDS; r++) {
          a.push(await rate(clients, () => vg + op.path(), op.accept));
          b.push(await rate(clients, () => orthanc + op.path(), op.accept));
        }
        const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
        const span = (x: number[]) => `${Math.min(...x).toFixed(0)}–${Math.max(...x).toFixed(0)}`;
        rows.push({
          group: 'vs-orthanc',
          name: `${op.name}, ${clients} client${clients > 1 ? 's' : ''}`,
          value: `${(med(a) / med(b)).toFixed(2)}× (voxelgate ${med(a).toFixed(0)} req/s [${span(a)}], Orthanc ${med(b).toFixed(0)} [${span(b)}])`,
          aim: op.aim ?? '≥ 2×',
        });
        process.stderr.write(`bench: vs-orthanc: ${rows.at(-1)!.name}: ${rows.at(-1)!.value}\n`);
      }
    }
    rows.push({
      group: 'vs-orthanc',
      name: 'load average at the end',
      value: os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' '),
    });
    return rows;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    (rows) => {
      process.stdout.write(`\n${JSON.stringify(rows)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
