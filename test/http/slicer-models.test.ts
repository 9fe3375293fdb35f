/**
 * Model nodes: PUT /slicer/model with STL (binary, ASCII), OBJ, PLY, VTK legacy (ASCII, binary)
 * and VTP bodies; files written by an independent writer/reader (@itk-wasm/mesh-io) and by hand;
 * LPS → RAS as Slicer does; GET in each format read back by itk-wasm; listing, deleting,
 * persistence, bad meshes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readMeshNode, writeMeshNode } from '@itk-wasm/mesh-io';
import { makeTestApp, tempDir } from '../helpers/app.js';
import { Scene, type ModelNode } from '../../src/scene/scene.js';
import { SceneStore } from '../../src/scene/persistence.js';
import { putModel } from '../../src/scene/models.js';

/** A tetrahedron in LPS mm (as a file written by Slicer would hold it). */
const LPS = [10, 20, 30, 40, 20, 30, 10, 50, 30, 10, 20, 70];
const TRIS = [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3];
const RAS = LPS.map((v, i) => (i % 3 === 2 ? v : -v));

function itkMesh(points: number[], tris: number[]) {
  const cells: number[] = [];
  for (let t = 0; t < tris.length; t += 3) cells.push(4, 3, tris[t]!, tris[t + 1]!, tris[t + 2]!);
  return {
    meshType: {
      dimension: 3,
      pointComponentType: 'float32',
      pointPixelComponentType: 'float32',
      pointPixelType: 'Scalar',
      pointPixelComponents: 1,
      cellComponentType: 'uint32',
      cellPixelComponentType: 'float32',
      cellPixelType: 'Scalar',
      cellPixelComponents: 1,
    },
    name: 'tetra',
    numberOfPoints: points.length / 3,
    points: new Float32Array(points),
    numberOfPointPixels: 0,
    pointData: new Float32Array(0),
    numberOfCells: tris.length / 3,
    cells: new Uint32Array(cells),
    cellBufferSize: cells.length,
    numberOfCellPixels: 0,
    cellData: new Float32Array(0),
  } as never;
}

/** Triangles of an itk-wasm mesh as sorted lists of their corner coordinates (order-free compare). */
function trianglesOf(points: ArrayLike<number>, cells: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < cells.length;) {
    const n = Number(cells[i + 1]);
    const ids = Array.from({ length: n }, (_, k) => Number(cells[i + 2 + k]));
    for (let k = 1; k + 1 < n; k++)
      out.push(
        [ids[0]!, ids[k]!, ids[k + 1]!]
          .map((v) => [0, 1, 2].map((a) => Number(points[3 * v + a]).toFixed(3)).join(','))
          .sort()
          .join(' '),
      );
    i += n + 2;
  }
  return out.sort();
}

const WANT_LPS = trianglesOf(
  LPS,
  TRIS.flatMap((_, t) => (t % 3 === 0 ? [4, 3, TRIS[t]!, TRIS[t + 1]!, TRIS[t + 2]!] : [])),
);

async function itkFile(ext: string, binary = false): Promise<Uint8Array> {
  const dir = tempDir('vg-mesh-');
  const f = path.join(dir, `tetra.${ext}`);
  await writeMeshNode(itkMesh(LPS, TRIS), f, { binaryFileType: binary });
  const b = await fsp.readFile(f);
  await fsp.rm(dir, { recursive: true, force: true });
  return new Uint8Array(b);
}

async function itkRead(bytes: Uint8Array, ext: string) {
  const dir = tempDir('vg-mesh-');
  const f = path.join(dir, `out.${ext}`);
  await fsp.writeFile(f, bytes);
  const m = await readMeshNode(f);
  await fsp.rm(dir, { recursive: true, force: true });
  // OBJ: itk-wasm labels cells int64 but the bytes are uint32 (packages-wave2 §3).
  const cells =
    m.cells instanceof BigInt64Array ? new Uint32Array(m.cells.buffer) : (m.cells as Uint32Array);
  return trianglesOf(m.points as Float32Array, cells);
}

