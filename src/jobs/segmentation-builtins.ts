/**
 * Built-in functions on segmentations: threshold (volume → segmentation), islands (connected
 * components of a segment), fillBetweenSlices (@itk-wasm/morphological-contour-interpolation),
 * segmentStatistics (per segment: voxels, mm³, intensity statistics, as a table node and values).
 * Results are new nodes, never edits of the input.
 */
import { connectedComponents } from '../imaging/filters.js';
import { ijkToRasMatrix, invert4, mul4, transformPoint } from '../imaging/geometry.js';
import {
  addSegment,
  emptyLabelmap,
  gridOf,
  segmentByRef,
  segmentMask,
  voxelVolumeMm3,
  type Segment,
  type Segmentation,
} from '../imaging/segmentation.js';
import { voxelCount } from '../imaging/types.js';
import { AppError } from '../errors.js';
import { fromItkImage, toItkImage } from './itk-images.js';
import type { TableColumn } from '../scene/scene.js';
import type { FunctionDefinition, JobContext, NewTableOutput, SegmentationInput } from './types.js';

const segmentationParam = (description: string) => ({
  type: 'string',
  'x-node': 'segmentation',
  description,
});

/** A new segmentation on `grid` holding the given masks as segments (in order). */
function segmentationOf(
  grid: Segmentation['labelmap'],
  masks: Array<{ mask: Uint8Array; meta: Partial<Segment> }>,
): Segmentation {
  let s: Segmentation = { labelmap: emptyLabelmap(gridOf(grid), 1), segments: [] };
  for (const { mask, meta } of masks) {
    s = addSegment(s, mask, {
      ...(meta.name !== undefined ? { name: meta.name } : {}),
      ...(meta.color !== undefined ? { color: meta.color } : {}),
      ...(meta.tags !== undefined ? { tags: meta.tags } : {}),
    }).segmentation;
  }
  return s;
}

/** The segment named by id or name (default: the first). */
function pickSegment(input: SegmentationInput, ref: string | undefined): Segment {
  const segs = input.segmentation.segments;
  if (segs.length === 0)
    throw new AppError('invalid_parameter', `params.segmentation: ${input.id} has no segments`, {
      parameter: 'params.segmentation',
    });
  if (ref === undefined) return segs[0]!;
  const hit = segmentByRef(segs, ref);
  if (!hit)
    throw new AppError(
      'invalid_parameter',
      `params.segment: no segment "${ref}" in ${input.id} (${segs.map((s) => s.id).join(', ')})`,
      { parameter: 'params.segment' },
    );
  return hit;
}

const progressOf =
  (ctx: JobContext, msg: string, from = 0, to = 1) =>
  (d: number, t: number) =>
    ctx.progress(from + ((to - from) * d) / t, `${msg} ${d}/${t}`);

const thresholdFn: FunctionDefinition = {
  name: 'threshold',
  title: 'Threshold → segmentation',
  description:
    'A new segmentation on the volume’s grid with one segment: the voxels with lower ≤ value ≤ upper.',
  params: {
    type: 'object',
    properties: {
      volume: { type: 'string', 'x-node': 'volume', description: 'default: the active volume' },
      lower: { type: 'number', default: -1e308 },
      upper: { type: 'number', default: 1e308 },
      segmentName: { type: 'string', default: 'Threshold' },
    },
    additionalProperties: false,
  },
  outputs: ['segmentation'],
  async run(ctx, p) {
    const input = await ctx.volume(p.volume as string | undefined);
    const v = input.volume;
    if (v.components !== 1)
      throw new AppError('invalid_parameter', 'params.volume: threshold needs a scalar volume', {
        parameter: 'params.volume',
      });
    const lower = p.lower as number,
      upper = p.upper as number;
    if (lower > upper)
      throw new AppError('invalid_parameter', 'params.lower: must be ≤ upper', {
        parameter: 'params.lower',
      });
    const n = voxelCount(v);
    const mask = new Uint8Array(n);
    const plane = v.dimensions[0] * v.dimensions[1];
    let count = 0;
    for (let k = 0, q = 0; k < v.dimensions[2]; k++) {
      for (let e = q + plane; q < e; q++) {
        const x = v.data[q]!;
        if (x >= lower && x <= upper) {
          mask[q] = 1;
          count++;
        }
      }
      ctx.progress(
        (0.8 * (k + 1)) / v.dimensions[2],
        `threshold: slice ${k + 1}/${v.dimensions[2]}`,
      );
    }
    const segmentation = segmentationOf(v, [{ mask, meta: { name: p.segmentName as string } }]);
    ctx.addSegmentation({
      segmentation,
      referenceVolumeId: input.id,
      parentTransformID: input.parentTransformID,
    });
    return { input: input.id, voxelCount: count, volumeMm3: count * voxelVolumeMm3(v) };
  },
};

