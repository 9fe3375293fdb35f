/**
 * Deterministic software triangle rasterizer: z-buffer, perspective or orthographic camera from
 * intrinsics (focal lengths and principal point in pixels), Phong shading with a headlight,
 * per-mesh colour and opacity, and three outputs: colour (RGB bytes), depth (float Z along the
 * optical axis) and label (exact, unlit colours, no anti-aliasing).
 *
 * Hand-written on purpose: no maintained JS library rasterizes meshes without WebGL (vtk.js and
 * three.js need a GL context, and headless GL is not available here). One pass of plain loops over
 * typed arrays; float64 arithmetic throughout, so the same job gives the same bytes on any machine.
 *
 * Conventions (stated once):
 * - `worldFromCamera` is the camera's pose, row-major, in the glTF/OpenGL camera frame: the camera
 *   looks along its local −Z, +Y up, +X right (the inverse is the view matrix).
 * - The rasterizer works in the *sensor* frame (X right, Y down, Z forward = the glTF frame turned
 *   180° about X). Perspective: `u = fx·X/Z + cx`, `v = fy·Y/Z + cy`; orthographic:
 *   `u = fx·X + cx`, `v = fy·Y + cy` (fx, fy in pixels per world unit). v counts down from the top
 *   row; pixel (i, j) covers u ∈ [i, i+1), v ∈ [j, j+1), so samples are at pixel centres
 *   (i + 0.5, j + 0.5). Row 0 of every output is the top row.
 * - Depth is Z (distance to the image plane along the optical axis, not the ray length), in world
 *   units; +Infinity where nothing is drawn. Geometry with Z < near or Z > far is clipped.
 * - Coverage: a pixel centre is inside a triangle by the top-left fill rule, so two triangles that
 *   share an edge cover every pixel along it exactly once.
 */
import { invert4, mul4 } from './geometry.js';
import type { Mat4 } from './types.js';

export interface RasterMesh {
  /** Vertex positions, xyz triples, in the mesh's local frame. */
  positions: Float32Array;
  /** Triangle list: three vertex indices per triangle. */
  indices: Uint32Array;
  /** Optional per-vertex normals (xyz, local frame); without them faces are shaded flat. */
  normals?: Float32Array;
  /** World from mesh-local, row-major; identity when absent. */
  worldFromLocal?: Mat4;
  /** Base colour 0..1 (display values, no transfer function applied). */
  color: [number, number, number];
  /** 0..1; below 1 the mesh is blended (colour output only). */
  opacity: number;
  /** Colour bytes written unlit by the `label` output. */
  label?: [number, number, number];
  /** Texture coordinates (s, t pairs per vertex; glTF convention: (0, 0) is the image's top-left). */
  uvs?: Float32Array;
  /** Base colour texture (colour output): RGBA bytes, rows top first, multiplied by `color`. */
  texture?: RasterTexture;
}

export interface RasterTexture {
  width: number;
  height: number;
  data: Uint8Array;
  /** glTF sampler wrap modes (10497 repeat, the default; 33071 clamp; 33648 mirrored repeat). */
  wrapS?: number;
  wrapT?: number;
}

export interface RasterCamera {
  kind: 'perspective' | 'orthographic';
  /** Camera pose (camera → world), row-major, camera looking along its local −Z with +Y up. */
  worldFromCamera: Mat4;
  /** Focal lengths in pixels (perspective) or pixels per world unit (orthographic). */
  fx: number;
  fy: number;
  /** Principal point in pixels from the left and top edges. */
  cx: number;
  cy: number;
  /** Clipping planes: distances along the optical axis, world units (near > 0 for perspective). */
  near: number;
  far: number;
}

export type RasterOutput = 'color' | 'depth' | 'label';

