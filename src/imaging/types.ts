/**
 * `src/imaging/` is the bottom layer: pure computation on typed arrays (geometry, NRRD codec,
 * reslicing, window/level, ray casting, colour maps). It imports no other src folder and no fs,
 * process or hono.
 *
 * The imaging data model, stated once:
 *
 * - World coordinates are **RAS** (x = Right, y = Anterior, z = Superior), millimetres, everywhere
 *   inside voxelgate. LPS exists only at the NRRD and DICOM edges and is converted in
 *   `geometry.ts` (`lpsToRas` / `rasToLps`), never inline in a codec.
 * - Index coordinates are (i, j, k) with i varying fastest in memory; voxel (i, j, k) of component c
 *   is at `data[((k * dimJ + j) * dimI + i) * components + c]`.
 * - Matrices are **row-major**: a `Mat3` is `[m00, m01, m02, m10, …]`, a `Mat4` likewise with 16
 *   entries, and points are column vectors (`p' = M · p`). itk-wasm's flat `direction` has the
 *   same row-major layout (verified; it is LPS though): convert with `mat3FromItkDirection` +
 *   `directionLpsToRas`.
 * - `direction` columns are the unit RAS directions of the i, j and k axes; `spacing` is the
 *   distance in mm between voxel centres along each axis; `origin` is the RAS position of the
 *   centre of voxel (0, 0, 0). So `ijkToRas = [direction · diag(spacing) | origin]`.
 */

export type ScalarType =
  'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export type Vec3 = [number, number, number];
/** Row-major 3×3. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];
/** Row-major 4×4 (homogeneous, last row 0 0 0 1 for affine transforms). */
export type Mat4 = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

export interface ImageVolume {
  /** Voxel scalar type; never changed by a codec (no lossy casts). */
  scalarType: ScalarType;
  /** Values per voxel: 1 for scalar volumes, 3 for RGB, 3 for displacement vectors, … */
  components: number;
  /** Number of voxels along i, j, k. */
  dimensions: Vec3;
  /** Millimetres between voxel centres along i, j, k (all > 0). */
  spacing: Vec3;
  /** RAS position (mm) of the centre of voxel (0, 0, 0). */
  origin: Vec3;
  /** Row-major 3×3 whose columns are the unit RAS directions of the i, j, k axes. */
  direction: Mat3;
  /** Voxel values, `dimensions[0]*dimensions[1]*dimensions[2]*components` long; shared memory when possible. */
  data: TypedArray;
}

export const SCALAR_TYPES: readonly ScalarType[] = [
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'float64',
];

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

export const ARRAY_OF: Record<ScalarType, TypedArrayConstructor> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export const BYTES_OF: Record<ScalarType, number> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

/**
 * A typed array of `length` elements in a SharedArrayBuffer (zero-filled): a new one, or `buffer`
 * when the caller has one of that size ready (see scene/voxel-spare.ts).
 */
export function allocShared(
  scalarType: ScalarType,
  length: number,
  buffer: SharedArrayBuffer = new SharedArrayBuffer(length * BYTES_OF[scalarType]),
): TypedArray {
  const C = ARRAY_OF[scalarType] as unknown as new (b: ArrayBufferLike) => TypedArray;
  return new C(buffer);
}

export const voxelCount = (v: Pick<ImageVolume, 'dimensions'>): number =>
  v.dimensions[0] * v.dimensions[1] * v.dimensions[2];
