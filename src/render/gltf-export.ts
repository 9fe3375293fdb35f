/**
 * Scene surfaces → glTF 2.0 with @gltf-transform/core (`threeDGraphics`, `GET /slicer/model?format=glb`).
 *
 * Axes: vertex positions stay in RAS millimetres in the buffers; one root node named
 * `RAS mm to glTF` carries the change of frame to glTF's metres with +Y up and the front facing +Z:
 *
 *     x_gltf = −R / 1000   (patient left)      y_gltf = S / 1000   (up)      z_gltf = A / 1000
 *
 * (a proper rotation, so triangle windings and normals keep their meaning). A viewer that wants
 * RAS back multiplies by that node's inverse. Every surface is a node (named after the scene node,
 * with its id in `extras`) with a mesh of one indexed triangle primitive and a material: base
 * colour from the display colour, alphaMode BLEND when opacity < 1, double-sided.
 */
import { Document, WebIO } from '@gltf-transform/core';
import { writeMesh } from '../imaging/mesh-io.js';
import { vertexNormals, type TriangleMesh } from '../imaging/mesh.js';
import type { ModelNode } from '../scene/scene.js';

export interface ExportSurface {
  /** Scene node id (kept in extras) and display name. */
  id: string;
  name: string;
  /** World RAS mm. */
  mesh: TriangleMesh;
  color: [number, number, number];
  opacity: number;
}

/** Column-major root matrix: RAS mm → glTF m (see the module comment). */
export const RAS_MM_TO_GLTF: number[] = [
  -0.001, 0, 0, 0, 0, 0, 0.001, 0, 0, 0.001, 0, 0, 0, 0, 0, 1,
];

export function surfacesDocument(surfaces: ExportSurface[], sceneName = 'voxelgate'): Document {
  const doc = new Document();
  doc.getRoot().getAsset().generator = 'voxelgate';
  // No buffer at all for an empty scene (a zero-length buffer is a validator error).
  const buffer = surfaces.some((s) => s.mesh.indices.length) ? doc.createBuffer() : null;
  const scene = doc.createScene(sceneName);
  const root = doc.createNode('RAS mm to glTF').setMatrix(RAS_MM_TO_GLTF as never);
  scene.addChild(root);
  for (const s of surfaces) {
    if (s.mesh.indices.length === 0) continue;
    const normals = s.mesh.normals ?? vertexNormals(s.mesh);
    const material = doc
      .createMaterial(s.name)
      .setBaseColorFactor([s.color[0], s.color[1], s.color[2], s.opacity])
      .setAlphaMode(s.opacity < 1 ? 'BLEND' : 'OPAQUE')
      .setDoubleSided(true)
      .setMetallicFactor(0)
      .setRoughnessFactor(0.6);
    const prim = doc
      .createPrimitive()
      .setAttribute(
        'POSITION',
        doc.createAccessor().setType('VEC3').setArray(s.mesh.positions).setBuffer(buffer),
      )
      .setAttribute(
        'NORMAL',
        doc.createAccessor().setType('VEC3').setArray(normals).setBuffer(buffer),
      )
      .setIndices(doc.createAccessor().setType('SCALAR').setArray(s.mesh.indices).setBuffer(buffer))
      .setMaterial(material);
    const node = doc
      .createNode(s.name)
      .setMesh(doc.createMesh(s.name).addPrimitive(prim))
      .setExtras({ mrmlNodeID: s.id });
    root.addChild(node);
  }
  return doc;
}

/** Binary glTF (.glb). */
export async function toGlb(doc: Document): Promise<Uint8Array> {
  return new WebIO().writeBinary(doc);
}

/** glTF JSON with the buffer embedded as a base64 data: URI (gltf-transform has no option for it). */
export async function toGltfJson(doc: Document): Promise<string> {
  const { json, resources } = await new WebIO().writeJSON(doc);
  for (const b of json.buffers ?? []) {
    const data = b.uri !== undefined ? resources[b.uri] : undefined;
    if (data)
      b.uri = 'data:application/octet-stream;base64,' + Buffer.from(data).toString('base64');
  }
  return JSON.stringify(json);
}

/** The formats `GET /slicer/model` writes: mesh files (LPS, as Slicer writes them) or GLB. */
export const MODEL_FILE_FORMATS = ['stl', 'obj', 'ply', 'vtk', 'glb'] as const;
export type ModelFileFormat = (typeof MODEL_FILE_FORMATS)[number];

/** A model node as a file: STL, OBJ, PLY or VTK (imaging/mesh-io.ts), or GLB (glTF axes). */
export async function modelFile(node: ModelNode, format: ModelFileFormat): Promise<Uint8Array> {
  if (format !== 'glb') return writeMesh(node.mesh, format, node.name);
  const { id, name, mesh } = node;
  const { color, opacity } = node.display;
  return toGlb(surfacesDocument([{ id, name, mesh, color, opacity }]));
}
