/**
 * Bridge benchmark (`npm run bench -- bridge`): a 512×512×300 CT series (phantom, 16-bit) in an
 * archive, loaded into a scene (uncompressed: dcmjs-free fast path, byte-range reads; RLE
 * Lossless: the JS decoder in dicom/rle.ts), and the save of the loaded volume as a new
 * series. RLE copies are made here with a small PackBits encoder (no DICOM encoder ships with the
 * project's dependencies apart from itk-wasm's JPEG 2000 writer). VG_BENCH_SLICES changes the
 * slice count; VG_BENCH_RLE_SLICES (default 300) the compressed one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadIntoScene } from '../../src/bridge/load.js';
import { saveVolumeAsSeries } from '../../src/bridge/volume-to-series.js';
import { Archive } from '../../src/dicom/archive.js';
import dcmjs from 'dcmjs';
import { locatePixelData, parseFull } from '../../src/dicom/part10.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { TS } from '../../src/dicom/tags.js';
import { Scene, type VolumeNode } from '../../src/scene/scene.js';
import type { BenchRow } from '../bench.js';
import { percentile } from './stats.js';

const SLICES = Number(process.env.VG_BENCH_SLICES ?? 300);
const RLE_SLICES = Number(process.env.VG_BENCH_RLE_SLICES ?? SLICES);
const J2K_SLICES = Number(process.env.VG_BENCH_J2K_SLICES ?? 20);

/** PackBits one row (DICOM RLE, PS3.5 G.3.1). */
function packBits(src: Uint8Array, out: number[]): void {
  let i = 0;
  const n = src.length;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 2) {
      out.push(257 - run, src[i]!);
      i += run;
      continue;
    }
    let lit = 1;
    while (i + lit < n && lit < 128 && !(i + lit + 1 < n && src[i + lit] === src[i + lit + 1]))
      lit++;
    out.push(lit - 1);
    for (let k = 0; k < lit; k++) out.push(src[i + k]!);
    i += lit;
  }
}

/** RLE Lossless frame of 16-bit pixels: two segments (high bytes, low bytes), rows encoded apart. */
function rleFrame(pixels: Uint8Array, rows: number, columns: number): Buffer {
  const segments: Buffer[] = [];
  for (const byte of [1, 0]) {
    const out: number[] = [];
    const plane = new Uint8Array(columns);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) plane[c] = pixels[(r * columns + c) * 2 + byte]!;
      packBits(plane, out);
    }
    if (out.length % 2) out.push(0);
    segments.push(Buffer.from(out));
  }
  const header = Buffer.alloc(64);
  header.writeUInt32LE(2, 0);
  header.writeUInt32LE(64, 4);
  header.writeUInt32LE(64 + segments[0]!.length, 8);
  return Buffer.concat([header, ...segments]);
}

/** Rewrites an Explicit VR LE file (TS UID of the same length) as RLE Lossless, one fragment. */
export function toRle(file: Buffer, rows: number, columns: number): Buffer {
  const loc = locatePixelData(file, TS.ExplicitLE, 1)!.location;
  return encapsulate(
    file,
    TS.Rle,
    rleFrame(file.subarray(loc.offset, loc.offset + loc.length), rows, columns),
  );
}

/** Replaces the native Pixel Data of an Explicit VR LE file by one encapsulated frame. */
function encapsulate(file: Buffer, ts: string, frame: Buffer): Buffer {
  const { meta, dict } = parseFull(file);
  delete dict['7FE00010'];
  delete meta['00020000'];
  meta['00020010'] = { vr: 'UI', Value: [ts] };
  const d = new (
    dcmjs.data as { DicomDict: new (m: unknown) => { dict: unknown; write(): ArrayBuffer } }
  ).DicomDict(meta);
  d.dict = dict;
  const head = Buffer.from(d.write());
  const el = Buffer.alloc(12);
  el.writeUInt16LE(0x7fe0, 0);
  el.writeUInt16LE(0x0010, 2);
  el.write('OB', 4, 'latin1');
  el.writeUInt32LE(0xffffffff, 8);
  const item = (len: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(0xe000, 2);
    b.writeUInt32LE(len, 4);
    return b;
  };
  const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  const padded = frame.length % 2 ? Buffer.concat([frame, Buffer.alloc(1)]) : frame;
  return Buffer.concat([head, el, item(0), item(padded.length), padded, end]);
}

/**
 * JPEG 2000 lossless copies made with itk-wasm's writer (GDCM): each slice is written as a DICOM
 * with compression, and its codestream is spliced into our own header (same UIDs as the series).
 */
async function toJ2k(
  files: Buffer[],
  rows: number,
  columns: number,
  dir: string,
): Promise<Buffer[]> {
  const { writeImageNode } = await import('@itk-wasm/image-io');
  const out: Buffer[] = [];
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const loc = locatePixelData(f, TS.ExplicitLE, 1)!.location;
    const px = new Uint16Array(
      f.buffer.slice(f.byteOffset + loc.offset, f.byteOffset + loc.offset + loc.length),
    );
    const image = {
      imageType: { dimension: 2, componentType: 'uint16', pixelType: 'Scalar', components: 1 },
      name: 'slice',
      origin: [0, 0],
      spacing: [1, 1],
      direction: new Float64Array([1, 0, 0, 1]),
      size: [columns, rows],
      metadata: new Map(),
      data: px,
    };
    const file = path.join(dir, `j2k-${i}.dcm`);
    await writeImageNode(image as never, file, { useCompression: true });
    const written = readFileSync(file);
    const tsAt = /1\.2\.840\.10008\.1\.2\.4\.9[01]/.exec(written.toString('latin1', 0, 400))?.[0];
    if (!tsAt) throw new Error('bench: itk-wasm did not write JPEG 2000');
    const enc = locatePixelData(written, tsAt, 1)!.location;
    const frame = Buffer.concat(enc.frames![0]!.map(([o, l]) => written.subarray(o, o + l)));
    out.push(encapsulate(f, tsAt, frame));
  }
  return out;
}

