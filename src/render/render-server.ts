/**
 * Drake's glTF Render Client-Server API (the server side of `RenderEngineGltfClient`): form
 * fields → raster job → image bytes. See docs/graphics.md for the API as served here.
 *
 * - Fields (all text except `scene`): scene_sha256, image_type (color|depth|label), width,
 *   height, near, far, focal_x, focal_y, fov_x, fov_y, center_x, center_y, and for depth min_depth,
 *   max_depth; `submit` is accepted and ignored. Unknown fields are refused (as Drake's sample
 *   server does).
 * - The camera is the glTF node carrying a camera (its world matrix is the pose, camera → world);
 *   the projection comes from the form's intrinsics (off-centre principal point included), never
 *   from the glTF camera's yfov/aspectRatio.
 * - Answers: colour = 8-bit RGB PNG; depth = 1-channel float32 TIFF in metres (0 nearer than
 *   min_depth, +Inf beyond max_depth or on the background), or 16-bit PNG in mm (65535 too far)
 *   with `depthFormat: 'uint16'`; label = RGB PNG of the label colours, unlit, white background,
 *   or the older 1-channel 16-bit PNG of label values (background kEmpty = 32766) with
 *   `labelFormat: 'uint16'`.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { floatTiff } from './tiff.js';
import { AppError } from '../errors.js';
import type { RasterImage, RasterJob } from '../imaging/rasterize.js';
import { readGltf, sceneMeshes } from './gltf-scene.js';

export type ImageType = 'color' | 'depth' | 'label';
export const IMAGE_TYPES: readonly ImageType[] = ['color', 'depth', 'label'];

export interface RenderRequest {
  scene: Uint8Array;
  sceneSha256: string;
  imageType: ImageType;
  width: number;
  height: number;
  /** Clipping planes, metres. */
  near: number;
  far: number;
  /** Focal lengths, pixels. */
  focalX: number;
  focalY: number;
  fovX: number;
  fovY: number;
  /** Principal point, pixels from the left and top edges. */
  centerX: number;
  centerY: number;
  /** Depth sensor range, metres (depth only). */
  minDepth?: number;
  maxDepth?: number;
}

export interface RenderServerOptions {
  /** Largest width or height in pixels. */
  maxSize: number;
  /** Most triangles in one scene. */
  maxTriangles: number;
  depthFormat: 'float32' | 'uint16';
  labelFormat: 'rgb' | 'uint16';
}

/** Drake's reserved label "empty" (background of the older 16-bit label images). */
export const LABEL_EMPTY = 32766;

const KNOWN = new Set([
  'scene',
  'scene_sha256',
  'image_type',
  'width',
  'height',
  'near',
  'far',
  'focal_x',
  'focal_y',
  'fov_x',
  'fov_y',
  'center_x',
  'center_y',
  'min_depth',
  'max_depth',
  'submit',
]);

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function bad(message: string): AppError {
  return new AppError('bad_request', message);
}

/** A text or file form part. */
export type FormValue = string | Uint8Array;

/** Validates the form (400 with the reason on the first problem). */
export function parseRenderForm(
  form: Map<string, FormValue>,
  o: Pick<RenderServerOptions, 'maxSize'>,
): RenderRequest {
  for (const k of form.keys()) if (!KNOWN.has(k)) throw bad(`unknown form field "${k}"`);
  const text = (name: string): string => {
    const v = form.get(name);
    if (v === undefined) throw bad(`missing form field "${name}"`);
    if (typeof v !== 'string') throw bad(`form field "${name}" must be text, not a file`);
    return v.trim();
  };
  const num = (name: string): number => {
    const s = text(name);
    if (!NUMBER.test(s)) throw bad(`form field "${name}" is not a number: "${s.slice(0, 40)}"`);
    const v = Number(s);
    if (!Number.isFinite(v) || v <= 0)
      throw bad(`form field "${name}" must be a finite number > 0, got ${s.slice(0, 40)}`);
    return v;
  };
  const int = (name: string): number => {
    const v = num(name);
    if (!Number.isInteger(v)) throw bad(`form field "${name}" must be a whole number, got ${v}`);
    if (v > o.maxSize)
      throw bad(`form field "${name}" must be at most ${o.maxSize} pixels, got ${v}`);
    return v;
  };
  const scene = form.get('scene');
  if (scene === undefined) throw bad('missing form file "scene" (the glTF scene)');
  if (typeof scene === 'string') throw bad('form field "scene" must be a file part');
  const imageType = text('image_type') as ImageType;
  if (!IMAGE_TYPES.includes(imageType))
    throw bad(`image_type must be color, depth or label, got "${imageType.slice(0, 40)}"`);
  const width = int('width'),
    height = int('height');
  const near = num('near'),
    far = num('far');
  if (near >= far) throw bad(`near (${near}) must be less than far (${far})`);
  const centerX = Number(text('center_x')),
    centerY = Number(text('center_y'));
  for (const [name, v, lim] of [
    ['center_x', centerX, width],
    ['center_y', centerY, height],
  ] as const) {
    if (!NUMBER.test(text(name)) || !Number.isFinite(v) || v < 0)
      throw bad(`form field "${name}" must be a number ≥ 0, got "${text(name).slice(0, 40)}"`);
    if (v >= lim)
      throw bad(
        `${name} (${v}) must be less than ${name === 'center_x' ? 'width' : 'height'} (${lim})`,
      );
  }
  const req: RenderRequest = {
    scene,
    sceneSha256: text('scene_sha256').toLowerCase(),
    imageType,
    width,
    height,
    near,
    far,
    focalX: num('focal_x'),
    focalY: num('focal_y'),
    fovX: num('fov_x'),
    fovY: num('fov_y'),
    centerX,
    centerY,
  };
  if (imageType === 'depth') {
    req.minDepth = num('min_depth');
    req.maxDepth = num('max_depth');
    if (req.minDepth >= req.maxDepth)
      throw bad(`min_depth (${req.minDepth}) must be less than max_depth (${req.maxDepth})`);
  }
  const sha = createHash('sha256').update(scene).digest('hex');
  if (sha !== req.sceneSha256)
    throw bad(
      `scene_sha256 does not match the scene received (${scene.length} bytes hash to ${sha}); the upload may be truncated`,
    );
  return req;
}

