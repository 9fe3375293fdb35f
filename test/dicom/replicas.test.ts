/**
 * Two archive replicas (`--index postgres://… --storage postgres --no-slicer`, real child
 * processes) on one database behind a small round-robin proxy written here (loopback only):
 * - STOW-RS of 500 instances through the proxy with concurrent readers; one replica is killed
 *   with SIGKILL mid-way; every acknowledged instance is then retrieved through the other
 *   replica with exactly the bytes sent.
 * - A replace and a delete through one replica are seen at once through the other (no stale
 *   metadata, frames or retrieves).
 * One cluster for the file, a fresh database per test. Skips without PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { multipartBody } from '../../src/dicom/multipart.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { freshDatabase, postgresSkipReason } from '../helpers/postgres.js';
import { splitMultipart } from './fixtures.js';
import { startProxy, startReplicaProcess, type Replica } from '../helpers/replicas.js';

const skip = postgresSkipReason();
if (skip) console.log(`# skipping the replica tests: ${skip}`);

const replicas: Replica[] = [];
const startReplica = async (index: string) => {
  const r = await startReplicaProcess(index);
  replicas.push(r);
  return r;
};

after(async () => {
  for (const r of replicas) await r.kill();
});

const BOUNDARY = 'replica-test-boundary';
async function stow(base: string, files: Buffer[]): Promise<number> {
  try {
    const r = await fetch(`${base}/dicom/studies`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        accept: 'application/dicom+json',
      },
      body: multipartBody(
        files.map((data) => ({ contentType: 'application/dicom', data })),
        BOUNDARY,
      ),
    });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0; // the connection died with the replica: not acknowledged
  }
}

async function retrieve(base: string, st: string, se: string, sop: string): Promise<Buffer> {
  const r = await fetch(`${base}/dicom/studies/${st}/series/${se}/instances/${sop}`, {
    headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
  });
  assert.equal(r.status, 200, `${sop}: ${r.status}`);
  const parts = splitMultipart(Buffer.from(await r.arrayBuffer()));
  return parts[0]!.data;
}

describe('two replicas on one PostgreSQL database', { skip }, () => {
  it('STOW 500 through a round-robin proxy with readers; SIGKILL one mid-way; every acknowledged instance is exact through the other', async () => {
    const db = await freshDatabase('replicas');
    const [a, b] = await Promise.all([startReplica(db), startReplica(db)]);
    const proxy = await startProxy([a.url, b.url]);
    try {
      const s = syntheticSeries({ rows: 16, columns: 16, slices: 500, seed: 'replicas' });
      const batches: number[][] = [];
      for (let i = 0; i < 500; i += 10) batches.push(Array.from({ length: 10 }, (_, k) => i + k));
      const acked = new Set<number>();
      let done = 0;
      let killed = false;
      let stop = false;
      // Readers: QIDO and metadata through the proxy all along (answers may be partial, never 5xx
      // from a live replica).
      const readers = Array.from({ length: 2 }, async () => {
        let n = 0;
        while (!stop) {
          try {
            const r = await fetch(
              `${proxy.url}/dicom/studies/${s.studyUid}/series/${s.seriesUid}/instances?limit=5`,
              { headers: { accept: 'application/dicom+json' } },
            );
            await r.arrayBuffer();
            assert.ok([200, 404, 502].includes(r.status), `reader got ${r.status}`);
            n++;
          } catch {
            /* a connection to the killed replica */
          }
          await sleep(5);
        }
        return n;
      });
      let nextBatch = 0;
      const writers = Array.from({ length: 3 }, async () => {
        for (let i = nextBatch++; i < batches.length; i = nextBatch++) {
          const idx = batches[i]!;
          // Retry until acknowledged: a request cut by the kill is not acknowledged.
          for (let attempt = 0; ; attempt++) {
            const status = await stow(
              proxy.url,
              idx.map((k) => s.files[k]!),
            );
            if (status === 200) break;
            assert.ok(attempt < 20, `batch ${i} never acknowledged (last ${status})`);
            assert.ok([0, 502].includes(status), `batch ${i}: ${status}`);
          }
          for (const k of idx) acked.add(k);
          if (++done === 20 && !killed) {
            killed = true;
            a.child.kill('SIGKILL');
          }
        }
      });
      await Promise.all(writers);
      stop = true;
      const reads = await Promise.all(readers);
      assert.ok(killed);
      assert.equal(acked.size, 500);
      assert.ok(
        reads.every((n) => n > 0),
        `readers ran: ${reads}`,
      );
      // Every acknowledged instance, through the surviving replica, byte for byte.
      const all = [...acked].sort((x, y) => x - y);
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = next++; i < all.length; i = next++) {
            const k = all[i]!;
            const got = await retrieve(b.url, s.studyUid, s.seriesUid, s.sopUids[k]!);
            assert.ok(got.equals(s.files[k]!), `instance ${k} differs`);
          }
        }),
      );
      const count = await fetch(
        `${b.url}/dicom/studies?StudyInstanceUID=${s.studyUid}&includefield=00201208`,
        { headers: { accept: 'application/dicom+json' } },
      );
      const [st] = (await count.json()) as Array<Record<string, { Value: number[] }>>;
      assert.equal(st!['00201208']!.Value[0], 500, 'NumberOfStudyRelatedInstances');
    } finally {
      await proxy.close();
    }
  });

  it('a replace or delete through one replica is seen at once through the other', async () => {
    const db = await freshDatabase('stale');
    const [a, b] = await Promise.all([startReplica(db), startReplica(db)]);
    const v = (n: number) =>
      syntheticSeries({ rows: 8, columns: 8, slices: 2, seed: 'stale', pixelOffset: n });
    const v0 = v(0);
    const v1 = v(7);
    assert.equal(await stow(a.url, v0.files), 200);
    const meta = async (base: string) => {
      const r = await fetch(
        `${base}/dicom/studies/${v0.studyUid}/series/${v0.seriesUid}/metadata`,
        {
          headers: { accept: 'application/dicom+json' },
        },
      );
      return { status: r.status, text: await r.text() };
    };
    const frame = async (base: string) => {
      const r = await fetch(
        `${base}/dicom/studies/${v0.studyUid}/series/${v0.seriesUid}/instances/${v0.sopUids[0]}/frames/1`,
        { headers: { accept: 'application/octet-stream' } },
      );
      return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
    };
    // Warm every cache B keeps (metadata, frames, retrieve).
    assert.equal((await meta(b.url)).status, 200);
    const before = await frame(b.url);
    assert.ok(before.body.equals(v0.files[0]!.subarray(v0.files[0]!.length - 128)));
    assert.ok(
      (await retrieve(b.url, v0.studyUid, v0.seriesUid, v0.sopUids[0]!)).equals(v0.files[0]!),
    );
    // Replace through A: B answers the new version at once.
    assert.equal(await stow(a.url, v1.files), 200);
    const after1 = await frame(b.url);
    assert.ok(after1.body.equals(v1.files[0]!.subarray(v1.files[0]!.length - 128)), 'new pixels');
    assert.ok(
      (await retrieve(b.url, v0.studyUid, v0.seriesUid, v0.sopUids[0]!)).equals(v1.files[0]!),
      'new bytes',
    );
    const unbased = (m: { text: string }, base: string) => m.text.split(base).join('BASE');
    assert.equal(
      unbased(await meta(b.url), b.url),
      unbased(await meta(a.url), a.url),
      'same metadata through both',
    );
    // Delete through B: A no longer serves it.
    const del = await fetch(`${b.url}/dicom/studies/${v0.studyUid}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal((await meta(a.url)).status, 404);
    assert.equal((await frame(a.url)).status, 404);
    const q = await fetch(`${a.url}/dicom/studies?StudyInstanceUID=${v0.studyUid}`, {
      headers: { accept: 'application/dicom+json' },
    });
    assert.deepEqual(await q.json(), []);
  });

  it('the same instances stored at once through both replicas end with one consistent version', async () => {
    const db = await freshDatabase('race');
    const [a, b] = await Promise.all([startReplica(db), startReplica(db)]);
    const v = (n: number) =>
      syntheticSeries({ rows: 8, columns: 8, slices: 5, seed: 'race', pixelOffset: n });
    for (let round = 0; round < 5; round++) {
      const x = v(2 * round + 1);
      const y = v(2 * round + 2);
      const [sa, sb] = await Promise.all([stow(a.url, x.files), stow(b.url, y.files)]);
      assert.deepEqual([sa, sb], [200, 200]);
      for (let i = 0; i < 5; i++) {
        const fromA = await retrieve(a.url, x.studyUid, x.seriesUid, x.sopUids[i]!);
        const fromB = await retrieve(b.url, x.studyUid, x.seriesUid, x.sopUids[i]!);
        assert.ok(fromA.equals(fromB), `round ${round}, instance ${i}: both replicas agree`);
        assert.ok(fromA.equals(x.files[i]!) || fromA.equals(y.files[i]!), 'one of the two uploads');
      }
      const q = await fetch(`${b.url}/dicom/studies?StudyInstanceUID=${x.studyUid}`, {
        headers: { accept: 'application/dicom+json' },
      });
      const [st] = (await q.json()) as Array<Record<string, { Value: number[] }>>;
      assert.equal(st!['00201208']!.Value[0], 5, 'NumberOfStudyRelatedInstances stays exact');
    }
  });
});
