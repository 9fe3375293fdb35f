/**
 * Atomic file writes: write a temp file in the same folder, fsync it, rename over the target,
 * fsync the folder. A crash leaves either the old or the new content, never a torn file.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** `data` may be a buffer, a string, or a (sync or async) iterable of chunks written in order. */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp.open(tmp, 'w');
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await handle.writeFile(data);
    } else if (Symbol.asyncIterator in data) {
      for await (const chunk of data) await handle.write(chunk);
    } else {
      for (const chunk of data) await handle.write(chunk);
    }
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/** fsync a directory so a rename in it is durable (no-op where the platform refuses). */
export async function syncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | undefined;
  try {
    h = await fsp.open(dir, 'r');
    await h.sync();
  } catch {
    /* some file systems do not allow fsync on directories */
  } finally {
    await h?.close();
  }
}
