/**
 * Live event responses: Server-Sent Events through Hono's `streamSSE`, or NDJSON (one JSON object
 * per line: `{"event", "id", "data"}`) when the client asks for `application/x-ndjson`. A producer
 * pushes events into a sink; the response drains them in order, sends a keep-alive comment every
 * 15 s, and ends when the producer closes the sink, the client goes away, or the server shuts down.
 *
 * streamSSE sets `Transfer-Encoding` and `Connection`, which HTTP/2 forbids (an HTTP/2 response
 * carrying them crashes node's http2 layer): they are removed here, whatever the protocol.
 */
import type { Context } from 'hono';
import { stream as honoStream, streamSSE } from 'hono/streaming';

export interface StreamEvent {
  event: string;
  data: unknown;
  id?: string | number;
}

export interface EventSink {
  send(e: StreamEvent): void;
  /** Ends the response after the events already sent. */
  close(): void;
  /** Aborted when the client disconnects or the server shuts down. */
  signal: AbortSignal;
}

const KEEPALIVE_MS = 15_000;

export const wantsNdjson = (c: Context): boolean =>
  /application\/(x-)?ndjson/i.test(c.req.header('accept') ?? '');

/**
 * Runs `producer` with a sink and answers the stream. `producer` may return a cleanup function
 * (unsubscribe), called once the stream ends for any reason.
 */
export function eventStream(
  c: Context,
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a producer may return its cleanup, or nothing
  producer: (sink: EventSink) => void | (() => void),
  shutdown?: AbortSignal,
): Response {
  const queue: StreamEvent[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const abort = new AbortController();
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const sink: EventSink = {
    send(e) {
      if (closed) return;
      queue.push(e);
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    signal: abort.signal,
  };
  const onShutdown = () => {
    abort.abort();
    sink.close();
  };
  shutdown?.addEventListener('abort', onShutdown, { once: true });
  if (shutdown?.aborted) onShutdown();

  const drain = async (
    write: (e: StreamEvent) => Promise<unknown>,
    keepalive: () => Promise<unknown>,
    isAborted: () => boolean,
  ) => {
    const cleanup = producer(sink);
    try {
      for (;;) {
        while (queue.length && !isAborted()) await write(queue.shift()!);
        if ((closed && queue.length === 0) || isAborted()) break;
        const timedOut = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(true), KEEPALIVE_MS);
          wake = () => {
            clearTimeout(t);
            resolve(false);
          };
        });
        if (timedOut && !isAborted()) await keepalive();
      }
    } finally {
      abort.abort();
      shutdown?.removeEventListener('abort', onShutdown);
      if (typeof cleanup === 'function') cleanup();
    }
  };

  let res: Response;
  if (wantsNdjson(c)) {
    c.header('content-type', 'application/x-ndjson; charset=utf-8');
    c.header('cache-control', 'no-store');
    res = honoStream(c, async (s) => {
      s.onAbort(() => {
        abort.abort();
        notify();
      });
      await drain(
        (e) =>
          s.write(
            JSON.stringify({
              event: e.event,
              ...(e.id !== undefined ? { id: e.id } : {}),
              data: e.data,
            }) + '\n',
          ),
        () => s.write('\n'),
        () => s.aborted || abort.signal.aborted,
      );
    });
  } else {
    c.header('cache-control', 'no-store');
    // Tells nginx-like proxies not to buffer the stream.
    c.header('x-accel-buffering', 'no');
    res = streamSSE(c, async (s) => {
      s.onAbort(() => {
        abort.abort();
        notify();
      });
      await drain(
        (e) =>
          s.writeSSE({
            event: e.event,
            data: JSON.stringify(e.data),
            ...(e.id !== undefined ? { id: String(e.id) } : {}),
          }),
        () => s.write(': keep-alive\n\n'),
        () => s.aborted || abort.signal.aborted,
      );
    });
  }
  res.headers.delete('transfer-encoding');
  res.headers.delete('connection');
  return res;
}
