/**
 * `/slicer/exec`: runs caller-supplied JavaScript in a worker thread (`src/workers/exec-worker.ts`)
 * inside a fresh `node:vm` context whose global `scene` is the documented API (`exec-api.ts`),
 * and collects `__execResult` (as Slicer's exec does) and console output. The worker is
 * terminated at the time limit, which stops endless loops and endless promise chains alike.
 * NOT a security boundary: code can escape node:vm, which is why exec is off by default and
 * needs a token.
 */
import { MessageChannel } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { startWorker } from '../workers/ts-worker.js';
import type { ExecReply, ExecWorkerMessage } from '../workers/exec-worker.js';

export interface ExecOutcome {
  /** `__execResult` after the script ran (JSON data). */
  result: unknown;
  /** Console lines the script printed, in order (`console.warn` lines are prefixed `warn:`). */
  console: string[];
  durationMs: number;
}

export interface ExecOptions {
  timeoutMs: number;
  /** The object scripts see as `scene`: its functions are called on the main thread. */
  api: Record<string, unknown>;
  maxConsoleChars?: number;
  /** Heap limit of the worker in MB. */
  maxHeapMb?: number;
}

/** Line (and column) of the script frame in an error stack, e.g. `exec.js:3:7`. */
export function scriptLocation(
  stack: string | undefined,
): { line: number; column?: number } | undefined {
  const m = stack ? /exec\.js:(\d+)(?::(\d+))?/.exec(stack) : null;
  return m ? { line: Number(m[1]), ...(m[2] ? { column: Number(m[2]) } : {}) } : undefined;
}

const WORKER_URL = new URL('../workers/exec-worker.ts', import.meta.url);

export function runExec(source: string, opts: ExecOptions): Promise<ExecOutcome> {
  const methods = Object.keys(opts.api).filter(
    (k) => typeof Object.getOwnPropertyDescriptor(opts.api, k)?.value === 'function',
  );
  const getters = Object.keys(opts.api).filter(
    (k) => Object.getOwnPropertyDescriptor(opts.api, k)?.get !== undefined,
  );
  const flagBuffer = new SharedArrayBuffer(4);
  const flag = new Int32Array(flagBuffer);
  const { port1, port2 } = new MessageChannel();

  return new Promise<ExecOutcome>((resolve, reject) => {
    const worker = startWorker(WORKER_URL, {
      workerData: {
        source,
        methods,
        getters,
        port: port2,
        flag: flagBuffer,
        maxConsoleChars: opts.maxConsoleChars ?? 1_000_000,
      },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: opts.maxHeapMb ?? 1024 },
      stdout: true,
      stderr: true,
    });
    let started = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      port1.close();
      void worker.terminate();
      f();
    };
    // Generous start-up allowance (loading the worker), then the script's own limit.
    const startupTimer = setTimeout(
      () =>
        finish(() =>
          reject(new AppError('busy', 'exec worker did not start in time', { retryAfter: 1 })),
        ),
      30_000,
    );

    port1.on('message', (msg: { method: string; args: unknown[] }) => {
      let reply: ExecReply;
      try {
        const member = opts.api[msg.method];
        const value =
          typeof member === 'function'
            ? (member as (...a: unknown[]) => unknown).apply(opts.api, msg.args)
            : member;
        reply = { value };
      } catch (e) {
        const err = e as { message?: string; name?: string };
        reply = {
          error: {
            message: err.message ?? String(e),
            name: err.name === 'AppError' ? 'Error' : (err.name ?? 'Error'),
          },
        };
      }
      try {
        port1.postMessage(reply);
      } catch (e) {
        port1.postMessage({
          error: {
            name: 'DataCloneError',
            message: `result of scene.${msg.method} cannot be passed to the script: ${(e as Error).message}`,
          },
        } satisfies ExecReply);
      }
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });

    worker.on('message', (m: ExecWorkerMessage) => {
      if (m.type === 'started') {
        clearTimeout(startupTimer);
        started = performance.now();
        timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new AppError(
                  'bad_request',
                  `exec script ran longer than the time limit (${opts.timeoutMs} ms) and was stopped`,
                  { kind: 'timeout' },
                ),
              ),
            ),
          opts.timeoutMs,
        );
      } else if (m.type === 'done') {
        finish(() =>
          resolve({
            result: m.resultJson === null ? null : JSON.parse(m.resultJson),
            console: m.console,
            durationMs: performance.now() - started,
          }),
        );
      } else {
        const where = scriptLocation(m.stack);
        const message =
          m.name === 'ResultError'
            ? m.message
            : `${m.name} in exec script${where ? ` at line ${where.line}` : ''}: ${m.message}`;
        finish(() =>
          reject(new AppError('bad_request', message, { kind: 'error', ...(where ?? {}) })),
        );
      }
    });
    worker.on('error', (e) => {
      clearTimeout(startupTimer);
      const limit = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish(() =>
        reject(
          new AppError(
            'bad_request',
            limit
              ? 'exec script ran out of memory and was stopped'
              : `exec script failed: ${e.message}`,
          ),
        ),
      );
    });
    worker.on('exit', (code) => {
      clearTimeout(startupTimer);
      finish(() =>
        reject(
          new AppError('bad_request', `exec script ended without a result (exit code ${code})`),
        ),
      );
    });
  });
}
