/**
 * DICOM validity with `dciodvfy` (Debian's dicom3tools, /usr/bin/dciodvfy; override with
 * VOXELGATE_DCIODVFY). Tests call `dciodvfySkipReason()` and skip with that reason when it is
 * missing, unless VOXELGATE_REQUIRE_DCIODVFY=1 (set by .ci/run after installing dicom3tools):
 * then a missing tool fails the test.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DCIODVFY = process.env.VOXELGATE_DCIODVFY ?? '/usr/bin/dciodvfy';

export function dciodvfySkipReason(): string | undefined {
  if (existsSync(DCIODVFY)) return undefined;
  const reason = `no dciodvfy at ${DCIODVFY} (apt-get install dicom3tools, or set VOXELGATE_DCIODVFY)`;
  if (process.env.VOXELGATE_REQUIRE_DCIODVFY === '1')
    throw new Error(`VOXELGATE_REQUIRE_DCIODVFY=1 but ${reason}`);
  return reason;
}

export interface Verdict {
  errors: string[];
  warnings: string[];
  /** The IOD dciodvfy recognised (e.g. "Segmentation", "CTImage"). */
  iod?: string;
  output: string;
}

/** Runs dciodvfy on a Part 10 file's bytes. */
export async function dciodvfy(part10: Uint8Array): Promise<Verdict> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vg-dciodvfy-'));
  const file = path.join(dir, 'x.dcm');
  writeFileSync(file, part10);
  try {
    const output = await new Promise<string>((resolve) => {
      // dciodvfy exits non-zero when it finds errors; its report is what matters.
      execFile(DCIODVFY, [file], { maxBuffer: 64 << 20 }, (_e, stdout, stderr) =>
        resolve(`${stdout}${stderr}`),
      );
    });
    const lines = output.split('\n');
    return {
      errors: lines.filter((l) => l.startsWith('Error')),
      warnings: lines.filter((l) => l.startsWith('Warning')),
      iod: /^(\w+)$/m.exec(output)?.[1],
      output,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
