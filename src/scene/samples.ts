/**
 * Built-in sample volumes generated in code (deterministic, no downloads): a CT-like head phantom
 * in Hounsfield units, an oblique MR-like head (T1-like contrast, tilted direction) and a label
 * map of the same anatomy. The anatomy is defined once in RAS millimetres and sampled through
 * each volume's ijk→RAS matrix, so all three line up in world space.
 */
import { ijkToRasMatrix, mul3 } from '../imaging/geometry.js';
import {
  allocShared,
  type ImageVolume,
  type Mat3,
  type ScalarType,
  type Vec3,
} from '../imaging/types.js';
import { AppError } from '../errors.js';
import type { Scene, VolumeClass, VolumeNode } from './scene.js';

type Tissue =
  | 'air'
  | 'skin'
  | 'fat'
  | 'muscle'
  | 'bone'
  | 'diploe'
  | 'teeth'
  | 'csf'
  | 'gray'
  | 'white'
  | 'nuclei'
  | 'ventricle'
  | 'eye'
  | 'lens'
  | 'sinus'
  | 'disc';

const e2 = (
  x: number,
  y: number,
  z: number,
  cx: number,
  cy: number,
  cz: number,
  rx: number,
  ry: number,
  rz: number,
) => {
  const a = (x - cx) / rx,
    b = (y - cy) / ry,
    c = (z - cz) / rz;
  return a * a + b * b + c * c;
};

/** Head envelope (skin surface): ellipsoid radii and the depth (mm, approximate) of (x, y, z) below a surface of radii r. */
function depthBelow(x: number, y: number, z: number, rx: number, ry: number, rz: number): number {
  const rho = Math.sqrt(e2(x, y, z, 0, 0, 0, rx, ry, rz));
  const len = Math.hypot(x, y, z);
  return rho > 1e-6 ? ((1 - rho) * len) / rho : Math.min(rx, ry, rz);
}

/** Skull thickness (mm) by direction: thick frontal and occipital bone, thin temporal squama. */
function skullThickness(x: number, y: number, z: number): number {
  const len = Math.hypot(x, y, z) || 1;
  const ux = x / len,
    uy = y / len,
    uz = z / len;
  return (
    6 +
    3 * uy * uy -
    2 * ux * ux * (1 - uz * uz) +
    1.5 * Math.max(0, uz) +
    0.8 * Math.sin(7 * ux + 5 * uy) * Math.cos(6 * uz)
  );
}

const NECK_TOP = -45;
/** Inside the neck (below the skull base): an elliptic cylinder. */
const inNeck = (x: number, y: number, z: number) =>
  z < NECK_TOP && e2(x, y, 0, 0, -8, 0, 48, 52, 1) <= 1;

