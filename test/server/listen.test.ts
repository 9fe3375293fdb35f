import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { listen, PortsExhaustedError } from '../../src/server/listen.js';
import { silentLogger } from '../../src/server/logger.js';
import { startTestServer, tempDir } from '../helpers/app.js';
import { makeCert } from '../helpers/tls.js';

/** Occupies a port on 127.0.0.1 (resolves with a closer). */
function occupy(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** Finds a base port in the high range where base..base+span-1 are all free. */
async function freeRun(span: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40000 + Math.floor(Math.random() * 20000);
    const held: net.Server[] = [];
    try {
      for (let p = base; p < base + span; p++) held.push(await occupy(p));
      return base;
    } catch {
      /* taken: try another base */
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no free port run found');
}

const ok = () => new Response('ok');

test('port fallback: with base, base+1 and base+2 taken it binds base+3 (same logic as 2016 → 2019)', async () => {
  const base = await freeRun(4);
  const blockers = await Promise.all([occupy(base), occupy(base + 1), occupy(base + 2)]);
  try {
    const l = await listen(ok, {
      host: '127.0.0.1',
      port: base,
      portTries: 20,
      logger: silentLogger,
    });
    assert.equal(l.port, base + 3);
    assert.equal(l.url, `http://127.0.0.1:${base + 3}/`);
    const res = await fetch(l.url);
    assert.equal(await res.text(), 'ok');
    await l.close();
  } finally {
    await Promise.all(blockers.map((s) => new Promise((r) => s.close(r))));
  }
});

test('port fallback gives up after --port-tries ports with a clear error', async () => {
  const base = await freeRun(2);
  const blockers = await Promise.all([occupy(base), occupy(base + 1)]);
  try {
    await assert.rejects(
      listen(ok, { host: '127.0.0.1', port: base, portTries: 2, logger: silentLogger }),
      (e: unknown) =>
        e instanceof PortsExhaustedError && (e as Error).message.includes('are all in use'),
    );
  } finally {
    await Promise.all(blockers.map((s) => new Promise((r) => s.close(r))));
  }
});

test('port 0 binds an ephemeral port', async () => {
  const l = await listen(ok, { host: '127.0.0.1', port: 0, portTries: 20, logger: silentLogger });
  assert.ok(l.port > 0);
  await l.close();
});

test('a bind error other than address-in-use is reported, not retried', async () => {
  await assert.rejects(
    listen(ok, { host: '192.0.2.123', port: 0, portTries: 5, logger: silentLogger }),
    (e: unknown) => (e as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL',
  );
});

test('HTTPS with a certificate made in the test', async () => {
  const dir = tempDir();
  const { key, cert } = makeCert(dir);
  const server = await startTestServer({ tlsCert: cert, tlsKey: key });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(server.url)
      .get('/slicer/system/version')
      .ca(await import('node:fs').then((fs) => fs.readFileSync(cert)));
    assert.equal(res.status, 200);
    assert.equal(res.body.applicationName, 'voxelgate');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('graceful close: a request in flight finishes, new connections are refused', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const slow = async () => {
    entered();
    await gate;
    return new Response('finished');
  };
  const l = await listen(slow, { host: '127.0.0.1', port: 0, portTries: 1, logger: silentLogger });
  const pending = fetch(l.url).then((r) => r.text());
  await inside;
  assert.equal(l.inFlight(), 1);
  const closing = l.close(5000);
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(
    new Promise((resolve, reject) => {
      const req = http.get(l.url, resolve);
      req.on('error', reject);
    }),
  );
  release();
  assert.equal(await pending, 'finished');
  await closing;
});

test('startup line names the bound URL and --port-file receives the port', async () => {
  const dir = tempDir();
  const portFile = path.join(dir, 'port');
  writeFileSync(portFile, 'stale');
  const server = await startTestServer({ portFile });
  try {
    const line = server.lines.find((l) => l.includes('listening on'));
    assert.ok(line, server.lines.join('\n'));
    assert.ok(line.includes(`http://127.0.0.1:${server.listening.port}/`));
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(portFile, 'utf8').trim(), String(server.listening.port));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
