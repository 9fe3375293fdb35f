/**
 * The `/render` route table: the glTF render server of Drake's glTF Render Client-Server API
 * (`POST /render`, the client's default endpoint). Errors follow that API, not the JSON shape of
 * the other families: 400 for bad form data, 500 for anything unexpected, each with a short
 * plain-text reason (the client quotes bodies under 8 KiB). Switched off by `--no-render-server`.
 */
import type { Context } from 'hono';
import { AppError, isAppError } from '../errors.js';
import type { AppContext } from '../server/context.js';
import { readBody } from './body.js';
import { STATUS_OF } from './errors.js';
import type { RouteSpec } from './routes.js';
import { MAX_IMAGE_SIDE, parseEnum } from './request.js';
import {
  encodeRenderImage,
  parseRenderForm,
  renderJob,
  type FormValue,
} from '../render/render-server.js';

/** Triangles one scene may hold. */
export const MAX_SCENE_TRIANGLES = 20_000_000;

export function renderServerRoutes(ctx: AppContext): RouteSpec[] {
  return [
    { method: 'POST', path: '/', handler: postRender(ctx) },
    { method: 'GET', path: '/', handler: getRenderForm() },
  ];
}

/** Plain-text error in the render API's terms (kept short: the client drops bodies ≥ 8 KiB). */
function textError(e: unknown, ctx: AppContext): Response {
  let status = 500;
  let message = 'internal error while rendering';
  if (isAppError(e)) {
    status = STATUS_OF[e.code];
    // The API knows 400 (bad request) and 500; keep the statuses a client may act on.
    if (status >= 400 && status < 500 && ![401, 403, 413].includes(status)) status = 400;
    message = e.message;
  } else ctx.logger.error('POST /render failed', e);
  const headers = new Headers({
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  });
  if (isAppError(e) && e.details.retryAfter !== undefined)
    headers.set('retry-after', String(e.details.retryAfter));
  return new Response(message.slice(0, 2000) + '\n', { status, headers });
}

async function readForm(c: Context, limit: number): Promise<Map<string, FormValue>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type))
    throw new AppError(
      'bad_request',
      `expected multipart/form-data (the render API's form), got ${type || 'no Content-Type'}`,
    );
  const body = await readBody(c, limit);
  let fd: FormData;
  try {
    fd = await new Response(body, { headers: { 'content-type': type } }).formData();
  } catch (e) {
    throw new AppError(
      'bad_request',
      `malformed multipart/form-data body: ${(e as Error).message}`,
    );
  }
  const form = new Map<string, FormValue>();
  for (const [k, v] of fd.entries()) {
    if (form.has(k)) throw new AppError('bad_request', `form field "${k}" is given twice`);
    form.set(k, typeof v === 'string' ? v : new Uint8Array(await v.arrayBuffer()));
  }
  return form;
}

function postRender(ctx: AppContext) {
  return async function renderGltf(c: Context): Promise<Response> {
    try {
      const q = (n: string) => c.req.query(n);
      const depthFormat = q('depth_format')
        ? parseEnum('depth_format', q('depth_format')!, ['float32', 'uint16'] as const)
        : 'float32';
      const labelFormat = q('label_format')
        ? parseEnum('label_format', q('label_format')!, ['rgb', 'uint16'] as const)
        : 'rgb';
      const form = await readForm(c, ctx.config.limits.mesh);
      const req = parseRenderForm(form, { maxSize: MAX_IMAGE_SIDE });
      const job = await renderJob(req, { maxTriangles: MAX_SCENE_TRIANGLES });
      const img = await ctx.renderer.rasterize(job);
      const out = await encodeRenderImage(img, req, { depthFormat, labelFormat });
      return new Response(out.body, {
        status: 200,
        headers: { 'content-type': out.contentType, 'cache-control': 'no-store' },
      });
    } catch (e) {
      return textError(e, ctx);
    }
  };
}

/** A small HTML form for trying the endpoint by hand (as Drake's sample server offers). */
function getRenderForm() {
  return function renderForm(c: Context): Response {
    const num = (n: string, v: string) =>
      `<label>${n} <input name="${n}" value="${v}"></label><br>`;
    return c.html(`<!doctype html><meta charset="utf-8"><title>glTF render server</title>
<h1>glTF render server (Drake's glTF Render Client-Server API)</h1>
<p>POST multipart/form-data here; see docs/graphics.md. scene_sha256 must be the SHA-256 of the file.</p>
<form method="post" enctype="multipart/form-data">
<label>scene <input type="file" name="scene" accept=".gltf,.glb"></label><br>
${num('scene_sha256', '')}
<label>image_type <select name="image_type"><option>color</option><option>depth</option><option>label</option></select></label><br>
${[
  ['width', '640'],
  ['height', '480'],
  ['near', '0.01'],
  ['far', '10'],
  ['focal_x', '579.411255'],
  ['focal_y', '579.411255'],
  ['fov_x', '1.0'],
  ['fov_y', '0.785398'],
  ['center_x', '319.5'],
  ['center_y', '239.5'],
  ['min_depth', '0.01'],
  ['max_depth', '10'],
]
  .map(([n, v]) => num(n!, v!))
  .join('\n')}
<input type="submit" name="submit" value="Render"></form>`);
  };
}
