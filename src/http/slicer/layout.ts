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
import { ifNoneMatch, num, oneOf } from '../request.js';
import { imageResponse, parseFormat } from './images.js';

export const gui = (ctx: AppContext) => (c: Context) => {
  const rawLayout = c.req.query('viewersLayout');
  let layout: LayoutName | undefined;
  if (rawLayout !== undefined) {
    layout = layoutByName(rawLayout.trim());
    if (!layout)
      throw invalidParameter(
        'viewersLayout',
        `unknown layout "${rawLayout}"; valid: ${LAYOUTS.join(', ')}`,
      );
  }
  const contents = oneOf(c, 'contents', ['viewers', 'full'] as const);
  ctx.views.setLayout(layout, contents);
  return c.json({
    success: true,
    viewersLayout: ctx.views.layout,
    contents: ctx.views.contents,
    views: layoutGrid(ctx.views.layout),
  });
};

export const getScreenshot = (ctx: AppContext) => async (c: Context) => {
  const enc = parseFormat(c, 'png');
  const tile = num(c, 'size', { min: 16, max: 2048, integer: true }) ?? 256;
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
