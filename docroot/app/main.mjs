/**
 * The voxelgate viewer page: wires the status bar, the sidebar panels and the views together.
 * Everything goes through voxelgate's public HTTP endpoints; features whose endpoints the
 * server lacks are hidden or explained, never probed with failing requests.
 *
 * `window.voxelgate` exposes the views and their schedulers' counters for tests and debugging.
 */
import { api, explain, h } from './api.mjs';
import { DicomPanel } from './dicom.mjs';
import { FiducialPanel, ModelPanel, ScenePanel } from './scene.mjs';
import { LiveScene, ProcessingPanel } from './processing.mjs';
import { SegmentationPanel } from './segmentations.mjs';
import { TablePanel } from './tables.mjs';
import { SliceView, ThreeDView } from './views.mjs';

const $ = (id) => document.getElementById(id);

const LAYOUTS = {
  FourUp: ['red', 'threeD', 'yellow', 'green'],
  Conventional: ['threeD', 'red', 'yellow', 'green'],
  OneUp3D: ['threeD'],
  OneUpRedSlice: ['red'],
  OneUpYellowSlice: ['yellow'],
  OneUpGreenSlice: ['green'],
};

const app = {
  placing: false,
  info: null,
  layout: 'FourUp',
  views: {},
  scene: null,
  fiducials: null,
  segmentations: null,
  models: null,
  tables: null,
  dicom: null,
  processing: null,
  live: null,

  volume() {
    return this.scene?.current() ?? null;
  },
  volumeInfo() {
    return this.info;
  },
  defaultWindowLevel() {
    return this.info?.window !== undefined ? [this.info.window, this.info.level] : [400, 40];
  },

  /** Window/level set in one slice view applies to all (as Slicer's per-volume display). */
  shareWindowLevel(from, w, l) {
    for (const v of ['red', 'yellow', 'green'])
      if (this.views[v] !== from) this.views[v].setWindowLevel(w, l);
    $('wl-readout').textContent = `W ${Math.round(w)} · L ${Math.round(l)}`;
  },

  /** The 3D view picked up the server's mode: show it in the menu. */
  modeChanged(mode) {
    $('mode3d').value = mode;
  },

  setPlacing(on) {
    this.placing = on;
    for (const v of ['red', 'yellow', 'green']) this.views[v].el.classList.toggle('placing', on);
  },

  async placeFiducial(ras) {
    await this.fiducials.place(ras);
    this.rerenderSlices();
  },
  fiducialError(e) {
    this.fiducials.error(e);
  },
  fiducialMessage(t) {
    this.fiducials.message(t);
  },

  rerenderSlices() {
    for (const v of ['red', 'yellow', 'green']) {
      this.views[v].scheduler.invalidate();
      this.views[v].render();
    }
  },

  /** Volumes were added or removed: reload the list and the current volume's geometry, re-render. */
  async sceneChanged() {
    await this.scene.refresh();
    await this.loadVolumeInfo();
    await Promise.all(Object.values(this.views).map((v) => v.volumeChanged(this.info)));
    this.fiducials.refresh();
    this.segmentations.refresh();
    this.models?.refresh();
    this.tables?.refresh();
    this.showEmptyState();
  },

  /** Models were added, changed or removed: re-render the 3D view. */
  surfacesChanged() {
    const v = this.views.threeD;
    v.scheduler.invalidate();
    v.render();
  },

  /** Re-renders only when the volume list differs from the one shown (cheap enough for every focus). */
  async checkScene() {
    const before = JSON.stringify(this.scene.volumes);
    await this.scene.refresh();
    if (JSON.stringify(this.scene.volumes) !== before) await this.sceneChanged();
    else {
      this.fiducials.refresh();
      this.segmentations.refresh();
      this.models?.refresh();
      this.tables?.refresh();
    }
  },

  /**
   * Scene events from the live stream: a changed volume list reloads the views; a changed node
   * (voxels, transforms, fiducials) re-renders them.
   */
  async nodesChanged(events) {
    const listChanged = events.some(
      (e) =>
        e.type === 'reset' ||
        e.type === 'scene-cleared' ||
        e.type === 'active-volume' ||
        ((e.type === 'node-added' || e.type === 'node-removed') &&
          /Volume/.test(e.className ?? '')) ||
        (e.type === 'node-modified' &&
          /Volume/.test(e.className ?? '') &&
          e.changed?.includes('name')),
    );
    const segmentationsChanged = events.some(
      (e) => e.type === 'reset' || /Segmentation/.test(e.className ?? ''),
    );
    if (listChanged) await this.sceneChanged();
    if (segmentationsChanged) await this.segmentations.refresh();
    if (!listChanged) {
      if (events.some((e) => /Fiducial|Markups/.test(e.className ?? ''))) this.fiducials.refresh();
      if (events.some((e) => e.className === 'vtkMRMLModelNode')) this.models?.refresh();
      if (events.some((e) => e.className === 'vtkMRMLTableNode')) this.tables?.refresh();
      this.rerenderSlices();
      this.views.threeD?.scheduler.invalidate();
      this.views.threeD?.render();
    }
    this.processing?.scenesChanged();
  },

  /** Geometry and display of the current volume (`/slicer/mrml/properties`), when available. */
  async loadVolumeInfo() {
    const v = this.volume();
    this.info = null;
    if (!v) return;
    this.info = { dimensions: v.dimensions };
    if (!api.has('GET', '/slicer/mrml/properties')) return;
    try {
      const props = await api.get('slicer/mrml/properties', { id: v.id });
      const p = Array.isArray(props) ? props[0] : (props?.[v.id] ?? props);
      if (p) {
        this.info = {
          dimensions: p.dimensions ?? v.dimensions,
          ijkToRAS: p.ijkToRAS,
          window: p.display?.window,
          level: p.display?.level,
        };
      }
    } catch {
      /* the list's dimensions are enough */
    }
  },

  showEmptyState() {
    const none = !this.volume();
    for (const v of Object.values(this.views)) {
      if (none) {
        v.img.removeAttribute('src');
        v.note.textContent = api.has('GET', '/slicer/volumes')
          ? 'No volume in the scene: load a sample or drop a NRRD file.'
          : 'This server cannot show volumes yet.';
      } else if (!api.has('GET', v.key === 'threeD' ? '/slicer/threeD' : '/slicer/slice')) {
        v.note.textContent = 'This server cannot render this view yet.';
      }
    }
  },

  async setLayout(name, { tellServer = true } = {}) {
    if (!LAYOUTS[name]) name = 'FourUp';
    this.layout = name;
    $('layout').value = name;
    $('views').dataset.layout = name;
    const shown = new Set(LAYOUTS[name]);
    for (const [k, v] of Object.entries(this.views)) v.setVisible(shown.has(k));
    if (tellServer && api.has('PUT', '/slicer/gui')) {
      try {
        await api.json('PUT', 'slicer/gui', { query: { viewersLayout: name } });
      } catch {
        /* the page layout still changed; the server's screenshot layout did not */
      }
    }
  },
};

