/**
 * glTF 2.0 scene → rasterizer meshes and camera pose, with @gltf-transform/core. Used by the glTF
 * render server (`POST /render`). A scene may only carry embedded resources (`data:` URIs or the
 * GLB binary chunk): any other URI is refused before parsing, so a scene never makes the server
 * touch the disk or the network.
 */
import {
  WebIO,
  type Accessor,
  type Document,
  type Node,
  type Primitive,
  type Texture,
  type TextureInfo,
} from '@gltf-transform/core';
import sharp from 'sharp';
import { AppError } from '../errors.js';
import type { RasterMesh, RasterTexture } from '../imaging/rasterize.js';
import type { Mat4 } from '../imaging/types.js';

export interface GltfScene {
  meshes: RasterMesh[];
  /** Pose of the first node carrying a camera (camera → world, row-major), if any. */
  cameraPose?: Mat4;
  triangles: number;
}

/** glTF column-major 4×4 → row-major `Mat4`. */
export function rowMajorFromGltf(m: ArrayLike<number>): Mat4 {
  const r = new Array<number>(16) as Mat4;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) r[i * 4 + j] = m[j * 4 + i]!;
  return r;
}

const GLB_MAGIC = 0x46546c67; // 'glTF'

function bad(message: string): AppError {
  return new AppError('bad_request', message);
}

/** Refuses URIs that are not embedded `data:` URIs (relative paths, file:, http:, …). */
function checkEmbedded(json: object): void {
  const { buffers, images } = json as { buffers?: unknown; images?: unknown };
  for (const [what, list] of [
    ['buffers', buffers],
    ['images', images],
  ] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw bad(`scene: "${what}" is not an array`);
    (list as unknown[]).forEach((r, i) => {
      if (r === null || typeof r !== 'object') throw bad(`scene: ${what}[${i}] is not an object`);
      const { uri } = r as { uri?: unknown };
      if (uri === undefined) return;
      if (typeof uri !== 'string' || !/^data:[^,]*,/i.test(uri))
        throw bad(
          `scene: ${what}[${i}].uri is not an embedded data: URI (${JSON.stringify(shown(uri).slice(0, 60))}); external files and URLs are refused`,
        );
    });
  }
}

/** A JSON value as a message shows it: strings as they are, the rest as JSON. */
const shown = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * An accessor's values. gltf-transform's `TypedArray` includes `Float16Array`, which lib ES2023
 * (and Node 20) lacks, so its declared type does not resolve here; every array it returns is
 * indexable numbers.
 */
function accessorValues(a: Accessor): ArrayLike<number> | null {
  return a.getArray() as ArrayLike<number> | null;
}

/** Parses glTF JSON or GLB bytes into a gltf-transform Document (400 on anything malformed). */
export async function readGltf(bytes: Uint8Array): Promise<Document> {
  const io = new WebIO();
  const isGlb =
    bytes.length >= 12 &&
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true) === GLB_MAGIC;
  try {
    if (isGlb) {
      // The JSON chunk starts at byte 20 (after the 12-byte header and the chunk header).
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const len = bytes.length >= 20 ? dv.getUint32(12, true) : 0;
      if (20 + len > bytes.length) throw bad('scene: truncated GLB');
      const json: unknown = JSON.parse(Buffer.from(bytes.subarray(20, 20 + len)).toString('utf8'));
      if (json === null || typeof json !== 'object')
        throw bad('scene: glTF JSON must be an object');
      checkEmbedded(json);
      return await io.readBinary(bytes);
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (e) {
      throw bad(`scene is neither glTF JSON nor GLB: ${(e as Error).message}`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw bad('scene: glTF JSON must be an object');
    const asset = (json as { asset?: { version?: unknown } }).asset;
    if (!asset || typeof asset.version !== 'string' || !asset.version.startsWith('2.'))
      throw bad('scene: not a glTF 2.0 asset (asset.version must be "2.x")');
    checkEmbedded(json);
    return await io.readJSON({ json: json as never, resources: {} });
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw bad(`scene is not a valid glTF 2.0 file: ${(e as Error).message}`);
  }
}

/** Float xyz triples of an accessor (normalized integers decoded as glTF says). */
function vec3Array(a: Accessor): Float32Array {
  const arr = accessorValues(a);
  if (arr instanceof Float32Array && a.getElementSize() === 3 && !a.getNormalized()) return arr;
  const n = a.getCount();
  const out = new Float32Array(n * 3);
  const el: number[] = [];
  for (let i = 0; i < n; i++) {
    a.getElement(i, el);
    out[3 * i] = el[0] ?? 0;
    out[3 * i + 1] = el[1] ?? 0;
    out[3 * i + 2] = el[2] ?? 0;
  }
  return out;
}

/** Float (s, t) pairs of a texture-coordinate accessor. */
function vec2Array(a: Accessor): Float32Array {
  const n = a.getCount();
  const out = new Float32Array(n * 2);
  const el: number[] = [];
  for (let i = 0; i < n; i++) {
    a.getElement(i, el);
    out[2 * i] = el[0] ?? 0;
    out[2 * i + 1] = el[1] ?? 0;
  }
  return out;
}

/** Largest texture decoded (pixels); bigger images are refused as absurd. */
const MAX_TEXTURE_PIXELS = 64 * 1024 * 1024;

async function decodeTexture(t: Texture): Promise<RasterTexture> {
  const img = t.getImage();
  if (!img) throw bad(`scene: texture "${t.getName()}" has no image data`);
  try {
    const { data, info } = await sharp(img, { limitInputPixels: MAX_TEXTURE_PIXELS })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data) };
  } catch (e) {
    throw bad(`scene: texture "${t.getName()}" cannot be decoded (${(e as Error).message})`);
  }
}

