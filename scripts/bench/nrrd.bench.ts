/**
 * NRRD over loopback against a server in a child process (as `npm start` runs it):
 * - GET and PUT of a 256³ int16 volume, raw and gzip (MB/s of voxel data; PUT is timed until the
 *   reply, i.e. decoded, stored in the scene and fsync'ed to the data folder);
 * - peak RSS growth of the server during a 512³ int16 PUT (VmHWM after − VmRSS before, from
 *   /proc/<pid>/status), against the 2× volume size aim.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from '../bench.js';
import { machineLoad, mbPerS, spread } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function header(n: number, encoding: 'raw' | 'gzip'): Buffer {
  return Buffer.from(
    [
      'NRRD0004',
      'type: short',
      'dimension: 3',
      'space: left-posterior-superior',
      `sizes: ${n} ${n} ${n}`,
      'space directions: (1,0,0) (0,1,0) (0,0,1)',
      'kinds: domain domain domain',
      'endian: little',
      `encoding: ${encoding}`,
      'space origin: (0,0,0)',
      '',
      '',
    ].join('\n'),
    'latin1',
  );
}

/** CT-like content: smooth structures plus a little noise (so gzip has realistic work). */
function voxels(n: number): Buffer {
  const a = new Int16Array(n * n * n);
  let seed = 12345;
  let idx = 0;
  const c = n / 2;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const r = Math.hypot(i - c, (j - c) * 0.8, k - c) / c;
        a[idx++] = (r > 0.9 ? -1000 : r > 0.8 ? 1200 : 40) + ((seed >>> 16) % 16) - 8;
      }
    }
  }
  return Buffer.from(a.buffer);
}

async function startChild(data: string): Promise<{ child: ChildProcess; port: number }> {
  const portFile = path.join(data, 'port');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/main.ts',
      '--port',
      '0',
      '--port-file',
      portFile,
      '--data',
      data,
      '--no-samples',
      '--quiet',
      '--log-level',
      'error',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 400 && !existsSync(portFile); i++) await sleep(50);
  return { child, port: Number(readFileSync(portFile, 'utf8').trim()) };
}

