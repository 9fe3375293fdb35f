/**
 * HTTP/2: h2c beside HTTP/1.1 on one port (`--http2`), h2 + HTTP/1.1 by ALPN with TLS; the same
 * answers as HTTP/1.1 across every route family; and the HTTP/2 forms of the security limits
 * (stream count, rapid reset, header and CONTINUATION floods, idle and slow clients, hop-by-hop
 * response headers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { listen, type ListenOptions } from '../../src/server/listen.js';
import { silentLogger } from '../../src/server/logger.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/app.js';
import { h2Closed, h2Connect, h2Request } from '../helpers/h2.js';
import { makeCert } from '../helpers/tls.js';
import { FLAG, FRAME, RawH2, frame, getHeaderBlock, rstStream } from '../helpers/h2-raw.js';

/** GETs whose answers must be the same over HTTP/1.1 and HTTP/2, across the route families. */
async function sweepPaths(base: string): Promise<string[]> {
  const studies = (await (await fetch(`${base}/dicom/studies`)).json()) as Array<
    Record<string, { Value: string[] }>
  >;
  const st = studies[0]?.['0020000D']?.Value[0];
  assert.ok(st, 'the sample study is in the archive');
  const series = (await (await fetch(`${base}/dicom/studies/${st}/series`)).json()) as Array<
    Record<string, { Value: string[] }>
  >;
  const se = series[0]?.['0020000E']?.Value[0];
  const instances = (await (
    await fetch(`${base}/dicom/studies/${st}/series/${se}/instances`)
  ).json()) as Array<Record<string, { Value: string[] }>>;
  const sop = instances[0]?.['00080018']?.Value[0];
  return [
    '/',
    '/index.html',
    '/app/main.mjs',
    '/no-such-file.html',
    '/slicer/system/version',
    '/slicer/volumes',
    '/slicer/volume?id=CTHeadPhantom',
    '/slicer/mrml/ids',
    '/slicer/mrml/properties?id=CTHeadPhantom',
    '/slicer/fiducials',
    '/slicer/transforms',
    '/slicer/slice?view=red&size=128',
    '/slicer/slice?view=red&size=bogus',
    '/slicer/view?view=red',
    '/slicer/nosuchroute',
    '/dicom/studies',
    `/dicom/studies/${st}/series`,
    `/dicom/studies/${st}/series/${se}/metadata`,
    `/dicom/studies/${st}/series/${se}/instances/${sop}/frames/1`,
    `/dicom/studies/${st}/series/${se}/instances/${sop}/rendered`,
    `/dicom/wado?requestType=WADO&studyUID=${st}&seriesUID=${se}&objectUID=${sop}&contentType=application/dicom`,
    '/dicom/studies/1.2.3.4/series',
  ];
}

