/**
 * Live streams over real sockets: a job's SSE (several progress events, then `done`; a late
 * client gets the current state first; NDJSON on request; HTTP/2 too), the scene event stream
 * with Last-Event-ID resume, plug-ins loaded from the command line and a services config, direct
 * calls, and the full queue answering 503 + Retry-After.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/app.js';
import { h2Connect } from '../helpers/h2.js';

const EX = (f: string) => path.join(PACKAGE_ROOT, 'examples', f);

interface Sse {
  event: string;
  id?: string;
  data: any;
}

/** Reads SSE events from a fetch response until `stop` says so (or the stream ends). */
async function readSse(res: Response, stop: (e: Sse, all: Sse[]) => boolean): Promise<Sse[]> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const out: Sse[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return out;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const e: Partial<Sse> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) e.event = line.slice(6).trim();
          else if (line.startsWith('id:')) e.id = line.slice(3).trim();
          else if (line.startsWith('data:')) e.data = JSON.parse(line.slice(5).trim());
        }
        if (!e.event) continue;
        out.push(e as Sse);
        if (stop(e as Sse, out)) return out;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function post(s: TestServer, p: string, body: unknown): Promise<Response> {
  return fetch(s.url + p, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

test('job events: progress events then done; late clients get the state first; NDJSON', async () => {
  const s = await startTestServer({ functionModules: [EX('progress.mjs')] });
  try {
    const start = await post(s, '/slicer/jobs', {
      function: 'progress',
      params: { steps: 8, delayMs: 150 },
    });
    assert.equal(start.status, 202);
    const job = (await start.json()) as { id: string; links: { events: string } };
    const res = await fetch(s.url + job.links.events);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const events = await readSse(res, (e) => e.event === 'done');
    const progress = events.filter((e) => e.event === 'progress');
    assert.ok(progress.length >= 5, `${progress.length} progress events`);
    const fractions = progress.map((e) => e.data.progress as number);
    assert.deepEqual(
      fractions,
      [...fractions].sort((a, b) => a - b),
    );
    assert.ok(progress.some((e) => /step \d of 8/.test(e.data.message)));
    const done = events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(done.data.state, 'succeeded');
    assert.deepEqual(done.data.result.values, { counted: 8 });
    // Event ids increase.
    const ids = events.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      ids.map((_, i) => i + 1),
    );

    // A late client of a finished job gets `done` at once and the stream ends.
    const late = await readSse(await fetch(s.url + job.links.events), () => false);
    assert.deepEqual(
      late.map((e) => e.event),
      ['done'],
    );

    // A client joining a running job first gets its current state; NDJSON when asked.
    const second = (await (
      await post(s, '/slicer/jobs', { function: 'progress', params: { steps: 4, delayMs: 150 } })
    ).json()) as { id: string };
    await new Promise((r) => setTimeout(r, 350));
    const nd = await fetch(`${s.url}/slicer/jobs/${second.id}/events`, {
      headers: { accept: 'application/x-ndjson' },
    });
    assert.match(nd.headers.get('content-type')!, /application\/x-ndjson/);
    const lines = (await nd.text())
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { event: string; data: any });
    assert.equal(lines[0]!.event, 'progress');
    assert.ok(lines[0]!.data.progress > 0, 'first line is the current state, already advanced');
    assert.equal(lines.at(-1)!.event, 'done');
    assert.equal(lines.at(-1)!.data.state, 'succeeded');
    assert.equal((await fetch(`${s.url}/slicer/jobs/job99/events`)).status, 404);
  } finally {
    await s.close();
  }
});

