/**
 * Sidebar panels for the scene: volumes (list, sample data, NRRD upload by drag and drop, delete)
 * fiducials (list; points are placed by clicking a slice view) and models (list, visibility,
 * delete, upload of STL/OBJ/PLY/VTK/VTP; drawn by the 3D view).
 */
import { api, ApiError, bindDropZone, deleteButton, explain, h, say } from './api.mjs';
import { fmt } from './geometry.mjs';

const $ = (id) => document.getElementById(id);

const TYPE_NAMES = {
  vtkMRMLScalarVolumeNode: 'scalar',
  vtkMRMLLabelMapVolumeNode: 'label map',
  vtkMRMLVectorVolumeNode: 'vector',
  vtkMRMLDiffusionTensorVolumeNode: 'tensor',
};

function typeOf(v) {
  const kind = TYPE_NAMES[v.class] ?? (v.class ? v.class.replace(/^vtkMRML|Node$/g, '') : 'volume');
  const scalar = v.scalarType
    ? ` ${v.scalarType}${v.components > 1 ? `×${v.components}` : ''}`
    : '';
  return kind + scalar;
}

export class ScenePanel {
  constructor(app) {
    this.app = app;
    this.volumes = [];
    this.msg = $('scene-msg');
    this.#bindSamples();
    this.#bindUpload();
  }

  async refresh() {
    if (!api.has('GET', '/slicer/volumes')) {
      say(this.msg, 'This server has no scene endpoints yet (GET /slicer/volumes).');
      this.volumes = [];
      this.#renderList();
      return this.volumes;
    }
    try {
      this.volumes = await api.get('slicer/volumes');
      if (!Array.isArray(this.volumes)) this.volumes = [];
      if (this.msg.classList.contains('error') || this.msg.textContent.startsWith('This server'))
        say(this.msg, '');
    } catch (e) {
      this.volumes = [];
      say(this.msg, explain(e, 'Volumes'), 'error');
    }
    this.#renderList();
    return this.volumes;
  }

  /** The volume the views show: the one picked in the list, else the scene's active one, else the first. */
  current() {
    return (
      this.volumes.find((v) => v.id === this.selectedId) ??
      this.volumes.find((v) => v.active) ??
      this.volumes[0] ??
      null
    );
  }

  /** Shows another volume in the views. */
  async select(id) {
    if (this.current()?.id === id) return;
    this.selectedId = id;
    this.#renderList();
    await this.app.sceneChanged();
  }

  #renderList() {
    const body = $('volumes');
    body.replaceChildren();
    if (this.volumes.length === 0) {
      body.append(
        h(
          'tr',
          {},
          h(
            'td',
            { colSpan: 4, class: 'empty' },
            'No volumes. Load a sample or drop a NRRD file below.',
          ),
        ),
      );
      return;
    }
    const current = this.current();
    for (const v of this.volumes) {
      const dims = Array.isArray(v.dimensions) ? v.dimensions.join('×') : '–';
      const del = deleteButton('volume', v, () => this.#delete(v));
      if (!api.has('DELETE', '/slicer/volume')) del.disabled = true;
      body.append(
        h(
          'tr',
          {
            class: v === current ? 'active' : '',
            'data-id': v.id,
            'aria-current': v === current ? 'true' : undefined,
          },
          h(
            'td',
            { title: `${v.name} (${v.id})${v === current ? ', shown in the views' : ''}` },
            h(
              'button',
              {
                type: 'button',
                class: 'link',
                'aria-pressed': String(v === current),
                'aria-label': `Show ${v.name} in the views`,
                onclick: () => this.select(v.id),
              },
              v.name,
            ),
          ),
          h('td', {}, typeOf(v)),
          h('td', { class: 'num' }, dims),
          h('td', {}, del),
        ),
      );
    }
  }

