/**
 * Mesh files ⇄ `TriangleMesh` (RAS mm).
 *
 * Reading uses vtk.js's readers (STL binary/ASCII, OBJ, PLY ASCII/binary, VTK legacy ASCII, VTP),
 * which parse from memory (itk-wasm's mesh-io needs temp files, has no PLY and runs its wasm on
 * the calling thread: packages-wave2 §3). Legacy VTK *binary* POLYDATA is read by a small parser
 * here (vtk.js only parses ASCII legacy files).
 *
 * Coordinates: as Slicer's model storage node, a file declares its frame in its header
 * (`SPACE=RAS` or `SPACE=LPS`: the STL header, an OBJ/PLY comment, the VTK header line, a VTP
 * comment); a file that says nothing is read as LPS (Slicer ≥ 4.11's default), unless the caller
 * overrides it. Files are written in LPS with `SPACE=LPS`, as Slicer writes them.
 *
 * Writers are hand-written: vtk.js's PLY writer declares normal properties it does not write and
 * its OBJ writer truncated polygon lines when measured (37.4.3), and these formats are a few lines
 * each.
 */
import { AppError } from '../errors.js';
import { flipXY, validateMesh, type TriangleMesh } from './mesh.js';
import {
  vtkLegacyAsciiParser,
  vtkOBJReader,
  vtkPLYReader,
  vtkSTLReader,
  vtkXMLPolyDataReader,
} from './vtk-types.js';

export const MESH_FORMATS = ['stl', 'obj', 'ply', 'vtk', 'vtp'] as const;
export type MeshFormat = (typeof MESH_FORMATS)[number];
export type MeshFrame = 'RAS' | 'LPS';

function unprocessable(message: string): AppError {
  return new AppError('unprocessable', message);
}

const latin1 = (b: Uint8Array, n = b.length) =>
  Buffer.from(b.buffer, b.byteOffset, Math.min(n, b.length)).toString('latin1');

/** Guesses the format from the bytes (undefined when unknown). */
export function sniffMeshFormat(b: Uint8Array): MeshFormat | undefined {
  const head = latin1(b, 512);
  if (/^ply\r?\n/.test(head)) return 'ply';
  if (head.startsWith('# vtk DataFile')) return 'vtk';
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<VTKFile/.test(head)) return 'vtp';
  if (b.length >= 84) {
    const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(80, true);
    if (84 + 50 * n === b.length) return 'stl';
  }
  if (/^\s*solid\b/.test(head) && latin1(b, 4096).includes('facet')) return 'stl';
  if (
    /^\s*(#.*|v\s|vn\s|vt\s|o\s|g\s|mtllib\s|usemtl\s|s\s|f\s)/m.test(head) &&
    /(^|\n)\s*v\s/.test(head)
  )
    return 'obj';
  return undefined;
}

/** The frame a file declares in its header, if any. */
export function declaredFrame(b: Uint8Array): MeshFrame | undefined {
  const m = /SPACE\s*=\s*(RAS|LPS)/i.exec(latin1(b, 4096));
  return m ? (m[1]!.toUpperCase() as MeshFrame) : undefined;
}

/** A vtk.js polydata (vtk-types.ts) or the legacy binary parser's stand-in for one. */
interface PolyDataLike {
  getPoints(): { getData(): ArrayLike<number> } | null;
  getPolys(): { getData(): ArrayLike<number> } | null;
  getStrips?(): { getData(): ArrayLike<number> } | null;
  getPointData(): { getNormals(): { getData(): ArrayLike<number> } | null };
}

/** vtk.js polydata → triangle mesh (polygons fanned, strips unrolled). */
function fromPolyData(pd: PolyDataLike | undefined, what: string): TriangleMesh {
  const pts = pd?.getPoints()?.getData();
  if (!pd || !pts || pts.length === 0) throw unprocessable(`${what}: no points in the file`);
  const positions = pts instanceof Float32Array ? pts : Float32Array.from(pts);
  const tris: number[] = [];
  const polys = pd.getPolys()?.getData() ?? [];
  for (let i = 0; i < polys.length;) {
    const n = polys[i]!;
    if (n < 0 || i + n >= polys.length || !Number.isInteger(n))
      throw unprocessable(`${what}: malformed polygon list`);
    for (let k = 1; k + 1 < n; k++) tris.push(polys[i + 1]!, polys[i + 1 + k]!, polys[i + 2 + k]!);
    i += n + 1;
  }
  const strips = pd.getStrips?.()?.getData() ?? [];
  for (let i = 0; i < strips.length;) {
    const n = strips[i]!;
    for (let k = 0; k + 2 < n; k++) {
      const a = strips[i + 1 + k]!,
        b = strips[i + 2 + k]!,
        c = strips[i + 3 + k]!;
      if (k % 2 === 0) tris.push(a, b, c);
      else tris.push(b, a, c);
    }
    i += n + 1;
  }
  const nrm = pd.getPointData().getNormals()?.getData();
  const mesh: TriangleMesh = {
    positions,
    indices: Uint32Array.from(tris),
    normals: nrm?.length === positions.length ? Float32Array.from(nrm) : undefined,
  };
  return mesh;
}

