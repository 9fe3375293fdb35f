/**
 * HTTP load for the benchmarks: autocannon (a lean HTTP/1.1 client, far less CPU per request than
 * `fetch`) run in a child process (autocannon answers raw histograms inside a worker thread), so
 * the server's event loop only serves requests. Each request takes the next path of `paths`
 * across all connections, so concurrent requests are distinct.
 */
import { spawn } from 'node:child_process';

export interface LoadResult {
  requests: number;
  /** Requests per second over the run's wall time. */
  rps: number;
  /** Latency percentiles in whole milliseconds (autocannon's resolution). */
  p50: number;
  p99: number;
  bytes: number;
  errors: number;
  non2xx: number;
}

const CODE = `
const autocannon = require('autocannon');
const { base, connections, seconds, paths } = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const send = (m) => process.stdout.write(JSON.stringify(m));
let i = 0;
const opts = {
  url: base,
  connections,
  pipelining: 1,
  timeout: 30,
  requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }],
};
opts.duration = seconds;
autocannon(opts, (err, r) => {
  if (err) send({ error: String(err) });
  else send({
    requests: r.requests.total,
    rps: r.requests.total / (r.duration || 1),
    p50: r.latency.p50,
    p99: r.latency.p99,
    bytes: r.throughput.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  });
});`;

/** `seconds` of load with `connections` concurrent clients. */
export async function load(
  base: string,
  o: { connections: number; paths: string[]; seconds?: number },
): Promise<LoadResult> {
  const child = spawn(process.execPath, ['-e', CODE], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(
    JSON.stringify({
      base,
      connections: o.connections,
      seconds: o.seconds ?? 3,
      paths: o.paths,
    }),
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`autocannon exited with ${code}`)),
      );
    });
    const r = JSON.parse(out) as LoadResult & { error?: string };
    if (r.error) throw new Error(r.error);
    if (r.errors > 0 || r.non2xx > 0)
      throw new Error(`load: ${r.errors} errors and ${r.non2xx} non-2xx answers`);
    return r;
  } finally {
    child.kill();
  }
}
