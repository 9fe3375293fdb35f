/**
 * `/slicer/exec`. Off unless `--enable-exec` (404 saying how to enable). When on: POST only, and a
 * bearer token (the auth guard checks it; this handler refuses to run at all without a configured
 * token). A GET with `?source=` — a request any web page can send without a CORS preflight — is
 * refused. The body is JavaScript: `application/javascript`/`text/javascript`, or `text/plain`
 * (what Slicer clients send) once the request carries the token, since a page that does not know
 * the token cannot use it. One audit-log line per call.
 *
 * The reply is the bare `JSON.stringify(__execResult)`, as Slicer's `json.dumps(__execResult)`
 * (`{}` when the script sets nothing); console lines go in `X-Exec-Console` (JSON array, ASCII,
 * at most 8 KiB: later lines are dropped and counted in `X-Exec-Console-Dropped`) and the run
 * time in `Server-Timing: exec;dur=…`.
 *
 * A body that is clearly Python (Slicer's exec language) gets a 400 that says exec runs
 * JavaScript and where the docs are, before any other check, so the first answer already says it.
 */
import { createHash } from 'node:crypto';
import vm from 'node:vm';
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import { createExecApi } from '../../scene/exec-api.js';
import { runExec } from '../../scene/exec.js';
import type { AppContext } from '../../server/context.js';
import { readBody } from '../body.js';
import { remoteAddress } from '../request.js';
import { requestToken } from '../guards.js';
import { persist } from './volumes.js';

const JS_TYPES = /^(application|text)\/(javascript|ecmascript|x-javascript)\s*(;|$)/i;
const PLAIN = /^text\/plain\s*(;|$)/i;

function ensureEnabled(ctx: AppContext): void {
  if (!ctx.config.enableExec) {
    throw new AppError(
      'not_found',
      "/slicer/exec is disabled; start voxelgate with --enable-exec to enable it (this gives callers the server account's power)",
    );
  }
  if (!ctx.config.token)
    throw new AppError('forbidden', '/slicer/exec needs a token; start voxelgate with --token');
}

export const refuseExecGet = (ctx: AppContext) => (c: Context) => {
  ensureEnabled(ctx);
  throw new AppError(
    'method_not_allowed',
    `${c.req.method} /slicer/exec (e.g. ?source=) is refused because any web page could trigger it; POST the code with Content-Type: application/javascript`,
    { allow: ['POST', 'OPTIONS'] },
  );
};

/** Python markers that are never JavaScript (or name Slicer's Python API, absent here). */
const PYTHON_MARKERS = [
  /^\s*(import\s+[\w.]+(\s+as\s+\w+)?|from\s+[\w.]+\s+import\s+[\w*(]+)/m,
  /^\s*(def|class)\s+\w+.*:\s*$/m,
  /^\s*(if|elif|else|for|while|try|except|finally|with)\b[^{;]*:\s*(#.*)?$/m,
  /\bprint\s*\(/,
];

/** Slicer's Python modules as scripts use them (`slicer.util.…`, `qt.QTimer`, `vtk.vtkMatrix4x4`). */
const SLICER_PYTHON_API =
  /\b(slicer\.(util|app|mrmlScene|modules|vtkMRML\w*|qMRML\w*|qSlicer\w*)|qt\.Q\w+|vtk\.vtk\w+|ctk\.ctk\w+)\b/;

/** Whether a source is Python rather than JavaScript: it does not compile as JS, or uses Slicer's Python API. */
export function looksLikePython(source: string): boolean {
  let compiles = true;
  try {
    // Compiled only (never run) in the main thread, to tell the languages apart.
    new vm.Script(`(async () => {\n${source}\n})`);
  } catch {
    compiles = false;
  }
  if (SLICER_PYTHON_API.test(source)) return true;
  return !compiles && PYTHON_MARKERS.some((re) => re.test(source));
}

/** ASCII-only JSON for a header value. */
const headerJson = (v: unknown) =>
  JSON.stringify(v).replace(
    // eslint-disable-next-line no-control-regex -- escaping control characters is the point
    /[\u0000-\u001f\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** Largest `X-Exec-Console` value: HTTP clients refuse big header blocks (undici: 16 KiB in all). */
const CONSOLE_HEADER_MAX = 8 * 1024;

/** The console lines as a header; the last lines are dropped past the cap (and counted). */
export function consoleHeaders(lines: string[]): Record<string, string> {
  let kept = lines.length;
  let value = headerJson(lines);
  while (value.length > CONSOLE_HEADER_MAX && kept > 0) {
    kept = Math.max(0, Math.min(kept - 1, Math.floor((kept * CONSOLE_HEADER_MAX) / value.length)));
    value = headerJson(lines.slice(0, kept));
  }
  const out: Record<string, string> = { 'x-exec-console': value };
  if (kept < lines.length) out['x-exec-console-dropped'] = String(lines.length - kept);
  return out;
}

export const postExec = (ctx: AppContext) => async (c: Context) => {
  const type = c.req.header('content-type') ?? '';
  const source = (await readBody(c, ctx.config.limits.exec)).toString('utf8');
  if (source.trim() !== '' && looksLikePython(source))
    throw new AppError(
      'bad_request',
      "/slicer/exec runs JavaScript, not Python: Slicer's Python API (slicer.util, slicer.mrmlScene, qt, vtk) does not exist here. Use the REST endpoints (see docs/slicer-compat.md) or a JavaScript script using the `scene` API (see docs/exec.md)",
    );
  ensureEnabled(ctx);
  const tokenGiven =
    requestToken(c.req.header('authorization'), c.req.method, (n) => c.req.query(n)) !== undefined;
  if (!JS_TYPES.test(type) && !(tokenGiven && (PLAIN.test(type) || type === ''))) {
    throw new AppError(
      'unsupported_media_type',
      `/slicer/exec takes JavaScript: send Content-Type: application/javascript (got ${type || 'none'}); text/plain is accepted only with the token`,
    );
  }
  if (source.trim() === '')
    throw new AppError(
      'bad_request',
      'the exec body is empty; POST JavaScript that sets __execResult',
    );
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const remote = remoteAddress(c);
  const { api, flush } = createExecApi(ctx.scene);
  const started = performance.now();
  try {
    const outcome = await runExec(source, { timeoutMs: ctx.config.execTimeoutMs, api });
    // Changes the script made are published and on disk before the reply, as for every mutation.
    flush();
    await persist(ctx);
    ctx.logger.info(
      `audit exec from ${remote}: ${source.length} chars sha256:${hash} ok in ${outcome.durationMs.toFixed(1)} ms`,
    );
    return c.body(JSON.stringify(outcome.result === undefined ? {} : outcome.result), 200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...consoleHeaders(outcome.console),
      'server-timing': `exec;dur=${outcome.durationMs.toFixed(1)}`,
    });
  } catch (e) {
    ctx.logger.info(
      `audit exec from ${remote}: ${source.length} chars sha256:${hash} failed in ${(performance.now() - started).toFixed(1)} ms: ${(e as Error).message}`,
    );
    throw e;
  } finally {
    flush();
  }
};
