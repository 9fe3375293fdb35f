/** Helpers for rendering tests: add phantoms to a scene, decode images, find bright blobs. */
import { beforeEach } from 'node:test';
import sharp from 'sharp';
import type { ImageVolume, Vec3 } from '../../src/imaging/types.js';
import type { FiducialNode, Scene, VolumeClass, VolumeNode } from '../../src/scene/scene.js';
import { useTestApp, type TestApp } from './app.js';

/** One app for a render test file; every test starts with an empty scene and default views. */
export function useRenderApp(): TestApp {
  const t = useTestApp();
  beforeEach(() => {
    t.ctx.scene.clear();
    t.ctx.views.reset();
  });
  return t;
}

/** Adds a fiducial list (scale 3, selected colour red) with these points. */
export function addFiducials(
  scene: Scene,
  name: string,
  points: FiducialNode['points'],
  color: Vec3 = [1, 0, 0],
): FiducialNode {
  return scene.add<FiducialNode>({
    kind: 'fiducials',
    className: 'vtkMRMLMarkupsFiducialNode',
    name,
    attributes: {},
    color,
    selectedColor: [1, 0, 0],
    scale: 3,
    points,
  });
}

export function addVolume(
  scene: Scene,
  volume: ImageVolume,
  name = 'phantom',
  className: VolumeClass = 'vtkMRMLScalarVolumeNode',
  extra: Partial<VolumeNode> = {},
): VolumeNode {
  return scene.add<VolumeNode>({
    kind: 'volume',
    className,
    name,
    attributes: {},
    display: {},
    volume,
    ...extra,
  });
}

export interface Decoded {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
  /** PNG IHDR colour type (0 grey, 2 RGB, …) or undefined for JPEG. */
  pngColorType?: number;
  pngBitDepth?: number;
}

export async function decode(body: ArrayBuffer | Buffer): Promise<Decoded> {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const { data, info } = await sharp(buf).raw().toBuffer({ resolveWithObject: true });
  const isPng = buf.subarray(1, 4).toString('latin1') === 'PNG';
  return {
    width: info.width,
    height: info.height,
    channels: info.channels,
    data,
    pngColorType: isPng ? buf[25] : undefined,
    pngBitDepth: isPng ? buf[24] : undefined,
  };
}

/** Centroid (col, row) of pixels whose first channel is above `threshold`; undefined when none. */
export function centroid(
  img: Decoded,
  threshold = 128,
): { x: number; y: number; n: number } | undefined {
  let sx = 0,
    sy = 0,
    n = 0;
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      if (img.data[(y * img.width + x) * img.channels]! > threshold) {
        sx += x;
        sy += y;
        n++;
      }
    }
  return n ? { x: sx / n, y: sy / n, n } : undefined;
}

export function pixel(img: Decoded, x: number, y: number): number[] {
  const o = (y * img.width + x) * img.channels;
  return [...img.data.subarray(o, o + img.channels)];
}
