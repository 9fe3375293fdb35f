/** Render keys (and ETags): a hash of exactly what determines an image. */
import { createHash } from 'node:crypto';
import type { ThreeDJob } from '../imaging/render3d.js';
import type { SliceJob } from '../imaging/slice-render.js';
import type { EncodeOptions } from './encode.js';

/** A strong ETag (quoted, 22 base64url characters of SHA-1) of a JSON-able value. */
export function etagOf(parts: unknown): string {
  return `"${createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 22)}"`;
}

/**
 * Identity numbers of voxel arrays in render keys (a cache keyed by the array, not state: an
 * array keeps its number while it lives).
 */
const arrayIds = new WeakMap<object, number>();
let nextArrayId = 1;

/**
 * Key (and ETag) of a render: a hash of the job itself — geometry, layers with their display,
 * transforms and voxel arrays (by identity), fiducials, camera — plus the encoding. So the key
 * changes exactly when the image would: an edit to an unrelated node keeps it (and a live
 * stream sends nothing), while replacing a volume's voxels changes it.
 */
export function jobKey(job: SliceJob | ThreeDJob, enc: EncodeOptions): string {
  const json = JSON.stringify(
    [job, enc.format, enc.format === 'jpeg' ? enc.quality : enc.compressionLevel],
    (_k, v: unknown) => {
      if (ArrayBuffer.isView(v)) {
        let id = arrayIds.get(v);
        if (id === undefined) arrayIds.set(v, (id = nextArrayId++));
        return `#${id}`;
      }
      return v;
    },
  );
  return etagOf(json);
}
