/** `/slicer/sampledata`: lists (no `name`) or loads (`name=`) a built-in sample volume. */
import type { Context } from 'hono';
import { listSamples, loadSample, sampleFor } from '../../scene/samples.js';
import type { AppContext } from '../../server/context.js';
import { str } from '../request.js';
import { persist } from './volumes.js';

export const sampleData = (ctx: AppContext) => async (c: Context) => {
  const name = str(c, 'name');
  if (name === undefined) return c.json(listSamples());
  const node = loadSample(ctx.scene, name);
  await persist(ctx);
  const stand = sampleFor(name)!.name;
  return c.json({
    success: true,
    // Slicer's text reply, then which built-in phantom stands in for a Slicer sample name.
    message:
      stand === name
        ? `Sample data ${name} loaded`
        : `Sample data ${name} loaded (built-in stand-in: ${stand}; voxelgate downloads nothing)`,
    sample: stand,
    loadedNodeIDs: [node.id],
    id: node.id,
    name: node.name,
  });
};
