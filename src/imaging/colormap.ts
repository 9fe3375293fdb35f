/**
 * Colour tables for label maps: the first entries of Slicer's `GenericAnatomyColors` (label value
 * → name, RGB), then a generated palette (golden-angle hues) for every other value. Label 0 is
 * transparent.
 */

export interface LabelColor {
  name: string;
  rgb: [number, number, number];
}

/** Slicer `GenericAnatomyColors`, values 1–20. */
export const GENERIC_ANATOMY_COLORS: Readonly<Record<number, LabelColor>> = {
  1: { name: 'tissue', rgb: [128, 174, 128] },
  2: { name: 'bone', rgb: [241, 214, 145] },
  3: { name: 'skin', rgb: [177, 122, 101] },
  4: { name: 'connective tissue', rgb: [111, 184, 210] },
  5: { name: 'blood', rgb: [216, 101, 79] },
  6: { name: 'organ', rgb: [221, 130, 101] },
  7: { name: 'mass', rgb: [144, 238, 144] },
  8: { name: 'muscle', rgb: [192, 104, 88] },
  9: { name: 'foreign object', rgb: [220, 245, 20] },
  10: { name: 'waste', rgb: [78, 63, 0] },
  11: { name: 'teeth', rgb: [255, 250, 220] },
  12: { name: 'fat', rgb: [230, 220, 70] },
  13: { name: 'gray matter', rgb: [200, 200, 235] },
  14: { name: 'white matter', rgb: [250, 250, 210] },
  15: { name: 'nerve', rgb: [244, 214, 49] },
  16: { name: 'vein', rgb: [0, 151, 206] },
  17: { name: 'artery', rgb: [216, 101, 79] },
  18: { name: 'capillary', rgb: [183, 156, 220] },
  19: { name: 'ligament', rgb: [183, 214, 211] },
  20: { name: 'tendon', rgb: [152, 189, 207] },
};

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s),
    q = v * (1 - f * s),
    t = v * (1 - (1 - f) * s);
  const [r, g, b] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][((i % 6) + 6) % 6]!;
  return [Math.round(r! * 255), Math.round(g! * 255), Math.round(b! * 255)];
}

/** RGBA for a label value (integer part); 0 and non-finite values are transparent. */
export function labelColor(value: number): [number, number, number, number] {
  const v = Math.round(value);
  if (!Number.isFinite(v) || v === 0) return [0, 0, 0, 0];
  const known = GENERIC_ANATOMY_COLORS[v];
  if (known) return [...known.rgb, 255];
  // Golden-angle hue walk: neighbouring values get clearly different colours.
  const h = (Math.abs(v) * 0.618033988749895) % 1;
  return [...hsvToRgb(h, 0.65, 0.95), 255];
}

/** A 65536-entry RGBA table for label values −32768…32767 (index = value + 32768). */
let table: Uint8Array | undefined;
export function labelTable(): Uint8Array {
  if (table) return table;
  table = new Uint8Array(65536 * 4);
  for (let v = -32768; v < 32768; v++) table.set(labelColor(v), (v + 32768) * 4);
  return table;
}
