/** The real CLI as a child process: help, bad options, startup line, fallback, SIGTERM with a download in flight. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { tempDir } from '../helpers/app.js';

const MAIN = path.join(PACKAGE_ROOT, 'src', 'main.ts');
const node = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, VOXELGATE_PORT: '' },
  });

test('--help prints every option and exits 0; --version prints the version', () => {
  const help = node(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--port N/);
  assert.match(help.stdout, /VOXELGATE_PORT_TRIES/);
  const version = node(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('an unknown option exits 2 with a hint', () => {
  const r = node(['--frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /frobnicate/);
  assert.match(r.stderr, /--help/);
});

function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => reject(new Error(`timeout waiting for ${re}; got: ${buf}`)),
      timeoutMs,
    );
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.split('\n').find((l) => re.test(l));
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${re}; got: ${buf}`)));
  });
}

function occupy(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

test('startup line, port fallback past a taken port, and SIGTERM finishing a download in flight', async () => {
  const dir = tempDir();
  const docroot = path.join(dir, 'www');
  mkdirSync(docroot);
  const big = Buffer.alloc(64 * 1024 * 1024, 7);
  writeFileSync(path.join(docroot, 'big.bin'), big);
  let blocker: net.Server | undefined;
  let base = 0;
  for (let i = 0; i < 20 && !blocker; i++) {
    base = 40000 + Math.floor(Math.random() * 20000);
    blocker = await occupy(base).catch(() => undefined);
  }
  assert.ok(blocker);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      '--port',
      String(base),
      '--docroot',
      docroot,
      '--data',
      path.join(dir, 'data'),
      '--no-samples',
    ],
    { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const line = await waitForLine(child, /listening on/);
    const port = Number(/:(\d+)\//.exec(line)![1]);
    assert.ok(port > base && port < base + 20, line);
    assert.match(line, new RegExp(`http://127\\.0\\.0\\.1:${port}/`));

    // Start a download, read a little, then signal the server while the body is still flowing.
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/big.bin`, (res) => {
          let n = 0;
          let signalled = false;
          res.on('data', (d: Buffer) => {
            n += d.length;
            if (!signalled) {
              signalled = true;
              res.pause();
              child.kill('SIGTERM');
              setTimeout(() => res.resume(), 300);
            }
          });
          res.on('end', () => resolve(n));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    assert.equal(received, big.length);
    const code = await new Promise<number | null>((r) =>
      child.exitCode !== null ? r(child.exitCode) : child.once('exit', r),
    );
    assert.equal(code, 0);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => blocker.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
