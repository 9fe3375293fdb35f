/**
 * Headless Chromium for browser tests and scripts, through playwright-core and the system
 * chromium (Debian's package: /usr/bin/chromium; override with VOXELGATE_CHROMIUM). Tests call
 * `browserSkipReason()` first and skip with that reason when there is no browser.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type ConsoleMessage,
  type Page,
} from 'playwright-core';

export const CHROMIUM = process.env.VOXELGATE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Turns a skip reason into a failure where the environment promised the dependency
 * (`.ci/run` sets VOXELGATE_REQUIRE_BROWSER=1 after installing chromium and OHIF).
 */
export function skipUnlessRequired(reason: string | undefined): string | undefined {
  if (reason && process.env.VOXELGATE_REQUIRE_BROWSER === '1')
    throw new Error(`VOXELGATE_REQUIRE_BROWSER=1 but ${reason}`);
  return reason;
}

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  return skipUnlessRequired(
    existsSync(CHROMIUM)
      ? undefined
      : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set VOXELGATE_CHROMIUM)`,
  );
}

export interface Launched {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Flags from the machine notes: no background networking (the network is closed), no GPU. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // WebGL through SwiftShader, for OHIF's cornerstone3D (dicomweb.md §5).
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

export async function launchBrowser(
  opts: { width?: number; height?: number } = {},
): Promise<Launched> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'voxelgate-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(15_000);
  const browser = context.browser()!;
  return {
    browser,
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Collects console errors/warnings and page errors of a page. */
export function watchConsole(page: Page): { errors: string[]; all: string[] } {
  const errors: string[] = [];
  const all: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    all.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { errors, all };
}