async function compareWithHttp1(
  server: TestServer,
  session: http2.ClientHttp2Session,
): Promise<number> {
  let n = 0;
  for (const p of await sweepPaths(server.url)) {
    const h1 = await fetch(server.url + p, { headers: { accept: '*/*' } });
    const h1Body = Buffer.from(await h1.arrayBuffer());
    const h2 = await h2Request(session, p, { headers: { accept: '*/*' } });
    assert.equal(h2.status, h1.status, `${p}: status`);
    // Multipart answers differ only in their random boundary.
    const b1 = /boundary=([^;\s]+)/.exec(h1.headers.get('content-type') ?? '')?.[1];
    const b2 = /boundary=([^;\s]+)/.exec(String(h2.headers['content-type']))?.[1];
    const same = (x: string | Buffer, b: string | undefined) =>
      b ? Buffer.from(x).toString('latin1').replaceAll(b, 'BOUNDARY') : Buffer.from(x);
    assert.equal(
      same(String(h2.headers['content-type']), b2).toString(),
      same(h1.headers.get('content-type') ?? '', b1).toString(),
      p,
    );
    assert.deepEqual(same(h2.body, b2), same(h1Body, b1), `${p}: body`);
    n++;
  }
  // A conditional request and a byte range answer the same way too.
  const etag = (await fetch(`${server.url}/index.html`)).headers.get('etag') ?? '';
  assert.equal(
    (await h2Request(session, '/index.html', { headers: { 'if-none-match': etag } })).status,
    304,
  );
  const part = await h2Request(session, '/index.html', { headers: { range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.body.length, 10);
  return n + 2;
}

test('h2c (--http2): HTTP/1.1 and HTTP/2 on one port give the same answers on every route family', async () => {
  const server = await startTestServer({ http2: true, noSamples: false });
  const session = await h2Connect(server.url);
  try {
    const plain = await fetch(`${server.url}/slicer/system/version`);
    assert.equal(plain.status, 200, 'HTTP/1.1 still served beside h2c');
    const n = await compareWithHttp1(server, session);
    assert.ok(n >= 20);
    // A request body over HTTP/2: upload a volume, read it back byte for byte.
    const nrrd = Buffer.from(
      await (await fetch(`${server.url}/slicer/volume?id=CTHeadPhantom`)).arrayBuffer(),
    );
    const put = await h2Request(session, '/slicer/volume?name=ViaH2', {
      method: 'POST',
      body: nrrd,
    });
    assert.equal(put.status, 200, put.body.toString());
    const back = await h2Request(session, '/slicer/volume?id=ViaH2');
    assert.ok(back.body.equals(nrrd), 'the uploaded NRRD reads back exactly');
    assert.ok(
      server.lines.length === 0 || !server.lines.some((l) => /error/i.test(l)),
      server.lines.join('\n'),
    );
  } finally {
    session.close();
    await server.close();
  }
});

test('TLS: h2 and HTTP/1.1 offered by ALPN give the same answers', async () => {
  const dir = tempDir();
  const { key, cert } = makeCert(dir);
  const server = await startTestServer({ tlsCert: cert, tlsKey: key, noSamples: false });
  const ca = readFileSync(cert);
  const session = await h2Connect(server.url, { ca });
  try {
    assert.equal(session.alpnProtocol, 'h2');
    // HTTP/1.1 over TLS (fetch speaks only 1.1): compare through the same sweep.
    const https = await import('node:https');
    const get1 = (p: string) =>
      new Promise<{ status: number; type?: string; body: Buffer }>((resolve, reject) => {
        https
          .get(server.url + p, { ca, headers: { accept: '*/*' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                type: res.headers['content-type'],
                body: Buffer.concat(chunks),
              }),
            );
          })
          .on('error', reject);
      });
    for (const p of [
      '/slicer/system/version',
      '/slicer/volume?id=CTHeadPhantom',
      '/slicer/slice?view=red&size=128',
      '/dicom/studies',
      '/nope',
    ]) {
      const a = await get1(p);
      const b = await h2Request(session, p, { headers: { accept: '*/*' } });
      assert.equal(b.status, a.status, p);
      assert.equal(b.headers['content-type'], a.type, p);
      assert.ok(b.body.equals(a.body), p);
    }
  } finally {
    session.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const h2Options = (extra: Partial<ListenOptions> = {}): ListenOptions => ({
  host: '127.0.0.1',
  port: 0,
  portTries: 1,
  logger: silentLogger,
  http2: true,
  ...extra,
});

test('HTTP/2 limits: streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused, not run', async () => {
  let inFlight = 0;
  let peak = 0;
  const slow = async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 150));
    inFlight--;
    return new Response('ok');
  };
  const l = await listen(slow, h2Options({ maxConcurrentStreams: 4 }));
  const c = await RawH2.connect(l.port);
  try {
    const block = getHeaderBlock('/', `127.0.0.1:${l.port}`);
    for (let i = 0; i < 10; i++)
      c.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1 + 2 * i, block));
    await c.until(() => c.count(FRAME.HEADERS) + c.count(FRAME.RST_STREAM) >= 10);
    const refused = c.frames.filter(
      (f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === 7, // REFUSED_STREAM
    ).length;
    assert.equal(peak, 4, 'never more than 4 requests run at once');
    assert.equal(refused, 6, 'the 6 streams over the limit are refused (REFUSED_STREAM)');
    assert.equal(c.count(FRAME.HEADERS), 4, 'the 4 allowed streams are answered');
  } finally {
    c.close();
    await l.close();
  }
});