export interface RasterJob {
  kind: 'raster';
  width: number;
  height: number;
  camera: RasterCamera;
  meshes: RasterMesh[];
  output: RasterOutput;
  /** Colour output: background bytes (default Drake's VTK backdrop 204, 229, 255). */
  background?: [number, number, number];
  /** Label output: background bytes (default white, the render API's "don't care"). */
  labelBackground?: [number, number, number];
  /** Colour output: also return the depth buffer (for compositing with volume rendering). */
  withDepth?: boolean;
  /** Draw only rows [start, end) (a band of a split render); other rows stay background. */
  rows?: [number, number];
}

export interface RasterImage {
  width: number;
  height: number;
  /** 3 for colour and label (RGB bytes), 1 for depth (float32). */
  channels: 1 | 3;
  data: Uint8Array | Float32Array;
  /** Z buffer (Infinity = nothing), for `depth` output and colour with `withDepth`. */
  depth?: Float32Array;
}

/** Sensor frame from glTF camera frame: flip Y and Z. */
const SENSOR_FROM_GL: Mat4 = [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1];
const IDENTITY: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** Shading constants (Phong, white headlight at the camera). */
const AMBIENT = 0.15;
const DIFFUSE = 0.85;
const SPECULAR = 0.25;
const SHININESS = 24;

interface Target {
  W: number;
  H: number;
  /** Rows drawn: [y0, y1). */
  y0: number;
  y1: number;
  zbuf: Float64Array;
  /** RGB accumulators 0..1 (colour) or label bytes. */
  rgb: Float64Array;
  output: RasterOutput;
  persp: boolean;
  cam: RasterCamera;
}

/** Camera-space vertices (sensor frame) of one mesh, plus camera-space normals when given. */
function toSensor(mesh: RasterMesh, sensorFromWorld: Mat4): { p: Float64Array; n?: Float64Array } {
  const m = mul4(sensorFromWorld, mesh.worldFromLocal ?? IDENTITY);
  const src = mesh.positions;
  const nv = Math.floor(src.length / 3);
  const p = new Float64Array(nv * 3);
  for (let i = 0; i < nv; i++) {
    const x = src[3 * i]!,
      y = src[3 * i + 1]!,
      z = src[3 * i + 2]!;
    p[3 * i] = m[0] * x + m[1] * y + m[2] * z + m[3];
    p[3 * i + 1] = m[4] * x + m[5] * y + m[6] * z + m[7];
    p[3 * i + 2] = m[8] * x + m[9] * y + m[10] * z + m[11];
  }
  if (mesh.normals?.length !== src.length) return { p };
  // Normals go by the inverse transpose of the linear part.
  const inv = invert4(m);
  const ns = mesh.normals;
  const n = new Float64Array(nv * 3);
  for (let i = 0; i < nv; i++) {
    const x = ns[3 * i]!,
      y = ns[3 * i + 1]!,
      z = ns[3 * i + 2]!;
    const a = inv[0] * x + inv[4] * y + inv[8] * z;
    const b = inv[1] * x + inv[5] * y + inv[9] * z;
    const c = inv[2] * x + inv[6] * y + inv[10] * z;
    const l = Math.hypot(a, b, c) || 1;
    n[3 * i] = a / l;
    n[3 * i + 1] = b / l;
    n[3 * i + 2] = c / l;
  }
  return { p, n };
}

/** A clipped polygon vertex: sensor-frame position and normal. */
interface V {
  x: number;
  y: number;
  z: number;
  nx: number;
  ny: number;
  nz: number;
  /** Texture coordinates. */
  s: number;
  t: number;
}

/** Clips a polygon to Z ≥ near (Sutherland–Hodgman against one plane). */
function clipNear(poly: V[], near: number): V[] {
  const out: V[] = [];
  for (let i = 0; i < poly.length; i++) {
    const a = poly[i]!,
      b = poly[(i + 1) % poly.length]!;
    const ina = a.z >= near,
      inb = b.z >= near;
    if (ina) out.push(a);
    if (ina !== inb) {
      const t = (near - a.z) / (b.z - a.z);
      out.push({
        x: a.x + t * (b.x - a.x),
        y: a.y + t * (b.y - a.y),
        z: near,
        nx: a.nx + t * (b.nx - a.nx),
        ny: a.ny + t * (b.ny - a.ny),
        nz: a.nz + t * (b.nz - a.nz),
        s: a.s + t * (b.s - a.s),
        t: a.t + t * (b.t - a.t),
      });
    }
  }
  return out;
}

