/**
 * The Processing panel and the live scene connection.
 *
 * - `LiveScene` follows `GET /slicer/events` (Server-Sent Events; the browser's EventSource
 *   reconnects by itself and sends Last-Event-ID, so nothing is missed) and tells the page what
 *   changed: node events refresh the scene list and views, job events drive the progress bars.
 * - `ProcessingPanel` lists `/slicer/functions`, builds a form from the chosen function's JSON
 *   Schema (node parameters marked `x-node` become pickers of scene volumes), starts jobs with
 *   `POST /slicer/jobs`, shows a progress bar and a cancel button per job, and names the result
 *   nodes when the job is done.
 */
import { api, explain, h, say } from './api.mjs';

const $ = (id) => document.getElementById(id);

const NODE_EVENTS = [
  'node-added',
  'node-modified',
  'node-removed',
  'scene-cleared',
  'active-volume',
];
const JOB_EVENTS = [
  'job-queued',
  'job-started',
  'job-progress',
  'job-succeeded',
  'job-failed',
  'job-cancelled',
];

export class LiveScene {
  /** @param {{onNodes: (events: object[]) => void, onJob: (type: string, job: object) => void}} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    this.connected = false;
    this.pending = [];
    this.timer = null;
  }

  /** Opens the stream; false when the server or the browser has none. */
  start() {
    if (typeof EventSource === 'undefined' || !api.has('GET', '/slicer/events')) return false;
    const token =
      api.status?.auth === 'all' && api.token
        ? `?access_token=${encodeURIComponent(api.token)}`
        : '';
    this.source = new EventSource(`slicer/events${token}`);
    this.source.addEventListener('open', () => (this.connected = true));
    this.source.addEventListener('error', () => (this.connected = false));
    // A resume the server cannot serve: reload everything once.
    this.source.addEventListener('reset', () => this.#queue({ type: 'reset' }));
    for (const type of NODE_EVENTS)
      this.source.addEventListener(type, (e) => this.#queue({ type, ...JSON.parse(e.data) }));
    for (const type of JOB_EVENTS)
      this.source.addEventListener(type, (e) => this.handlers.onJob(type, JSON.parse(e.data)));
    return true;
  }

  /** Node events arrive in bursts (a job adds several nodes): handle them together. */
  #queue(e) {
    this.pending.push(e);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const batch = this.pending.splice(0);
      this.handlers.onNodes(batch);
    }, 60);
  }
}

/** Which scene nodes a parameter of kind `x-node` may take (from the volume list). */
function nodeChoices(app, kind) {
  const vols = app.scene?.volumes ?? [];
  if (kind === 'labelmap') return vols.filter((v) => /LabelMap/.test(v.class ?? ''));
  if (kind === 'volume') return vols;
  if (kind === 'segmentation') return app.segmentations?.items ?? [];
  return [];
}

