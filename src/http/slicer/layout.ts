/**
 * `GET|PUT /slicer/gui?viewersLayout=&contents=` (Slicer's layout switch) and
 * `GET /slicer/screenshot` (the current layout composited into one image, `render/compose.ts`).
 */
import type { Context } from 'hono';
import { invalidParameter } from '../../errors.js';
import { composeLayout } from '../../render/compose.js';
import { encode } from '../../render/encode.js';
import { etagOf } from '../../render/keys.js';
import type { AppContext } from '../../server/context.js';
import { LAYOUTS, layoutByName, layoutGrid, type LayoutName } from '../../views/layout.js';
import { ifNoneMatch } from '../request.js';
import { imageResponse, parseEnum, parseFormat, parseNumber, queryOf } from './render-params.js';

export const gui = (ctx: AppContext) => (c: Context) => {
  const rawLayout = c.req.query('viewersLayout');
  const rawContents = c.req.query('contents');
  let layout: LayoutName | undefined;
  if (rawLayout !== undefined) {
    layout = layoutByName(rawLayout.trim());
    if (!layout)
      throw invalidParameter(
        'viewersLayout',
        `unknown layout "${rawLayout}"; valid: ${LAYOUTS.join(', ')}`,
      );
  }
  const contents =
    rawContents === undefined
      ? undefined
      : parseEnum('contents', rawContents, ['viewers', 'full'] as const);
  ctx.views.setLayout(layout, contents);
  return c.json({
    success: true,
    viewersLayout: ctx.views.layout,
    contents: ctx.views.contents,
    views: layoutGrid(ctx.views.layout),
  });
};

export const getScreenshot = (ctx: AppContext) => async (c: Context) => {
  const q = queryOf(c);
  const enc = parseFormat(q, 'png');
  const rawSize = q('size');
  const tile =
    rawSize === undefined
      ? 256
      : parseNumber('size', rawSize, { min: 16, max: 2048, integer: true });
  const key = etagOf([
    'screenshot',
    ctx.scene.version,
    ctx.views.version,
    ctx.views.layout,
    tile,
    enc,
  ]);
  if (ifNoneMatch(c.req.header('if-none-match'), key)) return imageResponse(c, key, null, '');
  const out = await encode(await composeLayout(ctx, tile), enc);
  return imageResponse(c, key, out.body, out.contentType);
};
