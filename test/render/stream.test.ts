import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/app.js';
import { sphereVolume } from '../helpers/phantom.js';
import { addFiducials, addVolume, decode } from '../helpers/render.js';

const BOUNDARY = 'voxelgateframe';

/** Reads multipart/x-mixed-replace parts from a fetch body. */
class PartReader {
  #buf = Buffer.alloc(0);
  /** A read that lost a race with a timeout is kept for the next call (its chunk must not be lost). */
  #pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | undefined;
  constructor(private reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async next(timeoutMs: number): Promise<Buffer | 'timeout' | 'end'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const part = this.#parse();
      if (part) return part;
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      let timer: NodeJS.Timeout | undefined;
      this.#pending ??= this.reader.read();
      const r = await Promise.race([
        this.#pending,
        new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), left))),
      ]);
      clearTimeout(timer);
      if (r === 'timeout') return 'timeout';
      this.#pending = undefined;
      if (r.done) return 'end';
      this.#buf = Buffer.concat([this.#buf, Buffer.from(r.value)]);
    }
  }

  #parse(): Buffer | undefined {
    const head = this.#buf.indexOf('\r\n\r\n');
    if (head < 0) return undefined;
    const header = this.#buf.subarray(0, head).toString('latin1');
    assert.ok(header.startsWith(`--${BOUNDARY}\r\n`), header);
    assert.match(header, /Content-Type: image\/jpeg/);
    const len = Number(/Content-Length: (\d+)/.exec(header)?.[1]);
    if (this.#buf.length < head + 4 + len + 2) return undefined;
    const body = this.#buf.subarray(head + 4, head + 4 + len);
    this.#buf = this.#buf.subarray(head + 4 + len + 2);
    return Buffer.from(body);
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s.close();
});

describe('live streams', () => {
  it('slice stream: first frame, nothing without a change, a new frame after a view or scene change, coalescing, clean disconnect', async () => {
    s.ctx.scene.clear();
    addVolume(
      s.ctx.scene,
      sphereVolume({
        dimensions: [32, 32, 32],
        origin: [-16, -16, -16],
        spheres: [{ centre: [0, 0, 0], radius: 8, value: 500 }],
      }),
    );
    const ac = new AbortController();
    const res = await fetch(`${s.url}/slicer/slice/stream?view=red&size=48`, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get('content-type'),
      `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
    );
    const parts = new PartReader(res.body!.getReader());
    const first = await parts.next(5000);
    assert.ok(Buffer.isBuffer(first), String(first));
    const img = await decode(first);
    assert.deepEqual([img.width, img.height], [48, 48]);
    assert.equal(s.ctx.renderer.stats.streams, 1);

    assert.equal(await parts.next(300), 'timeout', 'no frame without a change');

    // A view edit made by another client (curl) → a new frame.
    assert.equal((await fetch(`${s.url}/slicer/slice?view=red&offset=4`)).status, 200);
    assert.ok(Buffer.isBuffer(await parts.next(5000)), 'frame after a view change');

    // An edit to a node the view does not show → no frame.
    addFiducials(s.ctx.scene, 'far', [{ label: 'B', position: [0, 0, 15] }]);
    assert.equal(
      await parts.next(300),
      'timeout',
      'a fiducial 11 mm off the plane does not change the image',
    );

    // A scene edit that shows → a new frame.
    addFiducials(s.ctx.scene, 'F', [{ label: 'A', position: [0, 0, 4] }]);
    assert.ok(Buffer.isBuffer(await parts.next(5000)), 'frame after a scene change');

    // Many changes at once collapse into one render of the newest state.
    const before = s.ctx.renderer.stats.renders;
    for (let i = 0; i < 20; i++)
      s.ctx.views.setSlice('red', { ...s.ctx.views.slice('red'), window: 100 + i, level: 50 });
    assert.ok(Buffer.isBuffer(await parts.next(5000)), 'frame after a burst');
    assert.equal(await parts.next(300), 'timeout');
    assert.ok(
      s.ctx.renderer.stats.renders - before <= 2,
      `renders during burst: ${s.ctx.renderer.stats.renders - before}`,
    );

    ac.abort();
    assert.ok(
      await until(() => s.ctx.renderer.stats.streams === 0),
      'stream released after disconnect',
    );
  });

  it('threeD stream delivers frames and follows camera changes', async () => {
    const ac = new AbortController();
    const res = await fetch(`${s.url}/slicer/threeD/stream?size=32&mode=mip`, {
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const parts = new PartReader(res.body!.getReader());
    assert.ok(Buffer.isBuffer(await parts.next(10000)), 'first 3D frame');
    assert.equal((await fetch(`${s.url}/slicer/threeD?lookFromAxis=s&size=32`)).status, 200);
    assert.ok(Buffer.isBuffer(await parts.next(10000)), '3D frame after a camera change');
    ac.abort();
    assert.ok(await until(() => s.ctx.renderer.stats.streams === 0), 'released');
  });

  it('bad stream parameters → 400', async () => {
    const r = await fetch(`${s.url}/slicer/slice/stream?view=pink`);
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { parameter: string }).parameter, 'view');
    const f = await fetch(`${s.url}/slicer/slice/stream?format=png`);
    assert.equal(f.status, 400);
  });
});

describe('streams and shutdown', () => {
  it('an open stream ends when the server shuts down (does not hold the drain)', async () => {
    const srv = await startTestServer();
    addVolume(srv.ctx.scene, sphereVolume({ dimensions: [16, 16, 16] }));
    const res = await fetch(`${srv.url}/slicer/slice/stream?size=16`);
    const parts = new PartReader(res.body!.getReader());
    assert.ok(Buffer.isBuffer(await parts.next(5000)), 'first frame');
    let closed = false;
    const closing = srv.close().then(() => (closed = true));
    const end = await parts.next(8000);
    assert.ok(end === 'end', `stream ended: ${String(end)}`);
    assert.ok(await until(() => closed, 8000), 'server closed');
    await closing;
    assert.equal(srv.ctx.renderer.stats.streams, 0);
  });
});
