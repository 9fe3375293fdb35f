/**
 * Built-in sample volumes generated in code (deterministic, no downloads): a CT-like head phantom
 * in Hounsfield units, an oblique MR-like head (T1-like contrast, tilted direction) and a label
 * map of the same anatomy. The anatomy is defined once in RAS millimetres and sampled through
 * each volume's ijk→RAS matrix, so all three line up in world space.
 */
import { ijkToRasMatrix, mul3 } from '../imaging/geometry.js';
import { allocShared, type ImageVolume, type Mat3, type ScalarType, type Vec3 } from '../imaging/types.js';
import { AppError } from '../errors.js';
import type { Scene, VolumeClass, VolumeNode } from './scene.js';

type Tissue = 'air' | 'skin' | 'bone' | 'csf' | 'gray' | 'white' | 'ventricle' | 'eye' | 'lens' | 'sinus';

const inEllipsoid = (x: number, y: number, z: number, c: Vec3, r: Vec3) => ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2;

/** The phantom's tissue at RAS point (x, y, z) mm, head centred at the origin. */
function tissueAt(x: number, y: number, z: number): Tissue {
  // eyes and lenses sit in front of the skull
  for (const sx of [-32, 32]) {
    if (inEllipsoid(x, y, z, [sx, 88, -28], [4, 2, 4]) <= 1) return 'lens';
    if (inEllipsoid(x, y, z, [sx, 80, -28], [11, 11, 11]) <= 1) return 'eye';
  }
  const o = inEllipsoid(x, y, z, [0, 0, 0], [78, 98, 95]);
  if (o > 1) return 'air';
  if (inEllipsoid(x, y, z, [0, 72, -48], [14, 10, 12]) <= 1) return 'sinus';
  if (inEllipsoid(x, y, z, [0, 0, 0], [73, 93, 90]) > 1) return 'skin';
  if (inEllipsoid(x, y, z, [0, 0, 0], [66, 86, 83]) > 1) return 'bone';
  if (inEllipsoid(x, y, z, [0, 0, 0], [63, 83, 80]) > 1) return 'csf';
  for (const sx of [-9, 9]) if (inEllipsoid(x, y, z, [sx, 2, 12], [6, 26, 11]) <= 1) return 'ventricle';
  if (inEllipsoid(x, y, z, [0, -2, 8], [46, 64, 52]) <= 1) return 'white';
  return 'gray';
}

/** Deterministic noise in [-1, 1) from voxel indices. */
function noise(i: number, j: number, k: number): number {
  let h = (i * 73856093) ^ (j * 19349663) ^ (k * 83492791);
  h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  h ^= h >>> 15;
  return ((h >>> 0) / 2 ** 32) * 2 - 1;
}

/** Skull: dense outer/inner tables (~1400 HU), spongy diploë (~700 HU) between. */
function boneHu(x: number, y: number, z: number): number {
  const outer = Math.sqrt(inEllipsoid(x, y, z, [0, 0, 0], [73, 93, 90]));
  const inner = Math.sqrt(inEllipsoid(x, y, z, [0, 0, 0], [66, 86, 83]));
  const t = Math.min(1, Math.max(0, (inner - 1) / (inner - outer || 1)));
  return 1450 - 750 * Math.sin(Math.PI * t);
}

const CT_HU: Record<Tissue, number> = { air: -1000, skin: 40, bone: 0, csf: 8, gray: 40, white: 28, ventricle: 5, eye: 10, lens: 120, sinus: -950 };
const MR_T1: Record<Tissue, number> = { air: 0, skin: 900, bone: 120, csf: 260, gray: 560, white: 820, ventricle: 220, eye: 300, lens: 500, sinus: 0 };
const LABELS: Record<Tissue, number> = { air: 0, skin: 1, bone: 2, csf: 5, gray: 3, white: 4, ventricle: 5, eye: 6, lens: 6, sinus: 0 };

function sample(geometry: Omit<ImageVolume, 'data' | 'scalarType' | 'components'>, scalarType: ScalarType, value: (t: Tissue, p: Vec3, ijk: Vec3) => number): ImageVolume {
  const [ni, nj, nk] = geometry.dimensions;
  const data = allocShared(scalarType, ni * nj * nk);
  const m = ijkToRasMatrix(geometry);
  let idx = 0;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const x = m[0] * i + m[1] * j + m[2] * k + m[3];
        const y = m[4] * i + m[5] * j + m[6] * k + m[7];
        const z = m[8] * i + m[9] * j + m[10] * k + m[11];
        data[idx++] = value(tissueAt(x, y, z), [x, y, z], [i, j, k]);
      }
    }
  }
  return { ...geometry, scalarType, components: 1, data };
}

