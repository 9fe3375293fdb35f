/**
 * `/slicer/slice`, `/slicer/threeD`, `/slicer/screenshot`, `/slicer/gui` and the live streams
 * `/slicer/slice/stream`, `/slicer/threeD/stream`. Handlers parse every parameter strictly (a bad
 * value → 400 naming it) before changing any view state, apply the changes to the persistent view
 * (as Slicer's requests do), then render through `ctx.renderer`.
 *
 * Fixes relative to Slicer: `scrollTo=0` and `offset=0` work; `size` is honoured; changing the
 * orientation re-centres first and then applies scrollTo/offset from the same request (Slicer's
 * fit ran last and undid them); `/threeD` honours every camera parameter.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import sharp from 'sharp';
import { AppError, invalidParameter } from '../../errors.js';
import { drawText, textWidth } from '../../imaging/bitmap-font.js';
import { isOrthonormal } from '../../imaging/geometry.js';
import { PRESET_NAMES, type Axis, type Mode3D, type ThreeDJob } from '../../imaging/render3d.js';
import type { RawImage, SliceJob } from '../../imaging/slice-render.js';
import type { Mat3, Mat4 } from '../../imaging/types.js';
import {
  effectiveFov,
  findVolume,
  forgetActiveVolume,
  noteActiveVolume,
  refit,
  sliceBounds,
  snapToSlice,
  sliceJob,
  sliceLayers,
  threeDJob,
  withOffset,
  withOrientation,
} from '../../render/jobs.js';
import { encode, type EncodeOptions, type ImageFormat } from '../../render/encode.js';
import { isSegmentationNode, isVolumeNode } from '../../scene/scene.js';
import {
  LAYOUTS,
  layoutByName,
  ORIENTATIONS,
  SLICE_VIEWS,
  type LayoutName,
  type SliceViewName,
  type SliceViewState,
  type ThreeDViewState,
} from '../../scene/views.js';
import type { AppContext } from '../../server/context.js';
import type { RouteSpec } from '../routes.js';
import { parseHexColor } from './system.js';
import { parseBool, parseEnum, parseNumber, parseNumberList, parseSize } from './render-params.js';

type Query = (name: string) => string | undefined;

export function renderRoutes(ctx: AppContext): RouteSpec[] {
  // Slicer propagates a new active volume (POST /slicer/volume, /volumeSelection) to every slice
  // view's background: views with an explicit background go back to following the active volume.
  // (An active label map goes to the label layer instead.)
  const off = ctx.scene.onChange((change) => {
    if (change.type === 'clear') forgetActiveVolume(ctx.scene, 'all');
    if (change.type === 'remove') forgetActiveVolume(ctx.scene, change.ids);
    if (!change.fields?.includes('activeVolumeId') || !change.activeVolumeId) return;
    noteActiveVolume(ctx.scene, change.activeVolumeId);
    const active = ctx.scene.byId(change.activeVolumeId);
    const layer = active?.className === 'vtkMRMLLabelMapVolumeNode' ? 'label' : 'background';
    for (const name of SLICE_VIEWS) {
      const v = ctx.views.slice(name);
      if (v[layer] === undefined) continue;
      const next = structuredClone(v) as SliceViewState;
      delete next[layer];
      ctx.views.setSlice(name, next);
    }
  });
  ctx.closers.push(off);
  return [
    { method: 'GET', path: '/slice', handler: getSlice(ctx) },
    { method: 'GET', path: '/slice/stream', handler: getSliceStream(ctx) },
    { method: 'GET', path: '/threeD', handler: getThreeD(ctx) },
    { method: 'GET', path: '/threeD/stream', handler: getThreeDStream(ctx) },
    { method: 'GET', path: '/screenshot', handler: getScreenshot(ctx) },
    // Changing the layout on GET (Slicer's API) is a write: token and CSRF guards apply. Render
    // GETs (slice, threeD, screenshot) also move their view, but are left as reads on purpose:
    // they must work as <img src> and only change how the shared view looks, not scene data.
    {
      method: ['GET', 'PUT'],
      path: '/gui',
      handler: gui(ctx),
      mutates: (c) =>
        c.req.query('viewersLayout') !== undefined || c.req.query('contents') !== undefined,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Parameters

function parseFormat(q: Query, fallback: ImageFormat): EncodeOptions {
  const raw = q('format');
  const format =
    raw === undefined
      ? fallback
      : parseEnum<ImageFormat>('format', raw, ['png', 'jpeg'], { jpg: 'jpeg' });
  const qraw = q('quality');
  const quality =
    qraw === undefined ? 90 : parseNumber('quality', qraw, { min: 1, max: 100, integer: true });
  return { format, quality, compressionLevel: 1 };
}

const NONE = new Set(['', 'none']);

/**
 * A layer parameter: a volume node id/name/glob; '' / none → no layer ('' stored; for the
 * background: the default volume again, stored as undefined). null = not given.
 */
