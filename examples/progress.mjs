// Example plug-in: a slow progress counter. An async generator: each yield is a progress event
// (VolView's style: {progress: 0..100}); the return value is the result. Cancelling the job
// stops it at the next yield.
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), {
      once: true,
    });
  });

export default {
  name: 'progress',
  title: 'Slow progress counter',
  description: 'Counts to `steps`, one step every `delayMs` milliseconds, reporting progress.',
  params: {
    type: 'object',
    properties: {
      steps: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
      delayMs: { type: 'integer', minimum: 0, maximum: 60000, default: 200 },
    },
    additionalProperties: false,
  },
  async *run(ctx, { steps, delayMs }) {
    for (let i = 1; i <= steps; i++) {
      await sleep(delayMs, ctx.signal);
      yield { progress: (100 * i) / steps, message: `step ${i} of ${steps}` };
    }
    return { counted: steps };
  },
};