test('HTTP/2 limits: rapid reset (HEADERS + RST_STREAM flood) loses the session; others are served', async () => {
  let running = 0;
  let peak = 0;
  const app = async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 50));
    running--;
    return new Response('ok');
  };
  const l = await listen(app, h2Options({ maxConcurrentStreams: 16 }));
  const c = await RawH2.connect(l.port);
  try {
    const block = getHeaderBlock('/', `127.0.0.1:${l.port}`);
    for (let i = 0; i < 20_000 && !c.closed; i++) {
      const id = 1 + 2 * i;
      c.write(
        Buffer.concat([
          frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, block),
          rstStream(id),
        ]),
      );
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    assert.ok(await c.until(() => c.closed, 10_000), 'the server closes the connection');
    assert.ok(c.goaway() !== undefined, 'with a GOAWAY');
    // Reset streams free their protocol slots, but the app work they started is bounded by
    // twice the stream limit, however fast the client resets (and however slow the machine).
    assert.ok(peak <= 2 * 16, `at most 32 requests of the session ran at once (${peak})`);
    const other = await h2Connect(`http://127.0.0.1:${l.port}`);
    assert.equal((await h2Request(other, '/')).status, 200, 'another client is still served');
    other.close();
  } finally {
    c.close();
    await l.close();
  }
});

test('HTTP/2 limits: a header list over HTTP/1.1’s limit gets 431; an oversized block loses the session', async () => {
  const l = await listen(() => new Response('ok'), h2Options());
  const send = async (size: number) => {
    const c = await RawH2.connect(l.port);
    const block = getHeaderBlock('/', `127.0.0.1:${l.port}`, [['x-big', 'a'.repeat(size)]]);
    const parts: Buffer[] = [];
    for (let o = 0; o < block.length; o += 16_000) parts.push(block.subarray(o, o + 16_000));
    c.write(
      frame(
        FRAME.HEADERS,
        FLAG.END_STREAM | (parts.length === 1 ? FLAG.END_HEADERS : 0),
        1,
        parts[0],
      ),
    );
    for (let i = 1; i < parts.length; i++)
      c.write(
        frame(FRAME.CONTINUATION, i === parts.length - 1 ? FLAG.END_HEADERS : 0, 1, parts[i]),
      );
    await c.until(() => c.count(FRAME.HEADERS) > 0 || c.goaway() !== undefined);
    c.close();
    return c;
  };
  try {
    const small = await send(1000);
    assert.equal(small.count(FRAME.HEADERS), 1);
    const big = await send(40_000);
    const headers = big.frames.find((f) => f.type === FRAME.HEADERS);
    assert.ok(headers, 'answered');
    // :status 431 is not in HPACK's static table: a literal "431" follows the name index 8.
    assert.ok(headers.payload.includes(Buffer.from('431')), 'status 431');
    const huge = await send(100_000);
    assert.equal(huge.goaway(), 9, 'COMPRESSION_ERROR: nghttp2 refuses header blocks over 64 KiB');
    const ok = await h2Connect(`http://127.0.0.1:${l.port}`);
    assert.equal((await h2Request(ok, '/')).status, 200);
    ok.close();
  } finally {
    await l.close();
  }
});

test('HTTP/2 limits: a CONTINUATION flood loses the session', async () => {
  const l = await listen(() => new Response('ok'), h2Options());
  const c = await RawH2.connect(l.port);
  try {
    c.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, getHeaderBlock('/', `127.0.0.1:${l.port}`)));
    const header = Buffer.from([0x00, 1, 0x61, 1, 0x62]); // literal a: b, repeated forever
    for (let i = 0; i < 100_000 && !c.closed; i++) {
      c.write(frame(FRAME.CONTINUATION, 0, 1, header));
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    assert.ok(await c.until(() => c.closed, 10_000), 'the connection is closed');
    assert.ok(c.goaway() !== undefined, 'with a GOAWAY');
  } finally {
    c.close();
    await l.close();
  }
});

