/**
 * Processing over HTTP: `/slicer/functions` (list, direct call), `/slicer/jobs` (start, list,
 * get, cancel, follow as SSE/NDJSON) and `/slicer/events` (the scene's live event stream with
 * `Last-Event-ID` resume). Thin: parse, call the job manager or the event log, serialize.
 */
import type { Context } from 'hono';
import { AppError, ERROR_CODES, invalidParameter, type ErrorCode } from '../../errors.js';
import { FINAL_STATES, type JobRecord } from '../../jobs/types.js';
import type { AppContext } from '../../server/context.js';
import { readJson } from '../body.js';
import { eventStream } from '../event-stream.js';
import { int } from '../request.js';

/** Longest `?wait=` in seconds. */
const MAX_WAIT_S = 600;

const jobLinks = (j: JobRecord) => ({
  self: `/slicer/jobs/${j.id}`,
  events: `/slicer/jobs/${j.id}/events`,
});
const jobJson = (j: JobRecord) => ({ ...j, links: jobLinks(j) });

export const getFunctions = (ctx: AppContext) => (c: Context) => c.json(ctx.functions.list());

/** POST /slicer/jobs `{"function", "params"}` → 202 + Location (200 with `?wait=` when done in time). */
export const postJob = (ctx: AppContext) => async (c: Context) => {
  const wait = int(c, 'wait', 0);
  const body = await readJson(c, ctx.config.limits.json);
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError('bad_request', 'expected a JSON object {"function": name, "params": {…}}');
  const { function: fn, params, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length)
    throw invalidParameter(unknown[0]!, 'is not a field of a job request (function, params)');
  if (typeof fn !== 'string' || fn === '')
    throw new AppError(
      'missing_parameter',
      'function: the name of the function to run is required',
      {
        parameter: 'function',
      },
    );
  let job = ctx.jobs.submit(fn, params);
  if (wait) job = await ctx.jobs.wait(job.id, Math.min(wait, MAX_WAIT_S) * 1000);
  const done = FINAL_STATES.includes(job.state);
  return c.json(jobJson(job), done && wait ? 200 : 202, { location: jobLinks(job).self });
};

export const getJobs = (ctx: AppContext) => (c: Context) => c.json(ctx.jobs.list().map(jobJson));

export const getJob = (ctx: AppContext) => (c: Context) =>
  c.json(jobJson(ctx.jobs.get(c.req.param('id')!)));

export const deleteJob = (ctx: AppContext) => (c: Context) =>
  c.json(jobJson(ctx.jobs.cancel(c.req.param('id')!)));

/** The job's progress as SSE (`progress` events, then one `done`) or NDJSON; state first. */
export const getJobEvents = (ctx: AppContext) => (c: Context) => {
  const id = c.req.param('id')!;
  const first = ctx.jobs.get(id); // 404 before the stream starts
  let n = 0;
  const progressOf = (j: JobRecord) => ({
    id: j.id,
    state: j.state,
    progress: j.progress,
    message: j.message,
  });
  return eventStream(
    c,
    (sink) => {
      if (FINAL_STATES.includes(first.state)) {
        sink.send({ event: 'done', id: ++n, data: jobJson(first) });
        sink.close();
        return;
      }
      sink.send({ event: 'progress', id: ++n, data: progressOf(first) });
      return ctx.jobs.onEvent((e) => {
        if (e.job.id !== id) return;
        if (FINAL_STATES.includes(e.job.state)) {
          sink.send({ event: 'done', id: ++n, data: jobJson(e.job) });
          sink.close();
        } else sink.send({ event: 'progress', id: ++n, data: progressOf(e.job) });
      });
    },
    ctx.shutdown.signal,
  );
};

/** GET /slicer/events: scene and job events; `Last-Event-ID` (or `?lastEventId=`) resumes. */
export const getEvents = (ctx: AppContext) => (c: Context) => {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId');
  let last: number | undefined;
  if (raw !== undefined && raw.trim() !== '') {
    last = ctx.events.parseWireId(raw);
    if (last === undefined)
      throw invalidParameter(
        'Last-Event-ID',
        `expected an event id such as "${ctx.events.wireId(7)}", got "${raw}"`,
      );
  }
  return eventStream(
    c,
    (sink) => {
      const log = ctx.events;
      if (last === undefined) {
        // A fresh client: where the log is now, so it can resume from here later.
        sink.send({
          event: 'hello',
          id: log.wireId(log.lastId),
          data: { lastEventId: log.wireId(log.lastId), version: ctx.scene.version },
        });
      } else {
        const { events, gap } = log.since(last);
        if (gap)
          sink.send({
            event: 'reset',
            id: log.wireId(log.lastId),
            data: {
              lastEventId: log.wireId(log.lastId),
              version: ctx.scene.version,
              message: 'events after your Last-Event-ID are no longer kept; reload the scene',
            },
          });
        else
          for (const e of events) sink.send({ event: e.type, id: log.wireId(e.id), data: e.data });
      }
      return log.subscribe((e) => sink.send({ event: e.type, id: log.wireId(e.id), data: e.data }));
    },
    ctx.shutdown.signal,
  );
};

/**
 * GET|POST /slicer/functions/{name}?a=1&b=2 (or a JSON body): runs the function as a job, waits
 * for it, and answers its value (Hypha's HTTP style). Failures answer the job's error.
 */
export const callFunction = (ctx: AppContext) => async (c: Context) => {
  const name = c.req.param('name')!;
  let params: unknown;
  let fromQuery = true;
  if (c.req.method === 'POST' && c.req.raw.body && c.req.header('content-length') !== '0') {
    params = await readJson(c, ctx.config.limits.json);
    fromQuery = false;
  } else {
    const q = { ...c.req.query() };
    delete q.access_token;
    params = q;
  }
  const submitted = ctx.jobs.submit(name, params, fromQuery);
  const job = await ctx.jobs.wait(submitted.id, ctx.config.jobTimeoutMs || 24 * 3600_000);
  if (job.state === 'succeeded') {
    c.header('location', jobLinks(job).self);
    const values = job.result?.values;
    return c.json(
      (values === undefined ? { nodeIds: job.result?.nodeIds ?? [] } : values) as never,
    );
  }
  if (job.state === 'cancelled') throw new AppError('conflict', `job ${job.id} was cancelled`);
  const code = job.error?.code ?? 'internal';
  const appCode: ErrorCode = (ERROR_CODES as readonly string[]).includes(code)
    ? (code as ErrorCode)
    : code === 'function_error'
      ? 'unprocessable'
      : 'upstream_error';
  throw new AppError(appCode, `${name} failed: ${job.error?.message ?? job.message}`, {
    job: job.id,
  });
};