/** Scratch triangle: per corner k at 8k: x, y, z (sensor), nx, ny, nz, u, v (pixels). */
const TRI = new Float64Array(24);
/** Texture coordinates of the scratch triangle's corners: s, t at 2k. */
const TEX = new Float64Array(6);

function setCorner(t: Target, k: number, v: V): void {
  const o = 8 * k;
  TEX[2 * k] = v.s;
  TEX[2 * k + 1] = v.t;
  TRI[o] = v.x;
  TRI[o + 1] = v.y;
  TRI[o + 2] = v.z;
  TRI[o + 3] = v.nx;
  TRI[o + 4] = v.ny;
  TRI[o + 5] = v.nz;
  const cam = t.cam;
  TRI[o + 6] = t.persp ? (cam.fx * v.x) / v.z + cam.cx : cam.fx * v.x + cam.cx;
  TRI[o + 7] = t.persp ? (cam.fy * v.y) / v.z + cam.cy : cam.fy * v.y + cam.cy;
}

const TEXEL = new Float64Array(3);

function wrap(x: number, n: number, mode: number | undefined): number {
  if (mode === 33071) return x < 0 ? 0 : x > n - 1 ? n - 1 : x; // clamp to edge
  if (mode === 33648) {
    const p = 2 * n;
    let m = ((x % p) + p) % p;
    if (m >= n) m = p - 1 - m;
    return m;
  }
  return ((x % n) + n) % n; // repeat
}

