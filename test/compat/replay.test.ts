/**
 * Replays every call of test/compat/clients.ts over a real socket, twice: against a server with
 * default settings plus the folders/origin the file calls need (--import-root, --export-root,
 * --import-url, built-in samples), and against the same server with --token (and --enable-exec),
 * the token given as ?access_token= on every request (Slicer clients cannot send a header). Each
 * call first arranges the same fixture scene. Python bodies to /slicer/exec must get the 400.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNrrd } from '../../src/imaging/nrrd.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';
import { createFiducialList } from '../../src/scene/fiducials.js';
import type { VolumeNode } from '../../src/scene/scene.js';
import { putLinearTransform } from '../../src/scene/transforms.js';
import type { AppContext } from '../../src/server/context.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/app.js';
import { CALLS, type Env, type ReplayCall, type Reply } from './clients.js';

const TOKEN = 'compat-token-0123456789';

/** A small int16 volume: 24×20×16, 1.5×1.5×2 mm, voxel value = i + j + k. */
function smallVolume(): ImageVolume {
  const dimensions: [number, number, number] = [24, 20, 16];
  const data = allocShared('int16', 24 * 20 * 16);
  let n = 0;
  for (let k = 0; k < 16; k++)
    for (let j = 0; j < 20; j++) for (let i = 0; i < 24; i++) data[n++] = i + j + k;
  return {
    dimensions,
    spacing: [1.5, 1.5, 2],
    origin: [-18, -15, -16],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    scalarType: 'int16',
    components: 1,
    data,
  };
}

/** The fixture every call starts from: MRHead and CTChest volumes, a fiducial list F, a transform T. */
function arrangeScene(ctx: AppContext): Env['ids'] {
  const scene = ctx.scene;
  scene.clear();
  const add = (name: string) =>
    scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name,
      volume: smallVolume(),
      attributes: {},
      display: {},
    });
  const head = add('MRHead');
  const chest = add('CTChest');
  scene.setActiveVolume(head.id);
  const f = createFiducialList(scene, {
    name: 'F',
    points: [
      { label: 'F-1', position: [1, 2, 3] },
      { label: 'F-2', position: [4, 5, 6] },
    ],
  });
  const t = putLinearTransform(scene, {
    name: 'T',
    matrix: [1, 0, 0, 5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
  }).node;
  return { head: head.id, chest: chest.id, fiducials: f.id, transform: t.id };
}

interface Setup {
  server: TestServer;
  env: Env;
  token?: string;
}

let files: http.Server;
let fileOrigin: string;
let importRoot: string;
let exportRoot: string;

