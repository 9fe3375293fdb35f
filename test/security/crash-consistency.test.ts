/**
 * Crash consistency: a child server (`src/main.ts`, as `npm start`) gets concurrent STOW-RS
 * requests (new instances, changed-content and identical re-uploads), NRRD PUTs (new volumes and
 * replacements) and frame reads, and is killed with SIGKILL at a random moment, over several
 * rounds on the same data folder. After every restart:
 * - every acknowledged object reads back exact (the last acknowledged version, or a later one
 *   whose request the kill cut short: it may have committed before the answer went out);
 * - QIDO lists nothing that cannot be retrieved, and nothing that was never sent;
 * - /metadata describes the very file that is retrieved, and /frames equals its pixel data;
 * - the server starts cleanly: no error logged, no temp file and no unreferenced file left.
 * During the load, a reader checks that every frame it gets is one of the versions sent.
 *
 * Rounds: VOXELGATE_CRASH_ROUNDS (default 4); seed: VOXELGATE_CRASH_SEED (printed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/app.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { multipartBody } from '../../src/dicom/multipart.js';
import { decodeNrrd } from '../../src/imaging/nrrd.js';

const ROUNDS = Number(process.env.VOXELGATE_CRASH_ROUNDS ?? 4);
const SEED = Number(process.env.VOXELGATE_CRASH_SEED ?? Date.now() % 1_000_000);
const STOW_WORKERS = 3;
const SOPS_PER_WORKER = 10;
const VOLUMES = 4;
const ROWS = 16;
const BOUNDARY = 'crashConsistencyBoundary';

/** mulberry32: a small seeded generator, so a failing run can be repeated with its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = 'acked' | 'unknown';
interface Version {
  bytes: Buffer;
  pixels: Buffer;
  comment: string;
  outcome: Outcome;
}
interface Sop {
  index: number;
  study: string;
  series: string;
  sop: string;
  versions: Version[];
}

/** Version `v` of instance `i`: other pixels and an ImageComments of another length (shifts offsets). */
function makeVersion(
  i: number,
  v: number,
): Omit<Version, 'outcome'> & { ids: Omit<Sop, 'versions' | 'index'> } {
  const comment = `version ${v}${' padding'.repeat(v % 5)}`;
  const s = syntheticSeries({
    rows: ROWS,
    columns: ROWS,
    slices: 1,
    seed: `crash-consistency-${i % 3}`,
    seriesNumber: i + 1,
    pixelOffset: v * 7,
    imageComments: comment,
  });
  const bytes = s.files[0]!;
  return {
    bytes,
    pixels: bytes.subarray(bytes.length - ROWS * ROWS * 2),
    comment,
    ids: { study: s.studyUid, series: s.seriesUid, sop: s.sopUids[0]! },
  };
}

interface Vol {
  name: string;
  versions: Array<{ data: Buffer; outcome: Outcome }>;
}

/** A 24×20×6 int16 NRRD whose voxels depend on (volume, version). */
function makeNrrd(vol: number, v: number): { body: Buffer; data: Buffer } {
  const [x, y, z] = [24, 20, 6];
  const data = Buffer.alloc(x * y * z * 2);
  for (let k = 0; k < x * y * z; k++)
    data.writeInt16LE(((k * (vol + 3) + v * 101) % 4000) - 1000, k * 2);
  const header =
    'NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\n' +
    `sizes: ${x} ${y} ${z}\nspace directions: (1,0,0) (0,1,0) (0,0,2)\nkinds: domain domain domain\n` +
    'endian: little\nencoding: raw\nspace origin: (0,0,0)\n\n';
  return { body: Buffer.concat([Buffer.from(header, 'latin1'), data]), data };
}

interface Child {
  proc: ChildProcess;
  url: string;
  log: () => string;
  exited: Promise<unknown>;
}

async function startChild(dataDir: string, round: number): Promise<Child> {
  const portFile = path.join(dataDir, `..`, `port-${round}`);
  rmSync(portFile, { force: true });
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(PACKAGE_ROOT, 'src/main.ts'),
      '--port',
      '0',
      '--port-file',
      portFile,
      '--data',
      dataDir,
      '--no-samples',
    ],
    { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => proc.on('exit', r));
  for (let i = 0; !existsSync(portFile) || readFileSync(portFile, 'utf8').trim() === ''; i++) {
    if (i > 1200 || proc.exitCode !== null)
      assert.fail(`child did not start (exit ${proc.exitCode}):\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const port = Number(readFileSync(portFile, 'utf8'));
  return { proc, url: `http://127.0.0.1:${port}`, log: () => out, exited };
}

const stow = (url: string, files: Buffer[]) =>
  fetch(`${url}/dicom/studies`, {
    method: 'POST',
    body: multipartBody(
      files.map((data) => ({ contentType: 'application/dicom', data })),
      BOUNDARY,
    ),
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
    },
  });