async function time(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}
const fmt = (t: number[]) =>
  `median ${percentile(t, 50).toFixed(0)} ms (min ${Math.min(...t).toFixed(0)}, n=${t.length})`;

export async function run(): Promise<BenchRow[]> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vg-bench-bridge-'));
  const rows: BenchRow[] = [];
  const archive = Archive.openSync(data);
  try {
    let t = performance.now();
    const s = syntheticSeries({
      rows: 512,
      columns: 512,
      slices: SLICES,
      seed: 'bench-bridge',
      seriesDescription: 'bench 512',
    });
    await archive.ingestMany(s.files);
    process.stderr.write(
      `bench: bridge series of ${SLICES} slices built in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
    );

    const scene = new Scene();
    let lastId = '';
    const loadTimes = await time(5, async () => {
      const r = await loadIntoScene(scene, archive, s.studyUid, s.seriesUid);
      if (lastId) scene.remove([lastId]);
      lastId = r.loadedNodeIDs[0]!;
    });
    const node = scene.byId(lastId) as VolumeNode;
    rows.push({
      group: 'bridge',
      name: `load 512×512×${SLICES} CT, Explicit VR LE (${node.volume.scalarType})`,
      value: fmt(loadTimes),
      aim: '≤ 1000 ms',
    });

    const saved: string[] = [];
    const saveTimes = await time(3, async () => {
      const r = await saveVolumeAsSeries(scene, archive, node, { seriesDescription: 'bench save' });
      saved.push(r.seriesInstanceUID);
    });
    rows.push({
      group: 'bridge',
      name: `save 512×512×${SLICES} int16 as a new series (fsync + index)`,
      value: fmt(saveTimes),
    });

    // RLE copy of the same series (its own UIDs).
    t = performance.now();
    const r = syntheticSeries({
      rows: 512,
      columns: 512,
      slices: RLE_SLICES,
      seed: 'bench-bridge-rle',
      seriesDescription: 'bench 512 RLE',
    });
    const rle = r.files.map((f) => toRle(f, 512, 512));
    await archive.ingestMany(rle);
    const ratio = rle.reduce((a, b) => a + b.length, 0) / r.files.reduce((a, b) => a + b.length, 0);
    process.stderr.write(
      `bench: RLE series built in ${((performance.now() - t) / 1000).toFixed(1)} s (size ratio ${ratio.toFixed(2)})\n`,
    );
    const rleTimes = await time(2, async () => {
      const res = await loadIntoScene(scene, archive, r.studyUid, r.seriesUid);
      const v = scene.byId(res.loadedNodeIDs[0]!) as VolumeNode;
      if (v.volume.data.length !== (node.volume.data.length / SLICES) * RLE_SLICES)
        throw new Error('RLE load size mismatch');
      scene.remove(res.loadedNodeIDs);
    });
    rows.push({
      group: 'bridge',
      name: `load 512×512×${RLE_SLICES} CT, RLE Lossless (JS decoder), first run`,
      value: `${rleTimes[0]!.toFixed(0)} ms`,
    });
    rows.push({
      group: 'bridge',
      name: `load 512×512×${RLE_SLICES} CT, RLE Lossless (JS decoder), second run`,
      value: `${rleTimes[1]!.toFixed(0)} ms`,
    });

    // JPEG 2000 lossless (decoded by the archive's itk-wasm worker): fewer slices, it is slow.
    if (J2K_SLICES > 0) {
      t = performance.now();
      const j = syntheticSeries({
        rows: 512,
        columns: 512,
        slices: J2K_SLICES,
        seed: 'bench-bridge-j2k',
        seriesDescription: 'bench 512 J2K',
      });
      await archive.ingestMany(await toJ2k(j.files, 512, 512, data));
      process.stderr.write(
        `bench: J2K series built in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
      );
      t = performance.now();
      const res = await loadIntoScene(scene, archive, j.studyUid, j.seriesUid);
      const ms = performance.now() - t;
      const v = scene.byId(res.loadedNodeIDs[0]!) as VolumeNode;
      // Check against the native stored values (HU = stored − 1024; slices in z order).
      let same = true;
      const plane = 512 * 512;
      j.files.forEach((f, k) => {
        const loc = locatePixelData(f, TS.ExplicitLE, 1)!.location;
        const px = new Uint16Array(
          f.buffer.slice(f.byteOffset + loc.offset, f.byteOffset + loc.offset + loc.length),
        );
        for (let i = 0; i < plane && same; i += 7)
          same = v.volume.data[k * plane + i] === px[i]! - 1024;
      });
      rows.push({
        group: 'bridge',
        name: `load 512×512×${J2K_SLICES} CT, JPEG 2000 lossless (itk-wasm worker)`,
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set in the forEach above
        value: `${ms.toFixed(0)} ms (${(ms / J2K_SLICES).toFixed(0)} ms/slice${same ? '' : ', VALUES DIFFER'})`,
      });
    }
  } finally {
    await archive.close();
    rmSync(data, { recursive: true, force: true });
  }
  return rows;
}
