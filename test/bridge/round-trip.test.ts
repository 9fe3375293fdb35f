/** Volume → DICOM series → volume: exact for integers, within rescale precision for floats. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadIntoScene } from '../../src/bridge/load.js';
import { formatDS, saveVolumeAsSeries } from '../../src/bridge/volume-to-series.js';
import type { DicomJson } from '../../src/dicom/dicom-json.js';
import {
  fromColumns3,
  normalize3,
  cross3,
  rasToLps,
  ijkToRasMatrix,
  transformPoint,
} from '../../src/imaging/geometry.js';
import type { ImageVolume, Mat3, ScalarType, TypedArray, Vec3 } from '../../src/imaging/types.js';
import { ARRAY_OF } from '../../src/imaging/types.js';
import { Scene, type VolumeClass, type VolumeNode } from '../../src/scene/scene.js';
import { archiveWith, close, makeSeries } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function emptyArchive() {
  // an archive needs one object to learn its study; start from a tiny series
  const s = makeSeries({
    rows: 2,
    columns: 2,
    positions: [[0, 0, 0]],
    pixels: () => new Int16Array(4),
  });
  const a = await archiveWith(s.files);
  cleanups.push(a.close);
  return a;
}

/** An oblique rotation (RAS columns), right-handed. */
function oblique(): Mat3 {
  const a = normalize3([0.9, 0.3, 0.1]);
  const b0 = normalize3(cross3([0, 0, 1], a));
  const b = normalize3(cross3(cross3(a, b0), a));
  return fromColumns3(a, b, cross3(a, b));
}

function volume(
  type: ScalarType,
  fill: (i: number) => number,
  dims: Vec3 = [7, 5, 6],
): ImageVolume {
  const n = dims[0] * dims[1] * dims[2];
  const data = new (ARRAY_OF[type] as unknown as new (n: number) => TypedArray)(n);
  for (let i = 0; i < n; i++) data[i] = fill(i);
  return {
    scalarType: type,
    components: 1,
    dimensions: dims,
    spacing: [0.7, 1.3, 2.5],
    origin: [10.25, -20.5, 30.125],
    direction: oblique(),
    data,
  };
}

async function roundTrip(
  vol: ImageVolume,
  className: VolumeClass = 'vtkMRMLScalarVolumeNode',
  attributes: Record<string, string> = {},
) {
  const a = await emptyArchive();
  const scene = new Scene();
  const node = scene.add<VolumeNode>({
    kind: 'volume',
    className,
    name: 'vol',
    volume: vol,
    attributes,
    display: { window: 400, level: 40 },
  });
  const saved = await saveVolumeAsSeries(scene, a.archive, node, {
    seriesDescription: 'round trip',
  });
  const loaded = await loadIntoScene(
    scene,
    a.archive,
    saved.studyInstanceUID,
    saved.seriesInstanceUID,
  );
  return { a, saved, back: scene.byId(loaded.loadedNodeIDs[0]!) as VolumeNode, loaded };
}

function assertSameGeometry(a: ImageVolume, b: ImageVolume) {
  assert.deepEqual(b.dimensions, a.dimensions);
  assert.ok(close(b.spacing, a.spacing, 1e-6), `spacing ${b.spacing} vs ${a.spacing}`);
  assert.ok(close(b.origin, a.origin, 1e-4), `origin ${b.origin} vs ${a.origin}`);
  assert.ok(close(b.direction, a.direction, 1e-6), `direction ${b.direction} vs ${a.direction}`);
}