/** Every file under `dir` (relative paths). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const matches = (a: Buffer, b: Buffer) => a.length === b.length && a.equals(b);

/** Checks the archive and the scene against what was sent; returns counts for the report. */
async function verify(child: Child, sops: Sop[], vols: Vol[], dataDir: string, round: number) {
  const where = `after restart ${round} (seed ${SEED})`;
  // QIDO: everything listed was sent, and every instance with an acknowledged version is listed.
  const q = await fetch(`${child.url}/dicom/instances?limit=1000`);
  assert.equal(q.status, 200, where);
  const listed = ((await q.json()) as Array<Record<string, { Value?: string[] }>>).map(
    (x) => x['00080018']!.Value![0]!,
  );
  const bySop = new Map(sops.map((s) => [s.sop, s]));
  for (const sop of listed) assert.ok(bySop.has(sop), `${where}: QIDO lists ${sop}, never sent`);
  let replaced = 0;
  /** Instances holding a version whose request the kill cut short (committed before the answer). */
  let inflight = 0;
  for (const s of sops) {
    const lastAcked = s.versions.map((v) => v.outcome).lastIndexOf('acked');
    const allowed = s.versions.slice(Math.max(0, lastAcked));
    if (!listed.includes(s.sop)) {
      assert.equal(lastAcked, -1, `${where}: acknowledged instance ${s.sop} is missing`);
      continue;
    }
    const base = `${child.url}/dicom/studies/${s.study}/series/${s.series}/instances/${s.sop}`;
    const r = await fetch(base, { headers: { accept: 'application/dicom; transfer-syntax=*' } });
    assert.equal(r.status, 200, `${where}: QIDO lists ${s.sop} but it cannot be retrieved`);
    const file = Buffer.from(await r.arrayBuffer());
    const version = allowed.find((v) => matches(v.bytes, file));
    assert.ok(
      version,
      `${where}: ${s.sop} holds bytes that are not its last acknowledged version (${lastAcked}) nor a later one`,
    );
    if (s.versions.indexOf(version) > 0) replaced++;
    if (version.outcome === 'unknown') inflight++;
    const m = await fetch(`${base}/metadata`);
    assert.equal(m.status, 200);
    const meta = ((await m.json()) as Array<Record<string, { Value?: unknown[] }>>)[0]!;
    assert.equal(
      meta['00204000']?.Value?.[0],
      version.comment,
      `${where}: metadata of ${s.sop} describes another version`,
    );
    const f = await fetch(`${base}/frames/1`, { headers: { accept: 'application/octet-stream' } });
    assert.equal(f.status, 200);
    assert.ok(
      matches(Buffer.from(await f.arrayBuffer()), version.pixels),
      `${where}: frames of ${s.sop} differ from its file`,
    );
  }
  // Scene volumes.
  let volumes = 0;
  for (const v of vols) {
    const lastAcked = v.versions.map((x) => x.outcome).lastIndexOf('acked');
    const r = await fetch(`${child.url}/slicer/volume?id=${v.name}`);
    if (r.status === 404) {
      assert.equal(lastAcked, -1, `${where}: acknowledged volume ${v.name} is missing`);
      continue;
    }
    assert.equal(r.status, 200, where);
    const { volume } = await decodeNrrd(new Uint8Array(await r.arrayBuffer()));
    const got = Buffer.from(volume.data.buffer, volume.data.byteOffset, volume.data.byteLength);
    assert.ok(
      v.versions.slice(Math.max(0, lastAcked)).some((x) => matches(x.data, got)),
      `${where}: volume ${v.name} is not its last acknowledged version (${lastAcked}) nor a later one`,
    );
    volumes++;
  }
  // Clean start: nothing logged as an error, no temp files, no file without an index row.
  assert.doesNotMatch(child.log(), / error /, `${where}: errors logged:\n${child.log()}`);
  const all = listFiles(dataDir);
  assert.deepEqual(
    all.filter((f) => f.endsWith('.tmp')),
    [],
    `${where}: temp files left`,
  );
  const dcm = all.filter((f) => f.startsWith(`dicom${path.sep}files`));
  assert.equal(
    dcm.length,
    listed.length,
    `${where}: ${dcm.length} archive files for ${listed.length} instances`,
  );
  const sceneFiles = all.filter((f) => f.startsWith(path.join('scene', 'volumes')));
  assert.equal(
    sceneFiles.length,
    volumes,
    `${where}: ${sceneFiles.length} scene volume files for ${volumes} volumes`,
  );
  return {
    instances: listed.length,
    inflight,
    replaced,
    volumes,
    recovery: /recovery: removed (\d+)/.exec(child.log())?.[1] ?? '0',
  };
}

