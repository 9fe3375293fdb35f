/**
 * Fiducial (point) lists: Slicer's `/fiducials` JSON shape, point edits, and import/export of
 * Slicer markups JSON (`.mrk.json`, schema markups-schema-v1.0.3; files are usually LPS, converted
 * here through `geometry.ts`; positions inside are local RAS).
 */
import { frameToRas } from '../imaging/geometry.js';
import type { Vec3 } from '../imaging/types.js';
import { AppError, invalidParameter } from '../errors.js';
import type { ControlPoint, FiducialNode, Scene } from './scene.js';

export const MARKUPS_SCHEMA =
  'https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#';
const DEFAULT_COLOR: Vec3 = [0.4, 1.0, 1.0];
const DEFAULT_SELECTED: Vec3 = [1.0, 0.5000076295109483, 0.5000076295109483];

export const isFiducials = (n: { kind: string } | undefined): n is FiducialNode =>
  n?.kind === 'fiducials';

/** Slicer's `/fiducials`: `{ "<id>": {name, color, scale, markups: [{label, position}]}}`. */
export function fiducialsJson(scene: Scene) {
  const out: Record<string, unknown> = {};
  for (const n of scene.nodes().filter(isFiducials)) {
    out[n.id] = {
      name: n.name,
      color: n.selectedColor,
      scale: n.scale,
      markups: n.points.map((p) => ({ label: p.label, position: p.position })),
    };
  }
  return out;
}

export function createFiducialList(
  scene: Scene,
  init: {
    name?: string;
    color?: Vec3;
    selectedColor?: Vec3;
    scale?: number;
    points?: ControlPoint[];
  } = {},
): FiducialNode {
  return scene.add<FiducialNode>({
    kind: 'fiducials',
    className: 'vtkMRMLMarkupsFiducialNode',
    name: init.name ?? 'F',
    attributes: {},
    color: init.color ?? DEFAULT_COLOR,
    selectedColor: init.selectedColor ?? DEFAULT_SELECTED,
    scale: init.scale ?? 3,
    points: init.points ?? [],
  });
}

export function findList(scene: Scene, id: string | undefined): FiducialNode {
  return scene.requireNode(id ?? 'vtkMRMLMarkupsFiducialNode*', 'fiducials', 'fiducial list');
}

function checkIndex(n: FiducialNode, index: number): void {
  if (index >= n.points.length) {
    throw invalidParameter(
      'index',
      `${index} is out of range: ${n.name} (${n.id}) has ${n.points.length} point(s), indices 0…${n.points.length - 1}`,
    );
  }
}

/** Moves (and optionally relabels) point `index`; coordinates not given keep their value. */
export function setPoint(
  scene: Scene,
  id: string | undefined,
  index: number,
  pos: { r?: number; a?: number; s?: number },
  label?: string,
) {
  const n = findList(scene, id);
  checkIndex(n, index);
  const old = n.points[index]!;
  const p: ControlPoint = {
    ...old,
    position: [pos.r ?? old.position[0], pos.a ?? old.position[1], pos.s ?? old.position[2]],
    ...(label !== undefined ? { label } : {}),
  };
  const points = n.points.slice();
  points[index] = p;
  scene.update<FiducialNode>(n.id, { points });
  return { node: n, index, point: p };
}

/** Adds a point (missing coordinates are 0); without `id` uses the first list or creates one. */
export function addPoint(
  scene: Scene,
  id: string | undefined,
  pos: { r?: number; a?: number; s?: number },
  label?: string,
) {
  let n =
    id === undefined
      ? (scene.nodes().find(isFiducials) ?? createFiducialList(scene))
      : findList(scene, id);
  const p: ControlPoint = {
    label: label ?? `${n.name}-${n.points.length + 1}`,
    position: [pos.r ?? 0, pos.a ?? 0, pos.s ?? 0],
  };
  n = scene.update<FiducialNode>(n.id, { points: [...n.points, p] });
  return { node: n, index: n.points.length - 1, point: p };
}

export function removePoint(scene: Scene, id: string | undefined, index: number) {
  const n = findList(scene, id);
  checkIndex(n, index);
  const points = n.points.filter((_, i) => i !== index);
  return scene.update<FiducialNode>(n.id, { points });
}

// ---------------------------------------------------------------------------------------------
// Slicer markups JSON

