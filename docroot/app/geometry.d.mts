/** Types for geometry.mjs (used by the Node tests). */
export interface ViewGeometry {
  sliceToRAS: number[];
  fov: number[];
}
export declare function pixelToRas(
  view: ViewGeometry,
  x: number,
  y: number,
  width: number,
  height: number,
): [number, number, number];
export declare const ORIENTATION_NORMALS: Record<
  'axial' | 'sagittal' | 'coronal',
  [number, number, number]
>;
export declare function slicesAlong(
  normal: number[],
  dimensions: number[],
  ijkToRAS?: number[],
): number;
export declare function fmt(n: number, digits?: number): string;
