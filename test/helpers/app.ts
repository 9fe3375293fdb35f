/** Test helpers: an in-process app with a temporary data folder, and real-socket servers. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { Hono } from 'hono';
import { createApp } from '../../src/server/app.js';
import { defaultConfig, type Config } from '../../src/server/config.js';
import { closeContext, createContext, type AppContext } from '../../src/server/context.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { startServer, type Running } from '../../src/server/cli.js';

export function tempDir(prefix = 'voxelgate-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * The archive backend tests run on: SQLite by default; VOXELGATE_TEST_INDEX=postgres puts the
 * index in a fresh database of a throwaway cluster (test/helpers/postgres.ts), with the files
 * where VOXELGATE_TEST_STORAGE says (`postgres`, the default then, or `fs`). The DICOMweb suite
 * runs under both (test/dicom/backends.test.ts).
 */
export async function backendOverrides(overrides: Partial<Config> = {}): Promise<Partial<Config>> {
  if (process.env.VOXELGATE_TEST_INDEX !== 'postgres' || overrides.index) return {};
  const { freshDatabase } = await import('./postgres.js');
  return {
    index: await freshDatabase(),
    storage: process.env.VOXELGATE_TEST_STORAGE ?? 'postgres',
  };
}

export interface TestApp {
  app: Hono;
  ctx: AppContext;
  dataDir: string;
  close(): Promise<void>;
}

/** An app built in-process (no socket) over a fresh temporary data folder. */
export async function makeTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const dataDir = overrides.data ?? tempDir();
  const ctx = createContext(
    defaultConfig({
      docroot: path.join(PACKAGE_ROOT, 'docroot'),
      data: dataDir,
      ...(await backendOverrides(overrides)),
      ...overrides,
    }),
  );
  if (ctx.archive && ctx.config.index) await ctx.openArchive!();
  const app = createApp(ctx);
  return {
    app,
    ctx,
    dataDir,
    close: async () => {
      await closeContext(ctx);
      if (!overrides.data) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `fn` with a fresh in-process app and always closes it (replaces the
 * `const t = await makeTestApp(); try { … } finally { await t.close(); }` copies).
 */
export async function withTestApp<T>(
  overrides: Partial<Config>,
  fn: (t: TestApp) => Promise<T>,
): Promise<T> {
  const t = await makeTestApp(overrides);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

/**
 * One app shared by the tests of a file (or `describe` block): made in `before`, closed in
 * `after`. Tests that share it arrange the state they need themselves (clear the scene, set the
 * view) instead of relying on what an earlier test left behind.
 */
export function useTestApp(overrides: Partial<Config> = {}): TestApp {
  let current: TestApp | undefined;
  before(async () => {
    current = await makeTestApp(overrides);
  });
  after(async () => {
    await current?.close();
  });
  const get = (): TestApp => {
    if (!current) throw new Error('useTestApp: the app exists only inside tests (after `before`)');
    return current;
  };
  return {
    get app() {
      return get().app;
    },
    get ctx() {
      return get().ctx;
    },
    get dataDir() {
      return get().dataDir;
    },
    close: () => get().close(),
  };
}

/** Runs `fn` with a real server on an ephemeral port and always stops it. */
export async function withTestServer<T>(
  overrides: Partial<Config>,
  fn: (s: TestServer) => Promise<T>,
): Promise<T> {
  const s = await startTestServer(overrides);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

export interface TestServer extends Running {
  url: string;
  dataDir: string;
  lines: string[];
  close(): Promise<void>;
}

/** A real server on 127.0.0.1 with an ephemeral port unless `port` is given. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = overrides.data ?? tempDir();
  const lines: string[] = [];
  const running = await startServer(
    defaultConfig({
      docroot: path.join(PACKAGE_ROOT, 'docroot'),
      data: dataDir,
      ...(await backendOverrides(overrides)),
      ...overrides,
    }),
    { out: (l) => lines.push(l), err: (l) => lines.push(l) },
  );
  return {
    ...running,
    url: running.listening.url.replace(/\/$/, ''),
    dataDir,
    lines,
    close: async () => {
      await running.stop('test done');
      if (!overrides.data) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** supertest parser that collects a binary body into a Buffer. */
export function binaryParser(
  res: NodeJS.ReadableStream,
  cb: (err: Error | null, body: Buffer) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (d: Buffer) => chunks.push(d));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
  res.on('error', (e: Error) => cb(e, Buffer.alloc(0)));
}

/** Sends a raw HTTP/1.1 request (exact request-target, no client normalisation). */
export async function rawRequest(
  port: number,
  requestTarget: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: string; body: string }> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      const host = Object.keys(headers).some((k) => k.toLowerCase() === 'host')
        ? ''
        : `Host: 127.0.0.1:${port}\r\n`;
      socket.write(
        `${method} ${requestTarget} HTTP/1.1\r\n${host}Connection: close\r\n${extra}\r\n`,
      );
    });
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split >= 0 ? text.slice(0, split) : text;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body: split >= 0 ? text.slice(split + 4) : '' });
    });
  });
}