/** The phantom's tissue at RAS point (x, y, z) mm (RAS: +x Right, +y Anterior, +z Superior), head centred at the origin. */
function tissueAt(x: number, y: number, z: number): Tissue {
  layer.on = false;
  const ax = Math.abs(x);
  // --- Face: nose (a wedge protruding anteriorly), eyes in the orbits.
  if (z > -64 && z < -16 && y > 74) {
    const s = (-16 - z) / 48; // 0 at the nasal root, 1 at the base
    const front = 86 + 26 * s; // nose profile
    const half = 3 + 11 * s;
    if (y < front - (ax / half) * (front - 80) && ax < half) {
      if (s > 0.85 && ax > 2 && ax < half * 0.55 && y < front - 3) return 'air'; // nostrils
      if (s < 0.45 && ax < 5 && y > front - 3.5 - 8 * s && y < front - 1.5) return 'bone'; // nasal bones
      return y > front - 2.5 - (ax / half) * 3 ? 'skin' : 'muscle';
    }
  }
  if (y > 38 && z > -46 && z < -10 && ax > 12 && ax < 50)
    for (const sx of [-31, 31]) {
      if (e2(x, y, z, sx, 80, -28, 4.5, 2.2, 4.5) <= 1) return 'lens';
      const eye = e2(x, y, z, sx, 71, -28, 12, 12, 12);
      if (eye <= 0.8) return 'eye';
      if (eye <= 1) return 'muscle'; // sclera
      if (e2(x, y, z, sx, 62, -28, 17, 22, 16) <= 1) return y > 50 ? 'fat' : 'muscle'; // orbital fat, optic nerve region
    }
  // --- Envelope: head ellipsoid, neck below.
  const inHead = e2(x, y, z, 0, 0, 0, 78, 98, 95) <= 1 && z > -95;
  if (!inHead && !inNeck(x, y, z)) return 'air';
  // Sinuses and airway (air inside the head).
  if (y > 36 && z < -28 && z > -64) {
    if (e2(x, y, z, 0, 58, -44, 9, 20, 15) <= 1) return ax < 1.2 ? 'bone' : 'sinus'; // nasal cavity with septum
    for (const sx of [-21, 21]) if (e2(x, y, z, sx, 52, -50, 11, 14, 12) <= 1) return 'sinus'; // maxillary
  }
  if (z < -58 && e2(x, y, 0, 0, 14, 0, 7, 6, 1) <= 1) return 'sinus'; // airway
  // Mandible (U-shaped arch) and teeth.
  if (z < -58 && z > -92) {
    const r = Math.hypot(x, (y - 30) * 1.05);
    if (y > 12 && r > 34 && r < 43) {
      if (z > -70 && y > 32 && r > 36 && r < 42) return 'teeth';
      return r > 41.5 || r < 35.5 || z < -89 ? 'bone' : 'diploe';
    }
  }
  // Cervical spine: vertebral bodies with discs, canal behind, neural arch around it.
  if (z < NECK_TOP + 8) {
    const body = Math.hypot(x, y + 10),
      canal = Math.hypot(x, y + 26);
    if (canal < 5) return 'csf';
    if (body < 9) return ((z % 12) + 12) % 12 < 2.5 ? 'disc' : body > 7.8 ? 'bone' : 'diploe';
    if (canal < 8 && y < -18) return 'bone';
    if (inNeck(x, y, z) || z < NECK_TOP) {
      const depthN = depthBelow(x, y, 0, 48, 52, 1e9);
      if (depthN < 2.5) return 'skin';
      if (depthN < 7) return 'fat';
      return 'muscle';
    }
  }
  // --- Scalp: skin, subcutaneous fat, then the skull.
  const depth = depthBelow(x, y, z, 78, 98, 95);
  const thick = skullThickness(x, y, z);
  const floor = -40 + 10 * Math.max(0, y / 90) - 8 * Math.max(0, -y / 90);
  const nearSinus = e2(x, y, z, 0, 86, 24, 13, 6, 9);
  // Layers by depth (scalp, skull, CSF rim, cortex): the CT/MR values are averaged across the voxel (see `layeredValue`).
  const canLayer = z > NECK_TOP && z > floor + 3 && nearSinus > 1.4;
  if (depth < 5.5 || depth - 6 < thick || depth - 6 - thick < 1.5) {
    if (depth < 5.5 || z > NECK_TOP - 8) {
      if (depth - 6 >= 0 && depth - 6 < thick + 2 && nearSinus <= 1 && ax > 1) return 'sinus'; // frontal sinus in the thick frontal bone
      if (depth < 5.5 || depth - 6 < thick || z >= floor)
        return layerHere(canLayer, depth, thick, x, y, z);
    }
  }
  if (z > NECK_TOP - 8) {
    // Skull base: a bony floor under the brain.
    if (z < floor)
      return z > floor - 4 ? (z > floor - 1.2 || z < floor - 2.8 ? 'bone' : 'diploe') : 'muscle';
    // --- Intracranial: CSF rim, cortex with sulci, white matter, deep grey, ventricles.
    const d = depth - 6 - thick;
    if (ax < 0.6 && z > -10) return 'csf'; // interhemispheric fissure
    if (d < 5.5) {
      const sulcus =
        Math.sin(x * 0.35 + 0.6 * Math.sin(z * 0.11)) *
        Math.sin(y * 0.23 + z * 0.19 + 0.8 * Math.sin(x * 0.07));
      return sulcus > 0.82 ? 'csf' : layerHere(canLayer, depth, thick, x, y, z);
    }
    // Cerebellum (posterior fossa) with folia.
    if (z < -8 && y < -30) return Math.sin(z * 0.9 + y * 0.25) > 0.3 ? 'gray' : 'white';
    if (ax < 30 && y > -32 && y < 44 && z > -12 && z < 28)
      for (const sx of [-9, 9]) {
        if (e2(x, y, z, sx, 6, 16, 5, 26, 10) <= 1 && !(z < 10 && y < -5)) return 'ventricle'; // lateral ventricle bodies
        if (e2(x, y, z, sx * 1.7, -20, 4, 5, 9, 12) <= 1) return 'ventricle'; // trigones / horns
        if (e2(x, y, z, sx * 1.35, -4, 2, 8, 12, 8) <= 1) return 'nuclei'; // thalamus
        if (e2(x, y, z, sx * 2.5, 14, 4, 6, 11, 9) <= 1) return 'nuclei'; // basal ganglia
      }
    if (ax < 2 && e2(x, y, z, 0, -2, 0, 2, 12, 7) <= 1) return 'ventricle'; // third ventricle
    return d < 9 + 2.5 * Math.sin(x * 0.2 + y * 0.15) * Math.cos(z * 0.17) ? 'gray' : 'white';
  }
  return 'muscle';
}

