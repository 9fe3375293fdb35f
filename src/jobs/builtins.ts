/**
 * Built-in processing functions. Each has a JSON Schema for its params (node parameters carry
 * `"x-node"`), runs in a job worker, reports progress per slice (the cancellation points), and
 * adds its results as new nodes named after the job. itk-wasm pipelines are imported lazily, in
 * the worker only.
 */
import {
  IDENTITY4,
  ijkToRasMatrix,
  invert4,
  mat4LpsToRas,
  mul4,
  transformPoint,
} from '../imaging/geometry.js';
import {
  cropToBox,
  gaussian,
  gridWithSpacing,
  hardenGrid,
  ijkBoxOfRasBox,
  median,
  resample,
} from '../imaging/filters.js';
import type { Mat4, Vec3 } from '../imaging/types.js';
import { AppError } from '../errors.js';
import type { TransformList } from 'itk-wasm';
import type { FunctionDefinition, JobContext } from './types.js';
import { fromItkImage, toItkImage } from './itk-images.js';
import { SEGMENTATION_BUILTINS } from './segmentation-builtins.js';
import { surfacesFn } from './surface-builtins.js';
import { segmentByRef, segmentStats } from '../imaging/segmentation.js';

const volumeParam = (description: string) => ({
  type: 'string',
  'x-node': 'volume',
  description,
});
const vec3 = (description: string) => ({
  type: 'array',
  items: { type: 'number' },
  minItems: 3,
  maxItems: 3,
  description,
});

/** ctx.progress as a per-slice callback over a sub-range [from, to] of the job's progress. */
const sliceProgress =
  (ctx: JobContext, message: string, from = 0, to = 1) =>
  (done: number, total: number) =>
    ctx.progress(from + ((to - from) * done) / total, `${message} ${done}/${total}`);

const medianFn: FunctionDefinition = {
  name: 'median',
  title: 'Median filter',
  description:
    'Median of each voxel’s (2r+1)³ neighbourhood (edges replicated), as ITK’s MedianImageFilter. Keeps the scalar type.',
  params: {
    type: 'object',
    properties: {
      volume: volumeParam('input volume (id or name; default the active volume)'),
      radius: {
        type: 'integer',
        minimum: 0,
        maximum: 5,
        default: 1,
        description: 'radius in voxels',
      },
    },
    additionalProperties: false,
  },
  outputs: ['volume'],
  async run(ctx, p) {
    const input = await ctx.volume(p.volume as string | undefined);
    const r = p.radius as number;
    const out = median(input.volume, [r, r, r], sliceProgress(ctx, 'median: slice'));
    const id = ctx.addVolume({
      volume: out,
      className: input.className,
      parentTransformID: input.parentTransformID,
    });
    return { input: input.id, radius: r, output: id };
  },
};

const gaussianFn: FunctionDefinition = {
  name: 'gaussian',
  title: 'Gaussian smoothing',
  description:
    'Separable Gaussian blur with sigma in millimetres (per axis sigma/spacing voxels, kernel to 3 sigma, edges replicated). Output float32.',
  params: {
    type: 'object',
    properties: {
      volume: volumeParam('input volume (default the active volume)'),
      sigma: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 100,
        default: 1,
        description: 'standard deviation in mm',
      },
    },
    additionalProperties: false,
  },
  outputs: ['volume'],
  async run(ctx, p) {
    const input = await ctx.volume(p.volume as string | undefined);
    if (input.className === 'vtkMRMLLabelMapVolumeNode')
      throw new AppError(
        'invalid_parameter',
        'params.volume: smoothing a label map makes no sense',
        {
          parameter: 'params.volume',
        },
      );
    const out = gaussian(input.volume, p.sigma as number, sliceProgress(ctx, 'gaussian: pass'));
    ctx.addVolume({ volume: out, parentTransformID: input.parentTransformID });
    return { input: input.id, sigma: p.sigma };
  },
};