test('scene events: node-added/modified/removed and job events with ids; Last-Event-ID resumes without a gap', async () => {
  const s = await startTestServer({ functionModules: [EX('threshold-filter.mjs')] });
  try {
    const res = await fetch(s.url + '/slicer/events');
    assert.equal(res.status, 200);
    const collected = readSse(res, (e) => e.event === 'node-removed');
    // Make changes: a transform (added, modified, removed) and a job that adds a node.
    const put = await fetch(`${s.url}/slicer/transform?name=T1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matrix: [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] }),
    });
    assert.equal(put.status, 200, await put.clone().text());
    const tid = ((await put.json()) as { id: string }).id;
    await fetch(`${s.url}/slicer/sampledata?name=CTHeadPhantom`, { method: 'POST' });
    const j = await post(s, '/slicer/jobs?wait=60', { function: 'thresholdMask', params: {} });
    assert.equal(j.status, 200);
    await fetch(`${s.url}/slicer/mrml?id=${tid}`, { method: 'DELETE' });
    const events = await collected;
    const types = events.map((e) => e.event);
    assert.equal(types[0], 'hello');
    for (const t of ['node-added', 'job-queued', 'job-started', 'job-succeeded', 'node-removed'])
      assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
    const added = events.find((e) => e.event === 'node-added' && e.data.id === tid)!;
    assert.equal(added.data.className, 'vtkMRMLLinearTransformNode');
    assert.equal(added.data.name, 'T1');
    const removed = events.find((e) => e.event === 'node-removed')!;
    assert.deepEqual({ id: removed.data.id, name: removed.data.name }, { id: tid, name: 'T1' });
    const jobAdded = events.find(
      (e) => e.event === 'node-added' && /thresholdMask-/.test(e.data.name),
    );
    assert.ok(jobAdded, 'the job result appeared as node-added');
    // ids are consecutive after hello
    const epoch = events[0]!.id!.split('-')[0];
    assert.ok(
      events.every((e) => e.id!.startsWith(`${epoch}-`)),
      'ids carry the run epoch',
    );
    const ids = events.slice(1).map((e) => Number(e.id!.split('-')[1]));
    for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1]! + 1);

    // Resume from the middle: exactly the events after that id, in order.
    const mid = ids[2]!;
    const resumed = await fetch(s.url + '/slicer/events', {
      headers: { 'last-event-id': `${epoch}-${mid}` },
    });
    const replay = await readSse(resumed, (_e, all) => all.length >= ids.length - 3);
    assert.deepEqual(
      replay.map((e) => Number(e.id!.split('-')[1])),
      ids.slice(3),
    );
    // An id of another server run (events restart at 1 after a restart) gets a reset, never a
    // replay of this run's events under old numbers.
    for (const other of ['zzzz-2', '3', `${epoch}-999999`]) {
      const r = await readSse(
        await fetch(s.url + '/slicer/events', { headers: { 'last-event-id': other } }),
        () => true,
      );
      assert.equal(r[0]!.event, 'reset', other);
    }
    const bad = await fetch(s.url + '/slicer/events', { headers: { 'last-event-id': 'x' } });
    assert.equal(bad.status, 400);
  } finally {
    await s.close();
  }
});

test('plug-ins from --services-config are callable directly over HTTP (GET with query, POST with JSON)', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'services.yaml');
  writeFileSync(cfg, `functions:\n  - ${EX('add.mjs')}\n  - module: ${EX('progress.mjs')}\n`);
  const s = await startTestServer({ servicesConfig: cfg });
  try {
    const g = await fetch(`${s.url}/slicer/functions/add?a=1&b=2`);
    assert.equal(g.status, 200);
    assert.equal(await g.json(), 3);
    const p = await post(s, '/slicer/functions/add', { a: 2.5, b: 4 });
    assert.equal(await p.json(), 6.5);
    const bad = await fetch(`${s.url}/slicer/functions/add?a=1&b=x`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { parameter: string }).parameter, 'params.b');
    const none = await fetch(`${s.url}/slicer/functions/nope`);
    assert.equal(none.status, 404);
    const counted = await fetch(`${s.url}/slicer/functions/progress?steps=2&delayMs=1`);
    assert.deepEqual(await counted.json(), { counted: 2 });
  } finally {
    await s.close();
  }
});

test('a full job queue answers 503 with Retry-After', async () => {
  const s = await startTestServer({ functionModules: [EX('progress.mjs')], jobs: 1, jobQueue: 1 });
  try {
    const slow = { function: 'progress', params: { steps: 100, delayMs: 50 } };
    const a = await post(s, '/slicer/jobs', slow);
    const b = await post(s, '/slicer/jobs', slow);
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    const c = await post(s, '/slicer/jobs', slow);
    assert.equal(c.status, 503);
    assert.ok(Number(c.headers.get('retry-after')) >= 1);
    assert.equal(((await c.json()) as { code: string }).code, 'busy');
    const bId = ((await b.json()) as { id: string }).id;
    assert.equal((await fetch(`${s.url}/slicer/jobs/${bId}`)).status, 200);
    // Cancelling the queued one frees its place.
    assert.equal((await fetch(`${s.url}/slicer/jobs/${bId}`, { method: 'DELETE' })).status, 200);
    assert.equal((await post(s, '/slicer/jobs', slow)).status, 202);
  } finally {
    await s.close();
  }
});

test('job events over HTTP/2 (h2c): the stream works and the server stays up', async () => {
  const s = await startTestServer({ functionModules: [EX('progress.mjs')], http2: true });
  try {
    const job = (await (
      await post(s, '/slicer/jobs', { function: 'progress', params: { steps: 3, delayMs: 50 } })
    ).json()) as { id: string };
    const session = await h2Connect(s.url);
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const st = session.request({ ':path': `/slicer/jobs/${job.id}/events` });
        let body = '';
        st.setEncoding('utf8');
        st.on('data', (d: string) => (body += d));
        st.on('end', () => resolve(body));
        st.on('error', reject);
        st.end();
      });
      assert.match(text, /event: done/);
    } finally {
      session.close();
    }
    assert.equal((await fetch(`${s.url}/slicer/jobs/${job.id}`)).status, 200);
  } finally {
    await s.close();
  }
});
