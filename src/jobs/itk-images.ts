/**
 * ImageVolume (RAS) ⇄ itk-wasm Image (LPS), for the built-ins that call itk-wasm pipelines
 * (elastix, downsample, contour interpolation). The frame conversion is the one in geometry.ts;
 * the direction layout is the same row-major Mat3 (see `mat3FromItkDirection`).
 */
import { Image, ImageType, PixelTypes } from 'itk-wasm';
import {
  directionLpsToRas,
  directionRasToLps,
  lpsToRas,
  mat3FromItkDirection,
  mat3ToItkDirection,
  rasToLps,
} from '../imaging/geometry.js';
import {
  allocShared,
  type ImageVolume,
  type ScalarType,
  type TypedArray,
  type Vec3,
} from '../imaging/types.js';

/** An itk-wasm Image over the volume's voxels (copied to a plain buffer: wasm cannot read SABs). */
export function toItkImage(v: ImageVolume, scalarType: ScalarType = v.scalarType): Image {
  const img = new Image(
    new ImageType(
      3,
      scalarType as never,
      v.components === 1 ? PixelTypes.Scalar : PixelTypes.VariableLengthVector,
      v.components,
    ),
  );
  img.size = [...v.dimensions];
  img.spacing = [...v.spacing];
  img.origin = rasToLps(v.origin);
  img.direction = mat3ToItkDirection(directionRasToLps(v.direction));
  const C = {
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    int32: Int32Array,
    uint32: Uint32Array,
    float32: Float32Array,
    float64: Float64Array,
  }[scalarType];
  img.data = C.from(v.data as ArrayLike<number>) as never;
  return img;
}

/** A volume (shared memory) from an itk-wasm Image. */
export function fromItkImage(img: Image): ImageVolume {
  const scalarType = img.imageType.componentType as ScalarType;
  const data = img.data as unknown as TypedArray;
  const out = allocShared(scalarType, data.length);
  out.set(data as never);
  return {
    scalarType,
    components: img.imageType.components,
    dimensions: [...img.size] as Vec3,
    spacing: [...img.spacing] as Vec3,
    origin: lpsToRas(img.origin as number[]),
    direction: directionLpsToRas(
      mat3FromItkDirection(img.direction as unknown as ArrayLike<number>),
    ),
    data: out,
  };
}
