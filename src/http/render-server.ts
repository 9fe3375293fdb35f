/**
 * The `/render` route table: the glTF render server of Drake's glTF Render Client-Server API
 * (`POST /render`, the client's default endpoint). Errors follow that API, not the JSON shape of
 * the other families: 400 for bad form data, 500 for anything unexpected, each with a short
 * plain-text reason (the client quotes bodies under 8 KiB). Switched off by `--no-render-server`.
 */
import type { Context } from 'hono';
import { AppError, isAppError } from '../errors.js';
import type { AppContext } from '../server/context.js';
import { parseContentType, parseMultipart } from '../dicom/multipart.js';
import { bodyChunks } from './body.js';
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

/**
 * The render API's multipart/form-data body (RFC 7578: RFC 2046 multipart with a
 * `Content-Disposition: form-data; name=…` per part), read under the limit and parsed with the
 * server's streaming multipart parser (undici's `Response.formData()` is deprecated for server
 * use). A part with a `filename` is a file (bytes), any other a text field (UTF-8), as in a
 * browser's FormData.
 */
async function readForm(c: Context, limit: number): Promise<Map<string, FormValue>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type))
    throw new AppError(
      'bad_request',
      `expected multipart/form-data (the render API's form), got ${type || 'no Content-Type'}`,
    );
  const form = new Map<string, FormValue>();
  let field: { name: string; file: boolean; chunks: Buffer[] } | undefined;
  const boundary = parseContentType(type).params.boundary ?? '';
  for await (const ev of parseMultipart(bodyChunks(c, limit), boundary)) {
    if (ev.kind === 'part') {
      const cd = parseContentType(ev.headers['content-disposition']);
      const name = cd.params.name;
      if (cd.type !== 'form-data' || name === undefined)
        throw new AppError(
          'bad_request',
          'malformed multipart/form-data body: a part has no Content-Disposition: form-data; name=…',
        );
      field = { name, file: 'filename' in cd.params, chunks: [] };
    } else if (ev.kind === 'data') field?.chunks.push(ev.chunk);
    else if (field) {
      if (form.has(field.name))
        throw new AppError('bad_request', `form field "${field.name}" is given twice`);
      const bytes = Buffer.concat(field.chunks);
      form.set(field.name, field.file ? new Uint8Array(bytes) : bytes.toString('utf8'));
      field = undefined;
    }
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