/** Scalp, skull and cortex as layers by depth below the skin (mm) and skull thickness. */
function scalpLayer(depth: number, thick: number, y: number, z: number): Tissue {
  if (depth < 2.5) return 'skin';
  if (depth < 5.5) return z < -30 || y > 60 ? 'muscle' : 'fat';
  const sd = depth - 6;
  if (sd < 0) return 'muscle';
  if (sd < thick) return thick < 5.5 || sd < 2 || sd > thick - 1.8 ? 'bone' : 'diploe';
  return sd - thick < 1.5 ? 'csf' : 'gray';
}

/** Set by `tissueAt` when the point's tissue came from the depth layers (and may be averaged across the voxel). */
const layer = { on: false, depth: 0, thick: 0 };
function layerHere(
  can: boolean,
  depth: number,
  thick: number,
  _x: number,
  y: number,
  z: number,
): Tissue {
  layer.on = can;
  layer.depth = depth;
  layer.thick = thick;
  return scalpLayer(depth, thick, y, z);
}

/**
 * Partial volume across layer boundaries: the mean over four depths spanning ±0.9 mm (one voxel),
 * so thin plates (skull tables) do not alias into contour rings on the voxel grid.
 */
function layeredValue(t: Tissue, p: Vec3, hu: (t: Tissue, p: Vec3) => number): number {
  if (!layer.on) return hu(t, p);
  let acc = 0;
  for (const o of [-0.675, -0.225, 0.225, 0.675])
    acc += hu(scalpLayer(layer.depth + o, layer.thick, p[1], p[2]), p);
  return acc / 4;
}

/** Deterministic noise in [-1, 1) from voxel indices. */
function noise(i: number, j: number, k: number): number {
  let h = (i * 73856093) ^ (j * 19349663) ^ (k * 83492791);
  h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  h ^= h >>> 15;
  return ((h >>> 0) / 2 ** 32) * 2 - 1;
}

/** Compact bone density varies smoothly over the skull (1250–1450 HU); diploë 550–800 HU. */
function boneHu(t: Tissue, x: number, y: number, z: number): number {
  const v = Math.sin(x * 0.05 + 1) * Math.cos(y * 0.04) * Math.sin(z * 0.045 + 0.5);
  if (t === 'bone') return 1700 + 100 * v;
  if (t === 'teeth') return 2200 + 150 * v;
  return 700 + 120 * v;
}

const CT_HU: Record<Tissue, number> = {
  air: -1000,
  skin: 45,
  fat: -95,
  muscle: 50,
  bone: 0,
  diploe: 0,
  teeth: 0,
  csf: 8,
  gray: 40,
  white: 24,
  nuclei: 36,
  ventricle: 5,
  eye: 10,
  lens: 110,
  sinus: -960,
  disc: 80,
};
const ctHu = (t: Tissue, p: Vec3) =>
  t === 'bone' || t === 'diploe' || t === 'teeth' ? boneHu(t, p[0], p[1], p[2]) : CT_HU[t];
const MR_T1: Record<Tissue, number> = {
  air: 0,
  skin: 700,
  fat: 1000,
  muscle: 420,
  bone: 60,
  diploe: 650,
  teeth: 30,
  csf: 200,
  gray: 540,
  white: 800,
  nuclei: 600,
  ventricle: 180,
  eye: 260,
  lens: 480,
  sinus: 0,
  disc: 350,
};
const LABELS: Record<Tissue, number> = {
  air: 0,
  skin: 1,
  fat: 1,
  muscle: 1,
  bone: 2,
  diploe: 2,
  teeth: 2,
  csf: 5,
  gray: 3,
  white: 4,
  nuclei: 3,
  ventricle: 5,
  eye: 6,
  lens: 6,
  sinus: 0,
  disc: 1,
};