const resampleFn: FunctionDefinition = {
  name: 'resample',
  title: 'Resample',
  description:
    'Resamples a volume to a new spacing (same box and orientation) or onto the grid of a reference volume (placed in the world). Nearest or linear interpolation; label maps default to nearest.',
  params: {
    type: 'object',
    properties: {
      volume: volumeParam('input volume (default the active volume)'),
      spacing: {
        type: 'array',
        items: { type: 'number', exclusiveMinimum: 0 },
        minItems: 3,
        maxItems: 3,
        description: 'output spacing in mm (i, j, k)',
      },
      reference: volumeParam('reference volume whose grid the output takes'),
      interpolation: { type: 'string', enum: ['auto', 'nearest', 'linear'], default: 'auto' },
    },
    oneOf: [{ required: ['spacing'] }, { required: ['reference'] }],
    additionalProperties: false,
  },
  outputs: ['volume'],
  async run(ctx, p) {
    const input = await ctx.volume(p.volume as string | undefined);
    const interp =
      p.interpolation === 'auto'
        ? input.className === 'vtkMRMLLabelMapVolumeNode'
          ? 'nearest'
          : 'linear'
        : (p.interpolation as 'nearest' | 'linear');
    let target, targetWorld: Mat4, parent: string | undefined;
    if (p.reference !== undefined) {
      const ref = await ctx.volume(p.reference as string);
      target = hardenGrid(ref.volume, ref.worldFromLocal);
      targetWorld = IDENTITY4;
    } else {
      target = gridWithSpacing(input.volume, p.spacing as Vec3);
      targetWorld = input.worldFromLocal;
      parent = input.parentTransformID;
    }
    const voxels = target.dimensions[0] * target.dimensions[1] * target.dimensions[2];
    if (voxels > 2 ** 30)
      throw new AppError(
        'invalid_parameter',
        `params.spacing: the output would have ${voxels} voxels`,
        {
          parameter: 'params.spacing',
        },
      );
    const out = resample(
      input.volume,
      input.worldFromLocal,
      target,
      targetWorld,
      interp,
      sliceProgress(ctx, 'resample: slice'),
    );
    ctx.addVolume({ volume: out, className: input.className, parentTransformID: parent });
    return {
      input: input.id,
      dimensions: out.dimensions,
      spacing: out.spacing,
      interpolation: interp,
    };
  },
};

const cropFn: FunctionDefinition = {
  name: 'crop',
  title: 'Crop',
  description:
    'Keeps the voxels whose centres lie inside a world RAS box (plus a margin in mm). Voxels keep their values and positions.',
  params: {
    type: 'object',
    properties: {
      volume: volumeParam('input volume (default the active volume)'),
      min: vec3('RAS corner with the smallest coordinates (mm)'),
      max: vec3('RAS corner with the largest coordinates (mm)'),
      segmentation: {
        type: 'string',
        'x-node': 'segmentation',
        description: 'instead of min/max: crop to this segmentation’s segment bounding box',
      },
      segment: {
        type: 'string',
        'x-segment-of': 'segmentation',
        description: 'segment id or name (default: the first)',
      },
      margin: { type: 'number', minimum: 0, default: 0, description: 'mm added on each side' },
    },
    oneOf: [{ required: ['min', 'max'] }, { required: ['segmentation'] }],
    additionalProperties: false,
  },
  outputs: ['volume'],
  async run(ctx, p) {
    const input = await ctx.volume(p.volume as string | undefined);
    let min = p.min as Vec3,
      max = p.max as Vec3;
    if (p.segmentation !== undefined) [min, max] = await segmentBox(ctx, p);
    if (min.some((x, a) => x > max[a]!))
      throw new AppError(
        'invalid_parameter',
        'params.min: each coordinate must be ≤ the one of max',
        {
          parameter: 'params.min',
        },
      );
    const box = ijkBoxOfRasBox(input.volume, input.worldFromLocal, min, max, p.margin as number);
    if (!box)
      throw new AppError(
        'invalid_parameter',
        'params.min: the box contains no voxel of the volume',
        {
          parameter: 'params.min',
        },
      );
    ctx.progress(0.5, 'cropping');
    const out = cropToBox(input.volume, box);
    ctx.addVolume({
      volume: out,
      className: input.className,
      parentTransformID: input.parentTransformID,
    });
    return { input: input.id, ijkMin: box.min, ijkMax: box.max, dimensions: out.dimensions };
  },
};

/** World RAS box of a segment's voxel centres (for crop to a segment). */
async function segmentBox(ctx: JobContext, p: Record<string, unknown>): Promise<[Vec3, Vec3]> {
  const seg = await ctx.segmentation(p.segmentation as string);
  const segs = seg.segmentation.segments;
  const ref = p.segment as string | undefined;
  const s = ref === undefined ? segs[0] : segmentByRef(segs, ref);
  if (!s)
    throw new AppError(
      'invalid_parameter',
      `params.segment: no segment ${ref ?? ''} in ${seg.id}`,
      {
        parameter: 'params.segment',
      },
    );
  const e = segmentStats(seg.segmentation).get(s.id)!.extent;
  if (e[1] < e[0])
    throw new AppError('invalid_parameter', `params.segment: segment ${s.id} is empty`, {
      parameter: 'params.segment',
    });
  const m = mul4(seg.worldFromLocal, ijkToRasMatrix(seg.segmentation.labelmap));
  const lo: Vec3 = [Infinity, Infinity, Infinity],
    hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const q = transformPoint(m, [e[c & 1 ? 1 : 0], e[c & 2 ? 3 : 2], e[c & 4 ? 5 : 4]]);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, q[a]!);
      hi[a] = Math.max(hi[a]!, q[a]!);
    }
  }
  return [lo, hi];
}