/** Triangle-list indices of a primitive (strips and fans unrolled); undefined for points/lines. */
function triangleIndices(p: Primitive, vertexCount: number): Uint32Array | undefined {
  const mode = p.getMode();
  const acc = p.getIndices();
  const src = acc ? Uint32Array.from(accessorValues(acc) ?? []) : undefined;
  const n = src ? src.length : vertexCount;
  const at = (i: number) => (src ? src[i]! : i);
  if (mode === 4) {
    if (src) return src;
    const out = new Uint32Array(n - (n % 3));
    for (let i = 0; i < out.length; i++) out[i] = i;
    return out;
  }
  if (mode === 5 || mode === 6) {
    const out = new Uint32Array(Math.max(0, n - 2) * 3);
    for (let i = 0; i + 2 < n; i++) {
      if (mode === 6) out.set([at(0), at(i + 1), at(i + 2)], 3 * i);
      else if (i % 2 === 0) out.set([at(i), at(i + 1), at(i + 2)], 3 * i);
      else out.set([at(i + 1), at(i), at(i + 2)], 3 * i);
    }
    return out;
  }
  return undefined;
}

/**
 * The scene's triangle meshes in world coordinates (node hierarchy composed, `matrix` or TRS), with
 * material base colour and opacity (alphaMode BLEND uses the factor's alpha), and the label colour
 * bytes the Drake client encodes into `baseColorFactor`.
 */
export async function sceneMeshes(doc: Document, maxTriangles: number): Promise<GltfScene> {
  const root = doc.getRoot();
  const scene = root.getDefaultScene() ?? root.listScenes()[0];
  const meshes: RasterMesh[] = [];
  let cameraPose: Mat4 | undefined;
  let triangles = 0;
  if (!scene) return { meshes, triangles };
  const pending: Array<{ mesh: RasterMesh; texture: Texture; info: TextureInfo | null }> = [];
  scene.traverse((node: Node) => {
    if (node.getCamera() && !cameraPose) cameraPose = rowMajorFromGltf(node.getWorldMatrix());
    const mesh = node.getMesh();
    if (!mesh) return;
    const worldFromLocal = rowMajorFromGltf(node.getWorldMatrix());
    for (const prim of mesh.listPrimitives()) {
      const pos = prim.getAttribute('POSITION');
      if (!pos) continue;
      if (pos.getType() !== 'VEC3') throw bad('scene: a POSITION accessor is not VEC3');
      const positions = vec3Array(pos);
      for (const x of positions)
        if (!Number.isFinite(x))
          throw bad(`scene: mesh "${mesh.getName()}" has a non-finite vertex coordinate`);
      const indices = triangleIndices(prim, pos.getCount());
      if (!indices || indices.length === 0) continue;
      const nv = pos.getCount();
      for (const v of indices)
        if (v >= nv) throw bad(`scene: mesh "${mesh.getName()}" has an index out of range`);
      triangles += indices.length / 3;
      if (triangles > maxTriangles)
        throw bad(`scene has more than ${maxTriangles} triangles (the server's limit)`);
      const nrm = prim.getAttribute('NORMAL');
      const normals = nrm?.getType() === 'VEC3' ? vec3Array(nrm) : undefined;
      const mat = prim.getMaterial();
      const f = mat?.getBaseColorFactor() ?? [1, 1, 1, 1];
      const blend = mat?.getAlphaMode() === 'BLEND';
      const byte = (x: number) => Math.max(0, Math.min(255, Math.round(x * 255)));
      const rm: RasterMesh = {
        positions,
        indices,
        normals,
        worldFromLocal,
        color: [f[0], f[1], f[2]],
        opacity: blend ? Math.max(0, Math.min(1, f[3])) : 1,
        label: [byte(f[0]), byte(f[1]), byte(f[2])],
      };
      const texture = mat?.getBaseColorTexture();
      const info = mat?.getBaseColorTextureInfo() ?? null;
      const uv = prim.getAttribute(`TEXCOORD_${info?.getTexCoord() ?? 0}`);
      if (texture && uv?.getType() === 'VEC2') {
        rm.uvs = vec2Array(uv);
        pending.push({ mesh: rm, texture, info });
      }
      meshes.push(rm);
    }
  });
  // Decode base colour textures (PNG/JPEG data) to RGBA, once per texture.
  const decoded = new Map<Texture, Promise<RasterTexture>>();
  for (const { mesh, texture, info } of pending) {
    let d = decoded.get(texture);
    if (!d) {
      d = decodeTexture(texture);
      decoded.set(texture, d);
    }
    mesh.texture = { ...(await d), wrapS: info?.getWrapS(), wrapT: info?.getWrapT() };
  }
  return { meshes, cameraPose, triangles };
}