/**
 * Samples `value` at voxel centres, blurs with a separable [1 2 1]/4 kernel (partial-volume edges,
 * like a scanner's point-spread function: smooth iso-surfaces instead of voxel terraces), then
 * `post` adds noise and converts. Without `post` (label maps) no blur.
 */
function sample(
  geometry: Omit<ImageVolume, 'data' | 'scalarType' | 'components'>,
  scalarType: ScalarType,
  value: (t: Tissue, p: Vec3) => number,
  post?: (v: number, i: number, j: number, k: number) => number,
): ImageVolume {
  const [ni, nj, nk] = geometry.dimensions;
  const data = allocShared(scalarType, ni * nj * nk);
  const m = ijkToRasMatrix(geometry);
  const f = post ? new Float32Array(ni * nj * nk) : data;
  let idx = 0;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const x = m[0] * i + m[1] * j + m[2] * k + m[3];
        const y = m[4] * i + m[5] * j + m[6] * k + m[7];
        const z = m[8] * i + m[9] * j + m[10] * k + m[11];
        f[idx++] = value(tissueAt(x, y, z), [x, y, z]);
      }
    }
  }
  if (post) {
    const g = f as Float32Array;
    blur121(g, ni, nj, nk, 1, ni);
    blur121(g, nj, ni, nk, ni, 1, ni * nj);
    blur121(g, nk, ni, nj, ni * nj, 1, ni);
    idx = 0;
    for (let k = 0; k < nk; k++)
      for (let j = 0; j < nj; j++)
        for (let i = 0; i < ni; i++, idx++) data[idx] = post(g[idx]!, i, j, k);
  }
  return { ...geometry, scalarType, components: 1, data };
}

/**
 * In-place [1 2 1]/4 along one axis (length n, element stride s); lines are enumerated by two
 * other axes (a with stride sa, b with stride sb or a's extent).
 */
function blur121(
  g: Float32Array,
  n: number,
  na: number,
  nb: number,
  s: number,
  sa: number,
  sb = na * sa,
): void {
  const line = new Float32Array(n);
  for (let b = 0; b < nb; b++) {
    for (let a = 0; a < na; a++) {
      const base = a * sa + b * sb;
      for (let t = 0; t < n; t++) line[t] = g[base + t * s]!;
      for (let t = 0; t < n; t++) {
        const l = line[t > 0 ? t - 1 : 0]!,
          r = line[t < n - 1 ? t + 1 : n - 1]!;
        g[base + t * s] = (l + 2 * line[t]! + r) * 0.25;
      }
    }
  }
}

/** CT-like axial geometry: LPS-aligned axes (i → left, j → posterior), centred on the head. */
function ctGeometry(): Omit<ImageVolume, 'data' | 'scalarType' | 'components'> {
  const dimensions: Vec3 = [128, 128, 100];
  const spacing: Vec3 = [1.8, 1.8, 2];
  return {
    dimensions,
    spacing,
    direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
    origin: [
      ((dimensions[0] - 1) * spacing[0]) / 2,
      ((dimensions[1] - 1) * spacing[1]) / 2,
      (-(dimensions[2] - 1) * spacing[2]) / 2,
    ],
  };
}

function rotation(ax: number, az: number): Mat3 {
  const [ca, sa, cz, sz] = [Math.cos(ax), Math.sin(ax), Math.cos(az), Math.sin(az)];
  return mul3([cz, -sz, 0, sz, cz, 0, 0, 0, 1], [1, 0, 0, 0, ca, -sa, 0, sa, ca]);
}

export function ctHeadPhantom(): ImageVolume {
  return sample(
    ctGeometry(),
    'int16',
    (t, p) => layeredValue(t, p, ctHu),
    (v, i, j, k) => Math.round(v + 3 * noise(i, j, k)),
  );
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
  const origin: Vec3 = [0, 1, 2].map(
    (r) =>
      -(
        direction[r * 3]! * half[0]! +
        direction[r * 3 + 1]! * half[1]! +
        direction[r * 3 + 2]! * half[2]!
      ),
  ) as Vec3;
  return sample(
    { dimensions, spacing, direction, origin },
    'uint16',
    (t, p) => layeredValue(t, p, (u) => MR_T1[u]),
    (v, i, j, k) =>
      Math.max(0, Math.round(v * (1 + 0.02 * noise(i, j, k)) + 12 + 10 * noise(k, i, j))),
  );
}