const downsampleFn: FunctionDefinition = {
  name: 'downsample',
  title: 'Downsample',
  description:
    'Shrinks a volume by an integer factor per axis with @itk-wasm/downsample (Gaussian anti-aliasing; label maps by label voting).',
  params: {
    type: 'object',
    properties: {
      volume: volumeParam('input volume (default the active volume)'),
      factor: {
        anyOf: [
          { type: 'integer', minimum: 1, maximum: 16 },
          {
            type: 'array',
            items: { type: 'integer', minimum: 1, maximum: 16 },
            minItems: 3,
            maxItems: 3,
          },
        ],
        default: 2,
        description: 'shrink factor (one for all axes, or i, j, k)',
      },
    },
    additionalProperties: false,
  },
  outputs: ['volume'],
  async run(ctx, p) {
    const input = await ctx.volume(p.volume as string | undefined);
    const f = p.factor as number | number[];
    const shrinkFactors = Array.isArray(f) ? f : [f, f, f];
    ctx.progress(0.1, 'downsampling');
    const ds = await import('@itk-wasm/downsample');
    const label = input.className === 'vtkMRMLLabelMapVolumeNode';
    const img = toItkImage(input.volume);
    const result = label
      ? (await ds.downsampleLabelImageNode(img, { shrinkFactors })).downsampled
      : (await ds.downsampleNode(img, { shrinkFactors })).downsampled;
    ctx.progress(0.9, 'storing');
    const out = fromItkImage(result);
    ctx.addVolume({
      volume: out,
      className: input.className,
      parentTransformID: input.parentTransformID,
    });
    return { input: input.id, shrinkFactors, dimensions: out.dimensions, spacing: out.spacing };
  },
};

/** 3×3 row-major rotation of ITK's Euler3DTransform (Rz·Rx·Ry, or Rz·Ry·Rx when computeZYX). */
export function eulerMatrix(ax: number, ay: number, az: number, zyx: boolean): number[] {
  const [cx, sx, cy, sy, cz, sz] = [
    Math.cos(ax),
    Math.sin(ax),
    Math.cos(ay),
    Math.sin(ay),
    Math.cos(az),
    Math.sin(az),
  ];
  const Rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  const Ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const Rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  const m = (a: number[], b: number[]) =>
    [0, 1, 2].flatMap((r) =>
      [0, 1, 2].map(
        (c) => a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!,
      ),
    );
  return zyx ? m(m(Rz, Ry), Rx) : m(m(Rz, Rx), Ry);
}

/** 4×4 (row-major) of a matrix A with centre c and translation t: x → A(x − c) + c + t. */
function centredAffine(A: number[], c: number[], t: number[]): Mat4 {
  const off = [0, 1, 2].map(
    (r) => -(A[r * 3]! * c[0]! + A[r * 3 + 1]! * c[1]! + A[r * 3 + 2]! * c[2]!) + c[r]! + t[r]!,
  );
  return [
    A[0]!,
    A[1]!,
    A[2]!,
    off[0]!,
    A[3]!,
    A[4]!,
    A[5]!,
    off[1]!,
    A[6]!,
    A[7]!,
    A[8]!,
    off[2]!,
    0,
    0,
    0,
    1,
  ];
}

