/**
 * Live streams `GET /slicer/slice/stream` and `/slicer/threeD/stream` (multipart/x-mixed-replace
 * JPEG, usable as `<img src>`): the request's parameters are view edits applied once (as
 * `/slice` and `/threeD`); then a frame is sent each time the rendered image would change.
 */
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import type { ThreeDJob } from '../../imaging/render3d.js';
import type { SliceJob } from '../../imaging/slice-render.js';
import { placeholderJpeg } from '../../render/compose.js';
import type { EncodeOptions } from '../../render/encode.js';
import { sliceJob, threeDJob } from '../../render/jobs.js';
import { jobKey } from '../../render/keys.js';
import type { AppContext } from '../../server/context.js';
import { editSlice, editThreeD } from '../../views/edit.js';
import { atSize, refit } from '../../views/geometry.js';
import type { SliceViewState, ThreeDViewState } from '../../views/views.js';
import { num, oneOf } from '../request.js';
import { parseSliceRequest } from './slice.js';
import { parseThreeDRequest } from './three-d.js';

export const BOUNDARY = 'voxelgateframe';

interface Frame {
  key: string;
  produce: () => Promise<Uint8Array>;
}

/**
 * A multipart JPEG stream that pulls: a frame is rendered only when the client has taken the
 * previous one (the stream's pull), from the state at that moment (so piled-up changes collapse
 * into the newest), and only when its key differs from the last frame sent.
 */
function multipartStream(ctx: AppContext, c: Context, frame: () => Frame): Response {
  const enc = new TextEncoder();
  let last: string | undefined;
  let wake: (() => void) | undefined;
  let done = false;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const offScene = ctx.scene.onChange(poke);
  const offViews = ctx.views.onChange(poke);
  const stats = ctx.renderer.stats;
  stats.streams++;
  const finish = () => {
    if (done) return;
    done = true;
    offScene();
    offViews();
    stats.streams--;
    poke();
  };
  const signals = [ctx.shutdown.signal, c.req.raw.signal];
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        for (const s of signals) {
          if (s.aborted) finish();
          s.addEventListener(
            'abort',
            () => {
              const wasDone = done;
              finish();
              if (!wasDone) {
                try {
                  controller.close();
                } catch {
                  /* already closed */
                }
              }
            },
            { once: true },
          );
        }
      },
      async pull(controller) {
        for (;;) {
          if (done) return;
          const f = frame();
          if (f.key !== last) {
            let jpg: Uint8Array;
            try {
              jpg = await f.produce();
            } catch (e) {
              // A full render queue is temporary: wait (or until the next change) and try again.
              if (!(e instanceof AppError && e.code === 'busy')) throw e;
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, (e.details.retryAfter ?? 1) * 1000);
                wake = () => {
                  clearTimeout(timer);
                  resolve();
                };
              });
              continue;
            }
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- finish() may have run while awaiting
            if (done) return;
            last = f.key;
            controller.enqueue(
              enc.encode(
                `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpg.length}\r\n\r\n`,
              ),
            );
            controller.enqueue(jpg);
            controller.enqueue(enc.encode('\r\n'));
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
      cancel() {
        finish();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    headers: {
      'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
      'cache-control': 'no-cache, no-store',
      'x-accel-buffering': 'no',
    },
  });
}

/** The frame for the current state: the job's key, or a placeholder when there is nothing to render. */
function frameOf(
  ctx: AppContext,
  makeJob: () => SliceJob | ThreeDJob,
  enc: EncodeOptions,
  size: [number, number],
): Frame {
  try {
    const job = makeJob();
    const key = jobKey(job, enc);
    return { key, produce: async () => (await ctx.renderer.render(key, job, enc)).body };
  } catch (e) {
    if (e instanceof AppError && e.code === 'not_found')
      return { key: `empty:${size.join('x')}`, produce: () => placeholderJpeg(size, enc.quality) };
    throw e;
  }
}

/** JPEG only; `quality` 1–100, default 80. */
function streamEncoding(c: Context): EncodeOptions {
  const quality = num(c, 'quality', { min: 1, max: 100, integer: true }) ?? 80;
  oneOf(c, 'format', ['jpeg'] as const, { jpg: 'jpeg' }); // only checked: JPEG is the one format
  return { format: 'jpeg', quality };
}

export const getSliceStream = (ctx: AppContext) => (c: Context) => {
  const enc = streamEncoding(c);
  const { name, edits, size } = parseSliceRequest(c);
  editSlice(ctx.scene, ctx.views, name, edits, size);
  return multipartStream(ctx, c, () => {
    const current = structuredClone(ctx.views.slice(name)) as SliceViewState;
    const v = atSize(refit(ctx.scene, ctx.views, current), size);
    return frameOf(ctx, () => sliceJob(ctx.scene, ctx.views, v), enc, v.size);
  });
};

export const getThreeDStream = (ctx: AppContext) => (c: Context) => {
  const enc = streamEncoding(c);
  const { edits, size } = parseThreeDRequest(c);
  editThreeD(ctx.scene, ctx.views, edits);
  return multipartStream(ctx, c, () => {
    const current = structuredClone(ctx.views.threeD) as ThreeDViewState;
    const v = size ? { ...current, size } : current;
    return frameOf(ctx, () => threeDJob(ctx.scene, ctx.views, v), enc, v.size);
  });
};
