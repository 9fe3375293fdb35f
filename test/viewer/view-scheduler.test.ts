/** The page's per-view request scheduler (docroot/app/view-scheduler.mjs), with a fake fetch and fake timers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewScheduler } from '../../docroot/app/view-scheduler.mjs';

interface State {
  slice: number;
}

/** A fetch whose answers the test releases by hand, recording concurrency. */
function fakeFetch(status = 200) {
  const calls: string[] = [];
  const waiting: Array<() => void> = [];
  let active = 0;
  let maxActive = 0;
  const fetch = (url: string) => {
    calls.push(url);
    active++;
    maxActive = Math.max(maxActive, active);
    return new Promise<Response>((resolve) => {
      waiting.push(() => {
        active--;
        resolve(
          status === 304
            ? new Response(null, { status })
            : new Response(
                status === 200 ? 'img' : JSON.stringify({ success: false, message: 'nope' }),
                { status },
              ),
        );
      });
    });
  };
  return {
    fetch,
    calls,
    get maxActive() {
      return maxActive;
    },
    get waiting() {
      return waiting.length;
    },
    /** Answers the oldest open request and lets the scheduler react. */
    async answer() {
      const next = waiting.shift();
      assert.ok(next, 'no request to answer');
      next();
      await flush();
    },
  };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Manual timers: `fire()` runs what is due. */
function fakeTimers() {
  let id = 0;
  const timers = new Map<number, () => void>();
  return {
    setTimeout: (fn: () => void) => {
      timers.set(++id, fn);
      return id;
    },
    clearTimeout: (t: unknown) => {
      timers.delete(t as number);
    },
    fire() {
      const fns = [...timers.values()];
      timers.clear();
      fns.forEach((f) => f());
    },
    get count() {
      return timers.size;
    },
  };
}

const buildUrl = (s: State, draft: boolean) =>
  `/slicer/slice?view=red&scrollTo=${s.slice}&size=${draft ? 128 : 512}`;

test('a burst while a request is in flight sends only the newest state next (latest wins), one at a time', async () => {
  const f = fakeFetch();
  const t = fakeTimers();
  const shown: string[] = [];
  const s = new ViewScheduler<State>({
    buildUrl,
    fetch: f.fetch,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    onResult: (r) => shown.push(r.job.url),
  });
  for (let i = 1; i <= 50; i++) s.request({ slice: i }, { interactive: true });
  await flush();
  assert.deepEqual(f.calls, [buildUrl({ slice: 1 }, true)]);
  assert.equal(s.stats.superseded, 48);
  await f.answer();
  assert.deepEqual(f.calls, [buildUrl({ slice: 1 }, true), buildUrl({ slice: 50 }, true)]);
  await f.answer();
  assert.equal(f.calls.length, 2, 'no full render before the user stops');
  t.fire(); // the user stopped: full-quality render of the newest state
  await flush();
  assert.equal(f.calls.at(-1), buildUrl({ slice: 50 }, false));
  await f.answer();
  assert.equal(f.maxActive, 1);
  assert.deepEqual(shown, f.calls);
  assert.ok(s.idle);
  assert.deepEqual(s.stats, { sent: 3, completed: 3, superseded: 48, failed: 0, notModified: 0 });
});

test('the full render waits for the draft in flight, then goes out', async () => {
  const f = fakeFetch();
  const t = fakeTimers();
  const s = new ViewScheduler<State>({
    buildUrl,
    fetch: f.fetch,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    onResult: () => {},
  });
  s.request({ slice: 3 }, { interactive: true });
  await flush();
  t.fire();
  await flush();
  assert.equal(f.calls.length, 1, 'still one in flight');
  assert.equal(f.waiting, 1);
  await f.answer();
  assert.deepEqual(f.calls, [buildUrl({ slice: 3 }, true), buildUrl({ slice: 3 }, false)]);
  await f.answer();
  const idle = s.whenIdle();
  await idle;
  assert.equal(f.maxActive, 1);
});

test('each interactive change restarts the settle timer; plain requests owe nothing', async () => {
  const f = fakeFetch();
  const t = fakeTimers();
  const s = new ViewScheduler<State>({
    buildUrl,
    fetch: f.fetch,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    onResult: () => {},
  });
  s.request({ slice: 1 }, { interactive: true });
  s.request({ slice: 2 }, { interactive: true });
  assert.equal(t.count, 1);
  s.request({ slice: 2 });
  assert.equal(t.count, 0, 'a full request cancels the owed full render');
  await f.answer();
  await f.answer();
  assert.deepEqual(f.calls, [buildUrl({ slice: 1 }, true), buildUrl({ slice: 2 }, false)]);
  assert.ok(s.idle);
});

test('the same URL twice in a row is sent once; refresh() forces it', async () => {
  const f = fakeFetch();
  const s = new ViewScheduler<State>({ buildUrl, fetch: f.fetch, onResult: () => {} });
  s.request({ slice: 4 });
  await f.answer();
  s.request({ slice: 4 });
  await flush();
  assert.equal(f.calls.length, 1);
  s.refresh();
  await f.answer();
  assert.equal(f.calls.length, 2);
});

test('errors reach onError with the server message; the next request still goes out', async () => {
  const f = fakeFetch(404);
  const errors: Array<{ status: number; message: string }> = [];
  const busy: boolean[] = [];
  const s = new ViewScheduler<State>({
    buildUrl,
    fetch: f.fetch,
    onResult: () => assert.fail('no result'),
    onError: (e) => errors.push(e),
    onBusy: (b) => busy.push(b),
  });
  s.request({ slice: 1 });
  await f.answer();
  assert.deepEqual(
    errors.map((e) => [e.status, e.message]),
    [[404, 'nope']],
  );
  s.request({ slice: 1 });
  await f.answer();
  assert.equal(f.calls.length, 2, 'a failed URL may be retried');
  assert.deepEqual(busy, [true, false, true, false]);
  assert.equal(s.stats.failed, 2);
});

test('network failures and 304 answers', async () => {
  const t = fakeTimers();
  let n = 0;
  const results: number[] = [];
  const errors: string[] = [];
  const s = new ViewScheduler<State>({
    buildUrl,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    // eslint-disable-next-line @typescript-eslint/require-await -- a fetch stand-in must return a promise
    fetch: async () => {
      n++;
      if (n === 1) throw new TypeError('Failed to fetch');
      return new Response(null, { status: 304 });
    },
    onResult: (r) => results.push(r.response.status),
    onError: (e) => errors.push(e.message),
  });
  s.request({ slice: 1 });
  await flush();
  s.request({ slice: 2 });
  await flush();
  assert.deepEqual(errors, ['Failed to fetch']);
  assert.deepEqual(results, [304]);
  assert.equal(s.stats.notModified, 1);
});

test('close() drops what is pending and owed', async () => {
  const f = fakeFetch();
  const t = fakeTimers();
  const s = new ViewScheduler<State>({
    buildUrl,
    fetch: f.fetch,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    onResult: () => {},
  });
  s.request({ slice: 1 }, { interactive: true });
  s.request({ slice: 2 }, { interactive: true });
  s.close();
  await f.answer();
  t.fire();
  await flush();
  assert.equal(f.calls.length, 1);
  s.request({ slice: 3 });
  await flush();
  assert.equal(f.calls.length, 1);
});

test('frameMs: requests start at least that far apart; the newest state waits, then goes out', async () => {
  const f = fakeFetch();
  const t = fakeTimers();
  let clock = 0;
  const s = new ViewScheduler<State>({
    buildUrl,
    fetch: f.fetch,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    now: () => clock,
    frameMs: 30,
    onResult: () => {},
  });
  s.request({ slice: 1 });
  await f.answer(); // a very fast server: answered at once
  clock = 5;
  s.request({ slice: 2 });
  s.request({ slice: 3 });
  await flush();
  assert.equal(f.calls.length, 1, 'the second request waits for the frame gap');
  assert.equal(s.idle, false);
  clock = 30;
  t.fire();
  await flush();
  assert.deepEqual(f.calls, [buildUrl({ slice: 1 }, false), buildUrl({ slice: 3 }, false)]);
  await f.answer();
  assert.ok(s.idle);
  assert.equal(f.maxActive, 1);
});
