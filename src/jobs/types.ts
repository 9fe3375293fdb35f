/**
 * The processing-function contract, shared by built-ins and plug-ins, and the job record.
 *
 * A function module exports `{ name, title, description, params, run }` (or an array of them, or a
 * `functions` array). `run(ctx, params)` runs in a job worker thread, never on the server's event
 * loop; it may return a value (plain JSON → `result.values`), or be an async generator whose
 * yields are progress (`0..1`, or `{progress, message}`; a progress above 1 is read as percent,
 * as VolView's examples yield 0..100) and whose return value is the result.
 *
 * Scene access goes through `ctx` (see `JobContext`): nodes that a function adds are held back
 * until the job succeeds and are then added together, named after the job; a failed or cancelled
 * job leaves the scene unchanged.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ImageVolume, Mat4 } from '../imaging/types.js';
import type { Segmentation } from '../imaging/segmentation.js';
import type { TriangleMesh } from '../imaging/mesh.js';
import type { TableColumn, TableValue, VolumeClass } from '../scene/scene.js';

/** JSON Schema (draft 2020-12 subset ajv understands). `x-node` marks a node-reference string. */
export type JsonSchema = Record<string, unknown>;

/** Node kinds a parameter may reference (`"x-node": "volume"` in a params schema). */
export type NodeRefKind = 'volume' | 'labelmap' | 'transform' | 'segmentation' | 'fiducials';

export interface FunctionInfo {
  name: string;
  title: string;
  description: string;
  /** JSON Schema of the params object. */
  params: JsonSchema;
  /** What the function produces: node kinds it adds and/or `values`. */
  outputs: string[];
  /** Whether it reports progress while it runs (async generators and built-ins do). */
  streams: boolean;
  /** `builtin` or `plugin`. */
  source: 'builtin' | 'plugin';
}

/** A function definition as written by a module author. */
export interface FunctionDefinition {
  name: string;
  title?: string;
  description?: string;
  params?: JsonSchema;
  outputs?: string[];
  streams?: boolean;
  run: (ctx: JobContext, params: Record<string, unknown>) => unknown;
}

/** A volume as a job sees it: its node facts, voxels (shared memory) and world placement. */
export interface VolumeInput {
  id: string;
  name: string;
  className: VolumeClass;
  volume: ImageVolume;
  /** Local RAS → world RAS (the linear transforms above the node). */
  worldFromLocal: Mat4;
  /** The transform node the volume sits under, if any. */
  parentTransformID?: string;
}

/** A segmentation as a job sees it (labelmap voxels shared, read-only). */
export interface SegmentationInput {
  id: string;
  name: string;
  segmentation: Segmentation;
  referenceVolumeId?: string;
  worldFromLocal: Mat4;
  parentTransformID?: string;
}

export interface NewSegmentationOutput {
  name?: string;
  segmentation: Segmentation;
  referenceVolumeId?: string;
  parentTransformID?: string;
}

export interface NewVolumeOutput {
  /** Suffix added to the job name (`median-3 smoothed`); default none. */
  name?: string;
  volume: ImageVolume;
  /** Default `vtkMRMLScalarVolumeNode` (`vtkMRMLLabelMapVolumeNode` for label maps). */
  className?: VolumeClass;
  /** Existing node id, or an id returned by an earlier `add*` of the same job. */
  parentTransformID?: string;
  window?: number;
  level?: number;
}

export interface NewTransformOutput {
  name?: string;
  /** Row-major 4×4, local RAS → parent RAS. */
  matrixToParent: Mat4;
  parentTransformID?: string;
}

export interface NewModelOutput {
  name?: string;
  /** Triangle surface in local RAS mm (under `parentTransformID`, if any). */
  mesh: TriangleMesh;
  /** Display colour 0..1 (default Slicer's model yellow). */
  color?: [number, number, number];
  parentTransformID?: string;
}

export interface NewTableOutput {
  name?: string;
  columns: TableColumn[];
  /** One array per row, one value per column (null = empty cell). */
  rows: TableValue[][];
}

/** What `run` gets. All `add*` calls are staged and applied only if the job succeeds. */
export interface JobContext {
  /** The job's id and name (`median-3`); result nodes are named after it. */
  jobId: string;
  jobName: string;
  /** Aborted when the job is cancelled or times out. */
  signal: AbortSignal;
  /**
   * Reports progress (0..1) and is the cancellation point: throws an AbortError when the job was
   * cancelled. Cheap to call often (events are coalesced).
   */
  progress(fraction: number, message?: string): void;
  /** Throws an AbortError if the job was cancelled (a progress point that reports nothing). */
  checkCancelled(): void;
  /** A volume node by id or name (default: the active volume). Voxels are shared, read-only. */
  volume(ref?: string): Promise<VolumeInput>;
  /** A segmentation node by id or name. */
  segmentation(ref: string): Promise<SegmentationInput>;
  /** Stages a new segmentation node. */
  addSegmentation(out: NewSegmentationOutput): string;
  /** Stages a new volume node; returns its id-to-be (usable as a parent in later calls). */
  addVolume(out: NewVolumeOutput): string;
  /** Stages a new linear transform node. */
  addTransform(out: NewTransformOutput): string;
  /** Stages a new model node (a closed surface, e.g. of a segment). */
  addModel(out: NewModelOutput): string;
  /** Stages a new table node (vtkMRMLTableNode): named, typed columns and rows of values. */
  addTable(out: NewTableOutput): string;
  /** Stages moving an existing node under a transform (e.g. the registered moving volume). */
  setParent(nodeId: string, parentTransformID: string | undefined): void;
  /** Writes a line to the server log (debug level). */
  log(message: string): void;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export interface JobRecord {
  id: string;
  /** `function-seq`, e.g. `median-3`; names the result nodes. */
  name: string;
  function: string;
  params: Record<string, unknown>;
  state: JobState;
  progress: number;
  message: string;
  result?: { nodeIds: string[]; values?: unknown };
  error?: { code: string; message: string };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** Staged scene changes sent from the worker with the result. */
export type StagedOp =
  | { op: 'addVolume'; tempId: string; out: NewVolumeOutput }
  | { op: 'addTransform'; tempId: string; out: NewTransformOutput }
  | { op: 'addSegmentation'; tempId: string; out: NewSegmentationOutput }
  | { op: 'addModel'; tempId: string; out: NewModelOutput }
  | { op: 'addTable'; tempId: string; out: NewTableOutput }
  | { op: 'setParent'; nodeId: string; parentTransformID?: string };

/** Worker → main messages over the job's MessagePort. */
export type WorkerMessage =
  | { type: 'started' }
  | { type: 'progress'; progress: number; message?: string }
  | { type: 'volume'; requestId: number; ref?: string }
  | { type: 'segmentation'; requestId: number; ref: string }
  | { type: 'log'; message: string };

/** Main → worker messages. */
export type MainMessage =
  | {
      type: 'volume';
      requestId: number;
      volume?: VolumeInput;
      segmentation?: SegmentationInput;
      error?: { code: string; message: string };
    }
  | { type: 'cancel' };

/** The task posted to the job worker. */
export interface WorkerTask {
  jobId: string;
  jobName: string;
  function: string;
  /** Plug-in module URL; absent for built-ins. */
  moduleUrl?: string;
  params: Record<string, unknown>;
  port: MessagePort;
  /** Int32Array(1) over shared memory: 1 = cancelled (read at every progress point). */
  cancelFlag: Int32Array;
}

/** What the worker answers: the value and staged changes, or the error the function threw. */
export interface WorkerResult {
  values?: unknown;
  staged: StagedOp[];
  error?: { code: string; message: string };
}