const registerFn: FunctionDefinition = {
  name: 'register',
  title: 'Register (elastix)',
  description:
    'Rigid or affine registration of a moving volume to a fixed volume with @itk-wasm/elastix. Adds a linear transform node that moves the moving volume onto the fixed one and, unless applyToMoving is false, places the moving volume under it.',
  params: {
    type: 'object',
    properties: {
      fixed: volumeParam('fixed (reference) volume'),
      moving: volumeParam('moving volume'),
      transform: { type: 'string', enum: ['rigid', 'affine'], default: 'rigid' },
      numberOfResolutions: { type: 'integer', minimum: 1, maximum: 6, default: 3 },
      maximumIterations: {
        type: 'integer',
        minimum: 1,
        maximum: 10000,
        description: 'per resolution (elastix default when absent)',
      },
      applyToMoving: {
        type: 'boolean',
        default: true,
        description: 'put the moving volume under the new transform',
      },
      resampled: {
        type: 'boolean',
        default: false,
        description: 'also add the moving volume resampled onto the fixed grid',
      },
    },
    required: ['fixed', 'moving'],
    additionalProperties: false,
  },
  outputs: ['transform', 'volume'],
  async run(ctx, p) {
    const fixed = await ctx.volume(p.fixed as string);
    const moving = await ctx.volume(p.moving as string);
    if (fixed.volume.components !== 1 || moving.volume.components !== 1)
      throw new AppError(
        'invalid_parameter',
        'params.moving: registration needs scalar (one-component) volumes',
        {
          parameter: 'params.moving',
        },
      );
    ctx.progress(0.02, 'preparing images');
    // Both images in world space (hardened), as float32, LPS for elastix.
    const fixedImg = toItkImage(
      { ...fixed.volume, ...hardenGrid(fixed.volume, fixed.worldFromLocal) },
      'float32',
    );
    const movingImg = toItkImage(
      { ...moving.volume, ...hardenGrid(moving.volume, moving.worldFromLocal) },
      'float32',
    );
    const elastix = await import('@itk-wasm/elastix');
    // One elastix call per resolution level (coarse to fine, each starting from the previous
    // result) instead of one multi-resolution call: the same pyramid, and a progress report and
    // cancellation point between levels (a single call reports nothing for seconds).
    const levels = p.numberOfResolutions as number;
    let initialTransform: TransformList | undefined;
    for (let level = 0; level < levels; level++) {
      const shrink = String(2 ** (levels - 1 - level));
      const { parameterMap } = await elastix.defaultParameterMapNode(p.transform as string, {
        numberOfResolutions: 1,
      });
      const map = parameterMap as Record<string, string[]>;
      map.FixedImagePyramidSchedule = [shrink, shrink, shrink];
      map.MovingImagePyramidSchedule = [shrink, shrink, shrink];
      if (p.maximumIterations !== undefined)
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a validated number parameter
        map.MaximumNumberOfIterations = [String(p.maximumIterations)];
      ctx.progress(
        0.05 + (0.85 * level) / levels,
        `registering: resolution ${level + 1} of ${levels} (shrink ${shrink})`,
      );
      const r = await elastix.elastixNode([map] as never, {
        fixed: fixedImg,
        moving: movingImg,
        ...(initialTransform ? { initialTransform } : {}),
      });
      initialTransform = r.transform;
    }
    ctx.progress(0.9, 'building the transform');
    // The list is [Composite wrapper, newest, …, oldest]; the oldest is applied first.
    let lps: Mat4 = IDENTITY4;
    for (const t of initialTransform!) {
      const kind = t.transformType.transformParameterization;
      if (kind === 'Composite') continue;
      const P = Array.from(t.parameters as ArrayLike<number>);
      const F = Array.from(t.fixedParameters as ArrayLike<number>);
      let m: Mat4;
      if (kind === 'Euler3D') {
        m = centredAffine(eulerMatrix(P[0]!, P[1]!, P[2]!, F[3] === 1), F, P.slice(3, 6));
      } else if (kind === 'Affine') m = centredAffine(P.slice(0, 9), F, P.slice(9, 12));
      else throw new Error(`unexpected elastix transform ${kind}`);
      lps = mul4(lps, m);
    }
    // elastix maps fixed physical points to moving ones (LPS). In RAS, world: fixed → moving.
    const fixedToMoving = mat4LpsToRas(lps);
    const movingToFixed = invert4(fixedToMoving);
    // The node sits where the moving volume's parent is: N = P⁻¹ · X · P (P = moving's world).
    const Pw = moving.worldFromLocal;
    const matrixToParent = mul4(mul4(invert4(Pw), movingToFixed), Pw);
    const tid = ctx.addTransform({ matrixToParent, parentTransformID: moving.parentTransformID });
    if (p.applyToMoving) ctx.setParent(moving.id, tid);
    if (p.resampled) {
      ctx.progress(0.95, 'resampling the moving volume');
      const target = hardenGrid(fixed.volume, fixed.worldFromLocal);
      const out = resample(moving.volume, mul4(movingToFixed, Pw), target, IDENTITY4, 'linear');
      ctx.addVolume({ name: 'resampled', volume: out, className: moving.className });
    }
    return {
      fixed: fixed.id,
      moving: moving.id,
      transform: p.transform,
      resolutions: levels,
      fixedToMovingRas: fixedToMoving,
      movingToFixedRas: movingToFixed,
    };
  },
};

export const BUILTINS: readonly FunctionDefinition[] = [
  medianFn,
  gaussianFn,
  resampleFn,
  cropFn,
  downsampleFn,
  registerFn,
  ...SEGMENTATION_BUILTINS,
  surfacesFn,
];