function layerParam(
  ctx: AppContext,
  name: string,
  raw: string | undefined,
): string | undefined | null {
  if (raw === undefined) return null; // not given
  if (NONE.has(raw.trim().toLowerCase())) return name === 'background' ? undefined : '';
  const node = findVolume(ctx.scene, raw);
  if (!node) throw invalidParameter(name, `no volume node matches "${raw}"`);
  return node.id;
}

/**
 * `segmentation=`: a segmentation node id/name/glob → its id; `none` → '' (no overlay); `all` →
 * undefined (every segmentation); null = not given.
 */
function segmentationParam(ctx: AppContext, raw: string | undefined): string | undefined | null {
  if (raw === undefined) return null;
  const t = raw.trim().toLowerCase();
  if (NONE.has(t)) return '';
  if (t === 'all') return undefined;
  const node = ctx.scene.findNodes(raw.trim()).find(isSegmentationNode);
  if (!node) throw invalidParameter('segmentation', `no segmentation node matches "${raw}"`);
  return node.id;
}

/** Applies the `/slice` parameters to a copy of the view's state; throws before changing anything. */
export function applySliceParams(
  ctx: AppContext,
  q: Query,
): { name: SliceViewName; view: SliceViewState } {
  const rawView = q('view');
  const name = rawView === undefined ? 'red' : parseEnum('view', rawView, SLICE_VIEWS);
  let v: SliceViewState = structuredClone(ctx.views.slice(name) as SliceViewState);
  const scene = ctx.scene;

  // Parse everything first.
  const background = layerParam(ctx, 'background', q('background'));
  const foreground = layerParam(ctx, 'foreground', q('foreground'));
  const label = layerParam(ctx, 'label', q('label'));
  const num = (n: string, o: Parameters<typeof parseNumber>[2] = {}) =>
    q(n) === undefined ? undefined : parseNumber(n, q(n)!, o);
  const foregroundOpacity = num('foregroundOpacity', { min: 0, max: 1 });
  const labelOpacity = num('labelOpacity', { min: 0, max: 1 });
  const rawWindow = q('window');
  const window =
    rawWindow === undefined
      ? undefined
      : rawWindow.trim().toLowerCase() === 'auto'
        ? 'auto'
        : parseNumber('window', rawWindow, { min: 0, exclusiveMin: true });
  const rawLevel = q('level');
  const level =
    rawLevel === undefined
      ? undefined
      : rawLevel.trim().toLowerCase() === 'auto'
        ? 'auto'
        : parseNumber('level', rawLevel);
  const interpolation =
    q('interpolation') === undefined
      ? undefined
      : parseEnum('interpolation', q('interpolation')!, ['nearest', 'linear'] as const, {
          nearestneighbor: 'nearest',
          trilinear: 'linear',
        });
  const fiducials =
    q('fiducials') === undefined ? undefined : parseBool('fiducials', q('fiducials')!);
  const segmentation = segmentationParam(ctx, q('segmentation'));
  const segmentationOpacity = num('segmentationOpacity', { min: 0, max: 1 });
  const outline = q('outline') === undefined ? undefined : parseBool('outline', q('outline')!);
  const size = q('size') === undefined ? undefined : parseSize('size', q('size')!);
  let fov: [number, number] | 'auto' | undefined;
  const rawFov = q('fov');
  if (rawFov !== undefined) {
    if (rawFov.trim().toLowerCase() === 'auto') fov = 'auto';
    else {
      const parts = rawFov.split(/[xX×,]/);
      if (parts.length > 2) throw invalidParameter('fov', `expected mm or WxH mm, got "${rawFov}"`);
      const fw = parseNumber('fov', parts[0]!, { min: 0, exclusiveMin: true, max: 100000 });
      fov =
        parts.length === 2
          ? [fw, parseNumber('fov', parts[1]!, { min: 0, exclusiveMin: true, max: 100000 })]
          : [fw, NaN];
    }
  }
  const rawCopy = q('copySliceGeometryFrom');
  const copyFrom =
    rawCopy === undefined ? undefined : parseEnum('copySliceGeometryFrom', rawCopy, SLICE_VIEWS);
  // Slicer leaves the geometry alone for an orientation it does not know; `oblique`/`reformat`
  // (what a client sends to keep an oblique view) do the same here. Other values are 400: a
  // misspelt `axail` would otherwise silently show the wrong plane.
  const rawOrientation = q('orientation');
  const orientation =
    rawOrientation === undefined || KEEP_ORIENTATION.has(rawOrientation.trim().toLowerCase())
      ? undefined
      : parseEnum('orientation', rawOrientation, ORIENTATIONS);
  let sliceToRAS: Mat4 | undefined;
  if (q('sliceToRAS') !== undefined) {
    const m = parseNumberList('sliceToRAS', q('sliceToRAS')!, 16) as Mat4;
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
    sliceToRAS = m;
  }
  if (orientation !== undefined && sliceToRAS !== undefined)
    throw invalidParameter('sliceToRAS', 'give either orientation or sliceToRAS, not both');
  const scrollTo = num('scrollTo', { min: 0, max: 1 });
  const offset = num('offset');

  // Then apply: layers, display, size; re-fit on a new background; geometry in a fixed order:
  // copySliceGeometryFrom → orientation / sliceToRAS → scrollTo → offset.
  if (background !== null) v.background = background;
  if (foreground !== null) v.foreground = foreground;
  if (label !== null) v.label = label;
  if (foregroundOpacity !== undefined) v.foregroundOpacity = foregroundOpacity;
  if (labelOpacity !== undefined) v.labelOpacity = labelOpacity;
  if (window !== undefined) {
    v.window = window;
    if (window === 'auto') delete v.level;
  }
  if (level !== undefined) {
    if (level === 'auto') delete v.level;
    else v.level = level;
  }
  if (interpolation !== undefined) v.interpolation = interpolation;
  if (fiducials !== undefined) v.fiducials = fiducials;
  if (segmentation === null) {
    /* not given */
  } else if (segmentation === undefined) delete v.segmentation;
  else v.segmentation = segmentation;
  if (segmentationOpacity !== undefined) v.segmentationOpacity = segmentationOpacity;
  if (outline !== undefined) v.outline = outline;
  if (size !== undefined) {
    // A fixed fov keeps its horizontal extent and follows the new aspect ratio.
    if (v.fov) v.fov = [v.fov[0], (v.fov[0] * size[1]) / size[0]];
    v.size = size;
  }
  v = refit(scene, v);
  const layers = sliceLayers(scene, v);
  const reference = layers.background ?? layers.foreground ?? layers.label;
  if (copyFrom !== undefined) {
    // The other view as it would render now (fitted to its background if it never was).
    const other = refit(scene, structuredClone(ctx.views.slice(copyFrom) as SliceViewState));
    const otherFov = effectiveFov(scene, other, reference);
    v.sliceToRAS = [...other.sliceToRAS] as Mat4;
    v.orientation = other.orientation;
    v.fov = [otherFov[0], (otherFov[0] * v.size[1]) / v.size[0]];
  }
  if (orientation !== undefined && orientation !== v.orientation)
    v = withOrientation(scene, v, orientation, reference);
  if (sliceToRAS !== undefined) {
    v.sliceToRAS = sliceToRAS;
    v.orientation = 'reformat';
  }
  if (scrollTo !== undefined) {
    if (!reference)
      throw invalidParameter('scrollTo', 'needs a volume in the view to scroll through');
    const [lo, hi] = sliceBounds(scene, reference, v);
    v = withOffset(v, snapToSlice(scene, reference, v, lo + scrollTo * (hi - lo)));
  }
  if (offset !== undefined) v = withOffset(v, offset);
  if (fov === 'auto') delete v.fov;
  else if (fov) v.fov = [fov[0], Number.isNaN(fov[1]) ? (fov[0] * v.size[1]) / v.size[0] : fov[1]];
  return { name, view: v };
}