test(
  `crash consistency: ${ROUNDS} rounds of concurrent STOW-RS, re-uploads and NRRD PUTs killed with SIGKILL`,
  { timeout: 240_000 },
  async () => {
    const random = rng(SEED);
    const root = tempDir('voxelgate-crash-');
    const dataDir = path.join(root, 'data');
    const sops: Sop[] = [];
    for (let i = 0; i < STOW_WORKERS * SOPS_PER_WORKER; i++) {
      const { ids } = makeVersion(i, 0);
      sops.push({ index: i, ...ids, versions: [] });
    }
    const vols: Vol[] = Array.from({ length: VOLUMES }, (_, i) => ({
      name: `crashvol${i}`,
      versions: [],
    }));
    const totals = {
      stowRequests: 0,
      stowAcked: 0,
      reuploads: 0,
      nrrdPuts: 0,
      nrrdAcked: 0,
      reads: 0,
      killedInFlight: 0,
    };
    const report: string[] = [];
    let child = await startChild(dataDir, 0);
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        let stop = false;
        let acked!: () => void;
        // The kill comes at a random moment after the round's first acknowledged write.
        const firstAck = new Promise<void>((r) => (acked = r));
        const stowWorker = async (w: number) => {
          const mine = sops.slice(w * SOPS_PER_WORKER, (w + 1) * SOPS_PER_WORKER);
          while (!stop) {
            const n = 1 + Math.floor(random() * 3);
            const picked = [
              ...new Set(
                Array.from({ length: n }, () => mine[Math.floor(random() * mine.length)]!),
              ),
            ];
            const versions = picked.map((s) => {
              // mostly a new version (changed content), sometimes the same bytes again
              const same = s.versions.length > 0 && random() < 0.2;
              const prev = s.versions.at(-1);
              const v: Version = same
                ? { ...prev!, outcome: 'unknown' }
                : { ...makeVersion(s.index, s.versions.length), outcome: 'unknown' };
              if (s.versions.length > 0) totals.reuploads++;
              s.versions.push(v);
              return v;
            });
            totals.stowRequests++;
            try {
              const res = await stow(
                child.url,
                versions.map((v) => v.bytes),
              );
              const body = await res.text();
              assert.equal(res.status, 200, body);
              for (const v of versions) v.outcome = 'acked';
              totals.stowAcked++;
              acked();
            } catch (e) {
              if (!stop) throw e;
              totals.killedInFlight++;
              return;
            }
          }
        };
        const nrrdWorker = async () => {
          while (!stop) {
            const vol = vols[Math.floor(random() * vols.length)]!;
            const { body, data } = makeNrrd(vols.indexOf(vol), vol.versions.length);
            const entry = { data, outcome: 'unknown' as Outcome };
            vol.versions.push(entry);
            totals.nrrdPuts++;
            try {
              const res = await fetch(`${child.url}/slicer/volume?id=${vol.name}`, {
                method: 'PUT',
                body,
              });
              const text = await res.text();
              assert.equal(res.status, 200, text);
              entry.outcome = 'acked';
              totals.nrrdAcked++;
              acked();
            } catch (e) {
              if (!stop) throw e;
              totals.killedInFlight++;
              return;
            }
          }
        };
        const reader = async () => {
          while (!stop) {
            const s = sops[Math.floor(random() * sops.length)]!;
            if (!s.versions.some((v) => v.outcome === 'acked')) {
              await new Promise((r) => setTimeout(r, 5));
              continue;
            }
            try {
              const res = await fetch(
                `${child.url}/dicom/studies/${s.study}/series/${s.series}/instances/${s.sop}/frames/1`,
                { headers: { accept: 'application/octet-stream' } },
              );
              const got = Buffer.from(await res.arrayBuffer());
              assert.equal(res.status, 200);
              assert.ok(
                s.versions.some((v) => matches(v.pixels, got)),
                `round ${round}: a frame read during the load is no version of ${s.sop}`,
              );
              totals.reads++;
            } catch (e) {
              if (!stop) throw e;
              return;
            }
          }
        };
        const work = Promise.all([
          ...Array.from({ length: STOW_WORKERS }, (_, w) => stowWorker(w)),
          nrrdWorker(),
          reader(),
        ]);
        const failed = work.then(
          () => undefined,
          (e: unknown) => e,
        );
        const early = await Promise.race([failed, firstAck]);
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the work rejected with
        if (early) throw early;
        const killAfter = Math.floor(random() * 600);
        const late = await Promise.race([failed, new Promise((r) => setTimeout(r, killAfter))]);
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the work rejected with
        if (late) throw late;
        stop = true;
        child.proc.kill('SIGKILL');
        await child.exited;
        const err = await failed;
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the work rejected with
        if (err) throw err;
        child = await startChild(dataDir, round);
        const r = await verify(child, sops, vols, dataDir, round);
        report.push(
          `round ${round}: killed ${killAfter} ms after the first ack; ${r.instances} instances (${r.replaced} at a later version, ${r.inflight} at an unanswered one), ${r.volumes} volumes, recovery removed ${r.recovery} file(s)`,
        );
      }
    } finally {
      child.proc.kill('SIGKILL');
      await child.exited;
      rmSync(root, { recursive: true, force: true });
    }
    console.log(
      `crash consistency (seed ${SEED}):\n  ${report.join('\n  ')}\n  totals ${JSON.stringify(totals)}`,
    );
    assert.ok(totals.stowAcked > 0 && totals.nrrdAcked > 0, 'the load did store something');
  },
);