  async #delete(v) {
    if (!confirm(`Delete the volume “${v.name}” (${v.id}) from the scene?`)) return;
    try {
      await api.json('DELETE', 'slicer/volume', { query: { id: v.id } });
      say(this.msg, `Deleted ${v.name}.`);
      await this.app.sceneChanged();
    } catch (e) {
      say(this.msg, explain(e, 'Delete'), 'error');
    }
  }

  async #bindSamples() {
    const sel = $('sample');
    const btn = $('sample-load');
    $('sample-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!sel.value) return;
      btn.disabled = true;
      say(this.msg, `Loading ${sel.value}…`);
      try {
        // POST where the server has it: loading changes the scene (and needs the token when auth is on).
        const method = api.has('POST', '/slicer/sampledata') ? 'POST' : 'GET';
        const r = await api.json(method, 'slicer/sampledata', { query: { name: sel.value } });
        say(this.msg, `Loaded ${r?.name ?? sel.value}.`);
        await this.app.sceneChanged();
      } catch (e) {
        say(this.msg, explain(e, 'Sample data'), 'error');
      } finally {
        btn.disabled = false;
      }
    });
  }

  async loadSampleList() {
    const sel = $('sample');
    const btn = $('sample-load');
    if (!api.has('GET', '/slicer/sampledata')) {
      sel.replaceChildren(new Option('not available', ''));
      return;
    }
    try {
      const list = await api.get('slicer/sampledata');
      sel.replaceChildren(
        ...list.map((s) =>
          Object.assign(new Option(s.name, s.name), { title: s.description ?? '' }),
        ),
      );
      sel.disabled = btn.disabled = list.length === 0;
    } catch (e) {
      sel.replaceChildren(new Option('not available', ''));
      say(this.msg, explain(e, 'Sample list'), 'error');
    }
  }

  #bindUpload() {
    bindDropZone($('dropzone'), $('file'), (file) => this.upload(file));
    // A file dropped elsewhere on the page must not navigate away from it.
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => e.preventDefault());
  }

  async upload(file) {
    const zone = $('dropzone');
    // A Slicer segmentation goes to the segmentation panel (PUT /slicer/segmentation).
    if (/\.seg\.nrrd$/i.test(file.name) && this.app.segmentations?.available())
      return this.app.segmentations.upload(file);
    if (!/\.(nrrd|nhdr)$/i.test(file.name)) {
      say(this.msg, `${file.name} is not a .nrrd file.`, 'error');
      return;
    }
    const name = file.name.replace(/\.(nrrd|nhdr)$/i, '');
    zone.classList.add('busy');
    say(this.msg, `Uploading ${file.name} (${(file.size / 1048576).toFixed(1)} MB)…`);
    try {
      const r = await api.json('POST', 'slicer/volume', {
        query: { name },
        body: file,
        headers: { 'content-type': 'application/octet-stream' },
      });
      say(this.msg, `Added ${r?.name ?? name} (${r?.id ?? ''}).`);
      await this.app.sceneChanged();
    } catch (e) {
      say(this.msg, explain(e, `Upload of ${file.name}`), 'error');
    } finally {
      zone.classList.remove('busy');
    }
  }
}

export class FiducialPanel {
  constructor(app) {
    this.app = app;
    this.msg = $('fid-msg');
    this.lists = {};
    const btn = $('place');
    btn.addEventListener('click', () => {
      const on = btn.getAttribute('aria-pressed') !== 'true';
      btn.setAttribute('aria-pressed', String(on));
      app.setPlacing(on);
    });
  }

  async refresh() {
    if (!api.has('GET', '/slicer/fiducials')) {
      say(this.msg, 'This server has no fiducial endpoints yet (GET /slicer/fiducials).');
      $('place').disabled = true;
      return;
    }
    try {
      this.lists = (await api.get('slicer/fiducials')) ?? {};
    } catch (e) {
      this.lists = {};
      say(this.msg, explain(e, 'Fiducials'), 'error');
    }
    this.#render();
  }

