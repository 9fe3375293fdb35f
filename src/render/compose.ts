/**
 * Screenshots of the layout: every tile of the layout grid rendered at the tile's size and
 * composited with Slicer-like view colour bars; placeholder images for views with nothing to show.
 */
import sharp from 'sharp';
import { AppError } from '../errors.js';
import { drawText, textWidth } from '../imaging/bitmap-font.js';
import type { RawImage } from '../imaging/slice-render.js';
import type { Scene } from '../scene/scene.js';
import { atSize, refit } from '../views/geometry.js';
import { layoutGrid, type LayoutCell } from '../views/layout.js';
import type { ThreeDViewState, Views } from '../views/views.js';
import { sliceJob, threeDJob } from './jobs.js';
import type { RenderService } from './service.js';

/** A grey image with `text` centred (views with nothing to show). */
export function blankImage(w: number, h: number, text: string): RawImage {
  const rgba = new Uint8Array(w * h * 4);
  const scale = Math.max(1, Math.floor(Math.min(w, h) / 128));
  drawText(
    rgba,
    w,
    h,
    text,
    Math.max(0, Math.floor((w - textWidth(text, scale)) / 2)),
    Math.floor(h / 2 - 3 * scale),
    [110, 110, 110, 255],
    scale,
  );
  const rgb = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++)
    rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = rgba[p * 4 + 3] ? rgba[p * 4]! : 0;
  return { width: w, height: h, channels: 3, data: rgb };
}

/** The `NO VOLUME` placeholder as a JPEG (live streams before a volume exists). */
export async function placeholderJpeg(
  size: [number, number],
  quality: number,
): Promise<Uint8Array> {
  const img = blankImage(size[0], size[1], 'NO VOLUME');
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

async function toRgb(img: RawImage, size: [number, number]): Promise<RawImage> {
  if (img.channels === 3 && img.width === size[0] && img.height === size[1]) return img;
  let s = sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: img.channels },
  });
  if (img.width !== size[0] || img.height !== size[1])
    s = s.resize(size[0], size[1], { fit: 'fill', kernel: 'linear' });
  const data = await s.toColourspace('srgb').removeAlpha().raw().toBuffer();
  return {
    width: size[0],
    height: size[1],
    channels: 3,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

const VIEW_COLOURS: Record<LayoutCell, [number, number, number, number]> = {
  red: [241, 90, 90, 255],
  yellow: [237, 213, 76, 255],
  green: [110, 176, 75, 255],
  '1': [120, 140, 220, 255],
};

interface ComposeInput {
  scene: Scene;
  views: Views;
  renderer: RenderService;
}

async function renderTile(
  { scene, views, renderer }: ComposeInput,
  cell: LayoutCell,
  size: [number, number],
): Promise<RawImage> {
  try {
    if (cell === '1') {
      const view = { ...(structuredClone(views.threeD) as ThreeDViewState), size };
      return await toRgb(await renderer.raw(threeDJob(scene, views, view)), size);
    }
    // The view's own geometry at the tile's size (a fixed fov keeps its horizontal extent).
    const view = atSize(refit(scene, views, structuredClone(views.slice(cell))), size);
    return await toRgb(await renderer.raw(sliceJob(scene, views, view)), size);
  } catch (e) {
    if (e instanceof AppError && e.code === 'not_found')
      return blankImage(size[0], size[1], 'NO VOLUME');
    throw e;
  }
}

/** The current layout, each row `tile` pixels high, as one RGB image. */
export async function composeLayout(input: ComposeInput, tile: number): Promise<RawImage> {
  const grid = layoutGrid(input.views.layout);
  const cols = Math.max(...grid.map((r) => r.length));
  const W = cols * tile,
    H = grid.length * tile;
  const out = new Uint8Array(W * H * 3);
  const tasks: Array<Promise<void>> = [];
  grid.forEach((row, r) => {
    const cw = Math.floor(W / row.length);
    row.forEach((cell, i) => {
      const x0 = i * cw,
        y0 = r * tile;
      const w = i === row.length - 1 ? W - x0 : cw;
      tasks.push(
        renderTile(input, cell, [w, tile]).then((img) => {
          for (let y = 0; y < tile; y++)
            out.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * W + x0) * 3);
          // View colour bar and name, as Slicer's view controllers show them.
          const rgba = new Uint8Array(w * 10 * 4);
          drawText(rgba, w, 10, cell === '1' ? '3D' : cell.toUpperCase(), 3, 2, VIEW_COLOURS[cell]);
          for (let y = 0; y < 10; y++)
            for (let x = 0; x < w; x++) {
              const o = ((y0 + y) * W + x0 + x) * 3;
              const s = (y * w + x) * 4;
              if (rgba[s + 3]) out.set([rgba[s]!, rgba[s + 1]!, rgba[s + 2]!], o);
              else if (y === 0) out.set(VIEW_COLOURS[cell].slice(0, 3), o);
            }
        }),
      );
    });
  });
  await Promise.all(tasks);
  return { width: W, height: H, channels: 3, data: out };
}
