/**
 * A view's state as the JSON `GET /slicer/view` returns, so a client can map a click on a slice
 * image to RAS (Slicer's XYToRAS) and knows where the slice is. Slice views: `sliceToRAS`
 * (row-major 4×4, columns screen x, screen y, normal, centre), `fov` [w, h] mm as a render at
 * `size` would use (the fitted one when none is set), `offset` (mm along the normal) and `bounds`
 * [lo, hi] of the reference volume along the normal (what `scrollTo` 0..1 spans), the layer ids
 * and window/level. The 3D view: its camera, mode, size.
 */
import type { Scene } from '../scene/scene.js';
import { atSize, effectiveFov, refit, sliceBounds, sliceOffset } from './geometry.js';
import { referenceLayer, sliceLayers } from './layers.js';
import type { SliceViewName, Views } from './views.js';

export function describeView(
  scene: Scene,
  views: Views,
  name: SliceViewName | 'threeD',
  size?: [number, number],
) {
  if (name === 'threeD') {
    const v = views.threeD;
    return {
      view: 'threeD',
      camera: v.camera,
      mode: v.mode,
      preset: v.preset,
      size: size ?? v.size,
      volume: v.volume ?? null,
      layout: views.layout,
    };
  }
  // The geometry the next render of this view at `size` would use (refit as a render would).
  const v = atSize(refit(scene, views, structuredClone(views.slice(name))), size);
  const layers = sliceLayers(scene, views, v);
  const ref = referenceLayer(layers);
  return {
    view: name,
    orientation: v.orientation,
    sliceToRAS: v.sliceToRAS,
    fov: effectiveFov(scene, v, ref),
    size: v.size,
    offset: sliceOffset(v),
    bounds: ref ? sliceBounds(scene, ref, v) : null,
    background: layers.background?.id ?? null,
    foreground: layers.foreground?.id ?? null,
    label: layers.label?.id ?? null,
    window: v.window ?? null,
    level: v.level ?? null,
    interpolation: v.interpolation,
    fiducials: v.fiducials,
    layout: views.layout,
  };
}