/** CT-like axial geometry: LPS-aligned axes (i → left, j → posterior), centred on the head. */
function ctGeometry(): Omit<ImageVolume, 'data' | 'scalarType' | 'components'> {
  const dimensions: Vec3 = [128, 128, 100];
  const spacing: Vec3 = [1.8, 1.8, 2];
  return {
    dimensions,
    spacing,
    direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
    origin: [((dimensions[0] - 1) * spacing[0]) / 2, ((dimensions[1] - 1) * spacing[1]) / 2, (-(dimensions[2] - 1) * spacing[2]) / 2],
  };
}

function rotation(ax: number, az: number): Mat3 {
  const [ca, sa, cz, sz] = [Math.cos(ax), Math.sin(ax), Math.cos(az), Math.sin(az)];
  return mul3([cz, -sz, 0, sz, cz, 0, 0, 0, 1], [1, 0, 0, 0, ca, -sa, 0, sa, ca]);
}

export function ctHeadPhantom(): ImageVolume {
  return sample(ctGeometry(), 'int16', (t, p, [i, j, k]) => Math.round((t === 'bone' ? boneHu(p[0], p[1], p[2]) : CT_HU[t]) + (t === 'air' ? 4 : 6) * noise(i, j, k)));
}

export function headLabelPhantom(): ImageVolume {
  return sample(ctGeometry(), 'uint8', (t) => LABELS[t]);
}

/** MR-like: uint16 T1-ish contrast, 2.2×2.2×3 mm, tilted 15° about R and 10° about S. */
export function mrHeadObliquePhantom(): ImageVolume {
  const dimensions: Vec3 = [96, 96, 64];
  const spacing: Vec3 = [2.2, 2.2, 3];
  const direction = rotation((15 * Math.PI) / 180, (10 * Math.PI) / 180);
  const half = [0, 1, 2].map((a) => ((dimensions[a]! - 1) * spacing[a]!) / 2);
  // origin = −(direction · half extent), so the volume centre is at the RAS origin
  const origin: Vec3 = [0, 1, 2].map((r) => -(direction[r * 3]! * half[0]! + direction[r * 3 + 1]! * half[1]! + direction[r * 3 + 2]! * half[2]!)) as Vec3;
  return sample({ dimensions, spacing, direction, origin }, 'uint16', (t, _p, [i, j, k]) => Math.max(0, Math.round(MR_T1[t] * (1 + 0.03 * noise(i, j, k)) + (t === 'air' ? 15 + 15 * noise(k, i, j) : 0))));
}

export interface SampleInfo {
  name: string;
  description: string;
  className: VolumeClass;
  make: () => ImageVolume;
  display: VolumeNode['display'];
}

export const SAMPLES: readonly SampleInfo[] = [
  { name: 'CTHeadPhantom', description: 'CT-like head phantom, int16 Hounsfield units (air −1000, soft tissue 40, skull 700–1450, brain 28–40, CSF 5–8), 128×128×100, 1.8×1.8×2 mm', className: 'vtkMRMLScalarVolumeNode', make: ctHeadPhantom, display: { window: 80, level: 40 } },
  { name: 'MRHeadObliquePhantom', description: 'MR-like (T1) head phantom, uint16, 96×96×64, 2.2×2.2×3 mm, oblique direction (15° about R, 10° about S)', className: 'vtkMRMLScalarVolumeNode', make: mrHeadObliquePhantom, display: { window: 900, level: 450 } },
  { name: 'HeadLabelPhantom', description: 'label map of the head phantom (1 skin, 2 skull, 3 gray, 4 white matter, 5 CSF, 6 eyes), uint8, CT geometry', className: 'vtkMRMLLabelMapVolumeNode', make: headLabelPhantom, display: { colorTable: 'GenericAnatomyColors' } },
];

/** Slicer sample names mapped to the closest built-in phantom. */
const ALIASES: Record<string, string> = { MRHead: 'MRHeadObliquePhantom', CTHead: 'CTHeadPhantom', CTChest: 'CTHeadPhantom' };

export function listSamples() {
  return SAMPLES.map((s) => ({ name: s.name, description: s.description, class: s.className })).concat(
    Object.entries(ALIASES).map(([name, to]) => ({ name, description: `alias of ${to}`, class: SAMPLES.find((s) => s.name === to)!.className })),
  );
}

/** Adds a sample volume to the scene (named as requested) and makes it active. */
export function loadSample(scene: Scene, name: string): VolumeNode {
  const info = SAMPLES.find((s) => s.name === name) ?? SAMPLES.find((s) => s.name === ALIASES[name]);
  if (!info) throw new AppError('not_found', `sampledata ${name} was not found; available: ${listSamples().map((s) => s.name).join(', ')}`, { parameter: 'name' });
  const node = scene.add<VolumeNode>({ kind: 'volume', className: info.className, name, volume: info.make(), attributes: {}, display: info.display });
  scene.setActiveVolume(node.id);
  return node;
}
