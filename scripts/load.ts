/**
 * `npm run load`: starts a voxelgate server as a child process (own data folder under /tmp, the
 * sample volume and sample study loaded), warms it up, then runs autocannon against it with a mix
 * of requests and reports totals, errors, statuses, 5xx, latency per kind and the server's RSS
 * (VmRSS) after warm-up and at the end.
 *
 * Settings (environment): LOAD_CONNECTIONS (64), LOAD_SECONDS (30), LOAD_WARMUP_SECONDS (5),
 * LOAD_PORT (0 = ephemeral). Or arguments: `npm run load -- --connections 16 --seconds 10`.
 * Exit code 1 when a target is missed (errors, 5xx, RSS growth over 20 %).
 *
 * The mix (per connection, in turn): QIDO study search, series metadata, frame (native), frame
 * of another instance, QIDO series search, volume GET (NRRD), STOW of a small new instance
 * (a unique SOP Instance UID per request), and slice renders when the server has
 * `/slicer/slice` (probed at start; skipped with a note otherwise).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { multipartBody } from '../src/dicom/multipart.js';
import { syntheticSeries } from '../src/dicom/sample.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    connections: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    port: { type: 'string' },
  },
  allowPositionals: true,
});
const num = (arg: string | undefined, env: string, def: number) => {
  const v = Number(arg ?? process.env[env] ?? def);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${env}: not a number`);
  return v;
};
const CONNECTIONS = num(args.connections, 'LOAD_CONNECTIONS', 64);
const SECONDS = num(args.seconds, 'LOAD_SECONDS', 30);
const WARMUP = num(args.warmup, 'LOAD_WARMUP_SECONDS', 5);
const PORT = num(args.port, 'LOAD_PORT', 0);

const log = (s: string) => process.stderr.write(`load: ${s}\n`);

// ---------- server child ----------
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voxelgate-load-'));
const portFile = path.join(dataDir, 'port');
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    path.join(ROOT, 'src/main.ts'),
    '--port',
    String(PORT),
    '--port-file',
    portFile,
    '--data',
    path.join(dataDir, 'data'),
    '--quiet',
    '--log-level',
    'warn',
  ],
  {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
const serverOutput: string[] = [];
child.stdout.on('data', (d: Buffer) => serverOutput.push(d.toString()));
child.stderr.on('data', (d: Buffer) => serverOutput.push(d.toString()));
let childExited: number | null | undefined;
child.on('exit', (code) => (childExited = code));

/** Stops the server (SIGTERM, waits for it to exit), then removes its data folder. */
async function cleanup(): Promise<void> {
  if (childExited === undefined) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  try {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    log(`could not remove ${dataDir}: ${(e as Error).message}`);
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

function rssKiB(): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

async function waitForPort(): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (childExited !== undefined)
      throw new Error(`server exited (${childExited}):\n${serverOutput.join('')}`);
    if (existsSync(portFile)) {
      const p = Number(readFileSync(portFile, 'utf8').trim());
      if (p > 0) return p;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start within 60 s');
}

// ---------- request mix ----------
interface Kind {
  kind: string;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** Built per request (STOW: a new SOP Instance UID each time). */
  body?: () => Buffer;
}

async function getJson<T>(base: string, p: string): Promise<T> {
  const res = await fetch(base + p);
  if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function buildMix(base: string): Promise<{ mix: Kind[]; notes: string[] }> {
  const notes: string[] = [];
  type Ds = Record<string, { Value?: unknown[] }>;
  const studies = await getJson<Ds[]>(base, '/dicom/studies?PatientName=Phantom*');
  const study = studies[0]?.['0020000D']?.Value?.[0] as string | undefined;
  if (!study) throw new Error('the sample study is missing (server started with --no-samples?)');
  const series = (await getJson<Ds[]>(base, `/dicom/studies/${study}/series`))[0]!['0020000E']!
    .Value![0] as string;
  const instances = await getJson<Ds[]>(base, `/dicom/studies/${study}/series/${series}/instances`);
  const sops = instances.map((i) => i['00080018']!.Value![0] as string);
  const inst = (k: number) =>
    `/dicom/studies/${study}/series/${series}/instances/${sops[k % sops.length]}`;

  // STOW: a small template instance whose SOP Instance UID is patched in place (same length).
  const template = syntheticSeries({
    rows: 16,
    columns: 16,
    slices: 1,
    seed: 'voxelgate-load',
    patientName: 'Load^Test',
    flat: true,
  });
  const sop = template.sopUids[0]!;
  const file = template.files[0]!;
  const sopBytes = Buffer.from(sop, 'latin1');
  const at: number[] = [];
  for (let i = file.indexOf(sopBytes); i >= 0; i = file.indexOf(sopBytes, i + 1)) at.push(i);
  // sop = 2.25.<digits>.1.1: the 10 digits before ".1.1" become a counter (never a leading digit).
  const counterAt = sop.length - 4 - 10;
  const boundary = 'voxelgateloadboundary';
  let counter = 0;
  const stowBody = () => {
    const b = Buffer.from(file);
    const digits = String(++counter + process.pid * 1e5)
      .padStart(10, '0')
      .slice(-10);
    for (const i of at) b.write(digits, i + counterAt, 'latin1');
    return multipartBody([{ contentType: 'application/dicom', data: b }], boundary);
  };

  const volumes = await getJson<Array<{ id: string; name: string }>>(base, '/slicer/volumes');
  const volumeId = volumes[0]?.id;

  const mix: Kind[] = [
    {
      kind: 'qido-studies',
      path: '/dicom/studies?PatientName=Phantom*&includefield=StudyDescription',
    },
    { kind: 'series-metadata', path: `/dicom/studies/${study}/series/${series}/metadata` },
    {
      kind: 'frame',
      path: `${inst(3)}/frames/1`,
      headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    },
    { kind: 'qido-instances', path: `/dicom/studies/${study}/series/${series}/instances?limit=20` },
    {
      kind: 'frame',
      path: `${inst(17)}/frames/1`,
      headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    },
    {
      kind: 'stow',
      method: 'POST',
      path: '/dicom/studies',
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        accept: 'application/dicom+json',
      },
      body: stowBody,
    },
  ];
  if (volumeId)
    mix.push({ kind: 'volume-get', path: `/slicer/volume?id=${encodeURIComponent(volumeId)}` });
  else notes.push('no volume in the scene: volume GET skipped');

  const probe = await fetch(`${base}/slicer/slice?view=red`);
  await probe.arrayBuffer();
  if (probe.status === 200) {
    mix.splice(
      1,
      0,
      { kind: 'slice', path: '/slicer/slice?view=red&offset=0&size=256' },
      { kind: 'slice', path: '/slicer/slice?view=yellow&offset=10&size=256' },
    );
  } else {
    notes.push(
      `slice renders skipped: GET /slicer/slice answers ${probe.status} on this branch (the render route is not merged yet)`,
    );
  }
  return { mix, notes };
}

// ---------- runs ----------
interface KindStats {
  count: number;
  latencies: number[];
  statuses: Map<number, number>;
}

interface RunResult {
  requests: number;
  errors: number;
  timeouts: number;
  statuses: Map<number, number>;
  kinds: Map<string, KindStats>;
  rps: number;
  bytes: number;
}

function run(base: string, mix: Kind[], seconds: number): Promise<RunResult> {
  const url = new URL(base);
  const kinds = new Map<string, KindStats>();
  const statuses = new Map<number, number>();
  const requests = mix.map((k) => ({
    method: k.method ?? 'GET',
    path: k.path,
    headers: k.headers ?? {},
    setupRequest: (req: Record<string, unknown>) => (k.body ? { ...req, body: k.body() } : req),
    onResponse: (_status: number, _body: string, context: Record<string, unknown>) => {
      context.kind = k.kind;
    },
  }));
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url.protocol}//${url.host}`,
        connections: CONNECTIONS,
        duration: seconds,
        requests: requests,
        timeout: 30,
      },
      (err, result) => {
        if (err) {
          reject(err);
          return;
        }
        resolve({
          requests: result.requests.total,
          errors: result.errors,
          timeouts: result.timeouts,
          statuses,
          kinds,
          rps: result.requests.average,
          bytes: result.throughput.total,
        });
      },
    );
    instance.on(
      'response',
      (
        client: { requestIterator?: { context?: { kind?: string } } },
        status: number,
        _bytes: number,
        time: number,
      ) => {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const kind = client.requestIterator?.context?.kind ?? 'unknown';
        let s = kinds.get(kind);
        if (!s) kinds.set(kind, (s = { count: 0, latencies: [], statuses: new Map() }));
        s.count++;
        s.latencies.push(time);
        s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
      },
    );
  });
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
const fmtStatuses = (m: Map<number, number>) =>
  [...m]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');

