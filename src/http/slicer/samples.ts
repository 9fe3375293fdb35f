/** `/slicer/sampledata`: lists (no `name`) or loads (`name=`) a built-in sample volume. */
import type { Context } from 'hono';
import { listSamples, loadSample } from '../../scene/samples.js';
import type { AppContext } from '../../server/context.js';
import { str } from '../request.js';
import { persist } from './volumes.js';

export const sampleData = (ctx: AppContext) => async (c: Context) => {
  const name = str(c, 'name');
  if (name === undefined) return c.json(listSamples());
  const node = loadSample(ctx.scene, name);
  await persist(ctx);
  return c.json({
    success: true,
    message: `Sample data ${name} loaded`,
    loadedNodeIDs: [node.id],
    id: node.id,
    name: node.name,
  });
};
