/**
 * `npm run bench -- vs-orthanc`: voxelgate against Orthanc + DICOMweb (Debian's `orthanc` and
 * `orthanc-dicomweb`) on the same archive, same requests, same run, as ratios. Orthanc 1.10 cannot
 * bind to loopback only, so when run as root with `ip` available both servers and the client run
 * in a private network namespace that has only `lo`; otherwise Orthanc runs with
 * RemoteAccessAllowed=false. Skipped (one row saying why) where Orthanc is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from '../bench.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

// eslint-disable-next-line @typescript-eslint/require-await -- the bench runner awaits every run()
export async function run(): Promise<BenchRow[]> {
  const plugin = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
  if (!has('Orthanc') || !existsSync(plugin)) {
    return [
      {
        group: 'vs-orthanc',
        name: 'skipped',
        value:
          'Orthanc or its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)',
      },
    ];
  }
  const inner = [process.execPath, '--import', 'tsx', path.join(here, 'orthanc-peer.ts')];
  const ns = `vgbench${process.pid}`;
  let prefix: string[] = [];
  if (process.getuid?.() === 0 && has('ip')) {
    try {
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      prefix = ['ip', 'netns', 'exec', ns];
    } catch {
      prefix = [];
    }
  }
  try {
    const cmd = [...prefix, ...inner];
    const out = execFileSync(cmd[0]!, cmd.slice(1), {
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
      env: process.env,
    }).toString();
    const rows = JSON.parse(out.trim().split('\n').at(-1)!) as BenchRow[];
    rows.push({
      group: 'vs-orthanc',
      name: 'network',
      value: prefix.length
        ? 'private namespace, loopback only'
        : 'host loopback (Orthanc with RemoteAccessAllowed=false)',
    });
    return rows;
  } finally {
    if (prefix.length) spawnSync('ip', ['netns', 'delete', ns]);
  }
}
