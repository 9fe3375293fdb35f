/**
 * Table nodes (vtkMRMLTableNode): named, typed columns and rows of values, such as the per-segment
 * numbers of `segmentStatistics`. Creating (checked: every row has one value per column, values
 * match the column type), replacing, finding and listing them; out as JSON or as CSV/TSV text
 * (Slicer's TableFile: a header row of column names), and back in from CSV/TSV.
 *
 * CSV is hand-written here (RFC 4180 quoting, ~60 lines): no dependency of the project reads or
 * writes it, and the shapes are small (rows of a statistics table, not data sets).
 */
import { AppError, invalidParameter, notFound } from '../errors.js';
import type { Scene, TableColumn, TableColumnType, TableNode, TableValue } from './scene.js';

export const TABLE_COLUMN_TYPES: readonly TableColumnType[] = ['string', 'double', 'int', 'bit'];

export interface PutTable {
  /** Replace this table's content, else create a node. */
  id?: string;
  name?: string;
  columns: TableColumn[];
  rows: TableValue[][];
  attributes?: Record<string, string>;
}

/** Throws invalid_parameter unless columns and rows make a consistent table. */
export function checkTable(columns: unknown, rows: unknown, parameter = 'body'): void {
  const bad = (msg: string) => invalidParameter(parameter, msg);
  if (!Array.isArray(columns) || columns.length === 0)
    throw bad('a table needs a non-empty "columns" array');
  const names = new Set<string>();
  for (const [c, col] of (columns as unknown[]).entries()) {
    const o = col as Partial<TableColumn> | null;
    if (typeof o?.name !== 'string' || o.name === '')
      throw bad(`columns[${c}].name must be a non-empty string`);
    if (o.type === undefined || !TABLE_COLUMN_TYPES.includes(o.type))
      throw bad(`columns[${c}].type must be one of ${TABLE_COLUMN_TYPES.join(', ')}`);
    if (names.has(o.name)) throw bad(`two columns are named "${o.name}"`);
    names.add(o.name);
  }
  if (!Array.isArray(rows)) throw bad('a table needs a "rows" array');
  const cols = columns as TableColumn[];
  for (const [r, row] of (rows as unknown[]).entries()) {
    if (!Array.isArray(row) || row.length !== cols.length)
      throw bad(`rows[${r}] must be an array of ${cols.length} values (one per column)`);
    for (const [c, v] of (row as unknown[]).entries()) {
      if (v === null) continue;
      const t = cols[c]!.type;
      const ok =
        t === 'string'
          ? typeof v === 'string'
          : t === 'bit'
            ? typeof v === 'boolean'
            : typeof v === 'number' &&
              Number.isFinite(v) &&
              (t === 'double' || Number.isInteger(v));
      if (!ok)
        throw bad(
          `rows[${r}][${c}] (${cols[c]!.name}) is not a ${t === 'string' ? t : `finite ${t}`}: ${JSON.stringify(v)} (null for an empty cell)`,
        );
    }
  }
}

export function putTable(scene: Scene, p: PutTable): { node: TableNode; created: boolean } {
  checkTable(p.columns, p.rows);
  const content = { columns: p.columns.map((c) => ({ ...c })), rows: p.rows.map((r) => [...r]) };
  if (p.id !== undefined) {
    const old = scene.byId(p.id);
    if (!old) throw notFound(`no node with id ${p.id}`);
    if (old.kind !== 'table')
      throw new AppError('conflict', `${p.id} is a ${old.className}, not a table`);
    return {
      node: scene.update<TableNode>(p.id, { ...content, ...(p.name ? { name: p.name } : {}) }),
      created: false,
    };
  }
  const node = scene.add<TableNode>({
    kind: 'table',
    className: 'vtkMRMLTableNode',
    name: p.name ?? 'Table',
    attributes: p.attributes ?? {},
    ...content,
  });
  return { node, created: true };
}

export function findTable(scene: Scene, pattern: string): TableNode {
  return scene.requireNode(pattern, 'table', 'table');
}

