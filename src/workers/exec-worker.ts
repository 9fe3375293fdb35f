/**
 * Worker side of `/slicer/exec`: runs the script in a fresh vm context inside this worker, so the
 * main thread can stop it at any time (`worker.terminate()`), including endless loops and endless
 * promise chains. The global `scene` forwards each call synchronously to the main thread:
 * post the call on a MessagePort, block on a shared flag, then read the reply with
 * `receiveMessageOnPort`. Volume arrays in shared memory arrive shared, so edits are visible.
 */
import vm from 'node:vm';
import { format } from 'node:util';
import {
  parentPort,
  receiveMessageOnPort,
  workerData,
  type MessagePort,
} from 'node:worker_threads';

interface Input {
  source: string;
  methods: string[];
  getters: string[];
  port: MessagePort;
  flag: SharedArrayBuffer;
  maxConsoleChars: number;
}

export interface ExecReply {
  value?: unknown;
  error?: { message: string; name: string };
}

export type ExecWorkerMessage =
  | { type: 'started' }
  | { type: 'done'; resultJson: string | null; console: string[] }
  | { type: 'failed'; name: string; message: string; stack?: string; console: string[] };

const input = workerData as Input;
const flag = new Int32Array(input.flag);

function call(method: string, args: unknown[]): unknown {
  Atomics.store(flag, 0, 0);
  input.port.postMessage({ method, args });
  for (;;) {
    Atomics.wait(flag, 0, 0, 1000);
    const got = receiveMessageOnPort(input.port);
    if (got) {
      const reply = got.message as ExecReply;
      if (reply.error)
        throw Object.assign(new Error(reply.error.message), { name: reply.error.name });
      return reply.value;
    }
  }
}

const scene: Record<string, unknown> = {};
for (const m of input.methods) scene[m] = (...args: unknown[]) => call(m, args);
for (const g of input.getters)
  Object.defineProperty(scene, g, { get: () => call(g, []), enumerable: true });

const lines: string[] = [];
let chars = 0;
const push =
  (prefix: string) =>
  (...args: unknown[]) => {
    if (chars >= input.maxConsoleChars) return;
    const text = prefix + format(...args);
    chars += text.length;
    lines.push(
      chars > input.maxConsoleChars
        ? text.slice(0, text.length - (chars - input.maxConsoleChars)) + ' …(truncated)'
        : text,
    );
  };
const sandboxConsole = {
  log: push(''),
  info: push(''),
  debug: push(''),
  warn: push('warn: '),
  error: push('error: '),
};
const context = vm.createContext(
  { scene, console: sandboxConsole, print: sandboxConsole.log },
  { name: 'voxelgate exec', codeGeneration: { strings: false, wasm: false } },
);
vm.runInContext('var __execResult = {};', context);

const post = (m: ExecWorkerMessage) => parentPort!.postMessage(m);
interface ErrorLike {
  name?: unknown;
  message?: unknown;
  stack?: unknown;
}
const fail = (e: unknown) => {
  const err = (e ?? {}) as ErrorLike;
  post({
    type: 'failed',
    name: typeof err.name === 'string' ? err.name : 'Error',
    message: typeof err.message === 'string' ? err.message : String(e),
    stack: typeof err.stack === 'string' ? err.stack : undefined,
    console: lines,
  });
};

post({ type: 'started' });
try {
  const script = new vm.Script(input.source, { filename: 'exec.js' });
  const value: unknown = script.runInContext(context);
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  )
    await (value as PromiseLike<unknown>);
  const result = vm.runInContext('__execResult', context) as unknown;
  let json: string | undefined;
  try {
    json = JSON.stringify(result ?? null);
  } catch (e) {
    throw Object.assign(
      new Error(`__execResult is not JSON-serializable: ${(e as Error).message}`),
      { name: 'ResultError' },
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify returns undefined for a function, despite its type
  post({ type: 'done', resultJson: json ?? null, console: lines });
} catch (e) {
  fail(e);
}
