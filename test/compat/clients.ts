/**
 * Requests of real Slicer WebServer clients, replayed exactly as their code builds them (method,
 * path, query encoding, headers, body), and what each client then parses. Sources read:
 * - slicerio `slicerio/server.py` (lassoan/slicerio @03d1aea) — `requests`, URLs built by hand
 *   with `urllib.request.quote(x, safe='')`; errors: `_report_error` (L61–67) compares
 *   `Content-Type == 'application/json'` before raising `RuntimeError(json["message"])`.
 * - slicer-cli `src/slicer_cli/client/*` (Lightbridge-KS/slicer-cli) — httpx with `params=`
 *   (urlencoded), `_request` raises on status ≥ 400, pydantic models for replies.
 * - mcp-slicer `src/mcp_slicer/mcp_server.py` (zhaoyouj/mcp-slicer) — `requests` with `params=`.
 * - slicer-agent-engine `slicer_agent_engine/slicer_client.py` (JakobShen/slicer-agent-engine),
 *   an LLM agent bridge — `requests.request(..., params=, data=, json=)`, raises on status ≥ 400.
 * - Slicer's docroot pages (`index.html`, `ServerTests/timecube.html`, `threeDCube.html`,
 *   `threejs.html`, `modelviewer.html`) and the
 *   user guide (`Docs/user_guide/modules/webserver.md`).
 * Each call's `parse` throws when the client would fail on the reply.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { segmentationFromLabelmap } from '../../src/imaging/segmentation.js';
import { allocShared } from '../../src/imaging/types.js';
import { putModel } from '../../src/scene/models.js';
import { createSegmentation } from '../../src/scene/segmentations.js';
import type { AppContext } from '../../src/server/context.js';

export interface Env {
  ctx: AppContext;
  /** Folder allowed by --import-root, holding head.nrrd and F.mrk.json. */
  importRoot: string;
  /** Folder allowed by --export-root. */
  exportRoot: string;
  /** Origin of the local file server allowed by --import-url. */
  fileOrigin: string;
  /** A study in the archive (from the built-in DICOM samples). */
  study: { study: string; series: string; instance: string };
  /** Ids of the fixture nodes (arranged before every call). */
  ids: { head: string; chest: string; fiducials: string; transform: string };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface ReplayCall {
  /** Client, file:line or function, and the statement that sends the request. */
  title: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query exactly as the client builds them. */
  target: (env: Env) => string;
  headers?: Record<string, string>;
  body?: (env: Env) => string | Buffer;
  /** The body is Python for /slicer/exec: the clear 400 is the expected answer. */
  python?: true;
  /** Extra state this call needs beyond the fixture (runs after the fixture is arranged). */
  arrange?: (env: Env) => Promise<void> | void;
  /** What the client parses; throws where the client would fail. */
  parse: (r: Reply, env: Env) => void | Promise<void>;
}

/** Python's `urllib.request.quote(s, safe='')`. */
export const pyQuote = (s: string) =>
  Array.from(Buffer.from(s, 'utf8'))
    .map((b) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

/** `params=` of requests/httpx: `urlencode` (quote_plus: space → +). */
export const urlencode = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([k, v]) => `${pyQuote(k).replace(/%20/g, '+')}=${pyQuote(v).replace(/%20/g, '+')}`)
    .join('&');

const json = (r: Reply): unknown => JSON.parse(r.body.toString('utf8'));

/** requests' `response.raise_for_status()` / httpx status check / slicerio `_report_error`. */
function ok(r: Reply): void {
  assert.ok(
    r.status < 400,
    `HTTP ${r.status} ${r.headers.get('content-type')}: ${r.body.toString().slice(0, 300)}`,
  );
}

/** slicerio `_report_error` (server.py L61–67): the message is only read for exactly application/json. */
function slicerioError(r: Reply): string {
  assert.ok(r.status >= 400);
  assert.equal(r.headers.get('content-type'), 'application/json');
  const body = json(r) as { message?: string };
  assert.equal(typeof body.message, 'string');
  return body.message!;
}

/** slicer-cli `validate_png`: PNG magic and IHDR width/height > 0. */
export function pngSize(r: Reply): [number, number] {
  ok(r);
  assert.ok(
    r.body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
    `not a PNG (content-type ${r.headers.get('content-type')})`,
  );
  const w = r.body.readUInt32BE(16);
  const h = r.body.readUInt32BE(20);
  assert.ok(w > 0 && h > 0);
  return [w, h];
}

const isPng = (r: Reply) => {
  pngSize(r);
  assert.equal(r.headers.get('content-type'), 'image/png');
};

/** NRRD magic and a header that ends with a blank line. */
function isNrrd(r: Reply): string {
  ok(r);
  const head = r.body.subarray(0, 4096).toString('latin1');
  assert.match(head, /^NRRD000\d\n/);
  assert.match(head, /\nsizes: \d+ \d+ \d+\n/);
  return head;
}

