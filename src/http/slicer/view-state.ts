/**
 * `GET /slicer/view?view=red|yellow|green|threeD[&size=WxH]`: a view's current state as JSON,
 * read-only (`views/describe.ts`). `size` is the pixel size the client renders the view at (the
 * fov follows its aspect), as given to `/slice`.
 */
import type { Context } from 'hono';
import { invalidParameter } from '../../errors.js';
import type { AppContext } from '../../server/context.js';
import { describeView } from '../../views/describe.js';
import { SLICE_VIEWS, type SliceViewName } from '../../views/views.js';
import { parseSize } from '../request.js';

export const getViewState = (ctx: AppContext) => (c: Context) => {
  const raw = c.req.query('view');
  const rawSize = c.req.query('size');
  const name = (raw ?? 'red').trim().toLowerCase();
  let view: SliceViewName | 'threeD';
  if (['threed', '1', 'view1', '3d'].includes(name)) view = 'threeD';
  else if ((SLICE_VIEWS as readonly string[]).includes(name)) view = name as SliceViewName;
  else throw invalidParameter('view', `expected red, yellow, green or threeD, got "${raw}"`);
  const size = rawSize === undefined ? undefined : parseSize('size', rawSize);
  return c.json(describeView(ctx.scene, ctx.views, view, size));
};
