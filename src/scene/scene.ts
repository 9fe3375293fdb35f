/**
 * `src/scene/` holds the in-memory scene (volumes, transforms, fiducial lists), its persistence
 * and the exec sandbox API. It imports imaging/ (and the exec worker it starts), never views/,
 * render/, dicom/, bridge/, http/ or hono.
 *
 * The scene: an ordered set of nodes with Slicer-style ids (`vtkMRMLScalarVolumeNode1`, …) and
 * names, looked up like Slicer's `getNode` (id or name, fnmatch-style glob, first match in scene
 * order). Every change bumps `version` and notifies listeners (persistence, render caches, live
 * streams). Pure in-memory; persistence subscribes from outside. World coordinates are RAS.
 */
import { IDENTITY4, mul4 } from '../imaging/geometry.js';
import type { Segmentation } from '../imaging/segmentation.js';
import type { ImageVolume, Mat4, Vec3 } from '../imaging/types.js';
import type { TriangleMesh } from '../imaging/mesh.js';
import { AppError, notFound } from '../errors.js';

export type VolumeClass =
  'vtkMRMLScalarVolumeNode' | 'vtkMRMLLabelMapVolumeNode' | 'vtkMRMLVectorVolumeNode';
export type NodeClass =
  | VolumeClass
  | 'vtkMRMLLinearTransformNode'
  | 'vtkMRMLGridTransformNode'
  | 'vtkMRMLMarkupsFiducialNode'
  | 'vtkMRMLSegmentationNode'
  | 'vtkMRMLModelNode'
  | 'vtkMRMLTableNode';

export interface BaseNode {
  /** Unique, stable id: class name + counter (`vtkMRMLScalarVolumeNode1`). */
  id: string;
  /** Display name; not unique. */
  name: string;
  className: NodeClass;
  /** Id of the transform node this node sits under, if any. */
  parentTransformID?: string;
  /** Free-form string attributes (NRRD key/value pairs, DICOM UIDs, …). */
  attributes: Record<string, string>;
}

export interface VolumeDisplay {
  /** Window width and level for grey-scale display; undefined = automatic. */
  window?: number;
  level?: number;
  /** Colour table name for label maps (e.g. `GenericAnatomyColors`) or grey volumes. */
  colorTable?: string;
}

export interface VolumeNode extends BaseNode {
  kind: 'volume';
  className: VolumeClass;
  volume: ImageVolume;
  display: VolumeDisplay;
  /** NRRD kind of the component axis when components > 1 (`RGB-color`, `vector`, …). */
  componentKind?: string;
}

export interface LinearTransformNode extends BaseNode {
  kind: 'linearTransform';
  className: 'vtkMRMLLinearTransformNode';
  /** Row-major 4×4 mapping this node's children (local RAS) into the parent's RAS. */
  matrixToParent: Mat4;
}

export interface GridTransformNode extends BaseNode {
  kind: 'gridTransform';
  className: 'vtkMRMLGridTransformNode';
  /** Displacement field: components = 3 (RAS displacement in mm), geometry of the grid in RAS. */
  grid: ImageVolume;
}

export interface ControlPoint {
  label: string;
  /** Local RAS position (mm), not hardened by parent transforms (as Slicer's /fiducials). */
  position: Vec3;
  selected?: boolean;
  locked?: boolean;
  visible?: boolean;
  description?: string;
}

export interface FiducialNode extends BaseNode {
  kind: 'fiducials';
  className: 'vtkMRMLMarkupsFiducialNode';
  /** Colours 0..1. */
  color: Vec3;
  selectedColor: Vec3;
  /** Glyph scale (Slicer's display node glyph scale). */
  scale: number;
  points: ControlPoint[];
}

export interface ModelDisplay {
  /** Colour 0..1. */
  color: Vec3;
  /** 0..1 (below 1 blended in the 3D view; alphaMode BLEND in glTF). */
  opacity: number;
  /** Drawn in the 3D view and exported by threeDGraphics. */
  visible: boolean;
}

export interface ModelNode extends BaseNode {
  kind: 'model';
  className: 'vtkMRMLModelNode';
  /** Triangle surface, local RAS mm (parent transforms apply on top). */
  mesh: TriangleMesh;
  display: ModelDisplay;
}

