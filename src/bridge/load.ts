/**
 * `src/bridge/` converts between the archive and the scene (series → volume, volume → series):
 * the only folder that knows both. It imports dicom/, scene/ and imaging/, never http/ or hono.
 *
 * Loading archive series into the scene (`/slicer/dicom/load`) and listing what can be loaded
 * (`/slicer/dicom/loadables`, Slicer's "loadables").
 */
import type { Archive, InstanceRef } from '../dicom/archive.js';
import { AppError } from '../errors.js';
import { createSegmentation } from '../scene/segmentations.js';
import { isVolumeNode, type Scene, type VolumeNode } from '../scene/scene.js';
import { readSeg, SEG_SOP_CLASS, segLoadableInfo, type LoadedSegmentation } from './seg.js';
import { loadVolume, planStudy, type SeriesPlan } from './series-to-volume.js';

export interface LoadableVolume {
  label: string;
  loadable: boolean;
  reason?: string;
  dimensions: number[];
  spacing: number[];
  warnings: string[];
}

export interface Loadable {
  /** What the series loads as: volumes, or a segmentation node (DICOM SEG). */
  kind: 'volume' | 'segmentation';
  seriesInstanceUID: string;
  seriesNumber?: number;
  seriesDescription?: string;
  modality?: string;
  sopClassUID?: string;
  instances: number;
  loadable: boolean;
  reason?: string;
  warnings: string[];
  volumes: LoadableVolume[];
  /** SEG: segment labels and frame count. */
  segments?: string[];
  frames?: number;
}

const isSeg = (p: SeriesPlan) => p.sopClassUid === SEG_SOP_CLASS;

/** A SEG series' plan: loadable (one segmentation per instance); the image planner cannot read 1-bit frames. */
async function segPlan(
  archive: Archive,
  p: SeriesPlan,
): Promise<SeriesPlan & { segments: string[]; frames: number }> {
  const rows = await archive.instances(p.studyUid, p.seriesUid);
  const infos = (await archive.metadataOf(rows)).map((m) => segLoadableInfo(m));
  return {
    ...p,
    loadable: true,
    reason: undefined,
    volumes: [],
    warnings: [],
    segments: infos.flatMap((i) => i.segments),
    frames: infos.reduce((a, i) => a + i.frames, 0),
  };
}

const toLoadable = (p: SeriesPlan & { segments?: string[]; frames?: number }): Loadable => ({
  kind: isSeg(p) ? 'segmentation' : 'volume',
  seriesInstanceUID: p.seriesUid,
  seriesNumber: p.seriesNumber,
  seriesDescription: p.seriesDescription,
  modality: p.modality,
  sopClassUID: p.sopClassUid,
  instances: p.instances,
  loadable: p.loadable,
  reason: p.reason,
  warnings: [...p.warnings, ...p.volumes.flatMap((v) => v.warnings)],
  volumes: p.volumes.map((v) => ({
    label: v.label,
    loadable: v.loadable,
    reason: v.reason,
    dimensions: [...v.dimensions],
    spacing: [...v.spacing],
    warnings: v.warnings,
  })),
  ...(p.segments ? { segments: p.segments, frames: p.frames } : {}),
});

export async function loadables(archive: Archive, studyUid: string): Promise<Loadable[]> {
  const plans = await planStudy(archive, studyUid);
  return (
    await Promise.all(plans.map((p) => (isSeg(p) ? segPlan(archive, p) : Promise.resolve(p))))
  ).map(toLoadable);
}

export interface LoadResult {
  loadedNodeIDs: string[];
  warnings: string[];
}

/**
 * Loads one series (every loadable group) or every loadable image series of a study into the
 * scene. Naming one series that cannot load → 422 with the reason; a study load skips
 * unloadable series with a warning (and fails only when nothing loads).
 */
export async function loadIntoScene(
  scene: Scene,
  archive: Archive,
  studyUid: string,
  seriesUid?: string,
): Promise<LoadResult> {
  const all = await planStudy(archive, studyUid, seriesUid);
  const segPlans = all.filter(isSeg);
  const plans = all.filter((p) => !isSeg(p));
  const segRows = (
    await Promise.all(segPlans.map((p) => archive.instances(p.studyUid, p.seriesUid)))
  ).flat();
  // The plans name file versions: hold them while reading (a concurrent replace defers deleting).
  const release = archive.lease([
    ...new Set([
      ...plans.flatMap((p) => p.volumes.flatMap((v) => v.frames.map((f) => f.row))),
      ...segRows,
    ]),
  ]);
  try {
    return await loadPlans(scene, archive, plans, segRows, studyUid, seriesUid);
  } finally {
    release();
  }
}