  #render() {
    const ul = $('fiducials');
    ul.replaceChildren();
    const ids = Object.keys(this.lists);
    const total = ids.reduce((n, id) => n + (this.lists[id].markups?.length ?? 0), 0);
    if (total === 0) ul.append(h('li', { class: 'empty' }, 'No points yet.'));
    for (const id of ids) {
      const l = this.lists[id];
      if (!l.markups?.length) continue;
      const c = Array.isArray(l.color)
        ? `rgb(${l.color.map((x) => Math.round(x * 255)).join(',')})`
        : '#e33';
      ul.append(
        h(
          'li',
          { 'data-id': id },
          h('span', { class: 'swatch', style: `background:${c}` }),
          h('b', {}, l.name ?? id),
          ` (${l.markups.length})`,
          h(
            'ol',
            {},
            l.markups.map((m) =>
              h(
                'li',
                {},
                `${m.label || '–'}: R ${fmt(m.position?.[0])} A ${fmt(m.position?.[1])} S ${fmt(m.position?.[2])}`,
              ),
            ),
          ),
        ),
      );
    }
  }

  async place(ras) {
    const query = { r: ras[0].toFixed(2), a: ras[1].toFixed(2), s: ras[2].toFixed(2) };
    const r = await api.json('POST', 'slicer/fiducial', { query });
    say(this.msg, `Added ${r?.label ?? 'a point'} at R ${query.r}, A ${query.a}, S ${query.s}.`);
    await this.refresh();
  }

  error(e) {
    say(
      this.msg,
      e instanceof ApiError || e instanceof Error ? explain(e, 'Fiducial') : String(e),
      'error',
    );
  }

  message(text) {
    say(this.msg, text);
  }
}

/** Models (surfaces): list with colour, triangle count, visibility and delete; upload a mesh file. */
export class ModelPanel {
  constructor(app) {
    this.app = app;
    this.msg = $('model-msg');
    this.models = [];
    const input = $('model-file');
    $('model-add').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      if (input.files?.[0]) this.upload(input.files[0]);
      input.value = '';
    });
  }

  async refresh() {
    if (!api.has('GET', '/slicer/models')) {
      say(this.msg, 'This server has no model endpoints (GET /slicer/models).');
      $('model-add').disabled = true;
      return;
    }
    try {
      this.models = (await api.get('slicer/models')) ?? [];
    } catch (e) {
      this.models = [];
      say(this.msg, explain(e, 'Models'), 'error');
    }
    this.#render();
  }

  #render() {
    const ul = $('models');
    ul.replaceChildren();
    if (this.models.length === 0) ul.append(h('li', { class: 'empty' }, 'No models.'));
    for (const m of this.models) {
      const c = m.display?.color ?? [0.9, 0.9, 0.3];
      const visible = h('input', {
        type: 'checkbox',
        'aria-label': `Show ${m.name}`,
        title: 'Shown in the 3D view',
      });
      visible.checked = m.display?.visible !== false;
      visible.addEventListener('change', () => this.#set(m, { visible: String(visible.checked) }));
      const del = h('button', { type: 'button', 'aria-label': `Delete ${m.name}` }, '×');
      del.addEventListener('click', () => this.#delete(m));
      ul.append(
        h(
          'li',
          { 'data-id': m.id },
          visible,
          h('span', {
            class: 'swatch',
            style: `background:rgb(${c.map((x) => Math.round(x * 255)).join(',')})`,
          }),
          h('b', {}, m.name),
          ` ${(m.numberOfTriangles ?? 0).toLocaleString()} triangles `,
          del,
        ),
      );
    }
  }

  async #set(m, query) {
    try {
      await api.json('PUT', 'slicer/model', { query: { id: m.id, ...query } });
      await this.refresh();
      this.app.surfacesChanged();
    } catch (e) {
      say(this.msg, explain(e, m.name), 'error');
    }
  }

  async #delete(m) {
    try {
      await api.json('DELETE', 'slicer/model', { query: { id: m.id } });
      say(this.msg, `Deleted ${m.name}.`);
      await this.refresh();
      this.app.surfacesChanged();
    } catch (e) {
      say(this.msg, explain(e, m.name), 'error');
    }
  }

  async upload(file) {
    const name = file.name.replace(/\.(stl|obj|ply|vtk|vtp)$/i, '');
    say(this.msg, `Uploading ${file.name}…`);
    try {
      const r = await api.json('PUT', 'slicer/model', {
        query: { name },
        body: file,
        headers: { 'content-type': 'application/octet-stream' },
      });
      say(this.msg, `Added ${r?.name ?? name} (${r?.numberOfTriangles ?? '?'} triangles).`);
      await this.refresh();
      this.app.surfacesChanged();
    } catch (e) {
      say(this.msg, explain(e, `Upload of ${file.name}`), 'error');
    }
  }
}
