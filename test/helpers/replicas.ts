/**
 * Archive replicas as child server processes and a small round-robin HTTP proxy (loopback only),
 * for the replica tests and the scale benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PACKAGE_ROOT } from '../../src/util/package.js';

export interface Replica {
  url: string;
  child: ChildProcess;
  dir: string;
  /** SIGKILL (if running) and remove its data folder. */
  kill(): Promise<void>;
}

/**
 * Starts `voxelgate --no-slicer --no-samples` on an ephemeral loopback port. With `index` a
 * postgres:// URL (and `storage`, default postgres); without, the SQLite archive in `data`.
 */
export async function startReplicaProcess(
  index: string | undefined,
  opts: { storage?: string; data?: string } = {},
): Promise<Replica> {
  const dir = opts.data ?? mkdtempSync(path.join(os.tmpdir(), 'vg-replica-'));
  const portFile = path.join(dir, `port-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const args = [
    '--import',
    'tsx',
    path.join(PACKAGE_ROOT, 'src/main.ts'),
    '--port',
    '0',
    '--port-file',
    portFile,
    '--data',
    dir,
    '--no-slicer',
    '--no-samples',
    '--quiet',
  ];
  if (index) args.push('--index', index, '--storage', opts.storage ?? 'postgres');
  const child = spawn(process.execPath, args, {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const port = () => (existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '');
  for (let i = 0; i < 1200 && !port(); i++) {
    if (child.exitCode !== null) throw new Error(`replica exited: ${err}`);
    await sleep(100);
  }
  const url = `http://127.0.0.1:${port()}`;
  return {
    url,
    child,
    dir,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      if (!opts.data) rmSync(dir, { recursive: true, force: true });
      else rmSync(portFile, { force: true });
    },
  };
}

/** Round robin over live backends; a backend that refuses a connection is dropped. */
export async function startProxy(
  backends: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const live = [...backends];
  let next = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    if (live.length === 0) {
      res.writeHead(502).end();
      return;
    }
    const target = new URL(live[next++ % live.length]!);
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        r.on('error', () => res.destroy());
      },
    );
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') {
        const i = live.indexOf(target.origin);
        if (i >= 0) live.splice(i, 1);
      }
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