/** Bilinear texel (0..1 RGB) at texture coordinates (s, t) into `TEXEL`. */
function sampleTexture(tex: RasterTexture, s: number, t: number): void {
  const W = tex.width,
    H = tex.height,
    d = tex.data;
  const fx = s * W - 0.5,
    fy = t * H - 0.5;
  const x0 = Math.floor(fx),
    y0 = Math.floor(fy);
  const tx = fx - x0,
    ty = fy - y0;
  const xa = wrap(x0, W, tex.wrapS),
    xb = wrap(x0 + 1, W, tex.wrapS);
  const ya = wrap(y0, H, tex.wrapT),
    yb = wrap(y0 + 1, H, tex.wrapT);
  for (let k = 0; k < 3; k++) {
    const v00 = d[4 * (ya * W + xa) + k]!,
      v10 = d[4 * (ya * W + xb) + k]!,
      v01 = d[4 * (yb * W + xa) + k]!,
      v11 = d[4 * (yb * W + xb) + k]!;
    TEXEL[k] = ((v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty) / 255;
  }
}

/**
 * Rasterizes the triangle in `TRI`. `blend` < 0: opaque (depth test + write); otherwise the
 * fragment is blended with that opacity over what is there (depth test, no write).
 */
function drawTriangle(
  t: Target,
  color: readonly number[],
  label: readonly number[] | undefined,
  blend: number,
  flat: boolean,
  tex: RasterTexture | undefined,
): void {
  const { W, H, cam, persp } = t;
  // Corners, oriented counter-clockwise in (u, v) so the edge functions are positive inside.
  let a = 0,
    b = 8;
  const c = 16;
  // Screen positions snapped to 1/256 pixel and edge functions in those units: integers, so the
  // sums are exact and two triangles sharing an edge split its pixels exactly (no gaps, no
  // double hits) — while coordinates stay below 2^18 px (triangles clipped near the eye can go
  // beyond; they are then merely approximate).
  const SUB = 256;
  const X0 = Math.round(TRI[6]! * SUB),
    Y0 = Math.round(TRI[7]! * SUB),
    X1 = Math.round(TRI[14]! * SUB),
    Y1 = Math.round(TRI[15]! * SUB),
    X2 = Math.round(TRI[22]! * SUB),
    Y2 = Math.round(TRI[23]! * SUB);
  let area = (X1 - X0) * (Y2 - Y0) - (Y1 - Y0) * (X2 - X0);
  // Either winding is drawn (no back-face culling: meshes need not be closed).
  if (area === 0 || !Number.isFinite(area)) return;
  let Ax = X0,
    Ay = Y0,
    Bx = X1,
    By = Y1;
  const Cx = X2,
    Cy = Y2;
  if (area < 0) {
    a = 8;
    b = 0;
    Ax = X1;
    Ay = Y1;
    Bx = X0;
    By = Y0;
    area = -area;
  }
  const minX = Math.max(0, Math.floor(Math.min(Ax, Bx, Cx) / SUB - 0.5));
  const maxX = Math.min(W - 1, Math.ceil(Math.max(Ax, Bx, Cx) / SUB - 0.5));
  const minY = Math.max(t.y0, Math.floor(Math.min(Ay, By, Cy) / SUB - 0.5));
  const maxY = Math.min(t.y1 - 1, H - 1, Math.ceil(Math.max(Ay, By, Cy) / SUB - 0.5));
  if (minX > maxX || minY > maxY) return;
  // Edge functions: e0 (B→C) weighs A, e1 (C→A) weighs B, e2 (A→B) weighs C; they sum to area.
  const E0x = By - Cy,
    E0y = Cx - Bx;
  const E1x = Cy - Ay,
    E1y = Ax - Cx;
  const E2x = Ay - By,
    E2y = Bx - Ax;
  // Top-left rule: on an edge (e = 0) the pixel belongs to the triangle only for edges whose
  // inward normal points right (+x) or, for horizontal ones, down (+y).
  const in0 = E0x > 0 || (E0x === 0 && E0y > 0),
    in1 = E1x > 0 || (E1x === 0 && E1y > 0),
    in2 = E2x > 0 || (E2x === 0 && E2y > 0);
  const Az = TRI[a + 2]!,
    Bz = TRI[b + 2]!,
    Cz = TRI[c + 2]!;
  const iz0 = 1 / Az,
    iz1 = 1 / Bz,
    iz2 = 1 / Cz;
  const invArea = 1 / area;
  const colorOut = t.output === 'color';
  // Face normal (sensor frame) for flat shading.
  let fnx = 0,
    fny = 0,
    fnz = 0;
  if (colorOut) {
    const ux = TRI[b]! - TRI[a]!,
      uy = TRI[b + 1]! - TRI[a + 1]!,
      uz = Bz - Az;
    const vx = TRI[c]! - TRI[a]!,
      vy = TRI[c + 1]! - TRI[a + 1]!,
      vz = Cz - Az;
    fnx = uy * vz - uz * vy;
    fny = uz * vx - ux * vz;
    fnz = ux * vy - uy * vx;
    const l = Math.sqrt(fnx * fnx + fny * fny + fnz * fnz) || 1;
    fnx /= l;
    fny /= l;
    fnz /= l;
  }
  const Anx = TRI[a + 3]!,
    Any = TRI[a + 4]!,
    Anz = TRI[a + 5]!,
    Bnx = TRI[b + 3]!,
    Bny = TRI[b + 4]!,
    Bnz = TRI[b + 5]!,
    Cnx = TRI[c + 3]!,
    Cny = TRI[c + 4]!,
    Cnz = TRI[c + 5]!;
  const zbuf = t.zbuf,
    rgb = t.rgb;
  const near = cam.near,
    far = cam.far;
  const depthOnly = t.output === 'depth',
    labelOut = t.output === 'label';
  const L0 = label ? label[0]! : 0,
    L1 = label ? label[1]! : 0,
    L2 = label ? label[2]! : 0;
  let c0 = color[0]!,
    c1 = color[1]!,
    c2 = color[2]!;
  const As = TEX[a / 4]!,
    At = TEX[a / 4 + 1]!,
    Bs = TEX[b / 4]!,
    Bt = TEX[b / 4 + 1]!,
    Cs = TEX[c / 4]!,
    Ct = TEX[c / 4 + 1]!;
  for (let y = minY; y <= maxY; y++) {
    const py = y + 0.5;
    const row = y * W;
    // Edge values at the row's first pixel centre (in 1/256 px), then stepped by SUB·E?x per
    // pixel: integer arithmetic, exact.
    const sx0 = minX * SUB + SUB / 2,
      sy = y * SUB + SUB / 2;
    let w0 = E0x * (sx0 - Bx) + E0y * (sy - By);
    let w1 = E1x * (sx0 - Cx) + E1y * (sy - Cy);
    let w2 = E2x * (sx0 - Ax) + E2y * (sy - Ay);
    const d0 = E0x * SUB,
      d1 = E1x * SUB,
      d2 = E2x * SUB;
    for (let x = minX; x <= maxX; x++, w0 += d0, w1 += d1, w2 += d2) {
      if (w0 < 0 || (w0 === 0 && !in0)) continue;
      if (w1 < 0 || (w1 === 0 && !in1)) continue;
      if (w2 < 0 || (w2 === 0 && !in2)) continue;
      const b0 = w0 * invArea,
        b1 = w1 * invArea,
        b2 = w2 * invArea;
      // Perspective: 1/Z is affine in screen space; orthographic: Z is.
      let z: number, p0: number, p1: number, p2: number;
      if (persp) {
        z = 1 / (b0 * iz0 + b1 * iz1 + b2 * iz2);
        p0 = b0 * iz0 * z;
        p1 = b1 * iz1 * z;
        p2 = b2 * iz2 * z;
      } else {
        z = b0 * Az + b1 * Bz + b2 * Cz;
        p0 = b0;
        p1 = b1;
        p2 = b2;
      }
      if (z < near || z > far) continue;
      const i = row + x;
      if (!(z < zbuf[i]!)) continue;
      if (depthOnly) {
        zbuf[i] = z;
        continue;
      }
      if (labelOut) {
        zbuf[i] = z;
        rgb[3 * i] = L0;
        rgb[3 * i + 1] = L1;
        rgb[3 * i + 2] = L2;
        continue;
      }
      // Phong with a headlight: light and eye both at the camera.
      let nx: number, ny: number, nz: number;
      if (flat) {
        nx = fnx;
        ny = fny;
        nz = fnz;
      } else {
        nx = p0 * Anx + p1 * Bnx + p2 * Cnx;
        ny = p0 * Any + p1 * Bny + p2 * Cny;
        nz = p0 * Anz + p1 * Bnz + p2 * Cnz;
        const l = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1;
        nx /= l;
        ny /= l;
        nz /= l;
      }
      if (tex) {
        sampleTexture(tex, p0 * As + p1 * Bs + p2 * Cs, p0 * At + p1 * Bt + p2 * Ct);
        c0 = color[0]! * TEXEL[0]!;
        c1 = color[1]! * TEXEL[1]!;
        c2 = color[2]! * TEXEL[2]!;
      }
      // Cosine between the normal and the direction to the light (the camera).
      let ndl: number;
      if (persp) {
        const X = ((x + 0.5 - cam.cx) / cam.fx) * z,
          Y = ((py - cam.cy) / cam.fy) * z;
        ndl = -(nx * X + ny * Y + nz * z) / Math.sqrt(X * X + Y * Y + z * z);
      } else ndl = -nz;
      // Two-sided lighting: the side facing the camera is lit.
      if (ndl < 0) ndl = -ndl;
      const rv = 2 * ndl * ndl - 1; // reflection · view with the eye at the light
      const spec = rv > 0 ? SPECULAR * Math.pow(rv, SHININESS) : 0;
      const k = AMBIENT + DIFFUSE * ndl;
      const r = Math.min(1, c0 * k + spec),
        g = Math.min(1, c1 * k + spec),
        bl = Math.min(1, c2 * k + spec);
      if (blend < 0) {
        zbuf[i] = z;
        rgb[3 * i] = r;
        rgb[3 * i + 1] = g;
        rgb[3 * i + 2] = bl;
      } else {
        rgb[3 * i] = blend * r + (1 - blend) * rgb[3 * i]!;
        rgb[3 * i + 1] = blend * g + (1 - blend) * rgb[3 * i + 1]!;
        rgb[3 * i + 2] = blend * bl + (1 - blend) * rgb[3 * i + 2]!;
      }
    }
  }
}

/** Draws triangle (i0, i1, i2) of a mesh in the sensor frame, clipped at the near plane when needed. */
function drawMeshTriangle(
  t: Target,
  p: Float64Array,
  n: Float64Array | undefined,
  uv: Float64Array,
  st: Float32Array | undefined,
  tex: RasterTexture | undefined,
  i0: number,
  i1: number,
  i2: number,
  color: readonly number[],
  label: readonly number[] | undefined,
  blend: number,
): void {
  const near = t.persp ? t.cam.near : -Infinity;
  const far = t.cam.far;
  const z0 = p[3 * i0 + 2]!,
    z1 = p[3 * i1 + 2]!,
    z2 = p[3 * i2 + 2]!;
  if (z0 > far && z1 > far && z2 > far) return;
  if (z0 < near && z1 < near && z2 < near) return;
  if (z0 >= near && z1 >= near && z2 >= near) {
    // Fast path: corners straight from the arrays (screen positions precomputed per vertex).
    for (let k = 0; k < 3; k++) {
      const v = k === 0 ? i0 : k === 1 ? i1 : i2,
        o = 8 * k;
      TRI[o] = p[3 * v]!;
      TRI[o + 1] = p[3 * v + 1]!;
      TRI[o + 2] = p[3 * v + 2]!;
      TRI[o + 3] = n ? n[3 * v]! : 0;
      TRI[o + 4] = n ? n[3 * v + 1]! : 0;
      TRI[o + 5] = n ? n[3 * v + 2]! : 0;
      TRI[o + 6] = uv[2 * v]!;
      TRI[o + 7] = uv[2 * v + 1]!;
      TEX[2 * k] = st ? st[2 * v]! : 0;
      TEX[2 * k + 1] = st ? st[2 * v + 1]! : 0;
    }
    drawTriangle(t, color, label, blend, !n, tex);
    return;
  }
  const poly = clipNear(
    [vertexOf(p, n, st, i0), vertexOf(p, n, st, i1), vertexOf(p, n, st, i2)],
    near,
  );
  for (let k = 1; k + 1 < poly.length; k++) {
    setCorner(t, 0, poly[0]!);
    setCorner(t, 1, poly[k]!);
    setCorner(t, 2, poly[k + 1]!);
    drawTriangle(t, color, label, blend, !n, tex);
  }
}

function vertexOf(
  p: Float64Array,
  n: Float64Array | undefined,
  st: Float32Array | undefined,
  i: number,
): V {
  return {
    s: st ? st[2 * i]! : 0,
    t: st ? st[2 * i + 1]! : 0,
    x: p[3 * i]!,
    y: p[3 * i + 1]!,
    z: p[3 * i + 2]!,
    nx: n ? n[3 * i]! : 0,
    ny: n ? n[3 * i + 1]! : 0,
    nz: n ? n[3 * i + 2]! : 0,
  };
}

/** Screen positions (u, v) of every vertex (meaningless behind the near plane, and unused there). */
function screenOf(t: Target, p: Float64Array): Float64Array {
  const nv = p.length / 3;
  const uv = new Float64Array(2 * nv);
  const { fx, fy, cx, cy } = t.cam;
  for (let i = 0; i < nv; i++) {
    const x = p[3 * i]!,
      y = p[3 * i + 1]!,
      z = p[3 * i + 2]!;
    uv[2 * i] = t.persp ? (fx * x) / z + cx : fx * x + cx;
    uv[2 * i + 1] = t.persp ? (fy * y) / z + cy : fy * y + cy;
  }
  return uv;
}

/** Renders a raster job (see the module comment for the conventions). */
export function rasterize(job: RasterJob): RasterImage {
  const W = job.width,
    H = job.height;
  const cam = job.camera;
  const persp = cam.kind === 'perspective';
  const sensorFromWorld = mul4(SENSOR_FROM_GL, invert4(cam.worldFromCamera));
  const t: Target = {
    W,
    H,
    y0: job.rows ? Math.max(0, job.rows[0]) : 0,
    y1: job.rows ? Math.min(H, job.rows[1]) : H,
    zbuf: new Float64Array(W * H).fill(Infinity),
    rgb: new Float64Array(job.output === 'depth' ? 0 : W * H * 3),
    output: job.output,
    persp,
    cam,
  };
  const colorOut = job.output === 'color';
  const bg = colorOut
    ? (job.background ?? [204, 229, 255])
    : (job.labelBackground ?? [255, 255, 255]);
  if (job.output !== 'depth') {
    const scale = colorOut ? 1 / 255 : 1;
    for (let i = 0; i < W * H; i++) {
      t.rgb[3 * i] = bg[0] * scale;
      t.rgb[3 * i + 1] = bg[1] * scale;
      t.rgb[3 * i + 2] = bg[2] * scale;
    }
  }
  // Pass 1: opaque geometry (everything, for depth and label images).
  const translucent: Array<{ key: number; mesh: number; i0: number; i1: number; i2: number }> = [];
  const sensor = job.meshes.map((m) => {
    const { p, n } = toSensor(m, sensorFromWorld);
    return { p, n, uv: screenOf(t, p) };
  });
  job.meshes.forEach((mesh, mi) => {
    if (!(mesh.opacity > 0)) return;
    const { p, n, uv } = sensor[mi]!;
    const idx = mesh.indices;
    const nv = p.length / 3;
    const opaque = !colorOut || mesh.opacity >= 1;
    const label = mesh.label ?? [0, 0, 0];
    // Textures colour only the colour output (labels are flat by definition).
    const hasTex = colorOut && mesh.texture && mesh.uvs?.length === nv * 2;
    const st = hasTex ? mesh.uvs : undefined,
      tex = hasTex ? mesh.texture : undefined;
    for (let k = 0; k + 2 < idx.length; k += 3) {
      const i0 = idx[k]!,
        i1 = idx[k + 1]!,
        i2 = idx[k + 2]!;
      if (i0 >= nv || i1 >= nv || i2 >= nv) continue;
      if (opaque) drawMeshTriangle(t, p, n, uv, st, tex, i0, i1, i2, mesh.color, label, -1);
      else
        translucent.push({
          key: Math.max(p[3 * i0 + 2]!, p[3 * i1 + 2]!, p[3 * i2 + 2]!),
          mesh: mi,
          i0,
          i1,
          i2,
        });
    }
  });
  // Pass 2: translucent triangles far to near over the opaque image (stable order: ties keep
  // mesh and triangle order, so the result is deterministic).
  if (translucent.length) {
    translucent.sort((x, y) => y.key - x.key);
    for (const { mesh, i0, i1, i2 } of translucent) {
      const m = job.meshes[mesh]!;
      const { p, n, uv } = sensor[mesh]!;
      const hasTex = m.texture && m.uvs?.length === (p.length / 3) * 2;
      const st = hasTex ? m.uvs : undefined,
        tex = hasTex ? m.texture : undefined;
      drawMeshTriangle(t, p, n, uv, st, tex, i0, i1, i2, m.color, undefined, m.opacity);
    }
  }
  let depth: Float32Array | undefined;
  if (job.output === 'depth' || job.withDepth) {
    depth = new Float32Array(W * H);
    depth.set(t.zbuf);
  }
  if (job.output === 'depth') return { width: W, height: H, channels: 1, data: depth!, depth };
  const out = new Uint8Array(W * H * 3);
  const rgb = t.rgb;
  if (colorOut) for (let i = 0; i < out.length; i++) out[i] = Math.round(rgb[i]! * 255);
  else for (let i = 0; i < out.length; i++) out[i] = rgb[i]!;
  return { width: W, height: H, channels: 3, data: out, depth };
}