test('HTTP/2 limits: idle sessions are closed after the header timeout; garbage after the preface too', async () => {
  const l = await listen(() => new Response('ok'), h2Options({ headersTimeoutMs: 300 }));
  try {
    const idle = await RawH2.connect(l.port);
    assert.ok(await idle.until(() => idle.closed, 5000), 'an idle session is closed');
    const session = await h2Connect(`http://127.0.0.1:${l.port}`);
    const closed = h2Closed(session);
    assert.equal((await h2Request(session, '/')).status, 200);
    await closed; // closed once idle again
    // Garbage instead of frames after the preface.
    const bad = await RawH2.connect(l.port);
    bad.write(Buffer.from('\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff not a frame', 'latin1'));
    assert.ok(await bad.until(() => bad.closed, 5000), 'a malformed connection is closed');
    // A client that sends only part of the preface is cut too.
    const net = await import('node:net');
    const partial = net.connect(l.port, '127.0.0.1');
    partial.on('error', () => {});
    partial.write('PRI * HTTP/2');
    await new Promise<void>((resolve) => partial.once('close', () => resolve()));
  } finally {
    await l.close();
  }
});

test('HTTP/2: a slow request body is cut at the request timeout', async () => {
  const l = await listen(
    async (req) => new Response(String((await req.arrayBuffer()).byteLength)),
    h2Options({ requestTimeoutMs: 300 }),
  );
  const session = await h2Connect(`http://127.0.0.1:${l.port}`);
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/' });
    stream.write('partial body, never finished');
    const outcome = await new Promise<string>((resolve) => {
      stream.on('response', (h) => resolve(`status ${String(h[':status'])}`));
      stream.on('close', () => resolve(`closed ${stream.rstCode ?? ''}`));
      stream.on('error', () => {});
    });
    assert.match(outcome, /^closed 8$/, 'the stream is cancelled (CANCEL), not left open');
  } finally {
    session.destroy();
    await l.close();
  }
});

test('HTTP/2: connection-specific response headers are dropped instead of crashing the process', async () => {
  const app = () =>
    new Response('event: x\n\n', {
      headers: {
        'content-type': 'text/event-stream',
        connection: 'keep-alive',
        'transfer-encoding': 'chunked',
      },
    });
  const l = await listen(app, h2Options());
  const session = await h2Connect(`http://127.0.0.1:${l.port}`);
  try {
    const res = await h2Request(session, '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, undefined);
    assert.equal(res.body.toString(), 'event: x\n\n');
  } finally {
    session.close();
    await l.close();
  }
});

test('HTTP/2: graceful close lets a stream in flight finish and sends GOAWAY', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const l = await listen(async () => {
    entered();
    await gate;
    return new Response('finished');
  }, h2Options());
  const session = await h2Connect(`http://127.0.0.1:${l.port}`);
  session.on('error', () => {});
  const pending = h2Request(session, '/');
  await inside;
  const closing = l.close(5000);
  await new Promise((r) => setTimeout(r, 50));
  release();
  const res = await pending;
  assert.equal(res.body.toString(), 'finished');
  await closing;
});

test('HTTP/2: a viewer fetching hundreds of large frames at once on one connection gets them all', async () => {
  const frame256k = Buffer.alloc(256 * 1024, 7);
  const l = await listen(() => new Response(frame256k), h2Options());
  const session = await h2Connect(`http://127.0.0.1:${l.port}`);
  try {
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => h2Request(session, `/frame/${i}`)),
    );
    assert.ok(answers.every((a) => a.status === 200 && a.body.length === frame256k.length));
  } finally {
    session.close();
    await l.close();
  }
});
