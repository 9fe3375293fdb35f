/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary folder and
 * `pg_ctl start` on a free loopback port, as an unprivileged user when run as root (PostgreSQL
 * refuses to run as root). No mock: Debian's `postgresql` package (apt-get install postgresql);
 * binaries from PATH or /usr/lib/postgresql/<newest>/bin. Tests call `postgresSkipReason()` first;
 * `.ci/run` sets VOXELGATE_REQUIRE_POSTGRES=1 so a missing server fails there instead of skipping.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

function binDir(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  // /usr/local/bin may hold symlinks to initdb and pg_ctl alone: use the folder they point into.
  const real = onPath ? path.dirname(realpathSync(onPath)) : undefined;
  if (real && existsSync(path.join(real, 'pg_ctl')) && existsSync(path.join(real, 'createdb')))
    return real;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  const reason = binDir()
    ? undefined
    : 'PostgreSQL server binaries (initdb, pg_ctl) not found (apt-get install postgresql)';
  if (reason && process.env.VOXELGATE_REQUIRE_POSTGRES === '1')
    throw new Error(`VOXELGATE_REQUIRE_POSTGRES=1 but ${reason}`);
  return reason;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface PgCluster {
  /** Connection URL of the `postgres` database as the trusted superuser `voxelgate`. */
  url: string;
  port: number;
  /** A URL for a fresh, empty database in this cluster. */
  createDatabase(name: string): string;
  stop(): void;
}

/** Starts a private cluster (trust auth, loopback only, fsync on). */
export async function startPostgres(): Promise<PgCluster> {
  const bin = binDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voxelgate-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  // initdb and postgres refuse root: run them as the `postgres` user if it exists, else nobody.
  const user = asRoot
    ? spawnSync('id', ['-u', 'postgres']).status === 0
      ? 'postgres'
      : 'nobody'
    : undefined;
  if (user) {
    const uid = Number(execFileSync('id', ['-u', user]).toString());
    const gid = Number(execFileSync('id', ['-g', user]).toString());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) =>
    user
      ? execFileSync('runuser', ['-u', user, '--', path.join(bin, cmd), ...args], {
          stdio: 'pipe',
        })
      : execFileSync(path.join(bin, cmd), args, { stdio: 'pipe' });
  run('initdb', ['-D', data, '-U', 'voxelgate', '--auth=trust', '-E', 'UTF8', '--no-locale']);
  const port = await freePort();
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    path.join(dir, 'log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB`,
    'start',
  ]);
  const url = (db: string) => `postgres://voxelgate@127.0.0.1:${port}/${db}`;
  let stopped = false;
  return {
    url: url('postgres'),
    port,
    createDatabase(name) {
      run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'voxelgate', name]);
      return url(name);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let shared: Promise<PgCluster> | undefined;
let databases = 0;

/**
 * One cluster per test process (started on first use, stopped when the process exits): tests
 * share it and take a fresh database each (`freshDatabase`), so a test file pays the cluster
 * start once.
 */
export function sharedPostgres(): Promise<PgCluster> {
  if (!shared) {
    shared = startPostgres();
    void shared.then((c) => process.once('exit', () => c.stop()));
  }
  return shared;
}

/** A fresh, empty database in the shared cluster. */
export async function freshDatabase(prefix = 't'): Promise<string> {
  const c = await sharedPostgres();
  return c.createDatabase(`${prefix}_${process.pid}_${++databases}`);
}
