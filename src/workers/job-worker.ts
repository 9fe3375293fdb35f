/**
 * Job worker (piscina): runs one processing function (built-in or plug-in module) off the event
 * loop. Talks to the job manager over the task's MessagePort (progress, volume requests), reads
 * cancellation from a shared flag at every progress point (a busy synchronous loop never sees
 * port messages), and returns the function's value plus the staged scene changes.
 */
import { pathToFileURL } from 'node:url';
import { BUILTINS } from '../jobs/builtins.js';
import { pickFunction } from '../jobs/plugins.js';
import type {
  FunctionDefinition,
  JobContext,
  MainMessage,
  SegmentationInput,
  StagedOp,
  VolumeInput,
  WorkerMessage,
  WorkerResult,
  WorkerTask,
} from '../jobs/types.js';

/** Progress messages are coalesced to at most one per this many ms (the last one always goes). */
const PROGRESS_INTERVAL_MS = 50;

function abortError(): Error {
  const e = new Error('the job was cancelled');
  e.name = 'AbortError';
  return e;
}

async function findFunction(task: WorkerTask): Promise<FunctionDefinition> {
  if (!task.moduleUrl) {
    const fn = BUILTINS.find((f) => f.name === task.function);
    if (!fn) throw new Error(`no built-in function ${task.function}`);
    return fn;
  }
  const url = task.moduleUrl.startsWith('file:')
    ? task.moduleUrl
    : pathToFileURL(task.moduleUrl).href;
  return pickFunction((await import(url)) as Record<string, unknown>, task.function);
}

export default async function runJob(task: WorkerTask): Promise<WorkerResult> {
  const { port, cancelFlag } = task;
  const post = (m: WorkerMessage) => port.postMessage(m);
  const controller = new AbortController();
  const pending = new Map<
    number,
    { resolve: (v: VolumeInput & SegmentationInput) => void; reject: (e: Error) => void }
  >();
  let nextRequest = 1;
  port.on('message', (m: MainMessage) => {
    if (m.type === 'cancel') controller.abort(abortError());
    else if (m.type === 'volume') {
      const p = pending.get(m.requestId);
      pending.delete(m.requestId);
      if (!p) return;
      if (m.volume || m.segmentation)
        p.resolve((m.volume ?? m.segmentation) as VolumeInput & SegmentationInput);
      else {
        const e = new Error(m.error?.message ?? 'volume request failed');
        (e as Error & { code?: string }).code = m.error?.code;
        p.reject(e);
      }
    }
  });
  const cancelled = () => Atomics.load(cancelFlag, 0) === 1 || controller.signal.aborted;
  const checkCancelled = () => {
    if (cancelled()) {
      if (!controller.signal.aborted) controller.abort(abortError());
      throw abortError();
    }
  };

  const staged: StagedOp[] = [];
  let tempCount = 0;
  let lastSent = 0;
  let lastProgress = -1;
  const ctx: JobContext = {
    jobId: task.jobId,
    jobName: task.jobName,
    signal: controller.signal,
    progress(fraction, message) {
      checkCancelled();
      let f = Number(fraction);
      if (!Number.isFinite(f)) f = 0;
      f = Math.min(1, Math.max(0, f));
      const now = Date.now();
      if (now - lastSent < PROGRESS_INTERVAL_MS && f < 1 && f - lastProgress < 0.1) return;
      lastSent = now;
      lastProgress = f;
      post({
        type: 'progress',
        progress: f,
        ...(message !== undefined ? { message: String(message) } : {}),
      });
    },
    checkCancelled,
    volume(ref) {
      checkCancelled();
      const requestId = nextRequest++;
      return new Promise<VolumeInput>((resolve, reject) => {
        pending.set(requestId, { resolve: resolve, reject });
        post({ type: 'volume', requestId, ...(ref !== undefined ? { ref } : {}) });
      });
    },
    segmentation(ref) {
      checkCancelled();
      const requestId = nextRequest++;
      return new Promise<SegmentationInput>((resolve, reject) => {
        pending.set(requestId, { resolve: resolve, reject });
        post({ type: 'segmentation', requestId, ref });
      });
    },
    addSegmentation(out) {
      const tempId = `staged:${++tempCount}`;
      staged.push({ op: 'addSegmentation', tempId, out });
      return tempId;
    },
    addVolume(out) {
      const tempId = `staged:${++tempCount}`;
      staged.push({ op: 'addVolume', tempId, out });
      return tempId;
    },
    addTransform(out) {
      const tempId = `staged:${++tempCount}`;
      staged.push({ op: 'addTransform', tempId, out });
      return tempId;
    },
    addModel(out) {
      const tempId = `staged:${++tempCount}`;
      staged.push({ op: 'addModel', tempId, out });
      return tempId;
    },
    addTable(out) {
      const tempId = `staged:${++tempCount}`;
      staged.push({ op: 'addTable', tempId, out });
      return tempId;
    },
    setParent(nodeId, parentTransformID) {
      staged.push({ op: 'setParent', nodeId, parentTransformID });
    },
    log(message) {
      post({ type: 'log', message: String(message) });
    },
  };

  try {
    const fn = await findFunction(task);
    post({ type: 'started' });
    checkCancelled();
    let out = fn.run(ctx, task.params);
    if (isAsyncIterator(out)) {
      // An async generator: each yield is progress; its return value is the result.
      const it = out;
      for (;;) {
        checkCancelled();
        const step = await it.next();
        if (step.done) {
          out = step.value;
          break;
        }
        const { progress, message } = progressOfYield(step.value);
        ctx.progress(progress, message);
      }
    } else out = await out;
    checkCancelled();
    return { values: out === undefined ? undefined : out, staged };
  } catch (e) {
    return { staged: [], error: errorOf(e) };
  } finally {
    for (const p of pending.values()) p.reject(abortError());
    port.close();
  }
}

function isAsyncIterator(x: unknown): x is AsyncIterator<unknown> {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as AsyncIterator<unknown>).next === 'function' &&
    Symbol.asyncIterator in x
  );
}

/** A yield → progress: a number, or `{progress, message}`; above 1 is percent (VolView yields 0..100). */
export function progressOfYield(y: unknown): { progress: number; message?: string } {
  const asFraction = (n: number) => (n > 1 ? n / 100 : n);
  if (typeof y === 'number') return { progress: asFraction(y) };
  if (typeof y === 'object' && y !== null) {
    const o = y as { progress?: unknown; message?: unknown };
    const p = typeof o.progress === 'number' ? asFraction(o.progress) : 0;
    const msg = typeof o.message === 'string' ? o.message : JSON.stringify(y);
    return { progress: p, message: msg };
  }
  return { progress: 0, message: String(y) };
}

/** A thrown value as `{code, message}` (Error subclasses and custom props do not survive cloning). */
function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof Error) {
    if (e.name === 'AbortError') return { code: 'cancelled', message: e.message };
    const code = (e as Error & { code?: unknown }).code;
    return {
      code: typeof code === 'string' && /^[a-z_]+$/.test(code) ? code : 'function_error',
      message: e.message || e.name,
    };
  }
  if (typeof e === 'number') return { code: 'function_error', message: `native exception ${e}` };
  return { code: 'function_error', message: String(e) };
}
