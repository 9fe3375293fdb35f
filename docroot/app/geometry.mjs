/**
 * Slice-view geometry on the client. The server owns the geometry; the page only needs:
 * - where a click on a slice image lands in patient space (RAS), from the view state the server
 *   reports (`sliceToRAS` row-major 4×4 with columns screen-x, screen-y, normal, centre; `fov`
 *   [w, h] in mm), as in Slicer's XYToRAS for a slice node;
 * - how many slices a volume has along a view's normal, for wheel steps.
 */

/**
 * Image position → RAS. `x`, `y` are continuous image coordinates (0..width, 0..height, y down);
 * the image spans `fov` mm centred on the slice centre, screen y pointing up.
 */
export function pixelToRas(view, x, y, width, height) {
  const m = view.sliceToRAS;
  const [fw, fh] = view.fov;
  const u = (x / width - 0.5) * fw;
  const v = (0.5 - y / height) * fh;
  return [0, 1, 2].map((r) => m[r * 4] * u + m[r * 4 + 1] * v + m[r * 4 + 3]);
}

/** Slicer's default slice orientations: row-major 3×3, columns screen x, screen y, normal. */
export const ORIENTATION_NORMALS = {
  axial: [0, 0, 1],
  sagittal: [1, 0, 0],
  coronal: [0, 1, 0],
};

/**
 * Number of slices of a volume along a view normal: the ijk axis whose RAS direction is most
 * parallel to the normal. `ijkToRAS` row-major 4×4 (or 3×3 direction), `dimensions` [i, j, k].
 * Without geometry, the volume is assumed axis-aligned (i → x, j → y, k → z).
 */
export function slicesAlong(normal, dimensions, ijkToRAS) {
  if (!Array.isArray(dimensions) || dimensions.length < 3) return 1;
  if (!Array.isArray(ijkToRAS) || ijkToRAS.length < 9) {
    const axis = normal[0] !== 0 ? 0 : normal[1] !== 0 ? 1 : 2;
    return dimensions[axis];
  }
  const stride = ijkToRAS.length === 16 ? 4 : 3;
  let best = 2;
  let bestDot = -1;
  for (let a = 0; a < 3; a++) {
    const col = [ijkToRAS[a], ijkToRAS[stride + a], ijkToRAS[2 * stride + a]];
    const len = Math.hypot(...col) || 1;
    const d = Math.abs(col[0] * normal[0] + col[1] * normal[1] + col[2] * normal[2]) / len;
    if (d > bestDot) {
      bestDot = d;
      best = a;
    }
  }
  return dimensions[best];
}

export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