const islandsFn: FunctionDefinition = {
  name: 'islands',
  title: 'Islands',
  description:
    'Connected components of a segment: keep the largest, remove those smaller than minimumSize voxels, or split each island into its own segment (largest first). The result is a new segmentation.',
  params: {
    type: 'object',
    properties: {
      segmentation: segmentationParam('input segmentation'),
      segment: {
        type: 'string',
        'x-segment-of': 'segmentation',
        description: 'segment id or name (default: the first)',
      },
      mode: {
        type: 'string',
        enum: ['keepLargest', 'removeSmall', 'split'],
        default: 'keepLargest',
      },
      minimumSize: {
        type: 'integer',
        minimum: 1,
        default: 1000,
        description: 'voxels (removeSmall, split)',
      },
      connectivity: {
        type: 'integer',
        enum: [6, 26],
        default: 6,
        description: '6 = faces, 26 = also edges and corners',
      },
    },
    required: ['segmentation'],
    additionalProperties: false,
  },
  outputs: ['segmentation'],
  async run(ctx, p) {
    const input = await ctx.segmentation(p.segmentation as string);
    const seg = pickSegment(input, p.segment as string | undefined);
    const { mask } = segmentMask(input.segmentation, seg.id);
    const lm = input.segmentation.labelmap;
    const { labels, sizes } = connectedComponents(
      mask,
      lm.dimensions,
      p.connectivity as 6 | 26,
      progressOf(ctx, 'islands: slice', 0, 0.7),
    );
    const order = sizes.map((size, i) => ({ label: i + 1, size })).sort((a, b) => b.size - a.size);
    const min = p.minimumSize as number;
    const keep = (label: number) => {
      const m = new Uint8Array(labels.length);
      for (let q = 0; q < labels.length; q++) if (labels[q] === label) m[q] = 1;
      return m;
    };
    let masks: Array<{ mask: Uint8Array; meta: Partial<Segment> }>;
    if (p.mode === 'keepLargest') {
      const m = order[0] ? keep(order[0].label) : new Uint8Array(labels.length);
      masks = [{ mask: m, meta: { name: seg.name, color: seg.color, tags: seg.tags } }];
    } else if (p.mode === 'removeSmall') {
      const big = new Set(order.filter((o) => o.size >= min).map((o) => o.label));
      const m = new Uint8Array(labels.length);
      for (let q = 0; q < labels.length; q++) if (big.has(labels[q]!)) m[q] = 1;
      masks = [{ mask: m, meta: { name: seg.name, color: seg.color, tags: seg.tags } }];
    } else {
      const parts = order.filter((o) => o.size >= min);
      if (parts.length > 250)
        throw new AppError(
          'invalid_parameter',
          `params.minimumSize: ${parts.length} islands would become segments; raise minimumSize`,
          {
            parameter: 'params.minimumSize',
          },
        );
      masks = parts.map((o, i) => ({
        mask: keep(o.label),
        meta: { name: `${seg.name}_${i + 1}` },
      }));
    }
    ctx.progress(0.85, 'building the segmentation');
    ctx.addSegmentation({
      segmentation: segmentationOf(lm, masks),
      ...(input.referenceVolumeId ? { referenceVolumeId: input.referenceVolumeId } : {}),
      parentTransformID: input.parentTransformID,
    });
    return {
      input: input.id,
      segment: seg.id,
      islands: sizes.length,
      sizes: order.slice(0, 100).map((o) => o.size),
      kept: masks.map((m) => m.mask.reduce((a, b) => a + b, 0)),
    };
  },
};

