/** A small HTTP/2 client for tests: one request on a session, the whole answer collected. */
import http2 from 'node:http2';

export interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

export function h2Connect(
  origin: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin, options);
    session.once('connect', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

export function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': init.method ?? 'GET',
      ':path': path,
      ...init.headers,
    });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () =>
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }),
    );
    stream.on('error', reject);
    stream.end(init.body);
  });
}

/** Resolves when the session closes (GOAWAY, timeout or error), with the error if any. */
export function h2Closed(session: http2.ClientHttp2Session): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let err: Error | undefined;
    session.on('error', (e: Error) => (err = e));
    if (session.closed || session.destroyed) resolve(undefined);
    session.once('close', () => resolve(err));
  });
}