const HAND_PLY = `ply
format ascii 1.0
element vertex 4
property float x
property float y
property float z
element face 4
property list uchar int vertex_indices
end_header
${[0, 1, 2, 3].map((i) => LPS.slice(3 * i, 3 * i + 3).join(' ')).join('\n')}
${[0, 1, 2, 3].map((t) => `3 ${TRIS.slice(3 * t, 3 * t + 3).join(' ')}`).join('\n')}
`;

const HAND_VTP = `<?xml version="1.0"?>
<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian">
<PolyData><Piece NumberOfPoints="4" NumberOfPolys="4">
<Points><DataArray type="Float32" NumberOfComponents="3" format="ascii">${LPS.join(' ')}</DataArray></Points>
<Polys><DataArray type="Int32" Name="connectivity" format="ascii">${TRIS.join(' ')}</DataArray>
<DataArray type="Int32" Name="offsets" format="ascii">3 6 9 12</DataArray></Polys>
</Piece></PolyData></VTKFile>
`;

function modelOf(t: { ctx: { scene: Scene } }, id: string): ModelNode {
  return t.ctx.scene.byId(id) as ModelNode;
}

test('PUT /slicer/model: every format loads with the right geometry (LPS files → RAS)', async () => {
  const t = await makeTestApp();
  try {
    const bodies: Array<[string, Uint8Array]> = [
      ['stl-binary', await itkFile('stl', true)],
      ['stl-ascii', await itkFile('stl', false)],
      ['obj', await itkFile('obj')],
      ['vtk-ascii', await itkFile('vtk')],
      ['ply', new TextEncoder().encode(HAND_PLY)],
      ['vtp', new TextEncoder().encode(HAND_VTP)],
    ];
    for (const [what, body] of bodies) {
      const res = await t.app.request(`/slicer/model?name=${what}`, { method: 'PUT', body });
      const j = (await res.json()) as {
        id: string;
        coordinateSystem: string;
        numberOfTriangles: number;
      };
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(j)}`);
      assert.equal(j.coordinateSystem, 'LPS', what);
      assert.equal(j.numberOfTriangles, 4, what);
      const m = modelOf(t, j.id).mesh;
      const got = trianglesOf(
        m.positions,
        Array.from({ length: m.indices.length / 3 }, (_, k) => [
          4,
          3,
          ...m.indices.subarray(3 * k, 3 * k + 3),
        ]).flat(),
      );
      const want = trianglesOf(
        RAS,
        TRIS.flatMap((_, k) => (k % 3 === 0 ? [4, 3, TRIS[k]!, TRIS[k + 1]!, TRIS[k + 2]!] : [])),
      );
      assert.deepEqual(got, want, what);
    }
  } finally {
    await t.close();
  }
});

test('PUT /slicer/model: SPACE=RAS in the header (or coordinateSystem=RAS) keeps coordinates', async () => {
  const t = await makeTestApp();
  try {
    const stl = `solid tetra SPACE=RAS\n${[0, 1, 2, 3]
      .map((k) => {
        const v = TRIS.slice(3 * k, 3 * k + 3).map(
          (i) => `vertex ${LPS.slice(3 * i, 3 * i + 3).join(' ')}`,
        );
        return `facet normal 0 0 0\nouter loop\n${v.join('\n')}\nendloop\nendfacet`;
      })
      .join('\n')}\nendsolid\n`;
    let res = await t.app.request('/slicer/model?name=ras', { method: 'PUT', body: stl });
    let j = (await res.json()) as { id: string; coordinateSystem: string };
    assert.equal(j.coordinateSystem, 'RAS');
    assert.equal(modelOf(t, j.id).mesh.positions[0], 10);
    res = await t.app.request('/slicer/model?name=forced&coordinateSystem=RAS', {
      method: 'PUT',
      body: await itkFile('obj'),
    });
    j = (await res.json()) as { id: string; coordinateSystem: string };
    assert.equal(j.coordinateSystem, 'RAS');
    assert.deepEqual([...modelOf(t, j.id).mesh.positions.subarray(0, 3)], [10, 20, 30]);
  } finally {
    await t.close();
  }
});

test('GET /slicer/model: stl, obj, vtk read back by itk-wasm in LPS; ply parsed by hand; glb magic', async () => {
  const t = await makeTestApp();
  try {
    const res = await t.app.request('/slicer/model?name=tetra', {
      method: 'PUT',
      body: await itkFile('vtk'),
    });
    const { id } = (await res.json()) as { id: string };
    for (const f of ['stl', 'obj', 'vtk']) {
      const r = await t.app.request(`/slicer/model?id=${id}&format=${f}`);
      assert.equal(r.status, 200);
      const bytes = new Uint8Array(await r.arrayBuffer());
      assert.deepEqual(await itkRead(bytes, f), WANT_LPS, f);
    }
    const ply = Buffer.from(
      await (await t.app.request(`/slicer/model?id=${id}&format=ply`)).arrayBuffer(),
    );
    const end = ply.indexOf('end_header\n') + 'end_header\n'.length;
    const header = ply.subarray(0, end).toString('latin1');
    assert.match(header, /binary_little_endian/);
    assert.match(header, /SPACE=LPS/);
    const pts = Array.from({ length: 12 }, (_, i) => ply.readFloatLE(end + 4 * i));
    const cells: number[] = [];
    for (let k = 0; k < 4; k++) {
      const o = end + 48 + 13 * k;
      cells.push(
        4,
        ply.readUInt8(o),
        ply.readInt32LE(o + 1),
        ply.readInt32LE(o + 5),
        ply.readInt32LE(o + 9),
      );
    }
    assert.deepEqual(trianglesOf(pts, cells), WANT_LPS);
    const glb = new Uint8Array(
      await (await t.app.request(`/slicer/model?id=${id}&format=glb`)).arrayBuffer(),
    );
    assert.equal(Buffer.from(glb.subarray(0, 4)).toString('latin1'), 'glTF');
    // Round trip: our binary VTK back in gives the same RAS surface.
    const vtk = new Uint8Array(
      await (await t.app.request(`/slicer/model?id=${id}&format=vtk`)).arrayBuffer(),
    );
    const again = await t.app.request('/slicer/model?name=again', { method: 'PUT', body: vtk });
    const a = (await again.json()) as { id: string };
    assert.deepEqual([...modelOf(t, a.id).mesh.positions], [...modelOf(t, id).mesh.positions]);
  } finally {
    await t.close();
  }
});

test('models are listed by /slicer/mrml/*, change display, delete', async () => {
  const t = await makeTestApp();
  try {
    const res = await t.app.request('/slicer/model?name=skull&color=1,0,0&opacity=0.5', {
      method: 'PUT',
      body: await itkFile('stl', true),
    });
    const { id } = (await res.json()) as { id: string };
    assert.deepEqual(
      await (await t.app.request('/slicer/mrml/names?class=vtkMRMLModelNode')).json(),
      ['skull'],
    );
    const props = (await (
      await t.app.request(`/slicer/mrml/properties?id=${id}`)
    ).json()) as Record<
      string,
      { numberOfTriangles: number; display: { opacity: number }; bounds: number[] }
    >;
    assert.equal(props[id]!.numberOfTriangles, 4);
    assert.equal(props[id]!.display.opacity, 0.5);
    assert.deepEqual(props[id]!.bounds, [-40, -10, -50, -20, 30, 70]);
    await t.app.request(`/slicer/model?id=${id}&visible=false`, { method: 'PUT' });
    assert.equal(modelOf(t, id).display.visible, false);
    const list = (await (await t.app.request('/slicer/models')).json()) as unknown[];
    assert.equal(list.length, 1);
    assert.equal((await t.app.request(`/slicer/model?id=${id}`, { method: 'DELETE' })).status, 200);
    assert.equal((await t.app.request(`/slicer/model?id=${id}`)).status, 404);
  } finally {
    await t.close();
  }
});

test('bad meshes → 4xx (corrupt, NaN vertex, bad index, over --limit-mesh, empty)', async () => {
  const t = await makeTestApp();
  t.ctx.config.limits.mesh = 64 * 1024;
  try {
    const cases: Array<[string, string | Uint8Array, number]> = [
      ['garbage', 'hello world, not a mesh', 422],
      [
        'nan',
        'solid x\nfacet normal 0 0 1\nouter loop\nvertex nan 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n',
        422,
      ],
      ['bad index', HAND_PLY.replace('3 0 2 1', '3 0 2 99'), 422],
      ['truncated binary stl', (await itkFile('stl', true)).subarray(0, 100), 422],
      ['too big', new Uint8Array(128 * 1024), 413],
      ['empty', '', 400],
    ];
    for (const [what, body, status] of cases) {
      const res = await t.app.request(`/slicer/model?name=x`, { method: 'PUT', body });
      const j = (await res.json()) as { success: boolean; message: string };
      assert.equal(res.status, status, `${what}: ${j.message}`);
      assert.equal(j.success, false);
    }
    assert.equal(t.ctx.scene.nodes().length, 0);
  } finally {
    await t.close();
  }
});

test('model nodes persist (atomic .mesh file named by the index) and load back exactly', async () => {
  const dir = tempDir();
  try {
    const scene = new Scene();
    const store = new SceneStore(scene, dir);
    await store.open();
    const mesh = {
      positions: new Float32Array(RAS),
      indices: new Uint32Array(TRIS),
      normals: new Float32Array(12).fill(0.5),
    };
    const { node } = putModel(scene, { name: 'tetra', mesh, display: { color: [0, 1, 0] } });
    await store.flush();
    await store.close();
    const files = await fsp.readdir(path.join(dir, 'scene', 'volumes'));
    assert.equal(files.filter((f) => f.endsWith('.mesh')).length, 1);
    const again = new Scene();
    const store2 = new SceneStore(again, dir);
    await store2.open();
    const back = again.byId(node.id) as ModelNode;
    assert.deepEqual([...back.mesh.positions], RAS);
    assert.deepEqual([...back.mesh.indices], TRIS);
    assert.deepEqual([...back.mesh.normals!], [...mesh.normals]);
    assert.deepEqual(back.display.color, [0, 1, 0]);
    again.remove([node.id]);
    await store2.flush();
    await store2.close();
    assert.equal(
      (await fsp.readdir(path.join(dir, 'scene', 'volumes'))).filter((f) => f.endsWith('.mesh'))
        .length,
      0,
    );
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('POST /slicer/mrml?filetype=ModelFile loads a model from an --import-root folder', async () => {
  const root = tempDir('vg-import-');
  const t = await makeTestApp({ importRoots: [root] });
  try {
    await fsp.writeFile(path.join(root, 'tetra.stl'), await itkFile('stl', true));
    const res = await t.app.request('/slicer/mrml?filetype=ModelFile&localfile=tetra.stl', {
      method: 'POST',
    });
    const j = (await res.json()) as { loadedNodeIDs: string[] };
    assert.equal(res.status, 200, JSON.stringify(j));
    const m = modelOf(t, j.loadedNodeIDs[0]!);
    assert.equal(m.name, 'tetra');
    assert.equal(m.mesh.indices.length, 12);
    const outside = await t.app.request('/slicer/mrml?filetype=ModelFile&localfile=/etc/passwd', {
      method: 'POST',
    });
    assert.equal(outside.status, 403);
  } finally {
    await t.close();
    await fsp.rm(root, { recursive: true, force: true });
  }
});
