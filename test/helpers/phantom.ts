/** Synthetic volumes with known geometry for rendering tests and benchmarks. */
import { IDENTITY3, mul3 } from '../../src/imaging/geometry.js';
import {
  allocShared,
  type ImageVolume,
  type Mat3,
  type ScalarType,
  type Vec3,
} from '../../src/imaging/types.js';
import { ijkToRasMatrix, transformPoint } from '../../src/imaging/geometry.js';

export interface PhantomOptions {
  dimensions?: Vec3;
  spacing?: Vec3;
  origin?: Vec3;
  direction?: Mat3;
  scalarType?: ScalarType;
  background?: number;
  /** Spheres: RAS centre (local), radius mm, value. */
  spheres?: Array<{ centre: Vec3; radius: number; value: number }>;
}

/** A volume filled with `background` and spheres given in (local) RAS. */
export function sphereVolume(o: PhantomOptions = {}): ImageVolume {
  const dimensions = o.dimensions ?? [32, 32, 32];
  const v: ImageVolume = {
    scalarType: o.scalarType ?? 'int16',
    components: 1,
    dimensions,
    spacing: o.spacing ?? [1, 1, 1],
    origin: o.origin ?? [0, 0, 0],
    direction: o.direction ?? IDENTITY3,
    data: allocShared(o.scalarType ?? 'int16', dimensions[0] * dimensions[1] * dimensions[2]),
  };
  const m = ijkToRasMatrix(v);
  const spheres = o.spheres ?? [];
  let p = 0;
  for (let k = 0; k < dimensions[2]; k++)
    for (let j = 0; j < dimensions[1]; j++)
      for (let i = 0; i < dimensions[0]; i++, p++) {
        let val = o.background ?? 0;
        if (spheres.length) {
          const ras = transformPoint(m, [i, j, k]);
          for (const s of spheres)
            if (
              Math.hypot(ras[0] - s.centre[0], ras[1] - s.centre[1], ras[2] - s.centre[2]) <=
              s.radius
            )
              val = s.value;
        }
        v.data[p] = val;
      }
  return v;
}

/** A volume whose voxel value is a linear function of the index: a·i + b·j + c·k + d. */
export function rampVolume(
  dimensions: Vec3,
  coef: [number, number, number, number],
  extra: Partial<ImageVolume> = {},
): ImageVolume {
  const v: ImageVolume = {
    scalarType: 'float32',
    components: 1,
    dimensions,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: IDENTITY3,
    data: allocShared('float32', dimensions[0] * dimensions[1] * dimensions[2]),
    ...extra,
  };
  let p = 0;
  for (let k = 0; k < dimensions[2]; k++)
    for (let j = 0; j < dimensions[1]; j++)
      for (let i = 0; i < dimensions[0]; i++, p++) {
        v.data[p] = coef[0] * i + coef[1] * j + coef[2] * k + coef[3];
      }
  return v;
}

/** Row-major rotation Rz·Ry·Rx (radians about x, then y, then z): an oblique direction matrix. */
export function rotationZYX(ax: number, ay: number, az: number): Mat3 {
  const [ca, sa, cb, sb, cc, sc] = [
    Math.cos(ax),
    Math.sin(ax),
    Math.cos(ay),
    Math.sin(ay),
    Math.cos(az),
    Math.sin(az),
  ];
  const rx: Mat3 = [1, 0, 0, 0, ca, -sa, 0, sa, ca];
  const ry: Mat3 = [cb, 0, sb, 0, 1, 0, -sb, 0, cb];
  const rz: Mat3 = [cc, -sc, 0, sc, cc, 0, 0, 0, 1];
  return mul3(rz, mul3(ry, rx));
}