async function loadPlans(
  scene: Scene,
  archive: Archive,
  plans: SeriesPlan[],
  segRows: InstanceRef[],
  studyUid: string,
  seriesUid: string | undefined,
): Promise<LoadResult> {
  const warnings: string[] = [];
  const ids: string[] = [];
  // SEG series: read every instance first (a bad SEG fails before the scene changes).
  const segs: LoadedSegmentation[] = [];
  for (const row of segRows) {
    try {
      segs.push(await readSeg(await archive.part10(row, true), archive));
    } catch (e) {
      if (seriesUid !== undefined || !(e instanceof AppError)) throw e;
      warnings.push(`SEG series ${row.seriesUid} skipped: ${e.message}`);
    }
  }
  if (plans.length === 0 && segs.length > 0) return addSegmentations(scene, segs, ids, warnings);
  const loadable = plans.filter((p) => p.loadable);
  for (const p of plans) {
    warnings.push(...p.warnings);
    if (!p.loadable)
      warnings.push(
        `series ${p.seriesUid}${p.seriesDescription ? ` (${p.seriesDescription})` : ''} skipped: ${p.reason}`,
      );
  }
  if (loadable.length === 0) {
    throw new AppError(
      'unprocessable',
      seriesUid
        ? `series ${seriesUid} cannot be loaded: ${plans[0]?.reason}`
        : `study ${studyUid} has no loadable image series: ${plans.map((p) => `${p.seriesUid}: ${p.reason}`).join('; ')}`,
    );
  }
  // Read every volume first, so that a failure leaves the scene unchanged.
  const volumes = [];
  for (const p of loadable) {
    for (let i = 0; i < p.volumes.length; i++) {
      const v = p.volumes[i]!;
      if (!v.loadable) {
        warnings.push(`series ${p.seriesUid} group ${v.label} skipped: ${v.reason}`);
        continue;
      }
      try {
        volumes.push(await loadVolume(archive, p, v, i));
      } catch (e) {
        // A whole-study load skips what fails to read (e.g. an undecodable syntax); one series fails.
        if (
          seriesUid !== undefined ||
          !(e instanceof AppError) ||
          e.code === 'busy' ||
          e.code === 'timeout'
        )
          throw e;
        warnings.push(`series ${p.seriesUid} group ${v.label} skipped: ${e.message}`);
      }
    }
  }
  if (volumes.length === 0)
    throw new AppError(
      'unprocessable',
      `nothing in study ${studyUid} could be loaded: ${warnings.join('; ')}`,
    );
  for (const v of volumes) {
    warnings.push(...v.warnings);
    const node = scene.add<VolumeNode>({
      kind: 'volume',
      className: v.className,
      name: v.name,
      volume: v.volume,
      attributes: v.attributes,
      display: v.display,
      componentKind: v.componentKind,
    });
    ids.push(node.id);
  }
  if (ids.length > 0) scene.setActiveVolume(ids[0]);
  return addSegmentations(scene, segs, ids, warnings);
}

/** Adds loaded SEGs as segmentation nodes, each referencing the scene volume of its source series. */
function addSegmentations(
  scene: Scene,
  segs: LoadedSegmentation[],
  ids: string[],
  warnings: string[],
): LoadResult {
  for (const s of segs) {
    warnings.push(...s.warnings);
    const volumes = scene.nodes().filter(isVolumeNode);
    const ref =
      s.referencedSeriesUid !== undefined
        ? [...volumes]
            .reverse()
            .find((v) => v.attributes['DICOM.SeriesInstanceUID'] === s.referencedSeriesUid)
        : undefined;
    const node = createSegmentation(scene, {
      name: s.name,
      segmentation: s.segmentation,
      attributes: s.attributes,
      referenceVolumeId: ref?.id,
    });
    ids.push(node.id);
  }
  return { loadedNodeIDs: ids, warnings: [...new Set(warnings)] };
}
