/**
 * Tables (vtkMRMLTableNode, e.g. segment statistics made by a job): a list; selecting one shows
 * its rows as a small HTML table, with CSV download and delete.
 */
import { api, explain, h, say } from './api.mjs';

const $ = (id) => document.getElementById(id);

/** A cell as text: numbers with up to 6 significant digits (the CSV has them all). */
function cellText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number')
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'boolean') return v ? '✓' : '';
  return String(v);
}

export class TablePanel {
  constructor(app) {
    this.app = app;
    this.msg = $('table-msg');
    this.tables = [];
    this.selectedId = null;
  }

  available() {
    return api.has('GET', '/slicer/tables');
  }

  async refresh() {
    if (!this.available()) {
      $('table-panel').hidden = true;
      return;
    }
    try {
      this.tables = (await api.get('slicer/tables')) ?? [];
    } catch (e) {
      this.tables = [];
      say(this.msg, explain(e, 'Tables'), 'error');
    }
    if (!this.tables.some((t) => t.id === this.selectedId)) this.selectedId = null;
    this.#renderList();
    await this.#renderTable();
  }

  #renderList() {
    const ul = $('tables');
    ul.replaceChildren();
    if (this.tables.length === 0) ul.append(h('li', { class: 'empty' }, 'No tables.'));
    for (const t of this.tables) {
      const selected = t.id === this.selectedId;
      const del = h(
        'button',
        { type: 'button', 'aria-label': `Delete ${t.name}`, onclick: () => this.#delete(t) },
        '×',
      );
      ul.append(
        h(
          'li',
          { 'data-id': t.id, class: selected ? 'active' : '' },
          h(
            'button',
            {
              type: 'button',
              class: 'link',
              'aria-pressed': String(selected),
              onclick: () => this.select(selected ? null : t.id),
            },
            t.name,
          ),
          ` ${t.numberOfRows} row${t.numberOfRows === 1 ? '' : 's'} × ${t.numberOfColumns} col. `,
          h(
            'button',
            {
              type: 'button',
              title: 'Download as CSV',
              'aria-label': `Download ${t.name} as CSV`,
              onclick: () => this.#download(t),
            },
            'CSV',
          ),
          ' ',
          del,
        ),
      );
    }
  }

  async select(id) {
    this.selectedId = id;
    this.#renderList();
    await this.#renderTable();
  }

  async #renderTable() {
    const box = $('table-view');
    if (!this.selectedId) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    try {
      const t = await api.get('slicer/table', { id: this.selectedId });
      box.replaceChildren(
        h(
          'table',
          { class: 'values', 'data-id': t.id, 'aria-label': t.name },
          h('caption', {}, t.name),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              t.columns.map((c) => h('th', { scope: 'col', title: c.type }, c.name)),
            ),
          ),
          h(
            'tbody',
            {},
            t.rows.map((r) =>
              h(
                'tr',
                {},
                r.map((v, i) =>
                  h('td', { class: t.columns[i]?.type === 'string' ? '' : 'num' }, cellText(v)),
                ),
              ),
            ),
          ),
        ),
      );
      box.hidden = false;
    } catch (e) {
      box.hidden = true;
      say(this.msg, explain(e, 'Table'), 'error');
    }
  }

  /** Through the API client (so a token header goes along), then saved as a file. */
  async #download(t) {
    try {
      const text = await api.json('GET', 'slicer/table', { query: { id: t.id, format: 'csv' } });
      const a = h('a', {
        href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })),
        download: `${t.name}.csv`,
      });
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) {
      say(this.msg, explain(e, t.name), 'error');
    }
  }

  async #delete(t) {
    try {
      await api.json('DELETE', 'slicer/table', { query: { id: t.id } });
      say(this.msg, `Deleted ${t.name}.`);
      await this.refresh();
    } catch (e) {
      say(this.msg, explain(e, t.name), 'error');
    }
  }
}