/** One markups file → fiducial lists (non-Fiducial markups are refused with a clear message). */
export function parseMarkupsJson(doc: unknown): Array<{
  name?: string;
  color?: Vec3;
  selectedColor?: Vec3;
  scale?: number;
  points: ControlPoint[];
}> {
  const bad = (msg: string) => new AppError('unprocessable', `markups JSON: ${msg}`);
  if (
    typeof doc !== 'object' ||
    doc === null ||
    !Array.isArray((doc as { markups?: unknown }).markups)
  )
    throw bad('expected an object with a "markups" array');
  const out = [];
  for (const [i, m] of (doc as { markups: unknown[] }).markups.entries()) {
    if (typeof m !== 'object' || m === null) throw bad(`markups[${i}] is not an object`);
    const mk = m as Record<string, unknown>;
    if (mk.type !== 'Fiducial')
      throw bad(
        `markups[${i}] has type ${JSON.stringify(mk.type)}; only "Fiducial" point lists are supported`,
      );
    const cs = (mk.coordinateSystem ?? 'LPS') as string;
    if (cs !== 'LPS' && cs !== 'RAS')
      throw bad(`markups[${i}].coordinateSystem must be LPS or RAS, got ${JSON.stringify(cs)}`);
    const cps = mk.controlPoints ?? [];
    if (!Array.isArray(cps)) throw bad(`markups[${i}].controlPoints is not an array`);
    const points: ControlPoint[] = cps.map((cp: unknown, j: number) => {
      const c = (cp ?? {}) as Record<string, unknown>;
      const pos = c.position;
      if (
        !Array.isArray(pos) ||
        pos.length !== 3 ||
        !pos.every((x) => typeof x === 'number' && Number.isFinite(x))
      )
        throw bad(`markups[${i}].controlPoints[${j}].position must be 3 finite numbers`);
      const p: ControlPoint = {
        label: typeof c.label === 'string' ? c.label : `F-${j + 1}`,
        position: frameToRas(cs, pos as number[]),
      };
      if (typeof c.description === 'string' && c.description) p.description = c.description;
      if (typeof c.selected === 'boolean') p.selected = c.selected;
      if (typeof c.locked === 'boolean') p.locked = c.locked;
      if (typeof c.visibility === 'boolean') p.visible = c.visibility;
      return p;
    });
    const display = (mk.display ?? {}) as Record<string, unknown>;
    const vec = (v: unknown): Vec3 | undefined =>
      Array.isArray(v) &&
      v.length === 3 &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x))
        ? (v as Vec3)
        : undefined;
    const scale =
      typeof display.glyphScale === 'number' && Number.isFinite(display.glyphScale)
        ? display.glyphScale
        : undefined;
    out.push({
      name: typeof mk.name === 'string' ? mk.name : undefined,
      color: vec(display.color),
      selectedColor: vec(display.selectedColor),
      scale,
      points,
    });
  }
  return out;
}

/** A list as a Slicer markups JSON document, positions in `coordinateSystem` (default LPS). */
export function markupsJson(n: FiducialNode, coordinateSystem: 'LPS' | 'RAS' = 'LPS') {
  return {
    '@schema': MARKUPS_SCHEMA,
    markups: [
      {
        type: 'Fiducial',
        coordinateSystem,
        coordinateUnits: 'mm',
        locked: false,
        fixedNumberOfControlPoints: false,
        labelFormat: '%N-%d',
        lastUsedControlPointNumber: n.points.length,
        controlPoints: n.points.map((p, i) => ({
          id: String(i + 1),
          label: p.label,
          description: p.description ?? '',
          associatedNodeID: '',
          position: frameToRas(coordinateSystem, p.position),
          orientation: [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
          selected: p.selected ?? true,
          locked: p.locked ?? false,
          visibility: p.visible ?? true,
          positionStatus: 'defined',
        })),
        measurements: [],
        display: {
          visibility: true,
          opacity: 1.0,
          color: n.color,
          selectedColor: n.selectedColor,
          propertiesLabelVisibility: true,
          pointLabelsVisibility: true,
          textScale: 3.0,
          glyphType: 'Sphere3D',
          glyphScale: n.scale,
          glyphSize: 5.0,
          useGlyphScale: true,
        },
        name: n.name,
      },
    ],
  };
}

export function importMarkups(scene: Scene, doc: unknown, name?: string): FiducialNode[] {
  const lists = parseMarkupsJson(doc);
  if (lists.length === 0)
    throw new AppError('unprocessable', 'markups JSON: the "markups" array is empty');
  return lists.map((l, i) =>
    createFiducialList(scene, {
      ...l,
      name: name ? (lists.length > 1 ? `${name}_${i + 1}` : name) : (l.name ?? 'F'),
    }),
  );
}