export interface SampleInfo {
  name: string;
  description: string;
  className: VolumeClass;
  make: () => ImageVolume;
  display: VolumeNode['display'];
}

export const SAMPLES: readonly SampleInfo[] = [
  {
    name: 'CTHeadPhantom',
    description:
      'CT-like head phantom, int16 Hounsfield units (air −1000, fat −95, soft tissue 45–50, skull tables ~1450 over diploë ~700, teeth ~2200, grey/white matter 40/24, CSF and ventricles 5–8, eyes, nose, sinuses, cervical spine), 128×128×100, 1.8×1.8×2 mm',
    className: 'vtkMRMLScalarVolumeNode',
    make: ctHeadPhantom,
    display: { window: 80, level: 40 },
  },
  {
    name: 'MRHeadObliquePhantom',
    description:
      'MR-like (T1) head phantom, uint16, 96×96×64, 2.2×2.2×3 mm, oblique direction (15° about R, 10° about S)',
    className: 'vtkMRMLScalarVolumeNode',
    make: mrHeadObliquePhantom,
    display: { window: 1000, level: 500 },
  },
  {
    name: 'HeadLabelPhantom',
    description:
      'label map of the head phantom (1 skin, 2 skull, 3 gray, 4 white matter, 5 CSF, 6 eyes), uint8, CT geometry',
    className: 'vtkMRMLLabelMapVolumeNode',
    make: headLabelPhantom,
    display: { colorTable: 'GenericAnatomyColors' },
  },
];

/**
 * Slicer SampleData names (what clients and Slicer's own pages send) mapped to the closest
 * built-in phantom: MR series to the MR head, CT series to the CT head. voxelgate downloads
 * nothing, so these are stand-ins with the requested name, not the real data sets; the reply
 * says which phantom was used. Names not listed (DTIBrain, sequences…) are 404 with the list.
 */
export const ALIASES: Record<string, string> = {
  MRHead: 'MRHeadObliquePhantom',
  MRBrainTumor1: 'MRHeadObliquePhantom',
  MRBrainTumor2: 'MRHeadObliquePhantom',
  BaselineVolume: 'MRHeadObliquePhantom',
  FollowUpVolume: 'MRHeadObliquePhantom',
  CTHead: 'CTHeadPhantom',
  CTChest: 'CTHeadPhantom',
  CTACardio: 'CTHeadPhantom',
  CTLiver: 'CTHeadPhantom',
  CTAAbdomenPanoramix: 'CTHeadPhantom',
};

/** The built-in sample a name stands for (itself, or the phantom a Slicer name maps to). */
export function sampleFor(name: string): SampleInfo | undefined {
  return SAMPLES.find((s) => s.name === name) ?? SAMPLES.find((s) => s.name === ALIASES[name]);
}

export function listSamples() {
  return SAMPLES.map((s) => ({
    name: s.name,
    description: s.description,
    class: s.className,
  })).concat(
    Object.entries(ALIASES).map(([name, to]) => ({
      name,
      description: `Slicer sample name: stand-in ${to} (built in; the real data set is not downloaded)`,
      class: SAMPLES.find((s) => s.name === to)!.className,
    })),
  );
}

/** Adds a sample volume to the scene (named as requested) and makes it active. */
export function loadSample(scene: Scene, name: string): VolumeNode {
  const info = sampleFor(name);
  if (!info)
    throw new AppError(
      'not_found',
      `sampledata ${name} was not found; voxelgate has no downloads. Built-in: ${SAMPLES.map((s) => s.name).join(', ')}; Slicer names mapped to them: ${Object.keys(ALIASES).join(', ')}`,
      { parameter: 'name' },
    );
  const node = scene.add<VolumeNode>({
    kind: 'volume',
    className: info.className,
    name,
    volume: info.make(),
    attributes: {},
    display: info.display,
  });
  scene.setActiveVolume(node.id);
  return node;
}
