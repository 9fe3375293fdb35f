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

/**
 * execArgv for a worker pool whose worker is a `.ts` module: workers inherit `--import tsx` from
 * the parent (npm start, node --test); when the parent was started without it, add it.
 */
export function tsWorkerExecArgv(): string[] {
  const hasTsx = process.execArgv.some(
    (a, i, all) =>
      a.includes('tsx') &&
      (all[i - 1] === '--import' || a.startsWith('--import=') || a.startsWith('--loader')),
  );
  return hasTsx ? process.execArgv : [...process.execArgv, '--import', 'tsx'];
}