export class ProcessingPanel {
  constructor(app) {
    this.app = app;
    this.functions = [];
    this.jobs = new Map();
    this.msg = $('proc-msg');
    this.select = $('proc-fn');
    this.form = $('proc-form');
    this.fields = $('proc-fields');
    this.list = $('proc-jobs');
    this.select.addEventListener('change', () => this.#renderForm());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#start();
    });
  }

  async load() {
    if (!api.has('GET', '/slicer/functions')) {
      $('proc-panel').hidden = true;
      return;
    }
    try {
      this.functions = await api.get('slicer/functions');
    } catch (e) {
      say(this.msg, explain(e, 'Functions'), 'error');
      return;
    }
    this.select.replaceChildren(
      ...this.functions.map((f) => h('option', { value: f.name, title: f.description }, f.title)),
    );
    this.select.disabled = false;
    $('proc-run').disabled = false;
    this.#renderForm();
    try {
      for (const j of (await api.get('slicer/jobs')).reverse()) this.#upsert(j);
    } catch {
      /* no history */
    }
  }

  /** The volume list changed: refresh the node pickers, keeping the choices. */
  scenesChanged() {
    for (const sel of this.fields.querySelectorAll('select[data-node]')) {
      const keep = sel.value;
      this.#fillNodeSelect(sel, sel.dataset.node, sel.dataset.optional === 'true');
      if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
    }
  }

  #fn() {
    return this.functions.find((f) => f.name === this.select.value);
  }

  #fillNodeSelect(sel, kind, optional) {
    const opts = nodeChoices(this.app, kind).map((v) => h('option', { value: v.id }, v.name));
    if (optional)
      opts.unshift(h('option', { value: '' }, kind === 'volume' ? '(current volume)' : '(none)'));
    sel.replaceChildren(...opts);
    const cur = this.app.volume?.();
    if (cur && !optional && [...sel.options].some((o) => o.value === cur.id)) sel.value = cur.id;
  }

  #renderForm() {
    const fn = this.#fn();
    this.fields.replaceChildren();
    if (!fn) return;
    $('proc-desc').textContent = fn.description ?? '';
    const props = fn.params?.properties ?? {};
    const required = new Set(fn.params?.required ?? []);
    for (const [name, p] of Object.entries(props)) {
      const id = `proc-p-${name}`;
      let input;
      if (p['x-node']) {
        input = h('select', {
          id,
          name,
          'data-node': p['x-node'],
          'data-optional': String(!required.has(name)),
        });
        this.#fillNodeSelect(input, p['x-node'], !required.has(name));
      } else if (Array.isArray(p.enum)) {
        input = h(
          'select',
          { id, name },
          ...p.enum.map((v) => h('option', { value: v }, String(v))),
        );
        if (p.default !== undefined) input.value = p.default;
      } else if (p.type === 'boolean') {
        input = h('input', { id, name, type: 'checkbox' });
        input.checked = p.default === true;
      } else if (p.type === 'integer' || p.type === 'number') {
        input = h('input', {
          id,
          name,
          type: 'number',
          step: p.type === 'integer' ? '1' : 'any',
          min: p.minimum,
          max: p.maximum,
          value: p.default,
          required: required.has(name),
          size: 6,
        });
      } else {
        // Arrays (RAS points; names such as segments) and anything else: JSON or comma-separated.
        const names = p.type === 'array' && p.items?.type === 'string';
        input = h('input', {
          id,
          name,
          type: 'text',
          placeholder: p.type === 'array' ? (names ? 'all (or a, b)' : 'x, y, z') : '',
          value: p.default !== undefined ? String(p.default) : '',
          required: required.has(name),
          size: 12,
          'data-kind': p.type === 'array' ? 'array' : 'string',
        });
      }
      this.fields.append(
        h(
          'div',
          { class: 'row' },
          h(
            'label',
            { for: id, title: p.description ?? '' },
            name + (required.has(name) ? ' *' : ''),
          ),
          input,
        ),
      );
    }
  }

  #params() {
    const fn = this.#fn();
    const props = fn.params?.properties ?? {};
    const out = {};
    for (const [name, p] of Object.entries(props)) {
      const el = this.fields.querySelector(`[name="${name}"]`);
      if (!el) continue;
      if (el.type === 'checkbox') out[name] = el.checked;
      else if (el.value === '') continue;
      else if (el.dataset.node) out[name] = el.value;
      else if (p.type === 'integer' || p.type === 'number') out[name] = Number(el.value);
      else if (el.dataset.kind === 'array') {
        const t = el.value.trim();
        const names = p.items?.type === 'string';
        out[name] = t.startsWith('[')
          ? JSON.parse(t)
          : t
              .split(names ? /\s*,\s*/ : /[\s,]+/)
              .filter(Boolean)
              .map(names ? String : Number);
      } else out[name] = el.value;
    }
    return out;
  }

  async #start() {
    say(this.msg, '');
    let params;
    try {
      params = this.#params();
    } catch (e) {
      say(this.msg, `Parameters: ${e.message}`, 'error');
      return;
    }
    try {
      const job = await api.json('POST', 'slicer/jobs', {
        body: JSON.stringify({ function: this.select.value, params }),
        headers: { 'content-type': 'application/json' },
      });
      this.#upsert(job);
    } catch (e) {
      say(this.msg, explain(e, 'Start'), 'error');
    }
  }

  /** A job event from the live stream (or a record from a request). */
  onJob(type, job) {
    this.#upsert(job);
  }

  #upsert(job) {
    let row = this.jobs.get(job.id);
    if (!row) {
      const bar = h('progress', { max: 1, value: 0 });
      const text = h('span', { class: 'job-msg' });
      const cancel = h(
        'button',
        {
          type: 'button',
          class: 'small',
          title: 'Cancel this job',
          onclick: async () => {
            try {
              this.#upsert(await api.json('DELETE', `slicer/jobs/${job.id}`));
            } catch (e) {
              say(this.msg, explain(e, 'Cancel'), 'error');
            }
          },
        },
        'Cancel',
      );
      const el = h(
        'li',
        { class: 'job', 'data-job': job.id },
        h('b', {}, job.name ?? job.id),
        ' ',
        bar,
        ' ',
        cancel,
        h('br'),
        text,
      );
      row = { el, bar, text, cancel, job };
      this.jobs.set(job.id, row);
      this.list.prepend(el);
    }
    // Events may arrive out of order with a request's answer: never go back from a final state.
    const final = (s) => ['succeeded', 'failed', 'cancelled'].includes(s);
    if (final(row.job.state) && !final(job.state)) return;
    row.job = { ...row.job, ...job };
    const j = row.job;
    row.el.dataset.state = j.state;
    row.bar.value = j.state === 'succeeded' ? 1 : (j.progress ?? 0);
    row.cancel.hidden = final(j.state);
    if (j.state === 'succeeded') {
      const names = (j.result?.nodeIds ?? []).length
        ? `→ ${j.result.nodeIds.length} node(s) added`
        : '';
      const values =
        j.result?.values !== undefined && !names ? `= ${JSON.stringify(j.result.values)}` : names;
      row.text.textContent = `done ${values}`;
    } else if (j.state === 'failed')
      row.text.textContent = `failed: ${j.error?.message ?? j.message}`;
    else
      row.text.textContent = `${j.state}${j.message && j.message !== j.state ? ` — ${j.message}` : ''}`;
  }
}