function send(
  port: number,
  method: string,
  p: string,
  body?: Buffer,
): Promise<{ status: number; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: p,
        headers: body
          ? { 'content-length': String(body.length), 'content-type': 'application/octet-stream' }
          : {},
      },
      (res) => {
        let bytes = 0;
        const small: Buffer[] = [];
        res.on('data', (d: Buffer) => {
          bytes += d.length;
          if (bytes < 4096) small.push(d);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            text: Buffer.concat(small).toString('utf8').slice(0, 300),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Server CPU time (user + system) in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** A server that reads and discards request bodies: the loopback + client limit for uploads. */
async function sinkServer(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => res.end(String(n)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

/** Writes `bytes` to a new file in `dir` and fdatasyncs it: the disk limit for a durable upload. */
async function diskWriteMs(dir: string, bytes: Buffer): Promise<number> {
  const { open, rm } = await import('node:fs/promises');
  const file = path.join(dir, `disk-${Date.now()}.bin`);
  const t = performance.now();
  const h = await open(file, 'w');
  try {
    for (let off = 0; off < bytes.length;) off += (await h.write(bytes, off)).bytesWritten;
    await h.datasync();
  } finally {
    await h.close();
  }
  const ms = performance.now() - t;
  await rm(file);
  return ms;
}

/**
 * Rounds of curl GETs and PUTs (`time_total`; curl streams the upload from the file with `-T`),
 * each round also timing the same upload to a discarding server and the same bytes written and
 * fdatasynced to the data folder's disk: the two physical limits, side by side. Undefined when curl
 * is not installed.
 */
async function curlRounds(
  port: number,
  id: string,
  body: Buffer,
  dir: string,
  rounds: number,
): Promise<{ get: number[]; put: number[]; sink: number[]; disk: number[] } | undefined> {
  const { execFile } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const file = path.join(dir, 'bench-body.nrrd');
  writeFileSync(file, body);
  // Asynchronous: the discarding server runs in this process and must keep serving.
  const curl = (args: string[]) =>
    new Promise<number>((resolve, reject) => {
      execFile(
        'curl',
        ['-sf', '-o', '/dev/null', '-w', '%{time_total}', ...args],
        { encoding: 'utf8' },
        (e, out) => {
          if (e) reject(Object.assign(new Error(`curl: ${e.message}`), { code: e.code }));
          else resolve(Number(out) * 1000);
        },
      );
    });
  const upload = (url: string) =>
    curl(['-T', file, '-H', 'content-type: application/octet-stream', '-H', 'expect:', url]);
  const sink = await sinkServer();
  try {
    const out = {
      get: [] as number[],
      put: [] as number[],
      sink: [] as number[],
      disk: [] as number[],
    };
    for (let i = 0; i < rounds; i++) {
      out.get.push(await curl([`http://127.0.0.1:${port}/slicer/volume?id=${id}`]));
      out.put.push(await upload(`http://127.0.0.1:${port}/slicer/volume?id=${id}`));
      out.sink.push(await upload(`http://127.0.0.1:${sink.port}/`));
      out.disk.push(await diskWriteMs(dir, body));
    }
    return out;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    rmSync(file, { force: true });
    await new Promise((r) => sink.server.close(r));
  }
}

/** An app without a scene store (in memory only) on a plain Node server. */
async function memoryOnlyServer(): Promise<{ server: http.Server; port: number }> {
  const { getRequestListener } = await import('@hono/node-server');
  const { createApp } = await import('../../src/server/app.js');
  const { createContext } = await import('../../src/server/context.js');
  const { defaultConfig } = await import('../../src/server/config.js');
  const server = http.createServer(
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the listener awaits what fetch returns
    getRequestListener(createApp(createContext(defaultConfig())).fetch),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

const status = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(
    new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ??
      NaN,
  ) * 1024;

async function best(times: number, f: () => Promise<number>): Promise<number> {
  const all: number[] = [];
  for (let i = 0; i < times; i++) all.push(await f());
  all.sort((a, b) => a - b);
  return all[Math.floor(all.length / 2)]!; // median
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const data = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-nrrd-'));
  let child: ChildProcess | undefined;
  try {
    const started = await startChild(data);
    child = started.child;
    const port = started.port;
    const n = 256;
    const vox = voxels(n);
    const raw = Buffer.concat([header(n, 'raw'), vox]);
    const gz = Buffer.concat([header(n, 'gzip'), zlib.gzipSync(vox, { level: 1 })]);
    const first = await send(port, 'POST', '/slicer/volume?name=bench', raw);
    if (first.status !== 200) throw new Error(`PUT failed: ${first.status} ${first.text}`);
    const id = (JSON.parse(first.text) as { id: string }).id;
    const timed = async (f: () => Promise<{ status: number }>) => {
      const t = performance.now();
      const r = await f();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      return performance.now() - t;
    };
    const pid0 = child.pid!;
    const mb = vox.length;
    /** Median wall time and the server's CPU time per request. */
    const measure = async (reps: number, f: () => Promise<{ status: number }>) => {
      const c0 = cpuMs(pid0);
      const ms = await best(reps, () => timed(f));
      return { ms, cpu: (cpuMs(pid0) - c0) / reps };
    };
    const fmt = (m: { ms: number; cpu: number }) =>
      `${mbPerS(mb, m.ms)} (median ${m.ms.toFixed(0)} ms; server CPU ${m.cpu.toFixed(0)} ms/req)`;
    const reps = 7;
    const putRaw = await measure(reps, () => send(port, 'PUT', `/slicer/volume?id=${id}`, raw));
    const getRaw = await measure(reps, () => send(port, 'GET', `/slicer/volume?id=${id}`));
    const putGz = await measure(3, () => send(port, 'PUT', `/slicer/volume?id=${id}`, gz));
    const getGz = await measure(3, () =>
      send(port, 'GET', `/slicer/volume?id=${id}&encoding=gzip`),
    );
    rows.push({
      group: 'nrrd',
      name: 'GET 256³ int16 raw (loopback)',
      value: fmt(getRaw),
      aim: '≥ 500 MB/s',
    });
    // The same with curl as the client (a C client: less client-side CPU on a busy 2-core box),
    // in rounds beside the physical limits.
    const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
    const c = await curlRounds(port, id, raw, data, rounds);
    if (c) {
      const rate = (ms: number) => mbPerS(mb, ms);
      const fastest = (a: number[]) => Math.min(...a);
      rows.push({
        group: 'nrrd',
        name: `GET 256³ int16 raw, curl client (${rounds} rounds)`,
        value: spread(
          c.get.map((x) => -x),
          (x) => rate(-x),
        ),
        aim: '≥ 500 MB/s',
      });
      rows.push({
        group: 'nrrd',
        name: `PUT 256³ int16 raw, curl -T (until durable reply; ${rounds} rounds)`,
        value: spread(
          c.put.map((x) => -x),
          (x) => rate(-x),
        ),
        aim: '≥ 500 MB/s',
      });
      rows.push({
        group: 'nrrd',
        name: 'limit: the same upload to a server that discards it (loopback + curl)',
        value: spread(
          c.sink.map((x) => -x),
          (x) => rate(-x),
        ),
      });
      rows.push({
        group: 'nrrd',
        name: 'limit: the same bytes written + fdatasynced to the data folder',
        value: spread(
          c.disk.map((x) => -x),
          (x) => rate(-x),
        ),
      });
      const ratio = c.put.map((put, i) => Math.max(c.sink[i]!, c.disk[i]!) / put);
      rows.push({
        group: 'nrrd',
        name: 'PUT / the slower of the two limits (same round)',
        value: `${spread(ratio, (x) => x.toFixed(2))}; best PUT ${rate(fastest(c.put))}; ${machineLoad()}`,
      });
    }
    rows.push({
      group: 'nrrd',
      name: 'PUT 256³ int16 raw (until durable reply)',
      value: fmt(putRaw),
      aim: '≥ 500 MB/s',
    });
    rows.push({
      group: 'nrrd',
      name: `GET 256³ int16 gzip level 1 (${(gz.length / 1e6).toFixed(1)} MB sent)`,
      value: fmt(getGz),
    });
    rows.push({
      group: 'nrrd',
      name: 'PUT 256³ int16 gzip (until durable reply)',
      value: fmt(putGz),
    });

    // The same without persistence (in-process server, scene in memory only): HTTP + codec alone.
    const mem = await memoryOnlyServer();
    try {
      await send(mem.port, 'POST', '/slicer/volume?name=bench', raw);
      const putMem = await best(reps, () =>
        timed(() => send(mem.port, 'PUT', '/slicer/volume?id=bench', raw)),
      );
      const getMem = await best(reps, () =>
        timed(() => send(mem.port, 'GET', '/slicer/volume?id=bench')),
      );
      rows.push({
        group: 'nrrd',
        name: 'PUT 256³ int16 raw, no persistence (in-process server)',
        value: `${mbPerS(mb, putMem)} (median ${putMem.toFixed(0)} ms)`,
      });
      rows.push({
        group: 'nrrd',
        name: 'GET 256³ int16 raw, in-process server',
        value: `${mbPerS(mb, getMem)} (median ${getMem.toFixed(0)} ms)`,
      });
    } finally {
      await new Promise((r) => mem.server.close(r));
    }

    // Peak RSS growth of a 512³ PUT (256 MiB of voxels) in a fresh server.
    await send(port, 'DELETE', '/slicer/mrml');
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    rmSync(path.join(data, 'port'), { force: true });
    const again = await startChild(data);
    child = again.child;
    const big = Buffer.concat([header(512, 'raw'), voxels(512)]);
    await send(again.port, 'GET', '/slicer/volumes');
    await sleep(200);
    const pid = child.pid!;
    const base = status(pid, 'VmRSS');
    const t = performance.now();
    const r = await send(again.port, 'POST', '/slicer/volume?name=big', big);
    const ms = performance.now() - t;
    if (r.status !== 200) throw new Error(`512³ PUT failed: ${r.status} ${r.text}`);
    const growth = status(pid, 'VmHWM') - base;
    const size = big.length - header(512, 'raw').length;
    rows.push({
      group: 'nrrd',
      name: 'PUT 512³ int16 raw: peak server RSS growth',
      value: `${(growth / 2 ** 20).toFixed(0)} MiB = ${(growth / size).toFixed(2)}× volume (${mbPerS(size, ms)})`,
      aim: '≤ 2× (512 MiB)',
    });
  } finally {
    if (child?.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(data, { recursive: true, force: true });
  }
  return rows;
}
