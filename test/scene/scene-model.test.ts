/** Scene additions (active volume, replace, id counters, class hierarchy) and transform/geometry helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scene, type VolumeNode } from '../../src/scene/scene.js';
import { isA } from '../../src/scene/classes.js';
import { matrixToParentFromItkText, quaternionToRotation } from '../../src/scene/transforms.js';
import {
  completeDirection,
  transformPoint,
  vectorsFrameToRas,
} from '../../src/imaging/geometry.js';
import { decodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';

const vol = (): ImageVolume => ({
  scalarType: 'uint8',
  components: 1,
  dimensions: [1, 1, 1],
  spacing: [1, 1, 1],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  data: allocShared('uint8', 1),
});
const addVol = (s: Scene, name: string) =>
  s.add<VolumeNode>({
    kind: 'volume',
    className: 'vtkMRMLScalarVolumeNode',
    name,
    volume: vol(),
    attributes: {},
    display: {},
  });

test('active volume: set, change events, fallback, cleared on remove', () => {
  const s = new Scene();
  const a = addVol(s, 'a');
  const b = addVol(s, 'b');
  assert.equal(s.activeVolumeId, undefined);
  assert.equal(s.activeVolume()?.id, a.id);
  const seen: Array<string | undefined> = [];
  s.onChange((c) => seen.push(c.activeVolumeId));
  s.setActiveVolume(b.id);
  assert.deepEqual(seen, [b.id]);
  assert.throws(() => s.setActiveVolume('nope'), /no volume/);
  s.remove([b.id]);
  assert.equal(s.activeVolumeId, undefined);
});

test('replace keeps id and position, may change class; counters survive', () => {
  const s = new Scene();
  addVol(s, 'a');
  const b = addVol(s, 'b');
  addVol(s, 'c');
  s.replace<VolumeNode>(b.id, { ...b, className: 'vtkMRMLLabelMapVolumeNode', name: 'B' });
  assert.deepEqual(
    s.nodes().map((n) => [n.id, n.name, n.className]),
    [
      ['vtkMRMLScalarVolumeNode1', 'a', 'vtkMRMLScalarVolumeNode'],
      ['vtkMRMLScalarVolumeNode2', 'B', 'vtkMRMLLabelMapVolumeNode'],
      ['vtkMRMLScalarVolumeNode3', 'c', 'vtkMRMLScalarVolumeNode'],
    ],
  );
  const t = new Scene();
  t.restoreIdCounters(s.idCounters());
  assert.equal(addVol(t, 'x').id, 'vtkMRMLScalarVolumeNode4');
});

test('class hierarchy', () => {
  assert.ok(isA('vtkMRMLLabelMapVolumeNode', 'vtkMRMLScalarVolumeNode'));
  assert.ok(isA('vtkMRMLVectorVolumeNode', 'vtkMRMLVolumeNode'));
  assert.ok(isA('vtkMRMLGridTransformNode', 'vtkMRMLTransformNode'));
  assert.ok(isA('vtkMRMLMarkupsFiducialNode', 'vtkMRMLNode'));
  assert.ok(!isA('vtkMRMLLinearTransformNode', 'vtkMRMLVolumeNode'));
});

test('quaternion, ITK affine with centre, completeDirection, measurement frame', async () => {
  const r = quaternionToRotation([Math.cos(Math.PI / 4), 0, 0, Math.sin(Math.PI / 4)]).map(
    (x) => Math.round(x * 1e12) / 1e12 + 0,
  );
  assert.deepEqual(r, [0, -1, 0, 1, 0, 0, 0, 0, 1]);
  // 90° about z around centre (10,0,0) in LPS: from-parent maps LPS (10,1,0) → (9,0,0)
  const m = matrixToParentFromItkText(
    'Transform: AffineTransform_double_3_3\nParameters: 0 -1 0 1 0 0 0 0 1 0 0 0\nFixedParameters: 10 0 0\n',
  );
  // to-parent is the inverse, in RAS: RAS (-9,0,0) → RAS (-10,-1,0)
  assert.deepEqual(
    transformPoint(m, [-9, 0, 0]).map((x) => Math.round(x * 1e9) / 1e9 + 0),
    [-10, -1, 0],
  );
  const d = completeDirection([[0, 1, 0]]);
  assert.ok(Math.abs(d[0] * d[1] + d[3] * d[4] + d[6] * d[7]) < 1e-12);
  const v = Float64Array.from([1, 2, 3]);
  assert.deepEqual(
    [...vectorsFrameToRas('LPS', v, new Float64Array(3), [0, 1, 0, 1, 0, 0, 0, 0, 1])],
    [-2, -1, 3],
  );
  const h =
    'NRRD0004\ntype: float\ndimension: 4\nspace: LPS\nsizes: 3 1 1 1\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\nmeasurement frame: (0,1,0) (1,0,0) (0,0,1)\nencoding: ascii\n\n1 2 3';
  const dec = await decodeNrrd(Buffer.from(h));
  assert.deepEqual(dec.layout.measurementFrame, [0, 1, 0, 1, 0, 0, 0, 0, 1]);
});
