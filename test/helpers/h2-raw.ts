/**
 * Raw HTTP/2 frames over a TCP socket, for attacks a well-behaved client (node:http2) will not
 * send: more streams than the server allows, rapid resets, header and CONTINUATION floods.
 * RFC 9113 §4.1 frame layout; headers are HPACK literals (RFC 7541 §6.2.2) without Huffman.
 */
import net from 'node:net';

export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h.writeUInt8(type, 3);
  h.writeUInt8(flags, 4);
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  if (b.length < 127) return Buffer.concat([Buffer.from([b.length]), b]);
  // 7-bit prefix integer (RFC 7541 §5.1)
  const out = [127];
  let n = b.length - 127;
  while (n >= 128) {
    out.push((n % 128) + 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.concat([Buffer.from(out), b]);
}

/** A GET header block: static-table :method GET, :scheme http, then literal :path, :authority and extras. */
export function getHeaderBlock(
  path: string,
  authority: string,
  extra: Array<[string, string]> = [],
) {
  const parts: Buffer[] = [Buffer.from([0x82, 0x86])];
  // Literal without indexing, indexed name: :path = 4, :authority = 1 (4-bit prefix).
  parts.push(Buffer.from([0x04]), hpackString(path));
  parts.push(Buffer.from([0x01]), hpackString(authority));
  for (const [k, v] of extra) parts.push(Buffer.from([0x00]), hpackString(k), hpackString(v));
  return Buffer.concat(parts);
}

export function rstStream(streamId: number, code = 8 /* CANCEL */) {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, p);
}

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw connection: sends the preface and empty SETTINGS, ACKs the server's, collects frames. */
export class RawH2 {
  readonly frames: RawFrame[] = [];
  closed = false;
  #buf = Buffer.alloc(0);
  readonly done: Promise<void>;
  private constructor(readonly socket: net.Socket) {
    this.done = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        resolve();
      });
    });
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 9) {
        const len = this.#buf.readUIntBE(0, 3);
        if (this.#buf.length < 9 + len) break;
        const f: RawFrame = {
          type: this.#buf.readUInt8(3),
          flags: this.#buf.readUInt8(4),
          streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
          payload: this.#buf.subarray(9, 9 + len),
        };
        this.#buf = this.#buf.subarray(9 + len);
        this.frames.push(f);
        if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && !socket.destroyed)
          socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      }
    });
  }

  static connect(port: number): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.off('error', reject);
        s.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
        resolve(new RawH2(s));
      });
      s.once('error', reject);
    });
  }

  write(b: Buffer): boolean {
    return this.socket.destroyed ? false : this.socket.write(b);
  }

  /** The GOAWAY error code if the server sent one. */
  goaway(): number | undefined {
    const f = this.frames.find((x) => x.type === FRAME.GOAWAY);
    return f ? f.payload.readUInt32BE(4) : undefined;
  }

  count(type: number): number {
    return this.frames.filter((f) => f.type === type).length;
  }

  /** Waits until `pred` holds or the connection closes or `ms` pass. */
  async until(pred: () => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!pred() && !this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return pred();
  }

  close() {
    this.socket.destroy();
  }
}