async function startFileServer(root: string): Promise<void> {
  files = http.createServer((req, res) => {
    const name = path.basename(req.url ?? '');
    try {
      const body = readFileSync(path.join(root, name));
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  fileOrigin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
}

async function setup(token?: string, auth: 'mutating' | 'all' = 'mutating'): Promise<Setup> {
  const server = await startTestServer({
    noSamples: false,
    importRoots: [importRoot],
    exportRoots: [exportRoot],
    importUrls: [fileOrigin],
    ...(token ? { token, auth, enableExec: true, quiet: false, logLevel: 'info' as const } : {}),
  });
  const study = await firstInstance(server, token);
  return {
    server,
    token,
    env: {
      ctx: server.ctx,
      importRoot,
      exportRoot,
      fileOrigin,
      study,
      ids: { head: '', chest: '', fiducials: '', transform: '' },
    },
  };
}

/** A study/series/instance of the built-in DICOM samples, found over QIDO-RS. */
async function firstInstance(server: TestServer, token?: string): Promise<Env['study']> {
  const get = async (p: string) =>
    (await (
      await fetch(server.url + p, token ? { headers: { authorization: `Bearer ${token}` } } : {})
    ).json()) as Array<Record<string, { Value: string[] }>>;
  const study = (await get('/dicom/studies'))[0]!['0020000D']!.Value[0]!;
  const series = (await get(`/dicom/studies/${study}/series`))[0]!['0020000E']!.Value[0]!;
  const instance = (await get(`/dicom/studies/${study}/series/${series}/instances`))[0]![
    '00080018'
  ]!.Value[0]!;
  return { study, series, instance };
}

/** The headers each client library adds by itself (requests 2.32, httpx 0.27, curl 8). */
function libraryHeaders(title: string): Record<string, string> {
  const base = { Accept: '*/*', 'Accept-Encoding': 'gzip, deflate', Connection: 'keep-alive' };
  if (['slicerio', 'mcp-slicer', 'slicer-agent-engine'].some((c) => title.startsWith(c)))
    return { ...base, 'User-Agent': 'python-requests/2.32.3' };
  if (title.startsWith('slicer-cli')) return { ...base, 'User-Agent': 'python-httpx/0.27.2' };
  if (title.includes('user guide')) return { Accept: '*/*', 'User-Agent': 'curl/8.5.0' };
  return {};
}

/** The request target with `access_token` added as the client's base URL would carry it. */
function withToken(target: string, token: string | undefined): string {
  if (!token) return target;
  return `${target}${target.includes('?') || target.includes('&') ? '&' : '?'}access_token=${token}`;
}

async function replay(s: Setup, call: ReplayCall): Promise<Reply> {
  s.env.ids = arrangeScene(s.env.ctx);
  await call.arrange?.(s.env);
  const target = withToken(call.target(s.env), s.token);
  const body = call.body?.(s.env);
  const res = await fetch(s.server.url + target, {
    method: call.method,
    headers: { ...libraryHeaders(call.title), ...call.headers },
    body,
  });
  return {
    status: res.status,
    headers: res.headers,
    body: Buffer.from(await res.arrayBuffer()),
  };
}

before(async () => {
  importRoot = tempDir('voxelgate-compat-in-');
  exportRoot = tempDir('voxelgate-compat-out-');
  const v = smallVolume();
  writeFileSync(path.join(importRoot, 'head.nrrd'), await encodeNrrd(v));
  writeFileSync(
    path.join(importRoot, 'F.mrk.json'),
    JSON.stringify({
      '@schema':
        'https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#',
      markups: [
        {
          type: 'Fiducial',
          coordinateSystem: 'LPS',
          controlPoints: [
            { label: 'a', position: [1, 2, 3] },
            { label: 'b', position: [4, 5, 6] },
          ],
        },
      ],
    }),
  );
  writeFileSync(
    path.join(importRoot, 'shift.tfm'),
    '#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1 10 0 0\nFixedParameters: 0 0 0\n',
  );
  mkdirSync(path.join(importRoot, 'data'), { recursive: true });
  await startFileServer(importRoot);
});

after(async () => {
  await new Promise((r) => files.close(r));
  rmSync(importRoot, { recursive: true, force: true });
  rmSync(exportRoot, { recursive: true, force: true });
});

const MODES = [
  ['default server', undefined, 'mutating'],
  ['--token, ?access_token= on every request', TOKEN, 'mutating'],
  ['--token --auth all, ?access_token= on every request', TOKEN, 'all'],
] as const;

for (const [mode, token, auth] of MODES) {
  describe(`Slicer clients replayed (${mode})`, () => {
    let s: Setup;
    before(async () => {
      s = await setup(token, auth);
    });
    after(async () => {
      await s.server.close();
    });
    for (const call of CALLS) {
      it(call.title, async () => {
        const r = await replay(s, call);
        await call.parse(r, s.env);
        if (call.python) assert.equal(r.status, 400);
      });
    }
    it('the access log never shows the token; without it (or with a wrong one) writes are 401', async () => {
      if (!s.token) return;
      await fetch(`${s.server.url}/slicer/mrml/names?access_token=${s.token}`);
      await new Promise((r) => setTimeout(r, 50));
      const log = s.server.lines.join('\n');
      assert.match(log, /GET \/slicer\/mrml\/names\?access_token=\*\*\* 200/);
      assert.ok(!log.includes(s.token), 'token in the log');
      for (const q of ['', '&access_token=wrong-token-000000'])
        assert.equal(
          (
            await fetch(
              `${s.server.url}/slicer/mrml?localfile=${encodeURIComponent(`${importRoot}/head.nrrd`)}&filetype=VolumeFile${q}`,
              { method: 'POST' },
            )
          ).status,
          401,
        );
    });
  });
}

describe('Slicer clients: what needs an option is refused clearly on a bare default server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({});
  });
  after(async () => {
    await server.close();
  });
  const cases: Array<[string, string, string, RegExp]> = [
    [
      'slicerio server.py:173 file_load(path)',
      'POST',
      `/slicer/mrml?localfile=%2Ftmp%2Fhead.nrrd&filetype=VolumeFile`,
      /--import-root/,
    ],
    [
      'slicerio server.py:164 file_load("https://…")',
      'POST',
      `/slicer/mrml?url=https%3A%2F%2Fexample.org%2Fhead.nrrd&filetype=VolumeFile`,
      /--import-url https:\/\/example\.org/,
    ],
    [
      'slicerio server.py:134 file_save(path)',
      'GET',
      `/slicer/mrml/file?localfile=%2Ftmp%2Fx.nrrd&name=x`,
      /No nodes matched|--export-root/,
    ],
    ['slicerio server.py:34 stop_server()', 'DELETE', '/system', /--allow-shutdown/],
    ['slicer-cli client/system.py shutdown()', 'DELETE', '/slicer/system', /--allow-shutdown/],
  ];
  for (const [title, method, target, message] of cases) {
    it(`${title}: 4xx, application/json, message names the option`, async () => {
      const res = await fetch(server.url + target, { method });
      assert.ok(res.status >= 400 && res.status < 500, String(res.status));
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.match(((await res.json()) as { message: string }).message, message);
    });
  }
});

describe('Slicer clients: shutdown with --allow-shutdown', () => {
  for (const [title, target] of [
    ['slicerio server.py:34 stop_server(): requests.delete(".../system").json()', '/system'],
    ['slicer-cli client/system.py shutdown(): DELETE /slicer/system', '/slicer/system'],
  ] as const) {
    it(title, async () => {
      const server = await startTestServer({ allowShutdown: true });
      try {
        const res = await fetch(server.url + target, { method: 'DELETE' });
        assert.deepEqual(await res.json(), { success: true });
      } finally {
        await server.close();
      }
    });
  }
});
