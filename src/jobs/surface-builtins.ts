/**
 * The `surfaces` built-in: segments of a segmentation → closed-surface model nodes, with the same
 * surface code (and the same smoothing and decimation options) as `POST
 * /slicer/segmentation/surfaces` (`imaging/surface.ts`: vtk.js marching cubes, windowed-sinc
 * smoothing, meshoptimizer decimation). One model per non-empty segment, in the segment's colour,
 * under the segmentation's parent transform; cancellable between segments.
 */
import { AppError } from '../errors.js';
import { segmentByRef, type Segment } from '../imaging/segmentation.js';
import { maskSurface } from '../imaging/surface.js';
import { surfaceOfSegment, type SegmentSurfaceSummary } from '../scene/build-surfaces.js';
import type { FunctionDefinition, SegmentationInput } from './types.js';

/** The segments named by id or name (all when `refs` is absent or empty). */
function pickSegments(input: SegmentationInput, refs: string[] | undefined): Segment[] {
  const segs = input.segmentation.segments;
  if (!refs?.length) return [...segs];
  return refs.map((ref) => {
    const hit = segmentByRef(segs, ref);
    if (!hit)
      throw new AppError(
        'invalid_parameter',
        `params.segments: no segment "${ref}" in ${input.id} (${segs.map((s) => `${s.id} "${s.name}"`).join(', ') || 'no segments'})`,
        { parameter: 'params.segments' },
      );
    return hit;
  });
}

export const surfacesFn: FunctionDefinition = {
  name: 'surfaces',
  title: 'Segments → surface models',
  description:
    'One closed-surface model node per segment (marching cubes on the segment’s voxels, windowed-sinc smoothing, optional decimation), in the segment’s colour, under the segmentation’s transform. Empty segments make no model.',
  params: {
    type: 'object',
    properties: {
      segmentation: { type: 'string', 'x-node': 'segmentation', description: 'input segmentation' },
      segments: {
        type: 'array',
        items: { type: 'string' },
        'x-segment-of': 'segmentation',
        description: 'segment ids or names (default: all segments)',
      },
      smoothing: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description: '0 = none … 1 = strong (Slicer’s default 0.5)',
      },
      decimation: {
        type: 'number',
        minimum: 0,
        maximum: 0.95,
        default: 0,
        description: 'fraction of triangles to remove',
      },
    },
    required: ['segmentation'],
    additionalProperties: false,
  },
  outputs: ['model', 'values'],
  async run(ctx, p) {
    const input = await ctx.segmentation(p.segmentation as string);
    const segments = pickSegments(input, p.segments as string[] | undefined);
    const smoothing = (p.smoothing as number | undefined) ?? 0.5;
    const decimation = (p.decimation as number | undefined) ?? 0;
    const out: Array<SegmentSurfaceSummary & { model: boolean }> = [];
    for (const [s, seg] of segments.entries()) {
      ctx.progress(s / segments.length, `surface of ${seg.name} (${s + 1}/${segments.length})`);
      const { mesh, summary } = await surfaceOfSegment(
        input.segmentation,
        seg,
        { smoothing, decimation },
        maskSurface,
      );
      const model = summary.numberOfTriangles > 0;
      if (model)
        ctx.addModel({
          name: seg.name,
          mesh,
          color: [...seg.color] as [number, number, number],
          ...(input.parentTransformID ? { parentTransformID: input.parentTransformID } : {}),
        });
      out.push({ ...summary, model });
    }
    ctx.progress(1, `${out.filter((o) => o.model).length} surface(s)`);
    return { segmentation: input.id, smoothing, decimation, segments: out };
  },
};
