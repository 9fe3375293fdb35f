/** Minimal typing of autocannon 8 (no bundled types), for scripts/load.ts. */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  interface Result {
    requests: { total: number; average: number };
    throughput: { total: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  }
  function autocannon(
    opts: Record<string, unknown>,
    cb: (err: Error | null, result: Result) => void,
  ): EventEmitter;
  export default autocannon;
}