const fillFn: FunctionDefinition = {
  name: 'fillBetweenSlices',
  title: 'Fill between slices',
  description:
    'Interpolates a segment drawn on some slices to the slices between them (morphological contour interpolation, @itk-wasm/morphological-contour-interpolation). The result is a new segmentation.',
  params: {
    type: 'object',
    properties: {
      segmentation: segmentationParam('input segmentation'),
      segment: {
        type: 'string',
        'x-segment-of': 'segmentation',
        description: 'segment id or name (default: the first)',
      },
      axis: {
        type: 'integer',
        enum: [-1, 0, 1, 2],
        default: -1,
        description: 'interpolate along this index axis only (-1: all)',
      },
    },
    required: ['segmentation'],
    additionalProperties: false,
  },
  outputs: ['segmentation'],
  async run(ctx, p) {
    const input = await ctx.segmentation(p.segmentation as string);
    const seg = pickSegment(input, p.segment as string | undefined);
    const { mask } = segmentMask(input.segmentation, seg.id);
    const lm = input.segmentation.labelmap;
    ctx.progress(0.1, 'interpolating');
    const img = toItkImage({ ...gridOf(lm), scalarType: 'uint8', components: 1, data: mask });
    const mci = await import('@itk-wasm/morphological-contour-interpolation');
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- itk-wasm takes plain Image-shaped objects
    const { outputImage } = await mci.morphologicalContourInterpolationNode(img, {
      label: 1,
      axis: p.axis as number,
    });
    ctx.progress(0.9, 'building the segmentation');
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- itk-wasm returns plain Image-shaped objects
    const out = fromItkImage(outputImage);
    const filled = new Uint8Array(out.data.length);
    for (let q = 0; q < filled.length; q++) if (out.data[q]) filled[q] = 1;
    ctx.addSegmentation({
      segmentation: segmentationOf(lm, [
        { mask: filled, meta: { name: seg.name, color: seg.color, tags: seg.tags } },
      ]),
      ...(input.referenceVolumeId ? { referenceVolumeId: input.referenceVolumeId } : {}),
      parentTransformID: input.parentTransformID,
    });
    let before = 0,
      after = 0;
    for (let q = 0; q < filled.length; q++) {
      before += mask[q]!;
      after += filled[q]!;
    }
    return { input: input.id, segment: seg.id, voxelsBefore: before, voxelsAfter: after };
  },
};

