/**
 * `GET /slicer/threeD`: parses the camera and rendering parameters into 3D view edits, applies
 * them (`views/edit.ts`), and renders the view at the request's `size` (not an edit).
 */
import type { Context } from 'hono';
import { invalidParameter } from '../../errors.js';
import { PRESET_NAMES, type Axis, type Mode3D } from '../../imaging/render3d.js';
import { threeDJob } from '../../render/jobs.js';
import type { AppContext } from '../../server/context.js';
import { editThreeD, type ThreeDEdits } from '../../views/edit.js';
import { bool, num, oneOf, parseHexColor, parseSize } from '../request.js';
import { parseFormat, renderResponse } from './images.js';

const AXIS_WORDS: Record<string, Axis> = { r: 'r', l: 'l', a: 'a', p: 'p', s: 's', i: 'i' };
const NONE = new Set(['', 'none']);

/**
 * As Slicer: the first letter picks the axis (`L`, `left`, `Left`, `ant`…); a value whose first
 * letter is none of r l a p s i (`x`, `none`) leaves the camera as it is. Empty → 400.
 */
function parseAxis(raw: string | undefined): Axis | undefined {
  if (raw === undefined) return undefined;
  const w = raw.trim().toLowerCase();
  if (w === '')
    throw invalidParameter('lookFromAxis', 'expected r, l, a, p, s, i (or a word starting so)');
  return AXIS_WORDS[w[0]!];
}

/** The edits and pixel size of a `/threeD` (or `/threeD/stream`) request. */
export function parseThreeDRequest(c: Context): {
  edits: ThreeDEdits;
  size: [number, number] | undefined;
} {
  const q = (n: string) => c.req.query(n);
  const rawView = q('view');
  if (
    rawView !== undefined &&
    !['1', 'threed', 'view1', '0'].includes(rawView.trim().toLowerCase())
  )
    throw invalidParameter('view', `there is one 3D view: 1 (or threeD), got "${rawView}"`);
  const angle = { min: -36000, max: 36000 };
  const pan = { min: -1e6, max: 1e6 };
  const rawBackground = q('background');
  const rawVolume = q('volume');
  const rawSize = q('size');
  const edits: ThreeDEdits = {
    lookFromAxis: parseAxis(q('lookFromAxis')),
    orbitX: num(c, 'orbitX', angle),
    orbitY: num(c, 'orbitY', angle),
    roll: num(c, 'roll', angle),
    panX: num(c, 'panX', pan),
    panY: num(c, 'panY', pan),
    zoom: num(c, 'zoom', { min: 0.01, max: 100 }),
  };
  const size = rawSize === undefined ? undefined : parseSize('size', rawSize);
  edits.mode = oneOf<Mode3D>(c, 'mode', ['mip', 'minip', 'composite'], {
    vr: 'composite',
    volume: 'composite',
  });
  edits.preset = oneOf(c, 'preset', PRESET_NAMES);
  if (rawBackground !== undefined) edits.background = parseHexColor('background', rawBackground);
  edits.draft = bool(c, 'draft');
  if (rawVolume !== undefined)
    edits.volume = NONE.has(rawVolume.trim().toLowerCase()) ? null : rawVolume;
  return { edits, size };
}

export const getThreeD = (ctx: AppContext) => async (c: Context) => {
  // PNG by default, as Slicer (clients check for image/png); format=jpeg for smaller frames.
  const enc = parseFormat(c, 'png');
  const { edits, size } = parseThreeDRequest(c);
  const view = editThreeD(ctx.scene, ctx.views, edits);
  const job = threeDJob(ctx.scene, ctx.views, size ? { ...view, size } : view);
  return renderResponse(c, ctx.renderer, job, enc);
};
