/**
 * `/slicer/exec`. Off unless `--enable-exec` (404 saying how to enable). When on: POST only, with a
 * JavaScript body (`application/javascript` or `text/javascript`), and a bearer token (the auth
 * guard checks it; this handler refuses to run at all without a configured token). A GET with
 * `?source=` or a `text/plain` form post — requests any web page can send without a CORS
 * preflight — are refused. One audit-log line per call.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import { createExecApi } from '../../scene/exec-api.js';
import { runExec } from '../../scene/exec.js';
import type { AppContext } from '../../server/context.js';
import { readBody } from '../body.js';
import { remoteAddress } from '../request.js';
import { persist } from './volumes.js';

const JS_TYPES = /^(application|text)\/(javascript|ecmascript|x-javascript)\s*(;|$)/i;

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

export const postExec = (ctx: AppContext) => async (c: Context) => {
  ensureEnabled(ctx);
  const type = c.req.header('content-type') ?? '';
  if (!JS_TYPES.test(type)) {
    throw new AppError(
      'unsupported_media_type',
      `/slicer/exec takes JavaScript: send Content-Type: application/javascript (got ${type || 'none'})`,
    );
  }
  const source = (await readBody(c, ctx.config.limits.exec)).toString('utf8');
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
    return c.json({
      success: true,
      result: outcome.result,
      console: outcome.console,
      durationMs: Math.round(outcome.durationMs * 10) / 10,
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
