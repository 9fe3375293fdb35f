/** `/slicer/system/*` and `/slicer/timeimage`: version probe, latency image, remote shutdown. */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Context } from 'hono';
import CSS_COLORS from 'color-name';
import sharp from 'sharp';
import { AppError } from '../../errors.js';
import { drawText } from '../../imaging/bitmap-font.js';
import type { AppContext } from '../../server/context.js';
import { DEFAULT_OHIF_DIR } from '../browse.js';
import { parseHexColor } from '../request.js';

/** Same keys as Slicer's `/slicer/system/version`; slicerio probes `'applicationName' in json`. */
export function versionInfo(ctx: AppContext) {
  const [major = 0, minor = 0, patch = 0] = ctx.version
    .split('.')
    .map((x) => Number.parseInt(x, 10) || 0);
  return {
    applicationName: 'voxelgate',
    applicationDisplayName: 'voxelgate',
    applicationVersion: ctx.version,
    releaseType: 'Stable',
    repositoryUrl: '',
    repositoryBranch: 'main',
    revision: ctx.version,
    majorVersion: major,
    minorVersion: minor,
    arch: os.arch() === 'x64' ? 'amd64' : os.arch(),
    os: os.platform() === 'win32' ? 'win' : os.platform() === 'darwin' ? 'macosx' : os.platform(),
    isCustomMainApplication: true,
    mainApplicationName: 'voxelgate',
    mainApplicationRepositoryUrl: '',
    mainApplicationRepositoryRevision: ctx.version,
    mainApplicationRevision: ctx.version,
    mainApplicationMajorVersion: major,
    mainApplicationMinorVersion: minor,
    mainApplicationPatchVersion: patch,
    nodeVersion: process.versions.node,
  };
}

export const getVersion = (ctx: AppContext) => (c: Context) => c.json(versionInfo(ctx));

/**
 * The `/timeimage` border colour. Slicer's timecube.html builds it from three unpadded hex bytes
 * (`Math.round(Math.random()*255).toString(16)` each), so 3 to 6 digits arrive; Qt draws the
 * 4- and 5-digit ones (invalid for it) in a default colour. Here 3 and 6 digits are CSS colours
 * and 1, 2, 4 or 5 digits are read as a number left-padded to 6 (`ff0a0` → #0ff0a0), so every
 * request of the demo gets an image in a colour that changes with it. CSS colour names work too.
 * Anything else → 400.
 */
export function timeImageColor(raw: string): [number, number, number] {
  const v = raw.trim().replace(/^#/, '');
  // CSS colour names (`pink`, the default of one agent bridge's client); Qt would not know them
  // after Slicer's `#` prefix and draw a default colour.
  const named = Object.hasOwn(CSS_COLORS, v.toLowerCase())
    ? CSS_COLORS[v.toLowerCase()]
    : undefined;
  if (named) return [...named];
  if (/^[0-9a-fA-F]{1,6}$/.test(v) && v.length !== 3)
    return parseHexColor('color', v.padStart(6, '0'));
  return parseHexColor('color', v);
}

/**
 * A 128×32 transparent PNG with a dotted border in `color` (default 330, as Slicer's code) and the
 * server time in seconds since the epoch, for measuring round trips.
 */
export async function timeImage(
  colorParam: string | undefined,
  now = Date.now(),
): Promise<Uint8Array> {
  const [r, g, b] = timeImageColor(colorParam ?? '330');
  const w = 128;
  const h = 32;
  const rgba = new Uint8Array(w * h * 4);
  const border = [r, g, b, 204] as const; // alpha 0.8 as Slicer's pen
  for (let x = 0; x < w; x++) {
    for (let t = 0; t < 3; t++) {
      if (Math.floor(x / 5) % 2 === 0) {
        for (const y of [t, h - 1 - t]) rgba.set(border, (y * w + x) * 4);
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let t = 0; t < 3; t++) {
      if (Math.floor(y / 5) % 2 === 0) {
        for (const x of [t, w - 1 - t]) rgba.set(border, (y * w + x) * 4);
      }
    }
  }
  drawText(rgba, w, h, (now / 1000).toFixed(3), 10, 12, [0x33, 0x33, 0x33, 255]);
  return sharp(rgba, { raw: { width: w, height: h, channels: 4 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

export const getTimeImage = () => async (c: Context) => {
  const png = await timeImage(c.req.query('color'));
  return c.body(png as Uint8Array<ArrayBuffer>, 200, {
    'content-type': 'image/png',
    'cache-control': 'no-store',
  });
};

/** `DELETE /slicer/system`: graceful shutdown, only when the operator allowed it. */
export const deleteSystem = (ctx: AppContext) => (c: Context) => {
  if (!ctx.config.allowShutdown) {
    throw new AppError(
      'forbidden',
      'remote shutdown is disabled; start voxelgate with --allow-shutdown to allow DELETE /slicer/system',
    );
  }
  setTimeout(() => ctx.requestShutdown('DELETE /slicer/system'), 50);
  return c.json({ success: true });
};

/**
 * `GET /slicer/system/status`: what the viewer page shows in its status bar. Read-only and
 * secret-free (never the token itself): bound address, which families and guards are on.
 */
export function statusInfo(ctx: AppContext, requestUrl?: string, endpoints: string[] = []) {
  const c = ctx.config;
  return {
    applicationName: 'voxelgate',
    version: ctx.version,
    url: ctx.boundUrl ?? (requestUrl ? new URL(requestUrl).origin + '/' : null),
    startedAt: ctx.startedAt.toISOString(),
    slicer: c.slicer,
    dicom: c.dicom,
    static: c.static,
    exec: c.enableExec,
    auth: c.token ? (c.auth === 'all' ? 'all' : 'mutating') : 'off',
    cors: c.cors ?? null,
    tls: Boolean(c.tlsCert && c.tlsKey),
    /** The DICOM archive is mounted (the /dicom family exists and is enabled). */
    dicomArchive: c.dicom && 'archive' in ctx && ctx.archive !== undefined,
    /** The OHIF dist is installed, so /browse shows the viewer (else an install hint). */
    ohif: c.static && existsSync(path.join(DEFAULT_OHIF_DIR, 'index.html')),
    /** `METHOD /slicer/path` of every /slicer endpoint, so clients can hide what is missing without 404 probes. */
    endpoints,
  };
}

export const getStatus = (ctx: AppContext, endpoints: () => string[]) => (c: Context) =>
  c.json(statusInfo(ctx, c.req.url, endpoints()));