/** A table column's value type (Slicer's table schema `type`: string, double, int, bit). */
export type TableColumnType = 'string' | 'double' | 'int' | 'bit';
export type TableValue = string | number | boolean | null;

export interface TableColumn {
  name: string;
  type: TableColumnType;
  /** Unit and description, as Slicer's table schema file keeps them. */
  unit?: string;
  description?: string;
}

/**
 * A table (`vtkMRMLTableNode`): named, typed columns and rows of values (e.g. segment statistics).
 * `rows[r][c]` is the value of column `c` (null for an empty cell).
 */
export interface TableNode extends BaseNode {
  kind: 'table';
  className: 'vtkMRMLTableNode';
  columns: TableColumn[];
  rows: TableValue[][];
}

/**
 * A segmentation (`vtkMRMLSegmentationNode`): segments over a layered binary labelmap (see
 * `imaging/segmentation.ts`). `attributes` keeps the `.seg.nrrd` key/values that are not per
 * segment (`Segmentation_*`), verbatim.
 */
export interface SegmentationNode extends BaseNode {
  kind: 'segmentation';
  className: 'vtkMRMLSegmentationNode';
  segmentation: Segmentation;
  /** The volume whose grid the segmentation was made on (Slicer's reference image geometry). */
  referenceVolumeId?: string;
}

export type SceneNode =
  | VolumeNode
  | LinearTransformNode
  | GridTransformNode
  | FiducialNode
  | SegmentationNode
  | ModelNode
  | TableNode;
export type NewNode<N extends SceneNode = SceneNode> = Omit<N, 'id'> & { id?: string };

export interface SceneChange {
  version: number;
  /** Ids of nodes added, changed or removed; empty for a cleared scene. */
  ids: string[];
  type: 'add' | 'update' | 'remove' | 'clear';
  /** The active (background) volume after the change; set on every change. */
  activeVolumeId?: string;
  /**
   * For `update`: the fields the change set. An empty list means the node's content changed in
   * place (e.g. voxels edited by /slicer/exec, published with `update(id, {})`).
   */
  fields?: string[];
}