function renderStatus(version) {
  const s = api.status;
  const el = $('status');
  el.replaceChildren();
  if (!s && !version) {
    el.append(h('span', { class: 'chip bad' }, 'server not reachable'));
    return;
  }
  const chip = (text, cls = '', title = '') => h('span', { class: `chip ${cls}`, title }, text);
  el.append(
    chip(`voxelgate ${s?.version ?? version?.applicationVersion ?? ''}`, 'ok', 'server version'),
  );
  if (s) {
    if (s.url) el.append(chip(s.url.replace(/\/$/, ''), '', 'bound address'));
    el.append(
      chip(
        `exec ${s.exec ? 'on' : 'off'}`,
        s.exec ? 'on' : '',
        'POST /slicer/exec (remote code execution)',
      ),
    );
    el.append(
      chip(
        `auth ${s.auth === 'off' ? 'off' : s.auth === 'all' ? 'on (all requests)' : 'on (changes)'}`,
        s.auth === 'off' ? '' : 'ok',
        'bearer token required',
      ),
    );
    if (s.dicom === false) el.append(chip('DICOM off'));
    if (s.cors) el.append(chip(`CORS ${s.cors}`));
  }
}

async function main() {
  let version = null;
  let needsToken = false;
  try {
    await api.loadStatus();
  } catch (e) {
    needsToken = e?.status === 401;
    $('status').textContent = explain(e, 'Status');
  }
  if (!api.status) {
    try {
      version = await api.get('slicer/system/version');
    } catch {
      /* not reachable */
    }
  }
  if (!needsToken) renderStatus(version);
  if (needsToken || (api.status && api.status.auth !== 'off')) {
    const box = $('token-box');
    box.hidden = false;
    const input = $('token');
    input.value = api.token;
    box.addEventListener('submit', (e) => e.preventDefault());
    input.addEventListener('change', () => {
      api.token = input.value.trim();
      if (needsToken) location.reload();
      for (const v of Object.values(app.views)) v.scheduler.invalidate();
    });
  }
  if (needsToken) return;
  if (api.status?.ohif === false)
    $('ohif-link').title = 'OHIF is not installed yet: the page says how';

  const views = $('views');
  for (const k of ['red', 'yellow', 'green']) app.views[k] = new SliceView(k, app);
  app.views.threeD = new ThreeDView(app);
  for (const k of ['red', 'threeD', 'yellow', 'green']) views.append(app.views[k].el);

  app.scene = new ScenePanel(app);
  app.fiducials = new FiducialPanel(app);
  app.segmentations = new SegmentationPanel(app);
  app.models = new ModelPanel(app);
  app.tables = new TablePanel(app);
  app.dicom = new DicomPanel(app);
  app.processing = new ProcessingPanel(app);

  $('layout').addEventListener('change', (e) => app.setLayout(e.target.value));
  $('mode3d').addEventListener('change', (e) => app.views.threeD.setMode(e.target.value));
  $('reset3d').addEventListener('click', () => app.views.threeD.reset());
  if (!api.has('GET', '/slicer/threeD')) $('mode3d').disabled = $('reset3d').disabled = true;

  let layout = 'FourUp';
  if (api.has('GET', '/slicer/gui')) {
    try {
      const g = await api.get('slicer/gui');
      if (g?.viewersLayout && LAYOUTS[g.viewersLayout]) layout = g.viewersLayout;
    } catch {
      /* default layout */
    }
  }
  await app.setLayout(layout, { tellServer: false });

  await Promise.all([app.scene.loadSampleList(), app.sceneChanged(), app.dicom.search()]);
  await app.processing.load();
  await app.segmentations.refresh(); // the node pickers list segmentations too
  app.processing.scenesChanged();
  // Changes by jobs, scripts or other clients arrive on the live event stream; without one (an
  // older server), check the scene when the page gets the focus back.
  app.live = new LiveScene({
    onNodes: (events) => app.nodesChanged(events),
    onJob: (type, job) => app.processing.onJob(type, job),
  });
  if (!app.live.start()) window.addEventListener('focus', () => app.checkScene());
  $('scene-refresh').addEventListener('click', () => app.sceneChanged());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && app.placing) $('place').click();
  });
  document.body.dataset.ready = 'true';
}

window.voxelgate = {
  app,
  api,
  /** Request counters of every view's scheduler (sent, completed, superseded, failed, notModified). */
  stats: () =>
    Object.fromEntries(Object.entries(app.views).map(([k, v]) => [k, { ...v.scheduler.stats }])),
  /** Resolves when every view is idle (nothing in flight, pending or owed). */
  idle: () => Promise.all(Object.values(app.views).map((v) => v.scheduler.whenIdle())),
};

main().catch((e) => {
  $('status').textContent = explain(e, 'Start-up');
});
