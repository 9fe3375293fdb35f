/**
 * Table nodes (vtkMRMLTableNode): CSV/TSV text out and back (quotes, separators, newlines, empty
 * cells), `/slicer/tables` + `/slicer/table` (JSON, CSV, TSV in and out, replace, delete, bad
 * bodies → 400 naming the problem), the MRML listing and properties, scene events, persistence
 * across a restart, TableFile save/load through `/slicer/mrml`, and the `segmentStatistics` job's
 * table equal to its `result.values`.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { IDENTITY3 } from '../../src/imaging/geometry.js';
import { addSegment, emptyLabelmap } from '../../src/imaging/segmentation.js';
import { allocShared, type ImageVolume } from '../../src/imaging/types.js';
import type { SegmentationNode, TableNode, VolumeNode } from '../../src/scene/scene.js';
import { parseDelimited, parseTableText, putTable, tableText } from '../../src/scene/tables.js';
import { SceneEventLog } from '../../src/scene/events.js';
import { SceneStore } from '../../src/scene/persistence.js';
import { Scene } from '../../src/scene/scene.js';
import { makeTestApp, tempDir, type TestApp } from '../helpers/app.js';

type Json = Record<string, any>;

const vol1 = (): ImageVolume => ({
  scalarType: 'int16',
  components: 1,
  dimensions: [1, 1, 1],
  spacing: [1, 1, 1],
  origin: [0, 0, 0],
  direction: IDENTITY3,
  data: allocShared('int16', 1),
});

const sample = (t: TestApp) =>
  putTable(t.ctx.scene, {
    name: 'Measurements',
    columns: [
      { name: 'Label', type: 'string' },
      { name: 'Count', type: 'int' },
      { name: 'Value, mm', type: 'double', unit: 'mm', description: 'a length, "quoted"' },
    ],
    rows: [
      ['plain', 1, 2.5],
      ['with, comma', 2, -0.125],
      ['say "hi"\nnext line', null, 1e-7],
      [' padded ', 4, null],
    ],
  }).node;

test('CSV/TSV text: RFC 4180 quoting out, the same values back in, types inferred', async () => {
  const t = await makeTestApp();
  try {
    const n = sample(t);
    const csv = tableText(n, ',');
    assert.equal(
      csv,
      'Label,Count,"Value, mm"\r\n' +
        'plain,1,2.5\r\n' +
        '"with, comma",2,-0.125\r\n' +
        '"say ""hi""\nnext line",,1e-7\r\n' +
        '" padded ",4,\r\n',
    );
    const back = parseTableText(csv, ',');
    // (units and descriptions travel in the schema file, not in the CSV)
    assert.deepEqual(
      back.columns,
      n.columns.map(({ name, type }) => ({ name, type })),
    );
    assert.deepEqual(back.rows, n.rows);
    const tsv = parseTableText(tableText(n, '\t'), '\t');
    assert.deepEqual(tsv.rows, n.rows);
    // LF line ends, a BOM, no final newline; a short line is an error naming it.
    assert.deepEqual(parseDelimited('\ufeffa,b\n1,2', ','), [
      ['a', 'b'],
      ['1', '2'],
    ]);
    assert.throws(() => parseTableText('a,b\n1\n', ','), /line 2 has 1 fields/);
    assert.throws(() => parseTableText('a\n"open\n', ','), /quoted field/);
    // Only finite numbers: a NaN or infinity would not survive JSON (as null) unannounced.
    assert.throws(
      () => parseTableText('a\nnan\n', ',', { a: { type: 'double' } }),
      /"nan" .* not a number/,
    );
    assert.deepEqual(parseTableText('a\nnan\n', ',').columns, [{ name: 'a', type: 'string' }]);
  } finally {
    await t.close();
  }
});

test('/slicer/table: PUT CSV or JSON, GET as JSON/CSV/TSV, listed, replaced, deleted; bad bodies are 400', async () => {
  const t = await makeTestApp();
  try {
    const put = await t.app.request('/slicer/table?name=Lengths', {
      method: 'PUT',
      headers: { 'content-type': 'text/csv' },
      body: 'name,length\nA,1.5\nB,2\n',
    });
    const p = (await put.json()) as Json;
    assert.equal(put.status, 200, JSON.stringify(p));
    assert.equal(p.class, 'vtkMRMLTableNode');
    assert.equal(p.numberOfRows, 2);
    const id = p.id as string;
    assert.match(id, /^vtkMRMLTableNode\d+$/);

    const j = (await (await t.app.request(`/slicer/table?id=${id}`)).json()) as Json;
    assert.deepEqual(j.columns, [
      { name: 'name', type: 'string' },
      { name: 'length', type: 'double' },
    ]);
    assert.deepEqual(j.rows, [
      ['A', 1.5],
      ['B', 2],
    ]);
    assert.deepEqual(j.records[1], { name: 'B', length: 2 });

    const csv = await t.app.request(`/slicer/table?id=Lengths&format=csv`);
    assert.match(csv.headers.get('content-type')!, /^text\/csv/);
    assert.match(csv.headers.get('content-disposition')!, /Lengths\.csv/);
    assert.equal(await csv.text(), 'name,length\r\nA,1.5\r\nB,2\r\n');
    const alias = await t.app.request(`/slicer/tables?id=${id}&format=csv`);
    assert.equal(await alias.text(), 'name,length\r\nA,1.5\r\nB,2\r\n');
    const tsv = await t.app.request(`/slicer/table?id=${id}&format=tsv`);
    assert.equal(await tsv.text(), 'name\tlength\r\nA\t1.5\r\nB\t2\r\n');

    const list = (await (await t.app.request('/slicer/tables')).json()) as Json[];
    assert.deepEqual(
      list.map((x) => [x.id, x.name, x.numberOfRows, x.numberOfColumns]),
      [[id, 'Lengths', 2, 2]],
    );
    const names = (await (
      await t.app.request('/slicer/mrml/names?class=vtkMRMLTableNode')
    ).json()) as string[];
    assert.deepEqual(names, ['Lengths']);
    const allIds = (await (await t.app.request('/slicer/mrml/ids')).json()) as string[];
    assert.ok(allIds.includes(id));
    const props = (await (await t.app.request(`/slicer/mrml/properties?id=${id}`)).json()) as Json;
    const pr = (props[id] ?? props) as Json;
    assert.equal(pr.ClassName, 'vtkMRMLTableNode');
    assert.equal(pr.numberOfRows, 2);

    // JSON body replaces the content of an existing table (same id).
    const rep = await t.app.request(`/slicer/table?id=${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        columns: [
          { name: 'k', type: 'int' },
          { name: 'ok', type: 'bit' },
        ],
        rows: [
          [7, true],
          [8, null],
        ],
      }),
    });
    assert.equal(rep.status, 200);
    assert.equal(((await rep.json()) as Json).created, false);
    const node = t.ctx.scene.byId(id) as TableNode;
    assert.deepEqual(node.rows, [
      [7, true],
      [8, null],
    ]);
    // records (objects) are accepted too, types inferred.
    const rec = await t.app.request('/slicer/table', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'R', records: [{ a: 1, b: 'x' }, { a: 2.5 }] }),
    });
    const r = (await rec.json()) as Json;
    assert.equal(rec.status, 200, JSON.stringify(r));
    assert.deepEqual((t.ctx.scene.byId(r.id) as TableNode).rows, [
      [1, 'x'],
      [2.5, null],
    ]);

    const bad = async (body: string, type: string, re: RegExp) => {
      const res = await t.app.request('/slicer/table', {
        method: 'PUT',
        headers: { 'content-type': type },
        body,
      });
      const e = (await res.json()) as Json;
      assert.equal(res.status, 400, JSON.stringify(e));
      assert.equal(e.success, false);
      assert.match(e.message, re);
    };
    await bad(
      JSON.stringify({ columns: [{ name: 'a', type: 'float128' }], rows: [] }),
      'application/json',
      /columns\[0\]\.type/,
    );
    await bad(
      JSON.stringify({ columns: [{ name: 'a', type: 'int' }], rows: [[1.5]] }),
      'application/json',
      /rows\[0\]\[0\].*not a finite int/,
    );
    await bad(
      JSON.stringify({ columns: [{ name: 'a', type: 'int' }], rows: [[1, 2]] }),
      'application/json',
      /rows\[0\] must be an array of 1/,
    );
    await bad('{"columns": [', 'application/json', /not valid JSON/);
    await bad('a,b\n1,2,3\n', 'text/csv', /line 2 has 3 fields/);
    await bad('', 'text/csv', /expected a table/);
    const notFound = await t.app.request('/slicer/table?id=nope');
    assert.equal(notFound.status, 404);
    const badFormat = await t.app.request(`/slicer/table?id=${r.id}&format=xml`);
    assert.equal(badFormat.status, 400);
    assert.match(((await badFormat.json()) as Json).message, /format/);
    // A node of another kind is not a table.
    const seg = t.ctx.scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'NotATable',
      volume: { ...vol1(), data: allocShared('int16', 1) },
      display: {},
      attributes: {},
    });
    assert.equal((await t.app.request(`/slicer/table?id=${seg.id}`)).status, 404);

    // By exact name too (GET and DELETE); neither id nor name is a 400 that says so.
    const byName = await t.app.request('/slicer/table?name=Lengths&format=csv');
    assert.equal(byName.status, 200);
    assert.equal(byName.headers.get('x-node-id'), id);
    assert.equal(
      ((await (await t.app.request('/slicer/tables?name=Lengths')).json()) as Json).id,
      id,
    );
    assert.equal((await t.app.request('/slicer/table?name=Length')).status, 404);
    const neither = await t.app.request('/slicer/table');
    assert.equal(neither.status, 400);
    assert.match(((await neither.json()) as Json).message, /id or name is required/);

    const del = await t.app.request('/slicer/table?name=Lengths', { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(t.ctx.scene.byId(id), undefined);
    assert.equal((await t.app.request(`/slicer/table?id=${id}`)).status, 404);
  } finally {
    await t.close();
  }
});

test('table nodes publish scene events and survive a restart', async () => {
  const dir = tempDir('vg-tables-');
  try {
    const scene = new Scene();
    const log = new SceneEventLog(scene);
    const store = new SceneStore(scene, dir);
    await store.open();
    const seen: string[] = [];
    log.subscribe((e) => seen.push(`${e.type} ${String(e.data.className)}`));
    const n = putTable(scene, {
      name: 'Measurements',
      columns: [
        { name: 'Label', type: 'string', unit: '', description: 'what' },
        { name: 'Count', type: 'int' },
      ],
      rows: [
        ['a, "b"', 1],
        [null, 2],
      ],
    }).node;
    putTable(scene, { id: n.id, columns: n.columns, rows: n.rows.slice(0, 1) });
    scene.remove([n.id]);
    assert.deepEqual(seen, [
      'node-added vtkMRMLTableNode',
      'node-modified vtkMRMLTableNode',
      'node-removed vtkMRMLTableNode',
    ]);
    const kept = putTable(scene, { name: 'Kept', columns: n.columns, rows: n.rows }).node;
    await store.close();
    const again = new Scene();
    await new SceneStore(again, dir).open();
    const back = again.byId(kept.id) as TableNode;
    assert.equal(back.className, 'vtkMRMLTableNode');
    assert.equal(back.name, 'Kept');
    assert.deepEqual(back.columns, n.columns);
    assert.deepEqual(back.rows, [
      ['a, "b"', 1],
      [null, 2],
    ]);
    assert.deepEqual(
      again.nodes().map((x) => x.id),
      [kept.id],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TableFile: GET /slicer/mrml/file writes .csv + .schema.csv; POST /slicer/mrml loads it back with its types', async () => {
  const root = tempDir('vg-tables-io-');
  const t = await makeTestApp({ importRoots: [root], exportRoots: [root] });
  try {
    const n = sample(t);
    const res = await t.app.request(
      `/slicer/mrml/file?id=${n.id}&localfile=${encodeURIComponent(path.join(root, 'm.csv'))}`,
    );
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as Json).fileType, 'TableFile');
    assert.equal(readFileSync(path.join(root, 'm.csv'), 'utf8'), tableText(n, ','));
    // The schema next to it, as Slicer names it (.schema before the extension, same separator).
    assert.match(readFileSync(path.join(root, 'm.schema.csv'), 'utf8'), /^columnName,type,/);
    // An integer-looking double column keeps its type through the schema file.
    writeFileSync(path.join(root, 'd.csv'), 'x,y\n1,2\n3,4\n');
    writeFileSync(path.join(root, 'd.schema.csv'), 'columnName,type\nx,double\n');
    for (const [file, types] of [
      ['m.csv', ['string', 'int', 'double']],
      ['d.csv', ['double', 'int']],
    ] as const) {
      const load = await t.app.request(`/slicer/mrml?filetype=TableFile&localfile=${file}`, {
        method: 'POST',
      });
      const j = (await load.json()) as { loadedNodeIDs: string[] };
      assert.equal(load.status, 200, JSON.stringify(j));
      const back = t.ctx.scene.byId(j.loadedNodeIDs[0]!) as TableNode;
      assert.deepEqual(
        back.columns.map((c) => c.type),
        types,
      );
      if (file === 'm.csv') {
        assert.deepEqual(back.rows, n.rows);
        // units and descriptions come back from the schema file
        assert.deepEqual(back.columns, n.columns);
      }
    }
    // PUT /slicer/mrml re-reads a loaded table from its file (same node id).
    const loaded = (await (
      await t.app.request(`/slicer/mrml?filetype=TableFile&localfile=d.csv`, { method: 'POST' })
    ).json()) as { loadedNodeIDs: string[] };
    const did = loaded.loadedNodeIDs[0]!;
    writeFileSync(path.join(root, 'd.csv'), 'x,y\n5,6\n');
    const reload = await t.app.request(`/slicer/mrml?id=${did}`, { method: 'PUT' });
    assert.equal(reload.status, 200, await reload.clone().text());
    assert.deepEqual(((await reload.json()) as Json).reloadedNodeIDs, [did]);
    assert.deepEqual((t.ctx.scene.byId(did) as TableNode).rows, [[5, 6]]);
    // Without filetype, .csv is a table.
    const guess = await t.app.request(`/slicer/mrml?localfile=d.csv`, { method: 'POST' });
    assert.equal(guess.status, 200, await guess.clone().text());
  } finally {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('segmentStatistics adds a table whose numbers equal result.values; its CSV parses back to them', async () => {
  const t = await makeTestApp();
  try {
    const g: ImageVolume = {
      scalarType: 'int16',
      components: 1,
      dimensions: [10, 10, 10],
      spacing: [1, 2, 3],
      origin: [10, 20, 30],
      direction: IDENTITY3,
      data: allocShared('int16', 1000),
    };
    for (let q = 0; q < 1000; q++) g.data[q] = (q % 10) * 3 + Math.floor(q / 100);
    t.ctx.scene.add<VolumeNode>({
      kind: 'volume',
      className: 'vtkMRMLScalarVolumeNode',
      name: 'Ramp',
      volume: g,
      display: {},
      attributes: {},
    });
    const box = (lo: number, hi: number) => {
      const m = new Uint8Array(1000);
      for (let k = lo; k <= hi; k++)
        for (let j = lo; j <= hi; j++) for (let i = lo; i <= hi; i++) m[k * 100 + j * 10 + i] = 1;
      return m;
    };
    let s = addSegment({ labelmap: emptyLabelmap(g, 1), segments: [] }, box(1, 3), {
      name: 'Small, "quoted"',
    }).segmentation;
    s = addSegment(s, box(4, 8), { name: 'Big' }).segmentation;
    s = addSegment(s, new Uint8Array(1000), { name: 'Empty' }).segmentation;
    t.ctx.scene.add<SegmentationNode>({
      kind: 'segmentation',
      className: 'vtkMRMLSegmentationNode',
      name: 'Segs',
      segmentation: s,
      attributes: {},
    });
    const res = await t.app.request('/slicer/jobs?wait=120', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        function: 'segmentStatistics',
        params: { segmentation: 'Segs', volume: 'Ramp' },
      }),
    });
    const j = (await res.json()) as Json;
    assert.equal(j.state, 'succeeded', JSON.stringify(j.error));
    assert.equal(j.result.nodeIds.length, 1);
    const table = t.ctx.scene.byId(j.result.nodeIds[0]) as TableNode;
    assert.equal(table.className, 'vtkMRMLTableNode');
    assert.equal(table.name, `${j.name} statistics`);
    assert.deepEqual(
      table.columns.map((c) => c.name),
      [
        'Segment',
        'Segment ID',
        'Number of voxels',
        'Volume [mm3]',
        'Mean',
        'Standard deviation',
        'Minimum',
        'Maximum',
      ],
    );
    const expected = (j.result.values.segments as Json[]).map((v) => [
      v.name,
      v.id,
      v.voxelCount,
      v.volumeMm3,
      v.mean,
      v.std,
      v.min,
      v.max,
    ]);
    assert.equal(expected.length, 3);
    assert.equal(expected[0]![2], 27);
    assert.equal(expected[1]![2], 125);
    assert.deepEqual(expected[2]!.slice(2), [0, 0, null, null, null, null]);
    assert.deepEqual(table.rows, expected);
    // Over HTTP, as CSV, parsed back: the same numbers (17 significant digits survive the text).
    const csv = await (await t.app.request(`/slicer/table?id=${table.id}&format=csv`)).text();
    assert.deepEqual(parseTableText(csv, ',').rows, expected);
    // Without a scalar volume: counts and volumes only.
    const res2 = await t.app.request('/slicer/jobs?wait=120', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ function: 'segmentStatistics', params: { segmentation: 'Segs' } }),
    });
    const j2 = (await res2.json()) as Json;
    const t2 = t.ctx.scene.byId(j2.result.nodeIds[0]) as TableNode;
    assert.equal(t2.columns.length, 4);
    assert.deepEqual(
      t2.rows.map((r) => r[3]),
      (j2.result.values.segments as Json[]).map((v) => v.volumeMm3),
    );
  } finally {
    await t.close();
  }
});
