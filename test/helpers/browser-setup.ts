/**
 * The setup browser tests share: a real server (sample data by default) and the system Chromium,
 * made in `before` and closed in `after`; for the viewer page, a page at `/` once it says
 * `data-ready`, with its console watched. Also the OHIF skip reason and a box segmentation on a
 * scene volume's grid as a `.seg.nrrd` (what the viewer and OHIF SEG tests upload).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import type { Page } from 'playwright-core';
import { DEFAULT_OHIF_DIR } from '../../src/http/browse.js';
import { segNrrdChunks } from '../../src/imaging/seg-nrrd.js';
import type { Segment } from '../../src/imaging/segmentation.js';
import { allocShared, type Mat3, type Vec3 } from '../../src/imaging/types.js';
import type { Config } from '../../src/server/config.js';
import { startTestServer, type TestServer } from './app.js';
import {
  browserSkipReason,
  launchBrowser,
  skipUnlessRequired,
  watchConsole,
  type Launched,
} from './browser.js';

/** Why OHIF tests cannot run here (no Chromium or no OHIF dist), or undefined when they can. */
export function ohifSkipReason(): string | undefined {
  return (
    browserSkipReason() ??
    skipUnlessRequired(
      existsSync(path.join(DEFAULT_OHIF_DIR, 'index.html'))
        ? undefined
        : `the OHIF dist is not installed in ${DEFAULT_OHIF_DIR} (npm run ohif:install)`,
    )
  );
}

export interface BrowserSetup {
  readonly server: TestServer;
  readonly browser: Launched;
  /** The viewer page at `/`, ready (only with `viewerPage: true`). */
  readonly page: Page;
  /** Console errors and messages of `page`. */
  readonly consoleLog: { errors: string[]; all: string[] };
}

export interface BrowserSetupOptions {
  /** The skip reason of the file's tests: when set, nothing is started. */
  skip: string | undefined;
  /** Server options (default: with the sample data). */
  server?: Partial<Config>;
  width?: number;
  height?: number;
  /** Open the viewer page at `/` and wait until it is ready. */
  viewerPage?: boolean;
  /** Called with the page before it loads (to watch its requests). */
  onPage?: (page: Page) => void;
  /** Runs at the end of the `before` hook, once everything is up (e.g. to read the server status). */
  ready?: (setup: BrowserSetup) => Promise<void>;
}

/**
 * A server and Chromium (and the viewer page) shared by the tests of a file: started in `before`,
 * closed in `after`. Read the fields inside tests only.
 */
export function useBrowser(o: BrowserSetupOptions): BrowserSetup {
  let server: TestServer | undefined;
  let browser: Launched | undefined;
  let page: Page | undefined;
  let consoleLog: { errors: string[]; all: string[] } | undefined;
  before(async () => {
    if (o.skip) return;
    server = await startTestServer({ noSamples: false, ...o.server });
    browser = await launchBrowser({ width: o.width ?? 1280, height: o.height ?? 800 });
    if (o.viewerPage) {
      page = await browser.context.newPage();
      consoleLog = watchConsole(page);
      o.onPage?.(page);
      await page.goto(`${server.url}/`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    }
    await o.ready?.(setup);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined)
      throw new Error(`useBrowser: no ${what} (only inside tests, after before)`);
    return v;
  };
  const setup: BrowserSetup = {
    get server() {
      return need(server, 'server');
    },
    get browser() {
      return need(browser, 'browser');
    },
    get page() {
      return need(page, 'page (viewerPage: true)');
    },
    get consoleLog() {
      return need(consoleLog, 'console log (viewerPage: true)');
    },
  };
  return setup;
}

/**
 * A `.seg.nrrd` on the grid of scene volume `volumeId` (read from `/slicer/mrml/properties`):
 * one segment filling, on every slice, the voxels whose i and j are in `range(dimension)`
 * (start inclusive, end exclusive).
 */
export async function boxSegNrrd(
  serverUrl: string,
  volumeId: string,
  o: {
    range: (n: number) => [number, number];
    segment: Pick<Segment, 'id' | 'name' | 'color'>;
  },
): Promise<Buffer> {
  const props = (await (
    await fetch(`${serverUrl}/slicer/mrml/properties?id=${volumeId}`)
  ).json()) as Record<
    string,
    { dimensions: Vec3; spacing: Vec3; origin: Vec3; direction: Mat3 } | undefined
  >;
  const p = props[volumeId];
  if (!p) throw new Error(`no volume ${volumeId}`);
  const [di, dj, dk] = p.dimensions;
  const data = allocShared('uint8', di * dj * dk);
  const [j0, j1] = o.range(dj);
  const [i0, i1] = o.range(di);
  for (let k = 0; k < dk; k++)
    for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) data[(k * dj + j) * di + i] = 1;
  const parts: Buffer[] = [];
  for await (const ch of segNrrdChunks({
    labelmap: {
      scalarType: 'uint8',
      components: 1,
      dimensions: p.dimensions,
      spacing: p.spacing,
      origin: p.origin,
      direction: p.direction,
      data,
    },
    segments: [{ ...o.segment, labelValue: 1, layer: 0, tags: {} }],
  }))
    parts.push(Buffer.from(ch));
  return Buffer.concat(parts);
}
