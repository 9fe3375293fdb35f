/**
 * `GET /slicer/view?view=red|yellow|green|threeD`: a view's current state as JSON, read-only, so
 * a client can map a click on a slice image to RAS (Slicer's XYToRAS) and knows where the slice
 * is. Slice views: `sliceToRAS` (row-major 4×4, columns screen x, screen y, normal, centre),
 * `fov` [w, h] mm as rendered (the fitted one when none is set), `size` [w, h] px, `offset` (mm
 * along the normal) and `bounds` [lo, hi] of the background volume along the normal (what
 * `scrollTo` 0..1 spans), the layer ids and window/level. The 3D view: its camera, mode, size.
 */
import type { Context } from 'hono';
import { invalidParameter } from '../../errors.js';
import { effectiveFov, refit, sliceBounds, sliceLayers, sliceOffset } from '../../render/jobs.js';
import { SLICE_VIEWS, type SliceViewName, type SliceViewState } from '../../scene/views.js';
import type { AppContext } from '../../server/context.js';

export function viewState(ctx: AppContext, raw: string | undefined) {
  const name = (raw ?? 'red').trim().toLowerCase();
  if (['threed', '1', 'view1', '3d'].includes(name)) {
    const v = ctx.views.threeD;
    return {
      view: 'threeD',
      camera: v.camera,
      mode: v.mode,
      preset: v.preset,
      size: v.size,
      volume: v.volume ?? null,
      layout: ctx.views.layout,
    };
  }
  if (!(SLICE_VIEWS as readonly string[]).includes(name))
    throw invalidParameter('view', `expected red, yellow, green or threeD, got "${raw}"`);
  // The geometry the next render of this view would use (refit as a render would).
  const v: SliceViewState = refit(
    ctx.scene,
    structuredClone(ctx.views.slice(name as SliceViewName)) as SliceViewState,
  );
  const layers = sliceLayers(ctx.scene, v);
  const ref = layers.background ?? layers.foreground ?? layers.label;
  return {
    view: name,
    orientation: v.orientation,
    sliceToRAS: v.sliceToRAS,
    fov: effectiveFov(ctx.scene, v, ref),
    size: v.size,
    offset: sliceOffset(v),
    bounds: ref ? sliceBounds(ctx.scene, ref, v) : null,
    background: layers.background?.id ?? null,
    foreground: layers.foreground?.id ?? null,
    label: layers.label?.id ?? null,
    window: v.window ?? null,
    level: v.level ?? null,
    interpolation: v.interpolation,
    fiducials: v.fiducials,
    layout: ctx.views.layout,
  };
}

export const getViewState = (ctx: AppContext) => (c: Context) =>
  c.json(viewState(ctx, c.req.query('view')));
