/**
 * Sidebar panel for segmentations: every segmentation node with its segments (colour swatch,
 * name, visibility toggle through `PUT /slicer/segment?visible=`), delete, fill opacity and
 * outline for the slice overlay, and a drop zone for `.seg.nrrd` (or plain label map) files that
 * go to `PUT /slicer/segmentation` with the volume shown as reference.
 */
import { api, bindDropZone, deleteButton, explain, h, say } from './api.mjs';

const $ = (id) => document.getElementById(id);

const rgb = (c) =>
  Array.isArray(c) ? `rgb(${c.map((x) => Math.round(x * 255)).join(',')})` : '#888';

export class SegmentationPanel {
  constructor(app) {
    this.app = app;
    this.msg = $('seg-msg');
    /** Segmentation JSON descriptions (`format=json`), in scene order. */
    this.items = [];
    this.opacity = 0.5;
    this.outline = true;
    this.#bindControls();
    this.#bindUpload();
  }

  available() {
    return api.has('GET', '/slicer/segmentations');
  }

  /** Slice parameters for the overlay. */
  sliceParams() {
    if (!this.available()) return {};
    return {
      segmentation: 'all',
      segmentationOpacity: String(this.opacity),
      outline: this.outline ? 'on' : 'off',
    };
  }

  async refresh() {
    if (!this.available()) {
      say(this.msg, 'This server has no segmentation endpoints (GET /slicer/segmentations).');
      $('seg-panel').dataset.unavailable = 'true';
      return;
    }
    try {
      const list = (await api.get('slicer/segmentations')) ?? {};
      this.items = await Promise.all(
        Object.keys(list).map((id) => api.get('slicer/segmentation', { id, format: 'json' })),
      );
      if (this.msg.classList.contains('error')) say(this.msg, '');
    } catch (e) {
      this.items = [];
      say(this.msg, explain(e, 'Segmentations'), 'error');
    }
    this.#render();
  }

  #render() {
    const ul = $('segmentations');
    ul.replaceChildren();
    if (this.items.length === 0) {
      ul.append(h('li', { class: 'empty' }, 'No segmentations. Drop a .seg.nrrd below.'));
      return;
    }
    for (const s of this.items) {
      const del = deleteButton('segmentation', s, () => this.#delete(s));
      ul.append(
        h(
          'li',
          { 'data-id': s.id },
          h('b', { title: s.id }, s.name),
          ` (${s.segments.length}) `,
          del,
          h(
            'ul',
            { class: 'segments' },
            s.segments.map((seg) =>
              h(
                'li',
                { 'data-segment': seg.id },
                h(
                  'label',
                  { title: `${seg.id} · label ${seg.labelValue} · layer ${seg.layer}` },
                  h('input', {
                    type: 'checkbox',
                    checked: seg.visible,
                    'aria-label': `Show ${seg.name}`,
                    onchange: (e) => this.#setVisible(s, seg, e.target.checked),
                  }),
                  h('span', { class: 'swatch', style: `background:${rgb(seg.color)}` }),
                  ` ${seg.name}`,
                ),
                h('span', { class: 'hint' }, ` ${seg.voxelCount} vox`),
              ),
            ),
          ),
        ),
      );
    }
  }

  async #setVisible(s, seg, visible) {
    try {
      await api.json('PUT', 'slicer/segment', {
        query: { segmentation: s.id, segmentID: seg.id, visible: String(visible) },
      });
      seg.visible = visible;
      this.app.rerenderSlices();
    } catch (e) {
      say(this.msg, explain(e, 'Visibility'), 'error');
      await this.refresh();
    }
  }

  async #delete(s) {
    if (!confirm(`Delete the segmentation “${s.name}” (${s.id})?`)) return;
    try {
      await api.json('DELETE', 'slicer/segmentation', { query: { id: s.id } });
      say(this.msg, `Deleted ${s.name}.`);
      await this.refresh();
      this.app.rerenderSlices();
    } catch (e) {
      say(this.msg, explain(e, 'Delete'), 'error');
    }
  }

  #bindControls() {
    const op = $('seg-opacity');
    op.addEventListener('input', () => {
      this.opacity = Number(op.value);
      this.app.rerenderSlices();
    });
    const ol = $('seg-outline');
    ol.addEventListener('change', () => {
      this.outline = ol.checked;
      this.app.rerenderSlices();
    });
  }

  #bindUpload() {
    bindDropZone($('seg-dropzone'), $('seg-file'), (file) => this.upload(file));
  }

  /** Uploads a `.seg.nrrd` or label map; the volume shown in the views becomes its reference. */
  async upload(file) {
    if (!/\.nrrd$/i.test(file.name)) {
      say(this.msg, `${file.name} is not a .seg.nrrd or .nrrd file.`, 'error');
      return;
    }
    const name = file.name.replace(/(\.seg)?\.nrrd$/i, '');
    const zone = $('seg-dropzone');
    zone.classList.add('busy');
    say(this.msg, `Uploading ${file.name}…`);
    try {
      const query = { name };
      const ref = this.app.volume();
      if (ref) query.referenceVolume = ref.id;
      const r = await api.json('PUT', 'slicer/segmentation', {
        query,
        body: file,
        headers: { 'content-type': 'application/octet-stream' },
      });
      say(this.msg, `Added ${r?.name ?? name} (${r?.segmentIDs?.length ?? 0} segments).`);
      await this.refresh();
      this.app.rerenderSlices();
    } catch (e) {
      say(this.msg, explain(e, `Upload of ${file.name}`), 'error');
    } finally {
      zone.classList.remove('busy');
    }
  }
}