/** `orientation` values that keep the view's current plane (Slicer's `Reformat`). */
const KEEP_ORIENTATION = new Set(['oblique', 'reformat']);

const AXIS_WORDS: Record<string, Axis> = { r: 'r', l: 'l', a: 'a', p: 'p', s: 's', i: 'i' };

export function applyThreeDParams(ctx: AppContext, q: Query): ThreeDViewState {
  const rawView = q('view');
  if (
    rawView !== undefined &&
    !['1', 'threed', 'view1', '0'].includes(rawView.trim().toLowerCase())
  )
    throw invalidParameter('view', `there is one 3D view: 1 (or threeD), got "${rawView}"`);
  const v: ThreeDViewState = structuredClone(ctx.views.threeD as ThreeDViewState);
  const num = (n: string, o: Parameters<typeof parseNumber>[2] = {}) =>
    q(n) === undefined ? undefined : parseNumber(n, q(n)!, o);
  const rawAxis = q('lookFromAxis');
  let axis: Axis | undefined;
  if (rawAxis !== undefined) {
    // As Slicer: the first letter picks the axis (`L`, `left`, `Left`, `ant`…); a value whose
    // first letter is none of r l a p s i (`x`, `none`) leaves the camera as it is. Empty → 400.
    const w = rawAxis.trim().toLowerCase();
    if (w === '')
      throw invalidParameter('lookFromAxis', 'expected r, l, a, p, s, i (or a word starting so)');
    axis = AXIS_WORDS[w[0]!];
  }
  const orbitX = num('orbitX', { min: -36000, max: 36000 });
  const orbitY = num('orbitY', { min: -36000, max: 36000 });
  const roll = num('roll', { min: -36000, max: 36000 });
  const panX = num('panX', { min: -1e6, max: 1e6 });
  const panY = num('panY', { min: -1e6, max: 1e6 });
  const zoom = num('zoom', { min: 0.01, max: 100 });
  const size = q('size') === undefined ? undefined : parseSize('size', q('size')!);
  const mode =
    q('mode') === undefined
      ? undefined
      : parseEnum<Mode3D>('mode', q('mode')!, ['mip', 'minip', 'composite'], {
          vr: 'composite',
          volume: 'composite',
        });
  const preset =
    q('preset') === undefined ? undefined : parseEnum('preset', q('preset')!, PRESET_NAMES);
  const background =
    q('background') === undefined ? undefined : parseHexColor('background', q('background')!);
  const draft = q('draft') === undefined ? undefined : parseBool('draft', q('draft')!);
  let volume: string | undefined | null = null;
  if (q('volume') !== undefined) {
    const raw = q('volume')!;
    if (NONE.has(raw.trim().toLowerCase())) volume = undefined;
    else {
      const node = ctx.scene.findNodes(raw).find(isVolumeNode);
      if (!node) throw invalidParameter('volume', `no volume node matches "${raw}"`);
      volume = node.id;
    }
  }
  // lookFromAxis resets the camera to that axis (as ctk's lookFromAxis); angles are absolute.
  if (axis !== undefined)
    v.camera = { ...v.camera, axis, orbitX: 0, orbitY: 0, roll: 0, panX: 0, panY: 0 };
  if (orbitX !== undefined) v.camera.orbitX = orbitX;
  if (orbitY !== undefined) v.camera.orbitY = orbitY;
  if (roll !== undefined) v.camera.roll = roll;
  if (panX !== undefined) v.camera.panX = panX;
  if (panY !== undefined) v.camera.panY = panY;
  if (zoom !== undefined) v.camera.zoom = zoom;
  if (size !== undefined) v.size = size;
  if (mode !== undefined) v.mode = mode;
  if (preset !== undefined) v.preset = preset;
  if (background !== undefined) v.background = background;
  if (draft !== undefined) {
    if (draft) v.draft = true;
    else delete v.draft;
  }
  if (volume !== null) {
    if (volume === undefined) delete v.volume;
    else v.volume = volume;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// ETags

function etagOf(parts: unknown): string {
  return `"${createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 22)}"`;
}

function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function imageResponse(c: Context, etag: string, body: Uint8Array, contentType: string): Response {
  const headers = { etag, 'cache-control': 'no-cache' };
  if (matchesIfNoneMatch(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(body as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-type': contentType });
}

const arrayIds = new WeakMap<object, number>();
let nextArrayId = 1;

/**
 * Key (and ETag) of a render: a hash of the job itself — geometry, layers with their display,
 * transforms and voxel arrays (by identity), fiducials, camera — plus the encoding. So the key
 * changes exactly when the image would: an edit to an unrelated node keeps it (and a live
 * stream sends nothing), while replacing a volume's voxels changes it.
 */
export function jobKey(job: SliceJob | ThreeDJob, enc: EncodeOptions): string {
  const json = JSON.stringify(
    [job, enc.format, enc.format === 'jpeg' ? enc.quality : enc.compressionLevel],
    (_k, v: unknown) => {
      if (ArrayBuffer.isView(v)) {
        let id = arrayIds.get(v);
        if (id === undefined) arrayIds.set(v, (id = nextArrayId++));
        return `#${id}`;
      }
      return v;
    },
  );
  return etagOf(json);
}

// ---------------------------------------------------------------------------------------------
// Handlers

const queryOf =
  (c: Context): Query =>
  (n) =>
    c.req.query(n);

export const getSlice = (ctx: AppContext) => async (c: Context) => {
  const q = queryOf(c);
  const enc = parseFormat(q, 'png');
  const { name, view } = applySliceParams(ctx, q);
  ctx.views.setSlice(name, view);
  const job = sliceJob(ctx.scene, view);
  const key = jobKey(job, enc);
  if (matchesIfNoneMatch(c.req.header('if-none-match'), key))
    return c.body(null, 304, { etag: key, 'cache-control': 'no-cache' });
  const out = await ctx.renderer.render(key, job, enc);
  return imageResponse(c, key, out.body, out.contentType);
};

export const getThreeD = (ctx: AppContext) => async (c: Context) => {
  const q = queryOf(c);
  // PNG by default, as Slicer (clients check for image/png); format=jpeg for smaller frames.
  const enc = parseFormat(q, 'png');
  const view = applyThreeDParams(ctx, q);
  ctx.views.setThreeD(view);
  const job = threeDJob(ctx.scene, view);
  const key = jobKey(job, enc);
  if (matchesIfNoneMatch(c.req.header('if-none-match'), key))
    return c.body(null, 304, { etag: key, 'cache-control': 'no-cache' });
  const out = await ctx.renderer.render(key, job, enc);
  return imageResponse(c, key, out.body, out.contentType);
};

// ---------------------------------------------------------------------------------------------
// Layout and screenshot

type Cell = SliceViewName | '1';
/** Rows of cells; each row is one tile high and shares the width equally. */
const LAYOUT_GRID: Partial<Record<LayoutName, Cell[][]>> = {
  FourUp: [
    ['red', '1'],
    ['yellow', 'green'],
  ],
  Conventional: [['1'], ['red', 'yellow', 'green']],
  ConventionalWidescreen: [
    ['1', 'red'],
    ['yellow', 'green'],
  ],
  OneUp3D: [['1']],
  Tabbed3D: [['1']],
  OneUpRedSlice: [['red']],
  TabbedSlice: [['red']],
  OneUpYellowSlice: [['yellow']],
  OneUpGreenSlice: [['green']],
  SideBySide: [['red', 'yellow']],
  Dual3D: [['1', '1']],
  ThreeOverThree: [['red', 'yellow', 'green'], ['1']],
};

/** The tile grid of a layout (layouts without a plot/table-free equivalent use FourUp). */
export const layoutGrid = (l: LayoutName): Cell[][] => LAYOUT_GRID[l] ?? LAYOUT_GRID.FourUp!;

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

function blank(w: number, h: number, text: string): RawImage {
  const rgba = new Uint8Array(w * h * 4);
  const scale = Math.max(1, Math.floor(Math.min(w, h) / 128));
  drawText(
    rgba,
    w,
    h,
    text,
    Math.max(0, Math.floor((w - textWidth(text, scale)) / 2)),
    Math.floor(h / 2 - 3 * scale),
    [110, 110, 110, 255],
    scale,
  );
  const rgb = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++)
    rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = rgba[p * 4 + 3] ? rgba[p * 4]! : 0;
  return { width: w, height: h, channels: 3, data: rgb };
}

async function toRgb(img: RawImage, size: [number, number]): Promise<RawImage> {
  if (img.channels === 3 && img.width === size[0] && img.height === size[1]) return img;
  let s = sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: img.channels },
  });
  if (img.width !== size[0] || img.height !== size[1])
    s = s.resize(size[0], size[1], { fit: 'fill', kernel: 'linear' });
  const data = await s.toColourspace('srgb').removeAlpha().raw().toBuffer();
  return {
    width: size[0],
    height: size[1],
    channels: 3,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

const VIEW_COLOURS: Record<Cell, [number, number, number, number]> = {
  red: [241, 90, 90, 255],
  yellow: [237, 213, 76, 255],
  green: [110, 176, 75, 255],
  '1': [120, 140, 220, 255],
};

async function renderTile(ctx: AppContext, cell: Cell, size: [number, number]): Promise<RawImage> {
  try {
    if (cell === '1') {
      const view = { ...(structuredClone(ctx.views.threeD) as ThreeDViewState), size };
      return await toRgb(await ctx.renderer.raw(threeDJob(ctx.scene, view)), size);
    }
    // The view's own geometry at the tile's size (a fixed fov keeps its horizontal extent).
    const base = refit(ctx.scene, structuredClone(ctx.views.slice(cell) as SliceViewState));
    const view: SliceViewState = { ...base, size };
    if (base.fov) view.fov = [base.fov[0], (base.fov[0] * size[1]) / size[0]];
    return await toRgb(await ctx.renderer.raw(sliceJob(ctx.scene, view)), size);
  } catch (e) {
    if (e instanceof AppError && e.code === 'not_found')
      return blank(size[0], size[1], 'NO VOLUME');
    throw e;
  }
}

export async function composeLayout(ctx: AppContext, tile: number): Promise<RawImage> {
  const grid = layoutGrid(ctx.views.layout);
  const cols = Math.max(...grid.map((r) => r.length));
  const W = cols * tile,
    H = grid.length * tile;
  const out = new Uint8Array(W * H * 3);
  const tasks: Array<Promise<void>> = [];
  grid.forEach((row, r) => {
    const cw = Math.floor(W / row.length);
    row.forEach((cell, i) => {
      const x0 = i * cw,
        y0 = r * tile;
      const w = i === row.length - 1 ? W - x0 : cw;
      tasks.push(
        renderTile(ctx, cell, [w, tile]).then((img) => {
          for (let y = 0; y < tile; y++)
            out.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * W + x0) * 3);
          // View colour bar and name, as Slicer's view controllers show them.
          const rgba = new Uint8Array(w * 10 * 4);
          drawText(rgba, w, 10, cell === '1' ? '3D' : cell.toUpperCase(), 3, 2, VIEW_COLOURS[cell]);
          for (let y = 0; y < 10; y++)
            for (let x = 0; x < w; x++) {
              const o = ((y0 + y) * W + x0 + x) * 3;
              const s = (y * w + x) * 4;
              if (rgba[s + 3]) out.set([rgba[s]!, rgba[s + 1]!, rgba[s + 2]!], o);
              else if (y === 0) out.set(VIEW_COLOURS[cell].slice(0, 3), o);
            }
        }),
      );
    });
  });
  await Promise.all(tasks);
  return { width: W, height: H, channels: 3, data: out };
}

export const getScreenshot = (ctx: AppContext) => async (c: Context) => {
  const q = queryOf(c);
  const enc = parseFormat(q, 'png');
  const tile =
    q('size') === undefined
      ? 256
      : parseNumber('size', q('size')!, { min: 16, max: 2048, integer: true });
  const key = etagOf([
    'screenshot',
    ctx.scene.version,
    ctx.views.version,
    ctx.views.layout,
    tile,
    enc,
  ]);
  if (matchesIfNoneMatch(c.req.header('if-none-match'), key))
    return c.body(null, 304, { etag: key, 'cache-control': 'no-cache' });
  const img = await composeLayout(ctx, tile);
  const out = await encode(img, enc);
  return imageResponse(c, key, out.body, out.contentType);
};

// ---------------------------------------------------------------------------------------------
// Live streams (multipart/x-mixed-replace)

export const BOUNDARY = 'voxelgateframe';

interface Frame {
  key: string;
  produce: () => Promise<Uint8Array>;
}

/**
 * A multipart JPEG stream that pulls: a frame is rendered only when the client has taken the
 * previous one (the stream's pull), from the state at that moment (so piled-up changes collapse
 * into the newest), and only when its key differs from the last frame sent.
 */
function multipartStream(ctx: AppContext, c: Context, frame: () => Frame): Response {
  const enc = new TextEncoder();
  let last: string | undefined;
  let wake: (() => void) | undefined;
  let done = false;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const offScene = ctx.scene.onChange(poke);
  const offViews = ctx.views.onChange(poke);
  const stats = ctx.renderer.stats;
  stats.streams++;
  const finish = () => {
    if (done) return;
    done = true;
    offScene();
    offViews();
    stats.streams--;
    poke();
  };
  const signals = [ctx.shutdown.signal, c.req.raw.signal];
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        for (const s of signals) {
          if (s.aborted) finish();
          s.addEventListener(
            'abort',
            () => {
              const wasDone = done;
              finish();
              if (!wasDone) {
                try {
                  controller.close();
                } catch {
                  /* already closed */
                }
              }
            },
            { once: true },
          );
        }
      },
      async pull(controller) {
        for (;;) {
          if (done) return;
          const f = frame();
          if (f.key !== last) {
            let jpg: Uint8Array;
            try {
              jpg = await f.produce();
            } catch (e) {
              // A full render queue is temporary: wait (or until the next change) and try again.
              if (!(e instanceof AppError && e.code === 'busy')) throw e;
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, (e.details.retryAfter ?? 1) * 1000);
                wake = () => {
                  clearTimeout(timer);
                  resolve();
                };
              });
              continue;
            }
            if (done) return;
            last = f.key;
            controller.enqueue(
              enc.encode(
                `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpg.length}\r\n\r\n`,
              ),
            );
            controller.enqueue(jpg);
            controller.enqueue(enc.encode('\r\n'));
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
      cancel() {
        finish();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    headers: {
      'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
      'cache-control': 'no-cache, no-store',
      'x-accel-buffering': 'no',
    },
  });
}

