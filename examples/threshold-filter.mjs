// Example plug-in: a filter on the current volume (VolView's "median filter on the current
// image" sample, here a simple threshold). Reads the active volume's voxels through ctx, reports
// progress per slice, and adds the result as a new label map volume named after the job.
export default {
  name: 'thresholdMask',
  title: 'Threshold mask of the current volume',
  description: 'A label map that is 1 where lower ≤ value ≤ upper, else 0.',
  params: {
    type: 'object',
    properties: {
      volume: { type: 'string', 'x-node': 'volume', description: 'default: the active volume' },
      lower: { type: 'number', default: 100 },
      upper: { type: 'number', default: 1e308 },
    },
    additionalProperties: false,
  },
  outputs: ['volume'],
  async run(ctx, { volume, lower, upper }) {
    const input = await ctx.volume(volume);
    const v = input.volume;
    const [di, dj, dk] = v.dimensions;
    const slice = di * dj * v.components;
    const out = new Uint8Array(new SharedArrayBuffer(di * dj * dk));
    let count = 0;
    for (let k = 0; k < dk; k++) {
      for (let p = k * slice, q = k * di * dj; p < (k + 1) * slice; p += v.components, q++) {
        const x = v.data[p];
        if (x >= lower && x <= upper) {
          out[q] = 1;
          count++;
        }
      }
      ctx.progress((k + 1) / dk, `slice ${k + 1}/${dk}`);
    }
    ctx.addVolume({
      volume: { ...v, scalarType: 'uint8', components: 1, data: out },
      className: 'vtkMRMLLabelMapVolumeNode',
      parentTransformID: input.parentTransformID,
    });
    return { input: input.id, voxels: count };
  },
};