let exitCode = 0;
try {
  const port = await waitForPort();
  const base = `http://127.0.0.1:${port}`;
  const { mix, notes } = await buildMix(base);
  log(`server pid ${child.pid} on ${base}; data in ${dataDir}; RSS at start ${mib(rssKiB())}`);
  log(`mix: ${mix.map((m) => m.kind).join(', ')}`);
  for (const n of notes) log(`note: ${n}`);
  if (WARMUP > 0) {
    log(`warm-up: ${CONNECTIONS} connections for ${WARMUP} s`);
    const w = await run(base, mix, WARMUP);
    log(`warm-up: ${w.requests} requests, statuses ${fmtStatuses(w.statuses)}`);
  }
  const rssWarm = rssKiB();
  let rssPeak = rssWarm;
  const sampler = setInterval(() => {
    try {
      rssPeak = Math.max(rssPeak, rssKiB());
    } catch {
      /* server gone: reported below */
    }
  }, 500);
  log(`run: ${CONNECTIONS} connections for ${SECONDS} s (RSS after warm-up ${mib(rssWarm)})`);
  const r = await run(base, mix, SECONDS);
  clearInterval(sampler);
  if (childExited !== undefined)
    throw new Error(
      `the server exited during the run (code ${childExited}):\n${serverOutput.join('').slice(-4000)}`,
    );
  const rssEnd = rssKiB();
  const non2xx = [...r.statuses].filter(([s]) => s < 200 || s >= 300);
  const n5xx = non2xx.filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);
  const growth = (rssEnd - rssWarm) / rssWarm;

  const lines = [
    '',
    `voxelgate load: ${CONNECTIONS} connections, ${SECONDS} s (after ${WARMUP} s warm-up)`,
    `  requests      ${r.requests} (${r.rps.toFixed(0)} req/s avg), ${(r.bytes / 1024 / 1024).toFixed(0)} MiB read`,
    `  errors        ${r.errors} (timeouts ${r.timeouts})`,
    `  statuses      ${fmtStatuses(r.statuses)}`,
    `  non-2xx       ${non2xx.length ? non2xx.map(([s, n]) => `${s}×${n}`).join(' ') : 'none'}`,
    `  5xx           ${n5xx}`,
    `  RSS           after warm-up ${mib(rssWarm)}, peak ${mib(rssPeak)}, end ${mib(rssEnd)} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %)`,
    '  per kind      count      p50 ms   p99 ms   statuses',
  ];
  for (const [kind, s] of [...r.kinds].sort()) {
    const sorted = s.latencies.sort((a, b) => a - b);
    lines.push(
      `    ${kind.padEnd(16)}${String(s.count).padStart(7)}  ${pct(sorted, 50).toFixed(1).padStart(8)} ${pct(sorted, 99).toFixed(1).padStart(8)}   ${fmtStatuses(s.statuses)}`,
    );
  }
  for (const n of notes) lines.push(`  note: ${n}`);
  const misses: string[] = [];
  if (r.errors > 0) misses.push(`${r.errors} errors`);
  if (n5xx > 0) misses.push(`${n5xx} 5xx`);
  if (growth > 0.2) misses.push(`RSS grew ${(growth * 100).toFixed(1)} % (> 20 %)`);
  lines.push(
    misses.length
      ? `  TARGET MISSED: ${misses.join(', ')}`
      : '  targets met: zero errors, zero 5xx, RSS within 20 %',
  );
  process.stdout.write(lines.join('\n') + '\n');
  if (misses.length) exitCode = 1;
} catch (e) {
  process.stderr.write(`load: ${(e as Error).stack ?? String(e)}\n`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