/** VTK legacy BINARY POLYDATA (big-endian; POINTS, POLYGONS, TRIANGLE_STRIPS, NORMALS). */
function parseLegacyBinary(b: Uint8Array): PolyDataLike {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  const line = (): string => {
    const end = b.indexOf(10, pos);
    if (end < 0) throw unprocessable('vtk: truncated header');
    const s = latin1(b.subarray(pos, end)).trim();
    pos = end + 1;
    return s;
  };
  const SIZES: Record<string, number> = { float: 4, double: 8, int: 4, vtktypeint64: 8, long: 8 };
  const read = (type: string, count: number): Float64Array => {
    const size = SIZES[type.toLowerCase()];
    if (!size) throw unprocessable(`vtk: unsupported binary type ${type}`);
    if (pos + size * count > b.length) throw unprocessable('vtk: truncated binary data');
    const out = new Float64Array(count);
    const t = type.toLowerCase();
    for (let i = 0; i < count; i++, pos += size)
      out[i] =
        t === 'float'
          ? dv.getFloat32(pos, false)
          : t === 'double'
            ? dv.getFloat64(pos, false)
            : t === 'int'
              ? dv.getInt32(pos, false)
              : Number(dv.getBigInt64(pos, false));
    if (b[pos] === 10) pos++;
    return out;
  };
  line();
  line();
  if (line().toUpperCase() !== 'BINARY') throw unprocessable('vtk: not a BINARY file');
  if (!/^DATASET\s+POLYDATA/i.test(line()))
    throw unprocessable('vtk: only POLYDATA datasets are read');
  let points: Float64Array | undefined;
  const polys: number[] = [],
    strips: number[] = [];
  let normals: Float64Array | undefined;
  const cells = (kind: number[], count: number, size: number) => {
    if (/^OFFSETS/i.test(latin1(b.subarray(pos, pos + 8)))) {
      // VTK ≥ 9 legacy 5.1: `count` is the number of offsets (cells + 1), `size` of connectivity.
      const s = line();
      const offsets = read(s.split(/\s+/)[1]!, count);
      const c = line();
      const conn = read(c.split(/\s+/)[1]!, size);
      for (let i = 0; i + 1 < offsets.length; i++) {
        kind.push(offsets[i + 1]! - offsets[i]!);
        for (let k = offsets[i]!; k < offsets[i + 1]!; k++) kind.push(conn[k]!);
      }
    } else {
      const data = read('int', size); // legacy 4.x: [n, ids…] per cell (`count` unused)
      for (const v of data) kind.push(v);
    }
  };
  while (pos < b.length) {
    const s = line();
    if (s === '') continue;
    const w = s.split(/\s+/);
    const key = w[0]!.toUpperCase();
    if (key === 'POINTS') points = read(w[2]!, Number(w[1]) * 3);
    else if (key === 'POLYGONS' || key === 'TRIANGLE_STRIPS') {
      const n = Number(w[1]),
        size = Number(w[2]);
      cells(key === 'POLYGONS' ? polys : strips, n, size);
    } else if (key === 'VERTICES' || key === 'LINES') {
      const dummy: number[] = [];
      cells(dummy, Number(w[1]), Number(w[2]));
    } else if (key === 'NORMALS' && points) normals = read(w[2]!, points.length);
    else if (
      key === 'POINT_DATA' ||
      key === 'CELL_DATA' ||
      key === 'METADATA' ||
      key === 'INFORMATION' ||
      key === 'NAME' ||
      key === 'DATA'
    )
      continue;
    else break; // scalars, fields, …: not needed for the surface
  }
  return {
    getPoints: () => (points ? { getData: () => points } : null),
    getPolys: () => ({ getData: () => polys }),
    getStrips: () => ({ getData: () => strips }),
    getPointData: () => ({ getNormals: () => (normals ? { getData: () => normals } : null) }),
  };
}

