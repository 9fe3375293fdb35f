/**
 * `GET /slicer/slice`: parses every parameter strictly (a bad value → 400 naming it) into view
 * edits, applies them to the persistent slice view (`views/edit.ts`, as Slicer's requests move
 * the view), and renders the view at the request's `size` (which is not an edit: it never
 * changes what a later request gets).
 */
import type { Context } from 'hono';
import { invalidParameter } from '../../errors.js';
import { isOrthonormal } from '../../imaging/geometry.js';
import type { Interpolation } from '../../imaging/reslice.js';
import type { Mat3, Mat4 } from '../../imaging/types.js';
import { sliceJob } from '../../render/jobs.js';
import { editSlice, type SliceEdits } from '../../views/edit.js';
import { atSize } from '../../views/geometry.js';
import { ORIENTATIONS, SLICE_VIEWS, type SliceViewName } from '../../views/views.js';
import type { AppContext } from '../../server/context.js';
import {
  bool,
  num,
  oneOf,
  parseNumber,
  type NumberRule,
  parseNumberList,
  parseSize,
} from '../request.js';
import { parseFormat, renderResponse } from './images.js';

const NONE = new Set(['', 'none']);

/** A layer parameter: a volume id/name/glob; '' / none → no layer (null); absent → undefined. */
function layerParam(raw: string | undefined): string | null | undefined {
  if (raw === undefined) return undefined;
  return NONE.has(raw.trim().toLowerCase()) ? null : raw;
}

/**
 * `segmentation=`: a segmentation node id/name/glob; `none` (or '') → null (no overlay); `all` →
 * 'all' (every segmentation); absent → undefined.
 */
function segmentationParam(raw: string | undefined): string | null | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim().toLowerCase();
  if (NONE.has(t)) return null;
  return t === 'all' ? 'all' : raw.trim();
}

/** `orientation` values that keep the view's current plane (Slicer's `Reformat`). */
const KEEP_ORIENTATION = new Set(['oblique', 'reformat']);

/** `auto` or a number. */
function autoOrNumber(c: Context, name: string, o: NumberRule = {}): number | 'auto' | undefined {
  const raw = c.req.query(name);
  if (raw === undefined) return undefined;
  return raw.trim().toLowerCase() === 'auto' ? 'auto' : parseNumber(name, raw, o);
}

function parseFov(raw: string | undefined): SliceEdits['fov'] {
  if (raw === undefined) return undefined;
  if (raw.trim().toLowerCase() === 'auto') return 'auto';
  const parts = raw.split(/[xX×,]/);
  if (parts.length > 2) throw invalidParameter('fov', `expected mm or WxH mm, got "${raw}"`);
  const mm = (p: string) => parseNumber('fov', p, { min: 0, exclusiveMin: true, max: 100000 });
  return parts.length === 2 ? [mm(parts[0]!), mm(parts[1]!)] : [mm(parts[0]!)];
}

function parseSliceToRas(raw: string | undefined): Mat4 | undefined {
  if (raw === undefined) return undefined;
  const m = parseNumberList('sliceToRAS', raw, 16) as Mat4;
  if (
    Math.abs(m[12]) > 1e-9 ||
    Math.abs(m[13]) > 1e-9 ||
    Math.abs(m[14]) > 1e-9 ||
    Math.abs(m[15] - 1) > 1e-9
  )
    throw invalidParameter('sliceToRAS', 'the last row must be 0 0 0 1');
  const r: Mat3 = [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]];
  if (!isOrthonormal(r, 1e-3))
    throw invalidParameter(
      'sliceToRAS',
      'the first three columns (screen x, screen y, normal) must be orthonormal',
    );
  return m;
}

/** The view a `/slice` (or `/slice/stream`) request addresses, its edits and its pixel size. */
export function parseSliceRequest(c: Context): {
  name: SliceViewName;
  edits: SliceEdits;
  size: [number, number] | undefined;
} {
  const q = (n: string) => c.req.query(n);
  const name = oneOf(c, 'view', SLICE_VIEWS) ?? 'red';
  const rawSize = q('size');
  const edits: SliceEdits = {
    background: layerParam(q('background')),
    foreground: layerParam(q('foreground')),
    label: layerParam(q('label')),
    foregroundOpacity: num(c, 'foregroundOpacity', { min: 0, max: 1 }),
    labelOpacity: num(c, 'labelOpacity', { min: 0, max: 1 }),
    window: autoOrNumber(c, 'window', { min: 0, exclusiveMin: true }),
    level: autoOrNumber(c, 'level'),
    interpolation: oneOf<Interpolation>(c, 'interpolation', ['nearest', 'linear'], {
      nearestneighbor: 'nearest',
      trilinear: 'linear',
    }),
    fiducials: bool(c, 'fiducials'),
    segmentation: segmentationParam(q('segmentation')),
    segmentationOpacity: num(c, 'segmentationOpacity', { min: 0, max: 1 }),
    outline: bool(c, 'outline'),
    fov: parseFov(q('fov')),
    copySliceGeometryFrom: oneOf(c, 'copySliceGeometryFrom', SLICE_VIEWS),
    // Slicer leaves the geometry alone for an orientation it does not know; `oblique`/`reformat`
    // (what a client sends to keep an oblique view) do the same here. Other values are 400: a
    // misspelt `axail` would otherwise silently show the wrong plane.
    orientation: KEEP_ORIENTATION.has(q('orientation')?.trim().toLowerCase() ?? '')
      ? undefined
      : oneOf(c, 'orientation', ORIENTATIONS),
    sliceToRAS: parseSliceToRas(q('sliceToRAS')),
    scrollTo: num(c, 'scrollTo', { min: 0, max: 1 }),
    offset: num(c, 'offset'),
  };
  if (edits.orientation !== undefined && edits.sliceToRAS !== undefined)
    throw invalidParameter('sliceToRAS', 'give either orientation or sliceToRAS, not both');
  const size = rawSize === undefined ? undefined : parseSize('size', rawSize);
  return { name, edits, size };
}

export const getSlice = (ctx: AppContext) => async (c: Context) => {
  const enc = parseFormat(c, 'png');
  const { name, edits, size } = parseSliceRequest(c);
  const view = editSlice(ctx.scene, ctx.views, name, edits, size);
  return renderResponse(c, ctx.renderer, sliceJob(ctx.scene, ctx.views, atSize(view, size)), enc);
};
