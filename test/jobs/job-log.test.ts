/**
 * Job records across restarts (jobs/job-log.ts): a finished job is still listed after a restart,
 * ids and names continue (a result node is never named like an earlier one), a job the server
 * was running when it died is reported failed, a torn last line is skipped, and the file is
 * compacted from the kept records.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared } from '../../src/imaging/types.js';
import { JobLog } from '../../src/jobs/job-log.js';
import type { JobRecord } from '../../src/jobs/types.js';
import { startTestServer, tempDir } from '../helpers/app.js';
import { rampVolume } from '../helpers/phantom.js';

type Json = Record<string, any>;

test('a finished job survives a restart; ids and names continue; a job cut off by a crash is failed', async () => {
  const data = tempDir('vg-jobs-');
  const config = { data, noSamples: true };
  const s1 = await startTestServer(config);
  let first: Json;
  try {
    const volume = rampVolume([8, 8, 8], [1, 8, 0, 0], {
      scalarType: 'int16',
      data: allocShared('int16', 512),
    });
    const put = await fetch(`${s1.url}/slicer/volume?name=V`, {
      method: 'POST',
      body: await encodeNrrd(volume),
    });
    assert.equal(put.status, 200);
    const r = await fetch(`${s1.url}/slicer/jobs?wait=60`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ function: 'threshold', params: { volume: 'V', lower: 50 } }),
    });
    first = (await r.json()) as Json;
    assert.equal(first.state, 'succeeded', JSON.stringify(first));
    assert.equal(first.id, 'job1');
  } finally {
    await s1.close();
  }

  // A crash while job2 ran: its queued line is the last one about it (and a torn line follows).
  const file = path.join(data, 'jobs.jsonl');
  const running: JobRecord = {
    ...(first as JobRecord),
    id: 'job2',
    name: 'threshold-2',
    state: 'running',
    progress: 0.5,
    message: 'running',
    result: undefined,
    finishedAt: undefined,
  };
  writeFileSync(file, `${readFileSync(file, 'utf8')}${JSON.stringify(running)}\n{"id":"job3","sta`);

  const s2 = await startTestServer({ ...config, logLevel: 'warn' });
  try {
    const again = (await (await fetch(`${s2.url}/slicer/jobs/job1`)).json()) as Json;
    assert.deepEqual(again, first);
    const cut = (await (await fetch(`${s2.url}/slicer/jobs/job2`)).json()) as Json;
    assert.equal(cut.state, 'failed');
    assert.equal(cut.error.code, 'internal');
    assert.match(cut.error.message, /server stopped before this job finished/);
    assert.ok(
      s2.lines.some((l) =>
        l.includes('jobs: 1 job(s) cut off when the server last stopped are marked failed'),
      ),
      s2.lines.join('\n'),
    );
    assert.equal((await fetch(`${s2.url}/slicer/jobs/job3`)).status, 404);
    const list = (await (await fetch(`${s2.url}/slicer/jobs`)).json()) as Json[];
    assert.deepEqual(
      list.map((j) => j.id),
      ['job2', 'job1'],
    );
    const next = (await (
      await fetch(`${s2.url}/slicer/jobs?wait=60`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ function: 'threshold', params: { volume: 'V', lower: 10 } }),
      })
    ).json()) as Json;
    assert.equal(next.id, 'job3');
    assert.equal(next.name, 'threshold-3');
    assert.equal(next.state, 'succeeded');
  } finally {
    await s2.close();
  }
});

test('the log keeps the last line of each id and compacts to the kept records', async () => {
  const dir = tempDir('vg-joblog-');
  const log = new JobLog(path.join(dir, 'jobs.jsonl'));
  assert.deepEqual(await log.load(), []);
  const rec = (i: number, state: JobRecord['state']): JobRecord => ({
    id: `job${i}`,
    name: `f-${i}`,
    function: 'f',
    params: {},
    state,
    progress: state === 'succeeded' ? 1 : 0,
    message: state,
    createdAt: new Date(0).toISOString(),
  });
  const kept: JobRecord[] = [];
  for (let i = 1; i <= 12; i++) {
    const q = rec(i, 'queued');
    kept.push(q);
    log.append(q, 2, () => kept.slice(-2));
    const done = rec(i, 'succeeded');
    kept[kept.length - 1] = done;
    log.append(done, 2, () => kept.slice(-2));
  }
  await log.flushed();
  const lines = readFileSync(log.file, 'utf8').trim().split('\n');
  assert.ok(lines.length <= 8, `${lines.length} lines`);
  const back = await new JobLog(log.file).load();
  assert.deepEqual(back.at(-1), rec(12, 'succeeded'));
  assert.ok(back.every((r) => r.state === 'succeeded'));
});