/**
 * Reads a mesh file. `frame` overrides the header's declaration; LPS files are converted to RAS.
 * Corrupt files, NaN coordinates and bad indices are 422.
 */
export function readMesh(
  bytes: Uint8Array,
  o: { format?: MeshFormat; frame?: MeshFrame } = {},
): { mesh: TriangleMesh; format: MeshFormat; frame: MeshFrame } {
  const format = o.format ?? sniffMeshFormat(bytes);
  if (!format)
    throw unprocessable(
      'cannot tell the mesh format from the body; pass format=stl|obj|ply|vtk|vtp',
    );
  const ab = bytes.buffer.slice(
    bytes.byteOffset,
    bytes.byteOffset + bytes.byteLength,
  ) as ArrayBuffer;
  let mesh: TriangleMesh;
  try {
    switch (format) {
      case 'stl': {
        const r = vtkSTLReader.newInstance();
        r.parseAsArrayBuffer(ab);
        mesh = fromPolyData(r.getOutputData(), 'stl');
        break;
      }
      case 'ply': {
        const r = vtkPLYReader.newInstance();
        r.parseAsArrayBuffer(ab);
        mesh = fromPolyData(r.getOutputData(), 'ply');
        break;
      }
      case 'obj': {
        const r = vtkOBJReader.newInstance({ splitMode: null });
        r.parseAsText(latin1(bytes));
        mesh = fromPolyData(r.getOutputData(0), 'obj');
        break;
      }
      case 'vtp': {
        const r = vtkXMLPolyDataReader.newInstance();
        if (!r.parseAsArrayBuffer(ab)) throw unprocessable('vtp: not a readable VTKFile');
        mesh = fromPolyData(r.getOutputData(0), 'vtp');
        break;
      }
      case 'vtk': {
        const head = latin1(bytes, 512).split('\n');
        if (head[2]?.trim().toUpperCase() === 'BINARY') {
          mesh = fromPolyData(parseLegacyBinary(bytes), 'vtk');
        } else {
          if (!/DATASET\s+POLYDATA/i.test(latin1(bytes, 4096)))
            throw unprocessable('vtk: only POLYDATA datasets are read');
          const parsed = vtkLegacyAsciiParser.parseLegacyASCII(latin1(bytes));
          mesh = fromPolyData(parsed.dataset, 'vtk');
        }
        break;
      }
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw unprocessable(`${format}: the file cannot be read (${(e as Error).message})`);
  }
  validateMesh(mesh, format);
  if (mesh.indices.length === 0) throw unprocessable(`${format}: the file has no triangles`);
  const frame = o.frame ?? declaredFrame(bytes) ?? 'LPS';
  return { mesh: frame === 'LPS' ? flipXY(mesh) : mesh, format, frame };
}

export type MeshWriteFormat = 'stl' | 'obj' | 'ply' | 'vtk';

/** Writes a RAS mesh as a file in LPS (`SPACE=LPS` in its header), as Slicer does. */
export function writeMesh(ras: TriangleMesh, format: MeshWriteFormat, name = 'model'): Uint8Array {
  const m = flipXY(ras);
  const P = m.positions,
    I = m.indices,
    N = m.normals;
  const nv = P.length / 3,
    nt = I.length / 3;
  switch (format) {
    case 'stl': {
      const out = Buffer.alloc(84 + 50 * nt);
      out.write(`SPACE=LPS voxelgate ${name}`.slice(0, 79), 0, 'latin1');
      out.writeUInt32LE(nt, 80);
      for (let t = 0; t < nt; t++) {
        const o = 84 + 50 * t;
        const a = 3 * I[3 * t]!,
          b = 3 * I[3 * t + 1]!,
          c = 3 * I[3 * t + 2]!;
        const ux = P[b]! - P[a]!,
          uy = P[b + 1]! - P[a + 1]!,
          uz = P[b + 2]! - P[a + 2]!;
        const vx = P[c]! - P[a]!,
          vy = P[c + 1]! - P[a + 1]!,
          vz = P[c + 2]! - P[a + 2]!;
        let nx = uy * vz - uz * vy,
          ny = uz * vx - ux * vz,
          nz = ux * vy - uy * vx;
        const l = Math.hypot(nx, ny, nz) || 1;
        nx /= l;
        ny /= l;
        nz /= l;
        out.writeFloatLE(nx, o);
        out.writeFloatLE(ny, o + 4);
        out.writeFloatLE(nz, o + 8);
        for (let k = 0; k < 3; k++) {
          const v = 3 * I[3 * t + k]!;
          out.writeFloatLE(P[v]!, o + 12 + 12 * k);
          out.writeFloatLE(P[v + 1]!, o + 16 + 12 * k);
          out.writeFloatLE(P[v + 2]!, o + 20 + 12 * k);
        }
      }
      return out;
    }
    case 'obj': {
      const lines = [`# voxelgate ${name}`, '# SPACE=LPS'];
      for (let i = 0; i < nv; i++) lines.push(`v ${P[3 * i]} ${P[3 * i + 1]} ${P[3 * i + 2]}`);
      if (N)
        for (let i = 0; i < nv; i++) lines.push(`vn ${N[3 * i]} ${N[3 * i + 1]} ${N[3 * i + 2]}`);
      for (let t = 0; t < nt; t++) {
        const [a, b, c] = [I[3 * t]! + 1, I[3 * t + 1]! + 1, I[3 * t + 2]! + 1];
        lines.push(N ? `f ${a}//${a} ${b}//${b} ${c}//${c}` : `f ${a} ${b} ${c}`);
      }
      return Buffer.from(lines.join('\n') + '\n', 'latin1');
    }
    case 'ply': {
      const header = [
        'ply',
        'format binary_little_endian 1.0',
        'comment SPACE=LPS',
        `comment voxelgate ${name.replace(/[\r\n]/g, ' ')}`,
        `element vertex ${nv}`,
        'property float x',
        'property float y',
        'property float z',
        ...(N ? ['property float nx', 'property float ny', 'property float nz'] : []),
        `element face ${nt}`,
        'property list uchar int vertex_indices',
        'end_header',
        '',
      ].join('\n');
      const h = Buffer.from(header, 'latin1');
      const vs = N ? 24 : 12;
      const out = Buffer.alloc(h.length + nv * vs + nt * 13);
      h.copy(out, 0);
      let o = h.length;
      for (let i = 0; i < nv; i++, o += vs) {
        out.writeFloatLE(P[3 * i]!, o);
        out.writeFloatLE(P[3 * i + 1]!, o + 4);
        out.writeFloatLE(P[3 * i + 2]!, o + 8);
        if (N) {
          out.writeFloatLE(N[3 * i]!, o + 12);
          out.writeFloatLE(N[3 * i + 1]!, o + 16);
          out.writeFloatLE(N[3 * i + 2]!, o + 20);
        }
      }
      for (let t = 0; t < nt; t++, o += 13) {
        out.writeUInt8(3, o);
        out.writeInt32LE(I[3 * t]!, o + 1);
        out.writeInt32LE(I[3 * t + 1]!, o + 5);
        out.writeInt32LE(I[3 * t + 2]!, o + 9);
      }
      return out;
    }
    case 'vtk': {
      // Legacy 4.2 BINARY (big-endian), the layout VTK's and Slicer's readers take.
      const head = `# vtk DataFile Version 4.2\nvtk output SPACE=LPS\nBINARY\nDATASET POLYDATA\nPOINTS ${nv} float\n`;
      const polyHead = `\nPOLYGONS ${nt} ${nt * 4}\n`;
      const nHead = N ? `\nPOINT_DATA ${nv}\nNORMALS Normals float\n` : '';
      const parts = [Buffer.from(head, 'latin1')];
      const pts = Buffer.alloc(nv * 12);
      for (let i = 0; i < nv * 3; i++) pts.writeFloatBE(P[i]!, 4 * i);
      parts.push(pts, Buffer.from(polyHead, 'latin1'));
      const cells = Buffer.alloc(nt * 16);
      for (let t = 0; t < nt; t++) {
        cells.writeInt32BE(3, 16 * t);
        cells.writeInt32BE(I[3 * t]!, 16 * t + 4);
        cells.writeInt32BE(I[3 * t + 1]!, 16 * t + 8);
        cells.writeInt32BE(I[3 * t + 2]!, 16 * t + 12);
      }
      parts.push(cells);
      if (N) {
        const nb = Buffer.alloc(nv * 12);
        for (let i = 0; i < nv * 3; i++) nb.writeFloatBE(N[i]!, 4 * i);
        parts.push(Buffer.from(nHead, 'latin1'), nb);
      }
      parts.push(Buffer.from('\n', 'latin1'));
      return Buffer.concat(parts);
    }
  }
}