describe('save → load round trip', () => {
  it('int16, oblique, non-isotropic: exact', async () => {
    const vol = volume('int16', (i) => ((i * 7919) % 4000) - 1024);
    const { back, saved } = await roundTrip(vol);
    assert.equal(saved.sopClassUID, '1.2.840.10008.5.1.4.1.1.2'); // CT-like: values reach −1024
    assert.equal(saved.instances, 6);
    assert.equal(back.volume.scalarType, 'int16');
    assertSameGeometry(vol, back.volume);
    assert.deepEqual(Array.from(back.volume.data), Array.from(vol.data));
    assert.deepEqual(back.display, { window: 400, level: 40 });
  });

  it('uint8 and uint16: exact, type kept', async () => {
    for (const type of ['uint8', 'uint16'] as const) {
      const vol = volume(type, (i) => (i * 31) % (type === 'uint8' ? 256 : 60000));
      const { back } = await roundTrip(vol);
      assert.equal(back.volume.scalarType, type);
      assertSameGeometry(vol, back.volume);
      assert.deepEqual(Array.from(back.volume.data), Array.from(vol.data));
    }
  });

  it('float32: within rescale precision (slope / 2)', async () => {
    const vol = volume('float32', (i) => Math.sin(i) * 1234.5 + 17.25);
    const { back, saved } = await roundTrip(vol);
    assert.equal(back.volume.scalarType, 'float32');
    assertSameGeometry(vol, back.volume);
    const slope = Number(/RescaleSlope (\S+)/.exec(saved.warnings.join(' '))![1]);
    assert.ok(slope > 0 && slope < 0.04, `slope ${slope}`);
    let worst = 0;
    for (let i = 0; i < vol.data.length; i++)
      worst = Math.max(worst, Math.abs(back.volume.data[i]! - vol.data[i]!));
    assert.ok(worst <= slope / 2 + 1e-3, `max error ${worst} vs slope ${slope}`);
  });

  it('label map: SC OT series with LABELMAP, reloads as a label map, exact', async () => {
    const vol = volume('uint8', (i) => i % 5);
    const { back, saved } = await roundTrip(vol, 'vtkMRMLLabelMapVolumeNode');
    assert.equal(saved.sopClassUID, '1.2.840.10008.5.1.4.1.1.7');
    assert.equal(back.className, 'vtkMRMLLabelMapVolumeNode');
    assert.deepEqual(Array.from(back.volume.data), Array.from(vol.data));
  });

  it('goes back to its source study and keeps the frame of reference', async () => {
    const a = await emptyArchive();
    const scene = new Scene();
    const loaded = await loadIntoScene(scene, a.archive, a.studyUid);
    const node = scene.byId(loaded.loadedNodeIDs[0]!) as VolumeNode;
    const saved = await saveVolumeAsSeries(scene, a.archive, node, {});
    assert.equal(saved.studyInstanceUID, a.studyUid);
    assert.equal(saved.newStudy, false);
    assert.match(saved.seriesInstanceUID, /^2\.25\.\d+$/);
    const meta = JSON.parse(
      (await a.archive.metadata(a.studyUid, saved.seriesInstanceUID))[0]!,
    ) as DicomJson;
    assert.equal(meta['00200052']!.Value![0], node.attributes['DICOM.FrameOfReferenceUID']);
    assert.equal(meta['00100020']!.Value![0], 'BRIDGE'); // patient copied from the study
  });

  it('the sphere centre (known RAS point) maps to the same LPS point through the stored IPP/IOP/PixelSpacing', async () => {
    const dims: Vec3 = [20, 16, 12];
    const vol = volume('int16', () => 0, dims);
    const centreIjk: Vec3 = [12, 5, 7];
    const m = ijkToRasMatrix(vol);
    const centreRas = transformPoint(m, centreIjk);
    for (let k = 0; k < dims[2]; k++)
      for (let j = 0; j < dims[1]; j++)
        for (let i = 0; i < dims[0]; i++) {
          const p = transformPoint(m, [i, j, k]);
          if (Math.hypot(p[0] - centreRas[0], p[1] - centreRas[1], p[2] - centreRas[2]) < 2.6)
            vol.data[(k * dims[1] + j) * dims[0] + i] = 1000;
        }
    const { a, saved } = await roundTrip(vol);
    // Find the brightest pixel's slice from the stored files' geometry alone.
    const metas = (await a.archive.metadata(saved.studyInstanceUID, saved.seriesInstanceUID)).map(
      (t) => JSON.parse(t) as DicomJson,
    );
    const nums = (j: DicomJson, tag: string) => j[tag]!.Value!.map(Number);
    const want = rasToLps(centreRas);
    const atCentre = metas.find((j) => nums(j, '00200013')[0] === centreIjk[2] + 1)!;
    const ipp = nums(atCentre, '00200032');
    const iop = nums(atCentre, '00200037');
    const ps = nums(atCentre, '00280030');
    const [ci, cj] = centreIjk;
    const lps = [0, 1, 2].map((x) => ipp[x]! + ci * ps[1]! * iop[x]! + cj * ps[0]! * iop[3 + x]!);
    assert.ok(close(lps, want, 1e-4), `LPS ${lps} vs ${want}`);
  });

  it('formatDS keeps 16 characters', () => {
    for (const x of [Math.PI * 1e6, -1 / 3, 1e-20, 123456789012345680, 0, -0.000123456789123]) {
      const s = formatDS(x);
      assert.ok(s.length <= 16, s);
      assert.ok(Math.abs(Number(s) - x) <= Math.abs(x) * 1e-9 + 1e-300, `${x} → ${s}`);
    }
  });
});
