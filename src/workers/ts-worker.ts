/**
 * Starts a worker thread from a module URL. Our sources are TypeScript run through tsx; a `.ts`
 * worker starts through `ts-bootstrap.mjs`, which registers tsx inside the worker first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOTSTRAP = new URL('./ts-bootstrap.mjs', import.meta.url);

export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const argv = (options.argv ?? []) as unknown[];
  return new Worker(BOOTSTRAP, { ...options, argv: [url.href, ...argv] });
}
