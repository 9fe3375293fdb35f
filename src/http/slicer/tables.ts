/**
 * `/slicer/tables`, `/slicer/table`: table nodes (vtkMRMLTableNode), e.g. the per-segment numbers
 * of the `segmentStatistics` job. Out as JSON (columns, rows, records) or CSV/TSV text (a header
 * row of column names); in as the same (PUT/POST body).
 */
import type { Context } from 'hono';
import { AppError, missingParameter } from '../../errors.js';
import {
  findTable,
  findTableNamed,
  listTables,
  putTable,
  tableFromText,
  tableJson,
  tableText,
  type TableFormat,
} from '../../scene/tables.js';
import type { TableNode } from '../../scene/scene.js';
import type { AppContext } from '../../server/context.js';
import { readBody } from '../body.js';
import { oneOf, str } from '../request.js';
import { attachment } from './streams.js';
import { persist } from './volumes.js';

const FORMATS = ['json', 'csv', 'tsv'] as const;

/** GET: the tables; with `id` or `name`, that table (as `/slicer/table`). */
export const getTables = (ctx: AppContext) => (c: Context) =>
  str(c, 'id') !== undefined || str(c, 'name') !== undefined
    ? tableResponse(ctx, c)
    : c.json(listTables(ctx.scene));

/** GET `?id=<id or name>` or `?name=<exact name>`, `[&format=json|csv|tsv]` (default json). */
export const getTable = (ctx: AppContext) => (c: Context) => tableResponse(ctx, c);

/** The table `id` names (its id or name), or the one whose name is exactly `name`. */
function tableOf(ctx: AppContext, c: Context): TableNode {
  const id = str(c, 'id');
  const name = str(c, 'name');
  if (id !== undefined) return findTable(ctx.scene, id);
  if (name === undefined) throw missingParameter('id', 'or name is required');
  return findTableNamed(ctx.scene, name);
}

function tableResponse(ctx: AppContext, c: Context): Response {
  const node = tableOf(ctx, c);
  const format = oneOf(c, 'format', FORMATS) ?? 'json';
  if (format === 'json') return c.json(tableJson(node));
  return new Response(tableText(node, format === 'csv' ? ',' : '\t'), {
    headers: {
      'content-type':
        format === 'csv' ? 'text/csv; charset=utf-8' : 'text/tab-separated-values; charset=utf-8',
      'content-disposition': attachment(`${node.name}.${format}`),
      'cache-control': 'no-store',
      'x-node-id': node.id,
    },
  });
}

/** The body's format: `format=`, else the content type, else JSON when it starts with `{`. */
function bodyFormat(c: Context, text: string): TableFormat {
  const given = oneOf(c, 'format', FORMATS);
  if (given) return given;
  const type = c.req.header('content-type') ?? '';
  if (/^text\/csv\b/i.test(type)) return 'csv';
  if (/^text\/tab-separated-values\b/i.test(type)) return 'tsv';
  if (/json/i.test(type) || text.trimStart().startsWith('{')) return 'json';
  return 'csv';
}

/** PUT/POST: a table body → a new table (`name`), or the content of table `id` replaced. */
export const putTableHandler = (ctx: AppContext) => async (c: Context) => {
  const id = str(c, 'id');
  const text = (await readBody(c, ctx.config.limits.json)).toString('utf8');
  if (text.trim() === '')
    throw new AppError('bad_request', 'expected a table (JSON, CSV or TSV) as the body');
  const parsed = tableFromText(text, bodyFormat(c, text));
  const { node, created } = putTable(ctx.scene, {
    id: id !== undefined ? findTable(ctx.scene, id).id : undefined,
    name: str(c, 'name') ?? parsed.name,
    columns: parsed.columns,
    rows: parsed.rows,
  });
  await persist(ctx);
  return c.json({
    success: true,
    id: node.id,
    name: node.name,
    class: node.className,
    created,
    numberOfColumns: node.columns.length,
    numberOfRows: node.rows.length,
  });
};

export const deleteTable = (ctx: AppContext) => async (c: Context) => {
  const node = tableOf(ctx, c);
  ctx.scene.remove([node.id]);
  await persist(ctx);
  return c.json({ success: true, id: node.id });
};