/** The glTF scene and the form's intrinsics as a raster job. */
export async function renderJob(
  req: RenderRequest,
  o: Pick<RenderServerOptions, 'maxTriangles'>,
): Promise<RasterJob> {
  const doc = await readGltf(req.scene);
  const scene = await sceneMeshes(doc, o.maxTriangles);
  if (!scene.cameraPose) throw bad('scene has no node with a camera (the client camera pose)');
  return {
    kind: 'raster',
    width: req.width,
    height: req.height,
    output: req.imageType,
    meshes: scene.meshes,
    withDepth: req.imageType === 'label',
    camera: {
      kind: 'perspective',
      worldFromCamera: scene.cameraPose,
      fx: req.focalX,
      fy: req.focalY,
      cx: req.centerX,
      cy: req.centerY,
      // drake-blender clips at min(far, max_depth); nothing beyond max_depth could show anyway.
      near: req.near,
      far: req.far,
    },
  };
}

export interface EncodedImage {
  body: Uint8Array;
  contentType: string;
}

/** The rendered image in the format the API asks for. */
export async function encodeRenderImage(
  img: RasterImage,
  req: RenderRequest,
  o: Pick<RenderServerOptions, 'depthFormat' | 'labelFormat'>,
): Promise<EncodedImage> {
  const { width, height } = img;
  const png = { compressionLevel: 6, adaptiveFiltering: false } as const;
  if (req.imageType === 'depth') {
    const z = img.data as Float32Array;
    const lo = req.minDepth!,
      hi = req.maxDepth!;
    if (o.depthFormat === 'uint16') {
      const mm = new Uint16Array(width * height);
      for (let i = 0; i < mm.length; i++) {
        const d = z[i]!;
        mm[i] =
          d < lo
            ? 0
            : d > hi || !Number.isFinite(d)
              ? 65535
              : Math.min(65535, Math.round(d * 1000));
      }
      const body = await sharp(mm, { raw: { width, height, channels: 1 } })
        .toColourspace('grey16')
        .png(png)
        .toBuffer();
      return { body, contentType: 'image/png' };
    }
    const m = new Float32Array(width * height);
    for (let i = 0; i < m.length; i++) {
      const d = z[i]!;
      m[i] = d < lo ? 0 : d > hi ? Infinity : d;
    }
    return { body: floatTiff(m, width, height), contentType: 'image/tiff' };
  }
  const rgb = img.data as Uint8Array;
  if (req.imageType === 'label' && o.labelFormat === 'uint16') {
    const z = img.depth!;
    const v = new Uint16Array(width * height);
    for (let i = 0; i < v.length; i++)
      v[i] = Number.isFinite(z[i]!) ? rgb[3 * i]! | (rgb[3 * i + 1]! << 8) : LABEL_EMPTY;
    const body = await sharp(v, { raw: { width, height, channels: 1 } })
      .toColourspace('grey16')
      .png(png)
      .toBuffer();
    return { body, contentType: 'image/png' };
  }
  const body = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png(png)
    .toBuffer();
  return { body, contentType: 'image/png' };
}
