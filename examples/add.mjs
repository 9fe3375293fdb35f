// Example plug-in: adds two numbers (VolView's "add" sample). Plain JSON in and out, so it can be
// called directly: curl 'http://127.0.0.1:2016/slicer/functions/add?a=1&b=2' → 3
export default {
  name: 'add',
  title: 'Add two numbers',
  description: 'Returns a + b.',
  params: {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
    additionalProperties: false,
  },
  run(ctx, { a, b }) {
    return a + b;
  },
};
