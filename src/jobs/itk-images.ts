/**
 * ImageVolume (RAS) ⇄ itk-wasm Image (LPS), for the built-ins that call itk-wasm pipelines
 * (elastix, downsample, contour interpolation). The frame conversion is the one in geometry.ts;
 * the direction layout is the same row-major Mat3 (see `mat3FromItkDirection`).
 */
// Types only: a value import of itk-wasm in the job worker's static module graph breaks tsx's
// loader in that worker thread (measured), so the pipelines are imported lazily and images are
// built as plain objects of the itk-wasm Image shape.
import type { Image } from 'itk-wasm';
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
  const img = {
    imageType: {
      dimension: 3,
      componentType: scalarType,
      pixelType: v.components === 1 ? 'Scalar' : 'VariableLengthVector',
      components: v.components,
    },
    name: 'image',
    size: [...v.dimensions],
    spacing: [...v.spacing],
    origin: rasToLps(v.origin),
    direction: mat3ToItkDirection(directionRasToLps(v.direction)),
    metadata: new Map(),
    data: null,
  } as unknown as Image;
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
  img.data = C.from(v.data);
  return img;
}

/** A volume (shared memory) from an itk-wasm Image. */
export function fromItkImage(img: Image): ImageVolume {
  const scalarType = img.imageType.componentType as ScalarType;
  const data = img.data as unknown as TypedArray;
  const out = allocShared(scalarType, data.length);
  out.set(data);
  return {
    scalarType,
    components: img.imageType.components,
    dimensions: [...img.size] as Vec3,
    spacing: [...img.spacing] as Vec3,
    origin: lpsToRas(img.origin),
    direction: directionLpsToRas(
      mat3FromItkDirection(img.direction as unknown as ArrayLike<number>),
    ),
    data: out,
  };
}