/** fnmatch-style glob (`*`, `?`, `[abc]`, `[!abc]`) → RegExp, anchored, case-sensitive. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('!');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => '\\' + m)}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\/]/g, (m) => '\\' + m);
  }
  return new RegExp(`^${re}$`, 's');
}

const isGlob = (p: string) => /[*?[]/.test(p);

export class Scene {
  #nodes = new Map<string, SceneNode>();
  #counters = new Map<string, number>();
  #listeners = new Set<(change: SceneChange) => void>();
  #version = 0;
  #activeVolumeId: string | undefined;
  #revisions = new Map<string, number>();

  /** Increases on every change; render caches and ETags key on it. */
  get version(): number {
    return this.#version;
  }

  /**
   * Revision of one node: bumped on every change that names it. Voxels can be edited in place
   * (the exec API publishes such edits with `update(id, {})`, same array), so render keys and
   * caches that identify a volume by its voxel array also carry the revision.
   */
  revision(id: string): number {
    return this.#revisions.get(id) ?? 0;
  }

  /**
   * The "active" background volume (Slicer's selection node `ActiveVolumeID`): set by POST
   * /slicer/volume and cycled by /slicer/volumeSelection. Undefined when none was chosen or it was
   * removed; renderers may then fall back to `activeVolume()`.
   */
  get activeVolumeId(): string | undefined {
    return this.#activeVolumeId;
  }

  /** The active volume node, or else the first volume in scene order. */
  activeVolume(): VolumeNode | undefined {
    const a = this.#activeVolumeId ? this.#nodes.get(this.#activeVolumeId) : undefined;
    return isVolumeNode(a) ? a : this.nodes().find(isVolumeNode);
  }

  /** Makes a volume the active one (emits an `update` change with no node ids). */
  setActiveVolume(id: string | undefined): void {
    if (id !== undefined && !isVolumeNode(this.#nodes.get(id)))
      throw notFound(`no volume with id ${id}`);
    if (id === this.#activeVolumeId) return;
    this.#activeVolumeId = id;
    this.#emit('update', [], ['activeVolumeId']);
  }

  /** The per-class id counters (persisted so ids are never reused across a restart). */
  idCounters(): Record<string, number> {
    return Object.fromEntries(this.#counters);
  }

  /** Raises the id counters to at least the given values (used when loading a saved scene). */
  restoreIdCounters(counters: Record<string, number>): void {
    for (const [k, v] of Object.entries(counters)) {
      if (Number.isInteger(v) && v > (this.#counters.get(k) ?? 0)) this.#counters.set(k, v);
    }
  }

  /** All nodes in scene (insertion) order. */
  nodes(): SceneNode[] {
    return [...this.#nodes.values()];
  }

  byId(id: string): SceneNode | undefined {
    return this.#nodes.get(id);
  }

  /** Every node whose id or name matches `pattern` (exact, or glob), in scene order. */
  findNodes(pattern: string): SceneNode[] {
    if (!isGlob(pattern)) {
      const exact = this.#nodes.get(pattern);
      const byName = this.nodes().filter((n) => n.name === pattern && n !== exact);
      return exact ? [exact, ...byName] : byName;
    }
    const re = globToRegExp(pattern);
    return this.nodes().filter((n) => re.test(n.id) || re.test(n.name));
  }

  /** Slicer's `getNode`: first match by id or name (glob allowed); undefined when none. */
  getNode(pattern: string): SceneNode | undefined {
    return this.findNodes(pattern)[0];
  }

  /** The first node of `kind` whose name is exactly `name` (no id, no glob), in scene order. */
  nodeNamed<K extends SceneNode['kind']>(
    name: string,
    kind: K,
  ): Extract<SceneNode, { kind: K }> | undefined {
    return this.nodes().find((n) => n.kind === kind && n.name === name) as
      Extract<SceneNode, { kind: K }> | undefined;
  }

  /** Like `getNode`, but throws not_found, and checks the node's kind. */
  requireNode<K extends SceneNode['kind']>(
    pattern: string,
    kind: K,
    what: string = kind,
  ): Extract<SceneNode, { kind: K }> {
    const node = this.findNodes(pattern).find((n) => n.kind === kind);
    if (!node) throw notFound(`no ${what} node matches "${pattern}"`);
    return node as Extract<SceneNode, { kind: K }>;
  }

  /** Adds a node; assigns `<className><n>` unless an unused id is given. Returns the stored node. */
  add<N extends SceneNode>(node: NewNode<N>): N {
    let id = node.id;
    if (id !== undefined && this.#nodes.has(id))
      throw new AppError('conflict', `a node with id ${id} already exists`);
    if (id === undefined) {
      let n = this.#counters.get(node.className) ?? 0;
      do id = `${node.className}${++n}`;
      while (this.#nodes.has(id));
      this.#counters.set(node.className, n);
    } else {
      const m = /^(.*?)(\d+)$/.exec(id);
      if (m?.[1] === node.className)
        this.#counters.set(
          node.className,
          Math.max(this.#counters.get(node.className) ?? 0, Number(m[2])),
        );
    }
    const stored = { ...node, id } as N;
    this.#checkParent(stored);
    this.#nodes.set(id, stored);
    this.#emit('add', [id]);
    return stored;
  }

  /** Replaces a node's fields (not its id or class). Returns the updated node. */
  update<N extends SceneNode>(id: string, patch: Partial<Omit<N, 'id' | 'className' | 'kind'>>): N {
    const node = this.#nodes.get(id);
    if (!node) throw notFound(`no node with id ${id}`);
    const updated = {
      ...node,
      ...patch,
      id: node.id,
      className: node.className,
      kind: node.kind,
    } as N;
    this.#checkParent(updated);
    this.#nodes.set(id, updated);
    this.#emit('update', [id], Object.keys(patch));
    return updated;
  }

  /**
   * Replaces a node in place (same id, same position in scene order) by a node of the same kind,
   * which may have another class (e.g. a scalar volume that becomes a label map). Emits `update`.
   */
  replace<N extends SceneNode>(id: string, node: Omit<N, 'id'>): N {
    const old = this.#nodes.get(id);
    if (!old) throw notFound(`no node with id ${id}`);
    if (old.kind !== node.kind)
      throw new AppError('conflict', `${id} is a ${old.kind} node, not a ${node.kind} node`);
    const stored = { ...node, id } as N;
    this.#checkParent(stored);
    this.#nodes.set(id, stored);
    this.#emit('update', [id], Object.keys(stored));
    return stored;
  }

  /** Removes nodes; children of a removed transform move to its parent. */
  remove(ids: string[]): void {
    const gone = ids.filter((id) => this.#nodes.has(id));
    if (gone.length === 0) return;
    const changed = new Set(gone);
    for (const id of gone) {
      const node = this.#nodes.get(id)!;
      for (const child of this.#nodes.values()) {
        if (child.parentTransformID === id) {
          this.#nodes.set(child.id, { ...child, parentTransformID: node.parentTransformID });
          changed.add(child.id);
        }
      }
      this.#nodes.delete(id);
      if (id === this.#activeVolumeId) this.#activeVolumeId = undefined;
    }
    this.#emit('remove', [...changed]);
  }

  clear(): void {
    this.#nodes.clear();
    this.#counters.clear();
    this.#activeVolumeId = undefined;
    this.#emit('clear', []);
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (change: SceneChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Local RAS → world RAS for a node: the product of the linear transforms above it (nearest
   * parent applied first). Grid transforms are not linear and are reported by `nonLinearParents`.
   */
  worldFromLocal(id: string): Mat4 {
    let m: Mat4 = IDENTITY4;
    for (const t of this.#transformsAbove(id))
      if (t.kind === 'linearTransform') m = mul4(t.matrixToParent, m);
    return m;
  }

  /** Ids of grid transforms above a node (so callers can warn or resample). */
  nonLinearParents(id: string): string[] {
    return this.#transformsAbove(id)
      .filter((t) => t.kind === 'gridTransform')
      .map((t) => t.id);
  }

  /** The transform nodes above a node, nearest first (stops at a missing node or a cycle). */
  #transformsAbove(id: string): SceneNode[] {
    const out: SceneNode[] = [];
    const seen = new Set<string>();
    for (let parent = this.#nodes.get(id)?.parentTransformID; parent && !seen.has(parent);) {
      seen.add(parent);
      const t = this.#nodes.get(parent);
      if (!t) break;
      out.push(t);
      parent = t.parentTransformID;
    }
    return out;
  }

  #checkParent(node: SceneNode): void {
    const p = node.parentTransformID;
    if (p === undefined) return;
    const parent = this.#nodes.get(p);
    if (!parent || (parent.kind !== 'linearTransform' && parent.kind !== 'gridTransform')) {
      throw new AppError(
        'invalid_parameter',
        `parent transform ${p} does not exist or is not a transform`,
        { parameter: 'parentTransformID' },
      );
    }
    // Refuse cycles: walking up from the parent must not reach the node itself.
    const seen = new Set<string>();
    for (let cur: string | undefined = p; cur; cur = this.#nodes.get(cur)?.parentTransformID) {
      if (cur === node.id || seen.has(cur))
        throw new AppError(
          'invalid_parameter',
          `setting ${p} as parent of ${node.id} would make a cycle`,
          { parameter: 'parentTransformID' },
        );
      seen.add(cur);
    }
  }

  #emit(type: SceneChange['type'], ids: string[], fields?: string[]): void {
    this.#version++;
    for (const id of ids) this.#revisions.set(id, (this.#revisions.get(id) ?? 0) + 1);
    const change: SceneChange = {
      version: this.#version,
      ids,
      type,
      activeVolumeId: this.#activeVolumeId,
      ...(fields ? { fields } : {}),
    };
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        /* a listener's failure must not break the scene */
      }
    }
  }
}

export const isVolumeNode = (n: SceneNode | undefined): n is VolumeNode => n?.kind === 'volume';
export const isSegmentationNode = (n: SceneNode | undefined): n is SegmentationNode =>
  n?.kind === 'segmentation';