async function placeholderJpeg(size: [number, number], quality: number): Promise<Uint8Array> {
  const img = blank(size[0], size[1], 'NO VOLUME');
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** The frame for the current state: the job's key, or a placeholder when there is nothing to render. */
function frameOf(
  ctx: AppContext,
  makeJob: () => SliceJob | ThreeDJob,
  enc: EncodeOptions,
  size: [number, number],
): Frame {
  try {
    const job = makeJob();
    const key = jobKey(job, enc);
    return { key, produce: async () => (await ctx.renderer.render(key, job, enc)).body };
  } catch (e) {
    if (e instanceof AppError && e.code === 'not_found')
      return { key: `empty:${size.join('x')}`, produce: () => placeholderJpeg(size, enc.quality) };
    throw e;
  }
}

export const getSliceStream = (ctx: AppContext) => (c: Context) => {
  const q = queryOf(c);
  const qraw = q('quality');
  const quality =
    qraw === undefined ? 80 : parseNumber('quality', qraw, { min: 1, max: 100, integer: true });
  if (q('format') !== undefined)
    parseEnum('format', q('format')!, ['jpeg'] as const, { jpg: 'jpeg' });
  const { name, view } = applySliceParams(ctx, q);
  ctx.views.setSlice(name, view);
  const enc: EncodeOptions = { format: 'jpeg', quality };
  return multipartStream(ctx, c, () => {
    const v = refit(ctx.scene, structuredClone(ctx.views.slice(name) as SliceViewState));
    return frameOf(ctx, () => sliceJob(ctx.scene, v), enc, v.size);
  });
};

export const getThreeDStream = (ctx: AppContext) => (c: Context) => {
  const q = queryOf(c);
  const qraw = q('quality');
  const quality =
    qraw === undefined ? 80 : parseNumber('quality', qraw, { min: 1, max: 100, integer: true });
  if (q('format') !== undefined)
    parseEnum('format', q('format')!, ['jpeg'] as const, { jpg: 'jpeg' });
  ctx.views.setThreeD(applyThreeDParams(ctx, q));
  const enc: EncodeOptions = { format: 'jpeg', quality };
  return multipartStream(ctx, c, () => {
    const v = structuredClone(ctx.views.threeD as ThreeDViewState);
    return frameOf(ctx, () => threeDJob(ctx.scene, v), enc, v.size);
  });
};