/** slicer-cli `_http_error_message` / mcp-slicer: a 400 whose JSON message explains exec is JavaScript. */
function pythonRefused(r: Reply): void {
  assert.equal(r.status, 400, r.body.toString());
  assert.equal(r.headers.get('content-type'), 'application/json');
  const body = json(r) as { success: boolean; message: string };
  assert.equal(body.success, false);
  assert.match(body.message, /JavaScript, not Python/);
  assert.match(body.message, /docs\//);
}

/** A model in the scene: a closed box (±20 mm, 8 vertices, 12 triangles), for glTF calls. */
function arrangeModel(env: Env): string {
  const positions = new Float32Array(24);
  for (let i = 0; i < 8; i++)
    positions.set([i & 1 ? 20 : -20, i & 2 ? 20 : -20, i & 4 ? 20 : -20], i * 3);
  // prettier-ignore
  const indices = Uint32Array.from([0,2,1, 1,2,3, 4,5,6, 5,7,6, 0,1,4, 1,5,4, 2,6,3, 3,6,7, 0,4,2, 2,4,6, 1,3,5, 3,7,5]);
  return putModel(env.ctx.scene, {
    name: 'Box',
    mesh: { positions, indices },
    display: { color: [0.9, 0.3, 0.2] },
  }).node.id;
}

/** A segmentation with two segments (label values 1 and 2 in an 8×8×8 uint8 labelmap). */
function arrangeSegmentation(env: Env): string {
  const data = allocShared('uint8', 512);
  for (let p = 0; p < 512; p++) data[p] = p % 8 < 4 ? 1 : 2;
  return createSegmentation(env.ctx.scene, {
    name: 'Seg',
    segmentation: segmentationFromLabelmap({
      scalarType: 'uint8',
      components: 1,
      dimensions: [8, 8, 8],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data,
    }),
  }).id;
}

/** A glTF 2.0 JSON reply with embedded buffers holding the arranged box (one node under the root). */
function isGltfWithBox(r: Reply): void {
  ok(r);
  assert.equal(r.headers.get('content-type'), 'application/json');
  const g = json(r) as {
    asset: { version: string };
    scenes: Array<{ nodes: number[] }>;
    nodes: Array<{ name?: string; children?: number[]; mesh?: number }>;
    buffers: Array<{ uri: string }>;
  };
  assert.equal(g.asset.version, '2.0');
  assert.ok(g.buffers.every((b) => b.uri.startsWith('data:')));
  // threejs.html reads gltf.scene.children[0].children: the surfaces under one root node.
  const root = g.nodes[g.scenes[0]!.nodes[0]!]!;
  const meshes = (root.children ?? []).map((i) => g.nodes[i]!).filter((n) => n.mesh !== undefined);
  assert.deepEqual(
    meshes.map((n) => n.name),
    ['Box'],
  );
}

const PY_SLICERIO = 'slicerio';
const CLI = 'slicer-cli';
const MCP = 'mcp-slicer';
const AGENT = 'slicer-agent-engine slicer_client.py';

export const CALLS: ReplayCall[] = [
  // ------------------------------------------------------------------ slicerio server.py
  {
    title: `${PY_SLICERIO} server.py:42 is_server_running(): requests.get(".../slicer/system/version", timeout=3)`,
    method: 'GET',
    target: () => '/slicer/system/version',
    parse: (r) => assert.ok('applicationName' in (json(r) as object)),
  },
  {
    title: `${PY_SLICERIO} server.py:114 node_names(): requests.get(".../slicer/mrml/names")`,
    method: 'GET',
    target: () => '/slicer/mrml/names',
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as string[]).includes('MRHead'));
    },
  },
  {
    title: `${PY_SLICERIO} server.py:114 node_names(name="MRHead"): ".../slicer/mrml/names?name=" + quote(name)`,
    method: 'GET',
    target: () => `/slicer/mrml/names?name=${pyQuote('MRHead')}`,
    parse: (r) => {
      ok(r);
      assert.deepEqual(json(r), ['MRHead']);
    },
  },
  {
    title: `${PY_SLICERIO} server.py:102 node_ids(class_name="vtkMRMLScalarVolumeNode")`,
    method: 'GET',
    target: () => `/slicer/mrml/ids?class=${pyQuote('vtkMRMLScalarVolumeNode')}`,
    parse: (r, env) => {
      ok(r);
      const ids = json(r) as string[];
      assert.ok(ids.includes(env.ids.head) && ids.includes(env.ids.chest));
    },
  },
  {
    title: `${PY_SLICERIO} server.py:88 node_properties(name="MRHead"): [response_json[key] for key in response_json]`,
    method: 'GET',
    target: () => `/slicer/mrml/properties?name=${pyQuote('MRHead')}`,
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<string, Record<string, unknown>>;
      const props = Object.keys(d).map((k) => d[k]!);
      assert.equal(props.length, 1);
      const p = props[0]!;
      assert.equal(p.ID, env.ids.head);
      assert.equal(p.ClassName, 'vtkMRMLScalarVolumeNode');
      assert.equal(p.Name, 'MRHead');
      assert.deepEqual((p.ImageData as { Extent: number[] }).Extent, [0, 23, 0, 19, 0, 15]);
      assert.deepEqual(p.Spacing, [1.5, 1.5, 2]);
    },
  },
  {
    title: `${PY_SLICERIO} server.py:64 _report_error(): node_properties(name="nope") raises RuntimeError(json["message"])`,
    method: 'GET',
    target: () => `/slicer/mrml/properties?name=${pyQuote('nope')}`,
    parse: (r) => assert.match(slicerioError(r), /No nodes matched/),
  },
  {
    title: `${PY_SLICERIO} server.py:173 file_load(path): requests.post(".../slicer/mrml?localfile=" + quote(path) + "&filetype=VolumeFile")`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?localfile=${pyQuote(`${env.importRoot}/head.nrrd`)}&filetype=VolumeFile`,
    parse: (r, env) => {
      ok(r);
      const ids = (json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs;
      assert.equal(ids.length, 1);
      assert.equal(env.ctx.scene.byId(ids[0]!)?.name, 'head');
    },
  },
  {
    title: `${PY_SLICERIO} server.py:169 file_load(path, properties={"name": "Loaded head"}): "&name=" + quote(value)`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?localfile=${pyQuote(`${env.importRoot}/head.nrrd`)}&filetype=VolumeFile&name=${pyQuote('Loaded head')}`,
    parse: (r, env) => {
      ok(r);
      const ids = (json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs;
      assert.equal(env.ctx.scene.byId(ids[0]!)?.name, 'Loaded head');
    },
  },
  {
    title: `${PY_SLICERIO} server.py:173 file_load(path, file_type="MarkupsFile")`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?localfile=${pyQuote(`${env.importRoot}/F.mrk.json`)}&filetype=MarkupsFile`,
    parse: (r, env) => {
      ok(r);
      const ids = (json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs;
      const n = env.ctx.scene.byId(ids[0]!);
      assert.equal(n?.kind === 'fiducials' && n.points.length, 2);
    },
  },
  {
    title: `${PY_SLICERIO} server.py:164 file_load("http://…/head.nrrd"): path_type 'url' → ".../slicer/mrml?url=" + quote(url)`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?url=${pyQuote(`${env.fileOrigin}/data/head.nrrd`)}&filetype=VolumeFile`,
    parse: (r, env) => {
      ok(r);
      const ids = (json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs;
      const n = env.ctx.scene.byId(ids[0]!);
      assert.equal(n?.name, 'head');
      assert.deepEqual(n?.kind === 'volume' && n.volume.dimensions, [24, 20, 16]);
    },
  },
  {
    title: `${PY_SLICERIO} server.py:164 file_load(path, file_type="SegmentationFile") → a segmentation node (a plain label-map NRRD becomes one segment per value)`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?localfile=${pyQuote(`${env.importRoot}/head.nrrd`)}&filetype=SegmentationFile`,
    parse: (r, env) => {
      ok(r);
      const ids = (json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs;
      assert.equal(ids.length, 1);
      assert.equal(env.ctx.scene.byId(ids[0]!)?.kind, 'segmentation');
    },
  },
  {
    title: `${PY_SLICERIO} server.py:159 file_load("slicer://viewer/?studyUID=…&dicomweb_endpoint=<this server>/dicom"): ".../slicer/open?url=" + quote(url)`,
    method: 'POST',
    target: (env) => {
      const endpoint = `${env.ctx.boundUrl!.replace(/\/$/, '')}/dicom`;
      const url = `slicer://viewer/?studyUID=${env.study.study}&dicomweb_endpoint=${encodeURIComponent(endpoint)}&bulk_retrieve=0`;
      return `/slicer/open?url=${pyQuote(url)}`;
    },
    parse: (r) => {
      ok(r);
      const body = json(r) as { loadedNodeIDs?: string[] };
      assert.ok((body.loadedNodeIDs ?? []).length >= 1);
    },
  },
  {
    title: `${PY_SLICERIO} server.py:134 file_save(path, name="MRHead", properties={"useCompression": 0}): requests.get(".../slicer/mrml/file?localfile=…&name=…&useCompression=0")`,
    method: 'GET',
    target: (env) =>
      `/slicer/mrml/file?localfile=${pyQuote(`${env.exportRoot}/saved.nrrd`)}&name=${pyQuote('MRHead')}&useCompression=0`,
    parse: (r, env) => {
      ok(r);
      const saved = readFileSync(`${env.exportRoot}/saved.nrrd`).toString('latin1', 0, 400);
      assert.match(saved, /sizes: 24 20 16/);
      assert.match(saved, /encoding: raw/);
    },
  },
  {
    title: `${PY_SLICERIO} server.py:77 node_remove(name="MRHead"): requests.delete(".../slicer/mrml?name=MRHead")`,
    method: 'DELETE',
    target: () => `/slicer/mrml?name=${pyQuote('MRHead')}`,
    parse: (r, env) => {
      ok(r);
      assert.equal(
        env.ctx.scene.nodes().some((n) => n.name === 'MRHead'),
        false,
      );
    },
  },
  {
    title: `${PY_SLICERIO} server.py:77 node_remove(): requests.delete(".../slicer/mrml") clears the scene`,
    method: 'DELETE',
    target: () => '/slicer/mrml',
    parse: (r, env) => {
      ok(r);
      assert.equal(env.ctx.scene.nodes().length, 0);
    },
  },

  // ------------------------------------------------------------------ slicer-cli
  {
    title: `${CLI} client/system.py system_version(): GET /slicer/system/version → SystemVersion`,
    method: 'GET',
    target: () => '/slicer/system/version',
    parse: (r) => {
      ok(r);
      const v = json(r) as Record<string, unknown>;
      assert.equal(typeof v.applicationName, 'string');
      assert.equal(typeof v.applicationVersion, 'string');
      assert.equal(typeof v.majorVersion, 'number');
      assert.equal(typeof v.minorVersion, 'number');
    },
  },
  {
    title: `${CLI} client/volume.py list_volumes(): GET /slicer/volumes → [{id, name}]`,
    method: 'GET',
    target: () => '/slicer/volumes',
    parse: (r) => {
      ok(r);
      const list = json(r) as Array<{ id: unknown; name: unknown }>;
      assert.ok(list.length >= 2);
      for (const v of list) assert.ok(typeof v.id === 'string' && typeof v.name === 'string');
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py list_node_ids(class_=…): GET /slicer/mrml/ids params={"class": …}`,
    method: 'GET',
    target: () => `/slicer/mrml/ids?${urlencode({ class: 'vtkMRMLScalarVolumeNode' })}`,
    parse: (r) => {
      ok(r);
      const ids = json(r) as unknown[];
      assert.ok(ids.length >= 2 && ids.every((x) => typeof x === 'string'));
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py list_node_names(name=…): GET /slicer/mrml/names params={"name": …}`,
    method: 'GET',
    target: () => `/slicer/mrml/names?${urlencode({ name: 'CTChest' })}`,
    parse: (r) => {
      ok(r);
      assert.deepEqual(json(r), ['CTChest']);
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py get_node_properties(id): data[node_id] must be a dict`,
    method: 'GET',
    target: (env) => `/slicer/mrml/properties?${urlencode({ id: env.ids.fiducials })}`,
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<string, Record<string, unknown>>;
      assert.equal(typeof d[env.ids.fiducials], 'object');
      assert.equal(d[env.ids.fiducials]!.ClassName, 'vtkMRMLMarkupsFiducialNode');
    },
  },
  {
    title: `${CLI} client/sample.py load_sample("MRHead"): GET /slicer/sampledata params={"name": …} → response.text`,
    method: 'GET',
    target: () => `/slicer/sampledata?${urlencode({ name: 'MRHead' })}`,
    parse: (r) => {
      ok(r);
      assert.match(r.body.toString(), /Sample data MRHead loaded/);
    },
  },
  {
    title: `${CLI} client/sample.py load_sample("CTACardio"): a Slicer sample name, built-in stand-in`,
    method: 'GET',
    target: () => `/slicer/sampledata?${urlencode({ name: 'CTACardio' })}`,
    parse: (r, env) => {
      ok(r);
      assert.match(
        r.body.toString(),
        /Sample data CTACardio loaded \(built-in stand-in: CTHeadPhantom/,
      );
      assert.ok(env.ctx.scene.nodes().some((n) => n.name === 'CTACardio'));
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py load_file(filetype, localfile): POST /slicer/mrml params={"filetype", "localfile"} → LoadResult`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?${urlencode({ filetype: 'VolumeFile', localfile: `${env.importRoot}/head.nrrd` })}`,
    parse: (r) => {
      ok(r);
      const b = json(r) as { success: boolean; loadedNodeIDs: string[] };
      assert.equal(b.success, true);
      assert.equal(b.loadedNodeIDs.length, 1);
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py load_file(filetype="TransformFile", localfile=….tfm)`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?${urlencode({ filetype: 'TransformFile', localfile: `${env.importRoot}/shift.tfm` })}`,
    parse: (r, env) => {
      ok(r);
      const ids = (json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs;
      const n = env.ctx.scene.byId(ids[0]!);
      assert.equal(n?.kind, 'linearTransform');
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py load_file(filetype, url): POST /slicer/mrml params={"filetype", "url"}`,
    method: 'POST',
    target: (env) =>
      `/slicer/mrml?${urlencode({ filetype: 'MarkupsFile', url: `${env.fileOrigin}/data/F.mrk.json` })}`,
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { success: boolean }).success, true);
    },
  },
  {
    title: `${CLI} client/volume.py download_volume(id): GET /slicer/volume params={"id": …} → NRRD bytes`,
    method: 'GET',
    target: (env) => `/slicer/volume?${urlencode({ id: env.ids.chest })}`,
    parse: (r) => assert.match(isNrrd(r), /sizes: 24 20 16/),
  },
  {
    title: `${CLI} client/mrml/mixin.py save_node_to_file(id, localfile, use_compression=True): GET /slicer/mrml/file`,
    method: 'GET',
    target: (env) =>
      `/slicer/mrml/file?${urlencode({ id: env.ids.head, localfile: `${env.exportRoot}/head-cli.nrrd`, useCompression: 'true' })}`,
    parse: (r, env) => {
      ok(r);
      assert.equal(typeof json(r), 'object');
      assert.match(
        readFileSync(`${env.exportRoot}/head-cli.nrrd`).toString('latin1', 0, 400),
        /encoding: gzip/,
      );
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py save_node_to_file(id, localfile outside --export-root) → HTTP 403 with the reason`,
    method: 'GET',
    target: (env) =>
      `/slicer/mrml/file?${urlencode({ id: env.ids.head, localfile: '/tmp/outside-export-root.nrrd', useCompression: 'true' })}`,
    parse: (r) => {
      assert.equal(r.status, 403);
      assert.match((json(r) as { message: string }).message, /--export-root/);
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py reload_node(id): PUT /slicer/mrml params={"id": …} → {"success": true, "reloadedNodeIDs"}`,
    method: 'PUT',
    arrange: async (env) => {
      const { fileTypeNamed, loadFile } = await import('../../src/scene/file-types.js');
      const [n] = await loadFile(fileTypeNamed('VolumeFile'), {
        scene: env.ctx.scene,
        file: `${env.importRoot}/head.nrrd`,
        props: { name: 'fromFile' },
        maxBytes: 1 << 30,
        maxJsonBytes: 1 << 20,
      });
      if (n?.kind === 'volume') n.volume.data[0] = 12345; // edited in memory, not on disk
    },
    target: (env) =>
      `/slicer/mrml?${urlencode({ id: env.ctx.scene.findNodes('fromFile')[0]!.id })}`,
    parse: (r, env) => {
      ok(r);
      const b = json(r) as { success: boolean; reloadedNodeIDs: string[] };
      assert.equal(b.success, true);
      const n = env.ctx.scene.byId(b.reloadedNodeIDs[0]!);
      assert.equal(n?.kind === 'volume' && n.volume.data[0], 0, 'the file content is back');
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py delete_node(id): DELETE /slicer/mrml params={"id": …} → DeleteResult`,
    method: 'DELETE',
    target: (env) => `/slicer/mrml?${urlencode({ id: env.ids.transform })}`,
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { success: boolean }).success, true);
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py clear_scene(): DELETE /slicer/mrml → DeleteResult`,
    method: 'DELETE',
    target: () => '/slicer/mrml',
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { success: boolean }).success, true);
    },
  },
  {
    title: `${CLI} client/render.py render_slice(view, orientation, offset, scroll_to, size): GET /slicer/slice → validate_png`,
    method: 'GET',
    target: () =>
      `/slicer/slice?${urlencode({ view: 'yellow', orientation: 'sagittal', scrollTo: '0.5', size: '64' })}`,
    parse: (r) => assert.deepEqual(pngSize(r), [64, 64]),
  },
  {
    title: `${CLI} client/render.py render_slice(offset=…): offset as str(float)`,
    method: 'GET',
    target: () => `/slicer/slice?${urlencode({ view: 'red', offset: '2.0' })}`,
    parse: isPng,
  },
  {
    title: `${CLI} client/render.py render_threed(look_from_axis="L"): GET /slicer/threeD params={"lookFromAxis": "L"} → validate_png`,
    method: 'GET',
    target: () => `/slicer/threeD?${urlencode({ lookFromAxis: 'L' })}`,
    parse: isPng,
  },
  {
    title: `${CLI} client/render.py screenshot(): GET /slicer/screenshot → validate_png`,
    method: 'GET',
    target: () => '/slicer/screenshot',
    parse: isPng,
  },
  {
    title: `${CLI} client/markup/mixin.py list_fiducials(): GET /slicer/fiducials → {id: {name, color, scale, markups[{label, position}]}}`,
    method: 'GET',
    target: () => '/slicer/fiducials',
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<
        string,
        { name: string; color: number[]; scale: number; markups: Array<{ position: number[] }> }
      >;
      const f = d[env.ids.fiducials]!;
      assert.equal(f.name, 'F');
      assert.equal(f.color.length, 3);
      assert.equal(typeof f.scale, 'number');
      assert.deepEqual(f.markups[1]!.position, [4, 5, 6]);
    },
  },
  {
    title: `${CLI} client/markup/mixin.py set_fiducial_position(id, index, r, a, s): PUT /slicer/fiducial (f"{r:g}")`,
    method: 'PUT',
    target: (env) =>
      `/slicer/fiducial?${urlencode({ id: env.ids.fiducials, index: '1', r: '-7.5', a: '0', s: '12' })}`,
    parse: (r, env) => {
      ok(r);
      assert.equal(typeof json(r), 'object');
      const n = env.ctx.scene.byId(env.ids.fiducials);
      assert.deepEqual(n?.kind === 'fiducials' && n.points[1]!.position, [-7.5, 0, 12]);
    },
  },
  {
    title: `${CLI} client/render.py render_gltf(): GET /slicer/threeDGraphics params={"widgetIndex": "0", "boxVisible": "false"} → validate_binary(min_bytes=1024)`,
    method: 'GET',
    target: () => `/slicer/threeDGraphics?${urlencode({ widgetIndex: '0', boxVisible: 'false' })}`,
    arrange: (env) => void arrangeModel(env),
    parse: (r) => {
      isGltfWithBox(r);
      assert.ok(r.body.length >= 1024, `${r.body.length} bytes`);
    },
  },
  {
    title: `${CLI} client/render.py render_gltf(widget_index=0, box_visible=True): boxVisible "true"`,
    method: 'GET',
    target: () => `/slicer/threeDGraphics?${urlencode({ widgetIndex: '0', boxVisible: 'true' })}`,
    arrange: (env) => void arrangeModel(env),
    parse: (r) => {
      ok(r);
      assert.ok(r.body.length >= 1024, `${r.body.length} bytes`);
      assert.equal((json(r) as { asset: { version: string } }).asset.version, '2.0');
    },
  },
  {
    title: `${CLI} client/markup/mixin.py list_segmentations(): GET /slicer/segmentations → {id: {name, segmentIDs}} (_normalize_dict, _segmentation_from_blob)`,
    method: 'GET',
    target: () => '/slicer/segmentations',
    arrange: (env) => void arrangeSegmentation(env),
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<string, { name: string; segmentIDs: string[] }>;
      // _normalize_dict: an object of objects.
      assert.ok(d && typeof d === 'object' && !Array.isArray(d));
      const ids = Object.keys(d);
      assert.equal(ids.length, 1);
      const node = env.ctx.scene.byId(ids[0]!);
      assert.equal(node?.kind, 'segmentation');
      assert.equal(d[ids[0]!]!.name, 'Seg');
      assert.deepEqual(d[ids[0]!]!.segmentIDs.length, 2);
      assert.ok(d[ids[0]!]!.segmentIDs.every((x) => typeof x === 'string'));
    },
  },
  {
    title: `${CLI} client/markup/mixin.py list_segmentations() on a scene without segmentations → {} (an empty list)`,
    method: 'GET',
    target: () => '/slicer/segmentations',
    parse: (r) => {
      ok(r);
      assert.deepEqual(json(r), {});
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py list_studies(patient_id, limit, offset): GET /dicom/studies params`,
    method: 'GET',
    target: () => `/dicom/studies?${urlencode({ limit: '10', offset: '0' })}`,
    parse: (r, env) => {
      ok(r);
      const rows = json(r) as Array<Record<string, { Value?: unknown[] }>>;
      assert.ok(rows.some((x) => x['0020000D']?.Value?.[0] === env.study.study));
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py list_series(study): GET /dicom/studies/{S}/series`,
    method: 'GET',
    target: (env) => `/dicom/studies/${env.study.study}/series`,
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as unknown[]).length >= 1);
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py list_instances(study, series): GET …/series/{R}/instances`,
    method: 'GET',
    target: (env) => `/dicom/studies/${env.study.study}/series/${env.study.series}/instances`,
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as unknown[]).length >= 1);
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py download_instance(): GET …/instances/{I} → response.content`,
    method: 'GET',
    target: (env) =>
      `/dicom/studies/${env.study.study}/series/${env.study.series}/instances/${env.study.instance}`,
    parse: (r) => {
      ok(r);
      assert.ok(r.body.includes(Buffer.from('DICM')));
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py get_study_metadata(): GET /dicom/studies/{S}/metadata → list of dicts`,
    method: 'GET',
    target: (env) => `/dicom/studies/${env.study.study}/metadata`,
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as unknown[]).every((x) => typeof x === 'object'));
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py get_series_metadata(): GET …/series/{R}/metadata`,
    method: 'GET',
    target: (env) => `/dicom/studies/${env.study.study}/series/${env.study.series}/metadata`,
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as unknown[]).length >= 1);
    },
  },
  {
    title: `${CLI} client/dicom/mixin.py get_instance_metadata(): GET …/instances/{I}/metadata`,
    method: 'GET',
    target: (env) =>
      `/dicom/studies/${env.study.study}/series/${env.study.series}/instances/${env.study.instance}/metadata`,
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as unknown[]).length, 1);
    },
  },
  {
    title: `${CLI} client/mrml/mixin.py save_scene(path): _post_exec(b"import slicer\\nsaved = slicer.util.saveScene(…)") → Python refused`,
    method: 'POST',
    python: true,
    target: () => '/slicer/exec',
    body: () =>
      "import slicer\nsaved = slicer.util.saveScene('/tmp/scene.mrb')\n__execResult = {'saved': bool(saved), 'path': '/tmp/scene.mrb'}\n",
    parse: pythonRefused,
  },
  {
    title: `${CLI} client/dicom/mixin.py pull_from_dicomweb(): _post_exec("from DICOMLib import DICOMUtils …") → Python refused`,
    method: 'POST',
    python: true,
    target: () => '/slicer/exec',
    body: () =>
      "from DICOMLib import DICOMUtils\n_token = ''\nloaded = DICOMUtils.importFromDICOMWeb(\n    dicomWebEndpoint='http://localhost:8042/dicom-web',\n    studyInstanceUID='1.2.3',\n    accessToken=(_token if _token else None),\n)\n__execResult = {\n    'imported_count': len(loaded or []),\n}\n",
    parse: pythonRefused,
  },

  // ------------------------------------------------------------------ mcp-slicer mcp_server.py
  {
    title: `${MCP} mcp_server.py list_nodes(filter_type="names"): requests.get(".../mrml/names", params={})`,
    method: 'GET',
    target: () => '/slicer/mrml/names',
    parse: (r) => {
      ok(r);
      assert.ok(Array.isArray(json(r)));
    },
  },
  {
    title: `${MCP} mcp_server.py list_nodes(filter_type="ids", class_name="vtkMRMLMarkupsFiducialNode")`,
    method: 'GET',
    target: () => `/slicer/mrml/ids?${urlencode({ class: 'vtkMRMLMarkupsFiducialNode' })}`,
    parse: (r, env) => {
      ok(r);
      assert.deepEqual(json(r), [env.ids.fiducials]);
    },
  },
  {
    title: `${MCP} mcp_server.py list_nodes(filter_type="properties", name="CTChest")`,
    method: 'GET',
    target: () => `/slicer/mrml/properties?${urlencode({ name: 'CTChest' })}`,
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<string, { Name: string }>;
      assert.equal(d[env.ids.chest]!.Name, 'CTChest');
    },
  },
  {
    title: `${MCP} mcp_server.py execute_python_code(code): requests.post(".../exec", data=code, headers={"Content-Type": "text/plain"}) → {"success": False, "message"}`,
    method: 'POST',
    python: true,
    headers: { 'Content-Type': 'text/plain' },
    target: () => '/slicer/exec',
    body: () => '__execResult = len(slicer.mrmlScene.GetNodes())',
    parse: pythonRefused,
  },
  {
    title: `${MCP} mcp_server.py capture_screenshot("application"): GET /slicer/screenshot, Content-Type startswith image/`,
    method: 'GET',
    target: () => '/slicer/screenshot',
    parse: (r) => {
      ok(r);
      assert.ok(r.headers.get('content-type')!.startsWith('image/'));
    },
  },
  {
    title: `${MCP} mcp_server.py capture_screenshot("3d", camera_axis="a"): GET /slicer/threeD params={"lookFromAxis": "A"} → PIL opens it`,
    method: 'GET',
    target: () => `/slicer/threeD?${urlencode({ lookFromAxis: 'A' })}`,
    parse: isPng,
  },
  {
    title: `${MCP} mcp_server.py capture_screenshot("slice", "red"): execute_python_code(slice grab script) → Python refused`,
    method: 'POST',
    python: true,
    headers: { 'Content-Type': 'text/plain' },
    target: () => '/slicer/exec',
    body: () =>
      '\nimport qt\nimport base64\nimport json\n\ntry:\n    layoutManager = slicer.app.layoutManager()\n    sliceWidget = layoutManager.sliceWidget(\'Red\')\nexcept Exception as e:\n    __execResult = json.dumps({"error": str(e)})\n',
    parse: pythonRefused,
  },

  // ------------------------------------------------------------------ slicer-agent-engine (an LLM agent bridge)
  {
    title: `${AGENT} get_system_version(): GET /slicer/system/version, expect application/json`,
    method: 'GET',
    target: () => '/slicer/system/version',
    parse: (r) => {
      ok(r);
      assert.ok((r.headers.get('content-type') ?? '').includes('application/json'));
      assert.equal(typeof (json(r) as { applicationName: string }).applicationName, 'string');
    },
  },
  {
    title: `${AGENT} get_slice_png(view="axial"): GET /slicer/slice params={"view": "red", "orientation": "axial", "scrollTo": "0.5", "size": "512"}`,
    method: 'GET',
    target: () =>
      `/slicer/slice?${urlencode({ view: 'red', orientation: 'axial', scrollTo: '0.5', size: '512' })}`,
    parse: (r) => assert.deepEqual(pngSize(r), [512, 512]),
  },
  {
    title: `${AGENT} get_slice_png(view="sagittal", offset=3): … "offset": str(float(offset))`,
    method: 'GET',
    target: () =>
      `/slicer/slice?${urlencode({ view: 'yellow', orientation: 'sagittal', scrollTo: '0.5', size: '64', offset: '3.0' })}`,
    parse: isPng,
  },
  {
    title: `${AGENT} get_screenshot_png(): GET /slicer/screenshot, expect image/png`,
    method: 'GET',
    target: () => '/slicer/screenshot',
    parse: isPng,
  },
  {
    title: `${AGENT} get_threeD_png(look_from_axis="posterior"): GET /slicer/threeD params={"lookFromAxis": …}`,
    method: 'GET',
    target: () => `/slicer/threeD?${urlencode({ lookFromAxis: 'posterior' })}`,
    parse: isPng,
  },
  {
    title: `${AGENT} get_timeimage_png(color="pink"): GET /slicer/timeimage params={"color": "pink"} (its default)`,
    method: 'GET',
    target: () => `/slicer/timeimage?${urlencode({ color: 'pink' })}`,
    parse: (r) => assert.deepEqual(pngSize(r), [128, 32]),
  },
  {
    title: `${AGENT} put_gui(contents="viewers", viewers_layout="FourUp"): PUT /slicer/gui json={…} (Slicer reads only the query)`,
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    target: () => '/slicer/gui',
    body: () => JSON.stringify({ contents: 'viewers', viewersLayout: 'FourUp' }),
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { success: boolean }).success, true);
    },
  },
  {
    title: `${AGENT} mrml_list_nodes(classname=…): GET /slicer/mrml params={"classname": …} (ignored, as Slicer)`,
    method: 'GET',
    target: () => `/slicer/mrml?${urlencode({ classname: 'vtkMRMLScalarVolumeNode' })}`,
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as string[]).includes('F'));
    },
  },
  {
    title: `${AGENT} mrml_ids(): GET /slicer/mrml/ids`,
    method: 'GET',
    target: () => '/slicer/mrml/ids',
    parse: (r, env) => {
      ok(r);
      assert.ok((json(r) as string[]).includes(env.ids.transform));
    },
  },
  {
    title: `${AGENT} mrml_properties(node_id): GET /slicer/mrml/properties params={"id": …}`,
    method: 'GET',
    target: (env) => `/slicer/mrml/properties?${urlencode({ id: env.ids.transform })}`,
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<string, { ClassName: string }>;
      assert.equal(d[env.ids.transform]!.ClassName, 'vtkMRMLLinearTransformNode');
    },
  },
  {
    title: `${AGENT} mrml_set_properties(node_id, {…}): PUT /slicer/mrml params={"id"} json={…} → resp.json()`,
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    target: (env) => `/slicer/mrml?${urlencode({ id: env.ids.head })}`,
    body: () => JSON.stringify({ Name: 'renamed' }),
    parse: (r) => {
      ok(r);
      // as Slicer: PUT reloads from the storage file; a node without one → {"success": false}
      assert.equal((json(r) as { success: boolean }).success, false);
    },
  },
  {
    title: `${AGENT} mrml_file_get(node_id, file_name): GET /slicer/mrml/file params={"id", "fileName"}`,
    method: 'GET',
    target: (env) =>
      `/slicer/mrml/file?${urlencode({ id: env.ids.fiducials, fileName: `${env.exportRoot}/F.mrk.json` })}`,
    parse: (r, env) => {
      ok(r);
      const doc = JSON.parse(readFileSync(`${env.exportRoot}/F.mrk.json`, 'utf8'));
      assert.equal(doc.markups[0].controlPoints.length, 2);
    },
  },
  {
    title: `${AGENT} mrml_file_post(file_name): POST /slicer/mrml/file params={"fileName"} (no filetype: from the name)`,
    method: 'POST',
    target: (env) => `/slicer/mrml/file?${urlencode({ fileName: `${env.importRoot}/F.mrk.json` })}`,
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { loadedNodeIDs: string[] }).loadedNodeIDs.length, 1);
    },
  },
  {
    title: `${AGENT} mrml_file_delete(node_id, file_name): DELETE /slicer/mrml/file params={"id", "fileName"}`,
    method: 'DELETE',
    target: (env) =>
      `/slicer/mrml/file?${urlencode({ id: env.ids.fiducials, fileName: 'F.mrk.json' })}`,
    parse: (r, env) => {
      ok(r);
      assert.equal(env.ctx.scene.byId(env.ids.fiducials), undefined);
    },
  },
  {
    title: `${AGENT} list_volumes(): GET /slicer/volumes`,
    method: 'GET',
    target: () => '/slicer/volumes',
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as unknown[]).length, 2);
    },
  },
  {
    title: `${AGENT} volume_selection(cmd="next"): GET /slicer/volumeSelection params={"cmd"} → resp.json()`,
    method: 'GET',
    target: () => `/slicer/volumeSelection?${urlencode({ cmd: 'next' })}`,
    parse: (r, env) => {
      ok(r);
      assert.equal(typeof json(r), 'object');
      assert.equal(env.ctx.scene.activeVolumeId, env.ids.chest);
    },
  },
  {
    title: `${AGENT} list_gridtransforms(): GET /slicer/gridtransforms (the docs' lower case)`,
    method: 'GET',
    target: () => '/slicer/gridtransforms',
    parse: (r) => {
      ok(r);
      assert.ok(Array.isArray(json(r)));
    },
  },
  {
    title: `${AGENT} download_volume_nrrd(node_id): GET /slicer/volume params={"id"}, stream=True`,
    method: 'GET',
    target: (env) => `/slicer/volume?${urlencode({ id: env.ids.head })}`,
    parse: (r) => assert.match(isNrrd(r), /type: (short|int16)/),
  },
  {
    title: `${AGENT} upload_volume_nrrd(path): POST /slicer/volume data=<nrrd> Content-Type: application/octet-stream`,
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    target: () => '/slicer/volume',
    body: (env) => readFileSync(`${env.importRoot}/head.nrrd`),
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { success: boolean }).success, true);
    },
  },
  {
    title: `${AGENT} list_fiducials(): GET /slicer/fiducials`,
    method: 'GET',
    target: () => '/slicer/fiducials',
    parse: (r, env) => {
      ok(r);
      assert.ok(env.ids.fiducials in (json(r) as object));
    },
  },
  {
    title: `${AGENT} put_fiducial(node_id, r, a, s): PUT /slicer/fiducial params={"id", "r": str(float(r)), …} (no index: 0)`,
    method: 'PUT',
    target: (env) =>
      `/slicer/fiducial?${urlencode({ id: env.ids.fiducials, r: '10.0', a: '-2.5', s: '0.0' })}`,
    parse: (r, env) => {
      ok(r);
      const n = env.ctx.scene.byId(env.ids.fiducials);
      assert.deepEqual(n?.kind === 'fiducials' && n.points[0]!.position, [10, -2.5, 0]);
    },
  },
  {
    title: `${AGENT} get_tracking(p="1,2,3", q="1,0,0,0"): GET /slicer/tracking params → resp.json()`,
    method: 'GET',
    target: () => `/slicer/tracking?${urlencode({ q: '1,0,0,0', p: '1,2,3' })}`,
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { message: string }).message, 'Set matrix');
    },
  },
  {
    title: `${AGENT} load_sampledata(name="MRHead"): GET /slicer/sampledata params={"name"} → resp.json()`,
    method: 'GET',
    target: () => `/slicer/sampledata?${urlencode({ name: 'MRHead' })}`,
    parse: (r) => {
      ok(r);
      assert.equal((json(r) as { success: boolean }).success, true);
    },
  },
  {
    title: `${AGENT} clear_scene(): DELETE /slicer/mrml`,
    method: 'DELETE',
    target: () => '/slicer/mrml',
    parse: (r, env) => {
      ok(r);
      assert.equal(env.ctx.scene.nodes().length, 0);
    },
  },
  {
    title: `${AGENT} dicomweb_request("GET", "/studies"): GET /dicom/studies`,
    method: 'GET',
    target: () => '/dicom/studies',
    parse: (r) => {
      ok(r);
      assert.ok((json(r) as unknown[]).length >= 1);
    },
  },
  {
    title: `${AGENT} exec_python(source): POST /slicer/exec data=… Content-Type: text/plain → Python refused`,
    method: 'POST',
    python: true,
    headers: { 'Content-Type': 'text/plain' },
    target: () => '/slicer/exec',
    body: () =>
      "import slicer\nlm = slicer.app.layoutManager()\nhas_lm = lm is not None\n__execResult = {'ok': bool(has_lm)}\n",
    parse: pythonRefused,
  },

  // ------------------------------------------------------------------ Slicer docroot and user guide
  ...[
    '/slicer/sampledata?name=MRHead',
    '/slicer/volume',
    '/slicer/gui?contents=viewers&viewersLayout=FourUp',
    '/slicer/gui?contents=full&viewersLayout=OneUp3D',
    '/slicer/gui?contents=full&viewersLayout=FourUp',
    '/slicer/screenshot',
    '/slicer/slice',
    '/slicer/slice?orientation=sagittal',
    '/slicer/slice?orientation=axial&scrollTo=.3',
    '/slicer/slice?orientation=axial&scrollTo=.6',
    '/slicer/threeD',
    '/slicer/threeD?lookFromAxis=left',
    '/slicer/threeD?lookFromAxis=anterior',
    '/slicer/threeD?lookFromAxis=inferior',
    '/dicom/studies',
    '/slicer/timeimage',
    '/slicer/timeimage?color=ff0',
  ].map((link): ReplayCall => ({
    title: `Slicer docroot/index.html <a href='.${link}'>`,
    method: 'GET',
    target: () => link,
    parse: (r) => {
      ok(r);
      const type = r.headers.get('content-type')!;
      if (link.startsWith('/slicer/volume')) isNrrd(r);
      else if (/^\/slicer\/(slice|threeD|screenshot|timeimage)\b/.test(link)) isPng(r);
      else assert.match(type, /json/);
    },
  })),
  {
    title: 'Slicer docroot/index.html GET /slicer/volume: the first scalar volume, as Slicer',
    method: 'GET',
    target: () => '/slicer/volume',
    arrange: (env) => env.ctx.scene.setActiveVolume(env.ids.chest),
    parse: (r, env) => {
      isNrrd(r);
      assert.equal(r.headers.get('x-node-id'), env.ids.head);
    },
  },
  ...['a1b', 'ff0a', '3c0f1', '7f7f7f', '0'].map((color): ReplayCall => ({
    title: `Slicer ServerTests/timecube.html handleLoadedTexture(): im.src = "/slicer/timeimage" + "?color=" + r+g+b (${color.length} digits)`,
    method: 'GET',
    target: () => `/slicer/timeimage?color=${color}`,
    parse: (r) => assert.deepEqual(pngSize(r), [128, 32]),
  })),
  {
    title: 'Slicer ServerTests/threeDCube.html: "/slicer/threeD?time=" + (new Date()).getTime()',
    method: 'GET',
    target: () => `/slicer/threeD?time=${Date.now()}`,
    parse: isPng,
  },
  {
    title:
      "Slicer user guide webserver.md: curl -v http://localhost:2016/slicer/volume\\&id='MRHead' (the shell drops the quotes)",
    method: 'GET',
    target: () => '/slicer/volume&id=CTChest',
    parse: (r, env) => {
      isNrrd(r);
      assert.equal(r.headers.get('x-node-id'), env.ids.chest);
    },
  },
  {
    title:
      "Slicer user guide webserver.md: /slicer/volume&id='MRHead' with the quotes kept (cmd.exe)",
    method: 'GET',
    target: () => "/slicer/volume&id='CTChest'",
    parse: (r, env) => {
      isNrrd(r);
      assert.equal(r.headers.get('x-node-id'), env.ids.chest);
    },
  },
  {
    title:
      'Slicer user guide webserver.md: curl -X POST localhost:2016/slicer/exec --data "import SampleData; …" → Python refused',
    method: 'POST',
    python: true,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    target: () => '/slicer/exec',
    body: () =>
      "import SampleData; volumeNode = SampleData.SampleDataLogic().downloadMRHead(); slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView); __execResult = {'volumeNodeID': volumeNode.GetID()} ",
    parse: pythonRefused,
  },
  {
    title:
      'Slicer ServerTests/threejs.html loadSlicerScene(): execXHR.send(`#python\\nnodePatterns = …`) to POST /slicer/exec → Python refused (the page goes on)',
    method: 'POST',
    python: true,
    headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    target: () => '/slicer/exec',
    // The script exactly as Slicer's page sends it (our adaptation of the page leaves it out).
    body: () => `#python
nodePatterns = ["vtkMRMLSegmentationNode*", "vtkMRMLMarkups*Node*"]
needDemoData = True
for nodePattern in nodePatterns:
  try:
    slicer.util.getNode(nodePattern)
    needDemoData = False
    print(f"Found some {nodePattern}")
  except slicer.util.MRMLNodeNotFoundException:
    pass

if needDemoData:
  filePath = f"{slicer.util.tempDirectory()}/ctacardio-totalseg-models-2023-05-22-Scene.mrb"
  print(f"Downloading to {filePath}")
  demoDataURL = "https://github.com/pieper/SlicerWeb/releases/download/v0.1/ctacardio-totalseg-models-2023-05-22-Scene.mrb"
  slicer.util.downloadFile(demoDataURL, filePath)
  slicer.util.loadScene(filePath)
  import os
  os.remove(filePath)
else:
  print("Showing existing data from scene")
`,
    parse: pythonRefused,
  },
  {
    title:
      'Slicer ServerTests/threejs.html loadThreeScene(): fiducialsXRH GET /slicer/fiducials → this.response[nodeID].markups[i].position',
    method: 'GET',
    target: () => '/slicer/fiducials',
    parse: (r, env) => {
      ok(r);
      const d = json(r) as Record<string, { markups: Array<{ position: number[] }> }>;
      assert.deepEqual(d[env.ids.fiducials]!.markups[0]!.position, [1, 2, 3]);
    },
  },
  {
    title:
      'Slicer ServerTests/threejs.html loadThreeScene(): graphicsXRH GET /slicer/threeDGraphics (responseType json) → GLTFLoader.parse; gltf.scene.children[0].children',
    method: 'GET',
    target: () => '/slicer/threeDGraphics',
    arrange: (env) => void arrangeModel(env),
    parse: isGltfWithBox,
  },
  {
    title:
      'Slicer ServerTests/modelviewer.html <model-viewer src="/slicer/threeDGraphics">: GET /slicer/threeDGraphics (glTF JSON, embedded buffers)',
    method: 'GET',
    target: () => '/slicer/threeDGraphics',
    arrange: (env) => void arrangeModel(env),
    parse: isGltfWithBox,
  },
];