/** The table whose name is exactly `name` (the first, in scene order). */
export function findTableNamed(scene: Scene, name: string): TableNode {
  const node = scene.nodeNamed(name, 'table');
  if (!node)
    throw notFound(`no table is named "${name}" (names are matched exactly; see /slicer/tables)`);
  return node;
}

export function listTables(scene: Scene): Array<Record<string, unknown>> {
  return scene
    .nodes()
    .filter((n): n is TableNode => n.kind === 'table')
    .map((n) => ({
      id: n.id,
      name: n.name,
      numberOfColumns: n.columns.length,
      numberOfRows: n.rows.length,
      columns: n.columns,
    }));
}

/** The JSON form: columns, rows as arrays, and rows as objects keyed by column name. */
export function tableJson(n: TableNode): Record<string, unknown> {
  return {
    id: n.id,
    name: n.name,
    className: n.className,
    columns: n.columns,
    rows: n.rows,
    records: n.rows.map((r) => Object.fromEntries(n.columns.map((c, i) => [c.name, r[i] ?? null]))),
  };
}

function cell(v: TableValue, sep: string): string {
  if (v === null) return '';
  const s = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  return s.includes(sep) || /["\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV (`,`) or TSV (`\t`): a header row of column names, then one line per row (CRLF, RFC 4180). */
export function tableText(n: TableNode, sep: ',' | '\t' = ','): string {
  const lines = [
    n.columns.map((c) => cell(c.name, sep)),
    ...n.rows.map((r) => r.map((v) => cell(v, sep))),
  ];
  return lines.map((l) => l.join(sep)).join('\r\n') + '\r\n';
}

/** Slicer's schema file next to a table file: one row per column with its type (and unit). */
export function tableSchemaText(n: TableNode, sep: ',' | '\t' = '\t'): string {
  const rows = [['columnName', 'type', 'unitLabel', 'description']];
  for (const c of n.columns) rows.push([c.name, c.type, c.unit ?? '', c.description ?? '']);
  return rows.map((r) => r.map((v) => cell(v, sep)).join(sep)).join('\r\n') + '\r\n';
}

/** RFC 4180 fields of a CSV/TSV text (quoted fields may hold separators, quotes and newlines). */
export function parseDelimited(text: string, sep: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === sep) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      out.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw invalidParameter('body', 'the table text ends inside a quoted field');
  if (field !== '' || row.length > 0) {
    row.push(field);
    out.push(row);
  }
  return out.filter((r) => !(r.length === 1 && r[0] === ''));
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * CSV/TSV text → columns and rows. Column types come from `schema` (name → type, as Slicer's
 * schema file), else are inferred: all non-empty cells integers → int, numbers → double, else
 * string. Empty cells are null.
 */
export function parseTableText(
  text: string,
  sep: ',' | '\t',
  schema: Record<string, SchemaColumn> = {},
): { columns: TableColumn[]; rows: TableValue[][] } {
  const lines = parseDelimited(text, sep);
  const header = lines[0];
  if (!header) throw invalidParameter('body', 'the table text is empty (expected a header row)');
  const body = lines.slice(1);
  for (const [r, l] of body.entries())
    if (l.length !== header.length)
      throw invalidParameter(
        'body',
        `line ${r + 2} has ${l.length} fields, the header has ${header.length}`,
      );
  const columns: TableColumn[] = header.map((name, c) => {
    const { type: given, unit, description } = schema[name] ?? {};
    const extra = { ...(unit ? { unit } : {}), ...(description ? { description } : {}) };
    if (given) return { name, type: given, ...extra };
    const cells = body.map((l) => l[c]!).filter((v) => v !== '');
    const type: TableColumnType =
      cells.length > 0 &&
      cells.every((v) => /^[+-]?\d+$/.test(v) && Number.isSafeInteger(Number(v)))
        ? 'int'
        : cells.length > 0 && cells.every((v) => NUMBER.test(v))
          ? 'double'
          : 'string';
    return { name, type, ...extra };
  });
  const rows = body.map((l) =>
    l.map((v, c): TableValue => {
      if (v === '') return null;
      const t = columns[c]!.type;
      if (t === 'string') return v;
      if (t === 'bit') return v === '1' || v.toLowerCase() === 'true';
      const x = NUMBER.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isFinite(x))
        throw invalidParameter('body', `"${v}" in column ${columns[c]!.name} is not a number`);
      return t === 'int' ? Math.trunc(x) : x;
    }),
  );
  checkTable(columns, rows);
  return { columns, rows };
}

/** What a schema file says of one column. */
export interface SchemaColumn {
  type?: TableColumnType;
  unit?: string;
  description?: string;
}

/**
 * A schema file's text (Slicer's `columnName`, `type`, `unitLabel`, `description` columns) →
 * column name → what it says of that column.
 */
export function parseTableSchema(
  text: string,
  sep: ',' | '\t' = '\t',
): Record<string, SchemaColumn> {
  const lines = parseDelimited(text, sep);
  const head = lines[0]?.map((h) => h.toLowerCase()) ?? [];
  const ni = head.indexOf('columnname');
  const ti = head.indexOf('type');
  const ui = head.indexOf('unitlabel');
  const di = head.indexOf('description');
  if (ni < 0) return {};
  const out: Record<string, SchemaColumn> = {};
  for (const l of lines.slice(1)) {
    const t = ti >= 0 ? l[ti]?.toLowerCase() : undefined;
    const type: TableColumnType | undefined =
      t === 'string' || t === 'double' || t === 'bit'
        ? t
        : t !== undefined &&
            /^(unsigned )?(int|long|short|char|long long|idtype)$|^(u?int\d+)$/.test(t)
          ? 'int'
          : t === 'float'
            ? 'double'
            : undefined;
    const unit = ui >= 0 ? l[ui] : undefined;
    const description = di >= 0 ? l[di] : undefined;
    if (l[ni])
      out[l[ni]] = {
        ...(type ? { type } : {}),
        ...(unit ? { unit } : {}),
        ...(description ? { description } : {}),
      };
  }
  return out;
}

export type TableFormat = 'json' | 'csv' | 'tsv';

/**
 * A table body → name, columns and rows: JSON `{name?, columns: [{name, type}], rows: [[…]]}`
 * (or `records: [{column: value}]`, types inferred), or CSV/TSV with a header row.
 */
export function tableFromText(
  text: string,
  format: TableFormat,
): { name?: string; columns: TableColumn[]; rows: TableValue[][] } {
  if (format !== 'json') return parseTableText(text, format === 'csv' ? ',' : '\t');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new AppError('bad_request', `body is not valid JSON: ${(e as Error).message}`);
  }
  const o = (doc ?? {}) as {
    name?: unknown;
    columns?: unknown;
    rows?: unknown;
    records?: unknown;
  };
  if (typeof o !== 'object' || Array.isArray(o))
    throw invalidParameter('body', 'expected a JSON object {columns, rows}');
  const name = typeof o.name === 'string' && o.name ? o.name : undefined;
  if (o.columns === undefined && Array.isArray(o.records)) {
    const records = (o.records as Array<Record<string, unknown> | null>).map((r) => r ?? {});
    const names = [...new Set(records.flatMap((r) => Object.keys(r)))];
    const columns: TableColumn[] = names.map((n) => {
      const vs = records.map((r) => r[n]).filter((v) => v !== null && v !== undefined);
      const type: TableColumnType =
        vs.length && vs.every((v) => typeof v === 'number')
          ? vs.every((v) => Number.isInteger(v))
            ? 'int'
            : 'double'
          : vs.length && vs.every((v) => typeof v === 'boolean')
            ? 'bit'
            : 'string';
      return { name: n, type };
    });
    const rows = records.map((r) =>
      columns.map((c) => {
        const v = r[c.name];
        if (v === null || v === undefined) return null;
        return c.type === 'string' && typeof v !== 'string' ? JSON.stringify(v) : (v as TableValue);
      }),
    );
    checkTable(columns, rows);
    return { ...(name ? { name } : {}), columns, rows };
  }
  checkTable(o.columns, o.rows);
  return {
    ...(name ? { name } : {}),
    columns: o.columns as TableColumn[],
    rows: o.rows as TableValue[][],
  };
}