const statisticsFn: FunctionDefinition = {
  name: 'segmentStatistics',
  title: 'Segment statistics',
  description:
    'Per segment: voxel count, volume in mm³, and with a scalar volume the mean, standard deviation, minimum and maximum of its voxels inside the segment (nearest voxel at each segment voxel centre, in world coordinates). Adds a table node (one row per segment) and returns the same numbers as values.',
  params: {
    type: 'object',
    properties: {
      segmentation: segmentationParam('input segmentation'),
      volume: {
        type: 'string',
        'x-node': 'volume',
        description: 'scalar volume for intensity statistics (optional)',
      },
    },
    required: ['segmentation'],
    additionalProperties: false,
  },
  outputs: ['table', 'values'],
  async run(ctx, p) {
    const input = await ctx.segmentation(p.segmentation as string);
    const scalar = p.volume !== undefined ? await ctx.volume(p.volume as string) : undefined;
    const lm = input.segmentation.labelmap;
    const [di, dj, dk] = lm.dimensions;
    const segs = input.segmentation.segments;
    // Segment voxel (i,j,k) → scalar volume index, through world space.
    const toScalar = scalar
      ? mul4(
          mul4(invert4(ijkToRasMatrix(scalar.volume)), invert4(scalar.worldFromLocal)),
          mul4(input.worldFromLocal, ijkToRasMatrix(lm)),
        )
      : undefined;
    const acc = segs.map(() => ({
      n: 0,
      inside: 0,
      sum: 0,
      sum2: 0,
      min: Infinity,
      max: -Infinity,
    }));
    const nc = lm.components;
    for (let k = 0; k < dk; k++) {
      for (let j = 0; j < dj; j++)
        for (let i = 0; i < di; i++) {
          const q = (k * dj + j) * di + i;
          let value: number | undefined;
          let looked = false;
          for (let s = 0; s < segs.length; s++) {
            const seg = segs[s]!;
            if (lm.data[q * nc + seg.layer] !== seg.labelValue) continue;
            const a = acc[s]!;
            a.n++;
            if (!toScalar || !scalar) continue;
            if (!looked) {
              looked = true;
              const x = transformPoint(toScalar, [i, j, k]).map(Math.round);
              const [si, sj, sk] = scalar.volume.dimensions;
              if (x[0]! >= 0 && x[1]! >= 0 && x[2]! >= 0 && x[0]! < si && x[1]! < sj && x[2]! < sk)
                value =
                  scalar.volume.data[
                    ((x[2]! * sj + x[1]!) * si + x[0]!) * scalar.volume.components
                  ]!;
            }
            if (value === undefined) continue;
            a.inside++;
            a.sum += value;
            a.sum2 += value * value;
            if (value < a.min) a.min = value;
            if (value > a.max) a.max = value;
          }
        }
      ctx.progress((k + 1) / dk, `statistics: slice ${k + 1}/${dk}`);
    }
    const vox = voxelVolumeMm3(lm);
    const values = {
      segmentation: input.id,
      ...(scalar ? { volume: scalar.id } : {}),
      segments: segs.map((seg, s) => {
        const a = acc[s]!;
        const mean = a.inside ? a.sum / a.inside : null;
        return {
          id: seg.id,
          name: seg.name,
          voxelCount: a.n,
          volumeMm3: a.n * vox,
          ...(scalar
            ? {
                mean,
                std: a.inside ? Math.sqrt(Math.max(0, a.sum2 / a.inside - mean! * mean!)) : null,
                min: a.inside ? a.min : null,
                max: a.inside ? a.max : null,
                sampledVoxels: a.inside,
              }
            : {}),
        };
      }),
    };
    ctx.addTable(statisticsTable(values.segments, scalar !== undefined));
    return values;
  },
};

/** The statistics as a table node: one row per segment (intensity columns with a scalar volume). */
function statisticsTable(
  rows: Array<{
    id: string;
    name: string;
    voxelCount: number;
    volumeMm3: number;
    mean?: number | null;
    std?: number | null;
    min?: number | null;
    max?: number | null;
  }>,
  intensity: boolean,
): NewTableOutput {
  const columns: TableColumn[] = [
    { name: 'Segment', type: 'string' },
    { name: 'Segment ID', type: 'string' },
    { name: 'Number of voxels', type: 'int', unit: 'voxels' },
    { name: 'Volume [mm3]', type: 'double', unit: 'mm3' },
  ];
  if (intensity)
    for (const name of ['Mean', 'Standard deviation', 'Minimum', 'Maximum'])
      columns.push({ name, type: 'double' });
  return {
    name: 'statistics',
    columns,
    rows: rows.map((r) => [
      r.name,
      r.id,
      r.voxelCount,
      r.volumeMm3,
      ...(intensity ? [r.mean ?? null, r.std ?? null, r.min ?? null, r.max ?? null] : []),
    ]),
  };
}

export const SEGMENTATION_BUILTINS: readonly FunctionDefinition[] = [
  thresholdFn,
  islandsFn,
  fillFn,
  statisticsFn,
];
