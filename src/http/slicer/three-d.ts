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
import { parseHexColor } from './system.js';
import {
  optionalNumber,
  parseBool,
  parseEnum,
  parseFormat,
  parseSize,
  queryOf,
  renderResponse,
  type Query,
} from './render-params.js';

const AXIS_WORDS: Record<string, Axis> = { r: 'r', l: 'l', a: 'a', p: 'p', s: 's', i: 'i' };
const NONE = new Set(['', 'none']);

function parseAxis(raw: string | undefined): Axis | undefined {
  if (raw === undefined) return undefined;
  const w = raw.trim().toLowerCase();
  const full = ['right', 'left', 'anterior', 'posterior', 'superior', 'inferior'];
  const axis = w.length === 1 || full.includes(w) ? AXIS_WORDS[w[0]!] : undefined;
  if (!axis)
    throw invalidParameter(
      'lookFromAxis',
      `expected r, l, a, p, s, i or right, left, anterior, posterior, superior, inferior; got "${raw}"`,
    );
  return axis;
}

/** The edits and pixel size of a `/threeD` (or `/threeD/stream`) request. */
export function parseThreeDRequest(q: Query): {
  edits: ThreeDEdits;
  size: [number, number] | undefined;
} {
  const rawView = q('view');
  if (
    rawView !== undefined &&
    !['1', 'threed', 'view1', '0'].includes(rawView.trim().toLowerCase())
  )
    throw invalidParameter('view', `there is one 3D view: 1 (or threeD), got "${rawView}"`);
  const angle = { min: -36000, max: 36000 };
  const pan = { min: -1e6, max: 1e6 };
  const rawMode = q('mode');
  const rawPreset = q('preset');
  const rawBackground = q('background');
  const rawDraft = q('draft');
  const rawVolume = q('volume');
  const rawSize = q('size');
  const edits: ThreeDEdits = {
    lookFromAxis: parseAxis(q('lookFromAxis')),
    orbitX: optionalNumber(q, 'orbitX', angle),
    orbitY: optionalNumber(q, 'orbitY', angle),
    roll: optionalNumber(q, 'roll', angle),
    panX: optionalNumber(q, 'panX', pan),
    panY: optionalNumber(q, 'panY', pan),
    zoom: optionalNumber(q, 'zoom', { min: 0.01, max: 100 }),
  };
  const size = rawSize === undefined ? undefined : parseSize('size', rawSize);
  if (rawMode !== undefined)
    edits.mode = parseEnum<Mode3D>('mode', rawMode, ['mip', 'minip', 'composite'], {
      vr: 'composite',
      volume: 'composite',
    });
  if (rawPreset !== undefined) edits.preset = parseEnum('preset', rawPreset, PRESET_NAMES);
  if (rawBackground !== undefined) edits.background = parseHexColor('background', rawBackground);
  if (rawDraft !== undefined) edits.draft = parseBool('draft', rawDraft);
  if (rawVolume !== undefined)
    edits.volume = NONE.has(rawVolume.trim().toLowerCase()) ? null : rawVolume;
  return { edits, size };
}

export const getThreeD = (ctx: AppContext) => async (c: Context) => {
  const q = queryOf(c);
  const enc = parseFormat(q, 'jpeg');
  const { edits, size } = parseThreeDRequest(q);
  const view = editThreeD(ctx.scene, ctx.views, edits);
  const job = threeDJob(ctx.scene, ctx.views, size ? { ...view, size } : view);
  return renderResponse(c, ctx.renderer, job, enc);
};
