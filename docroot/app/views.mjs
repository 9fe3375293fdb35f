/**
 * The slice views (red, yellow, green) and the 3D view. Each view is an image rendered by the
 * server (`/slicer/slice`, `/slicer/threeD`); every interaction only changes the view's *wanted
 * state*, and the view's ViewScheduler sends it (one request in flight, latest wins, draft
 * resolution while interacting, full resolution when the user stops).
 */
import { api } from './api.mjs';
import { fmt, ORIENTATION_NORMALS, pixelToRas, slicesAlong } from './geometry.mjs';
import { ViewScheduler } from './view-scheduler.mjs';

const SLICE_DEFAULTS = { red: 'axial', yellow: 'sagittal', green: 'coronal' };
const LABELS = { red: 'Red', yellow: 'Yellow', green: 'Green', threeD: '3D' };
/** Draft renders (while wheeling/dragging) at this fraction of the full size. */
const DRAFT_SCALE = 0.5;
const MAX_SIDE = 1024;

/** Pixel size of the image area, rounded, capped (devicePixelRatio taken into account). */
function renderSize(el) {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  let w = Math.round(el.clientWidth * dpr);
  let hgt = Math.round(el.clientHeight * dpr);
  const s = Math.min(1, MAX_SIDE / Math.max(w, hgt, 1));
  w = Math.max(32, Math.round(w * s));
  hgt = Math.max(32, Math.round(hgt * s));
  return [w, hgt];
}
const scaled = ([w, hgt], f) => [
  Math.max(16, Math.round(w * f)),
  Math.max(16, Math.round(hgt * f)),
];

/** Position of a pointer event as fractions (0..1) of the displayed image (object-fit: contain). */
function imageFraction(img, ev) {
  const rect = img.getBoundingClientRect();
  const nw = img.naturalWidth || rect.width;
  const nh = img.naturalHeight || rect.height;
  const scale = Math.min(rect.width / nw, rect.height / nh);
  const dw = nw * scale;
  const dh = nh * scale;
  const x = (ev.clientX - rect.left - (rect.width - dw) / 2) / dw;
  const y = (ev.clientY - rect.top - (rect.height - dh) / 2) / dh;
  return x >= 0 && x <= 1 && y >= 0 && y <= 1 ? [x, y] : null;
}

/** Shared view frame: header, image, busy dot, note line; image updates from a scheduler. */
class BaseView {
  constructor(key, app) {
    this.key = key;
    this.app = app;
    this.visible = false;
    this.el = document.createElement('section');
    this.el.className = `view ${key}`;
    this.el.setAttribute('aria-label', `${LABELS[key]} view`);
    this.header = document.createElement('header');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = LABELS[key];
    this.header.append(name);
    this.info = document.createElement('span');
    this.info.className = 'info';
    this.canvas = document.createElement('div');
    this.canvas.className = 'canvas';
    this.canvas.tabIndex = 0;
    this.img = document.createElement('img');
    this.img.alt = `${LABELS[key]} view image`;
    this.img.draggable = false;
    this.note = document.createElement('div');
    this.note.className = 'note';
    const busy = document.createElement('div');
    busy.className = 'busy';
    const badge = document.createElement('div');
    badge.className = 'badge';
    badge.textContent = 'preview';
    this.canvas.append(this.img, busy, badge, this.note);
    this.el.append(this.header, this.canvas);
    this.objectUrl = null;
    /** Image hash-free identity of what is shown: the URL of the last answered request. */
    this.shownUrl = null;
    this.scheduler = new ViewScheduler({
      buildUrl: (s, draft) => this.buildUrl(s, draft),
      onResult: (r) => this.#show(r),
      onError: (e) => this.#failed(e),
      onBusy: (b) => this.el.classList.toggle('loading', b),
      headers: () => api.headers(),
      // No faster than ~30 images a second per view, however fast the server answers.
      frameMs: 33,
    });
    new ResizeObserver(() => this.#resized()).observe(this.canvas);
  }

  #resized() {
    if (!this.visible || this.canvas.clientWidth < 8 || this.canvas.clientHeight < 8) return;
    const size = renderSize(this.canvas);
    if (this.state.size && size[0] === this.state.size[0] && size[1] === this.state.size[1]) return;
    this.state.size = size;
    this.render();
  }

  setVisible(v) {
    this.visible = v;
    this.el.hidden = !v;
    if (v) requestAnimationFrame(() => this.#resized());
  }

  /** Asks for the current wanted state (full quality unless `interactive`). */
  render(interactive = false) {
    if (!this.visible || !this.state.size || !this.enabled()) return;
    this.scheduler.request({ ...this.state }, { interactive });
  }

  enabled() {
    return true;
  }

  #show({ blob, job }) {
    this.el.classList.toggle('draft', job.draft);
    this.shownUrl = job.url;
    if (blob) {
      const url = URL.createObjectURL(blob);
      const old = this.objectUrl;
      this.objectUrl = url;
      this.img.src = url;
      if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
    }
    this.note.textContent = '';
    this.shown(job);
  }

  shown() {}

  #failed({ status, message }) {
    this.el.classList.remove('draft');
    if (this.objectUrl) {
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }
    this.img.removeAttribute('src');
    this.note.textContent =
      status === 404 && /unknown endpoint|no such path/.test(message)
        ? 'This server cannot render this view yet.'
        : message;
  }
}

export class SliceView extends BaseView {
  constructor(key, app) {
    super(key, app);
    this.state = {
      orientation: SLICE_DEFAULTS[key],
      index: 0,
      count: 1,
      window: undefined,
      level: undefined,
      size: null,
    };
    this.positioned = false;
    const sel = document.createElement('select');
    sel.setAttribute('aria-label', `${LABELS[key]} view orientation`);
    for (const o of ['axial', 'sagittal', 'coronal'])
      sel.append(new Option(o[0].toUpperCase() + o.slice(1), o));
    sel.value = this.state.orientation;
    sel.addEventListener('change', () => this.setOrientation(sel.value));
    this.orientationSelect = sel;
    this.header.append(sel, this.info);
    // Keyboard-wise the view is a slider over the slices (arrows, Page Up/Down, Home, End).
    this.canvas.setAttribute('role', 'slider');
    this.canvas.setAttribute(
      'aria-label',
      `${LABELS[key]} slice view: mouse wheel or arrow keys scroll, drag changes window/level`,
    );
    this.canvas.setAttribute('aria-valuemin', '1');
    this.#bind();
  }

  enabled() {
    return this.app.volume() !== null && api.has('GET', '/slicer/slice');
  }

  buildUrl(s, draft) {
    const q = new URLSearchParams({ view: this.key, orientation: s.orientation });
    // The page decides which volume its views show (the one selected in the list).
    const vol = this.app.volume();
    if (vol) q.set('background', vol.id);
    q.set('scrollTo', s.count > 1 ? (s.index / (s.count - 1)).toFixed(6) : '0.5');
    const size = draft ? scaled(s.size, DRAFT_SCALE) : s.size;
    q.set('size', `${size[0]}x${size[1]}`);
    if (s.window !== undefined) {
      q.set('window', fmt(s.window, 2));
      q.set('level', fmt(s.level, 2));
    }
    q.set('fiducials', 'on');
    for (const [k, v] of Object.entries(this.app.segmentations?.sliceParams() ?? {})) q.set(k, v);
    if (draft) {
      q.set('format', 'jpeg');
      q.set('quality', '70');
    } else q.set('format', 'png');
    return `slicer/slice?${q}`;
  }

  /**
   * New volume (or none): slice count along this view's normal. The first time, start where the
   * server's view is (`GET /slicer/view`: offset within bounds), else in the middle.
   */
  async volumeChanged(info) {
    const id = this.app.volume()?.id ?? null;
    // On the first load, pick up where the server's view is; on another volume, start in the middle.
    const firstLoad = this.volumeId === undefined;
    if (id !== this.volumeId) this.positioned = false;
    this.volumeId = id;
    const count = info
      ? slicesAlong(ORIENTATION_NORMALS[this.state.orientation], info.dimensions, info.ijkToRAS)
      : 1;
    this.state.count = Math.max(1, count);
    if (!this.positioned || this.state.index >= this.state.count) {
      this.state.index = Math.floor((this.state.count - 1) / 2);
      if (info && firstLoad && api.has('GET', '/slicer/view')) {
        try {
          const v = await api.get('slicer/view', { view: this.key });
          if (
            v.orientation === this.state.orientation &&
            Array.isArray(v.bounds) &&
            v.bounds[1] > v.bounds[0]
          ) {
            const f = (v.offset - v.bounds[0]) / (v.bounds[1] - v.bounds[0]);
            this.state.index = Math.min(
              this.state.count - 1,
              Math.max(0, Math.round(f * (this.state.count - 1))),
            );
          }
        } catch {
          /* start in the middle */
        }
      }
    }
    this.positioned = Boolean(info);
    if (info?.window !== undefined && this.state.window === undefined) {
      this.defaultWl = [info.window, info.level];
    }
    this.scheduler.invalidate();
    this.render();
  }

  setOrientation(o) {
    this.state.orientation = o;
    this.orientationSelect.value = o;
    this.positioned = false;
    this.volumeChanged(this.app.volumeInfo());
  }

  /** Moves by `steps` slices (clamped); interactive = draft now, full when the user stops. */
  scroll(steps, interactive = true) {
    const next = Math.min(this.state.count - 1, Math.max(0, this.state.index + steps));
    if (next === this.state.index) return;
    this.state.index = next;
    this.#info();
    this.render(interactive);
  }

  setWindowLevel(w, l, interactive = false) {
    this.state.window = w;
    this.state.level = l;
    this.#info();
    this.render(interactive);
  }

  shown() {
    this.#info();
  }

  #info() {
    const s = this.state;
    const wl =
      s.window !== undefined ? ` · W ${Math.round(s.window)} L ${Math.round(s.level)}` : '';
    this.info.textContent = `slice ${s.index + 1}/${s.count}${wl}`;
    this.canvas.setAttribute('aria-valuemax', String(s.count));
    this.canvas.setAttribute('aria-valuenow', String(s.index + 1));
    this.canvas.setAttribute(
      'aria-valuetext',
      `${s.orientation} slice ${s.index + 1} of ${s.count}`,
    );
    this.img.alt = `${LABELS[this.key]} view: ${s.orientation} slice ${s.index + 1} of ${s.count}`;
  }

  #bind() {
    let acc = 0;
    this.canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        // One slice per notch (100 px; the browser may merge queued notches into one event, so
        // count them); line-mode wheels (3 lines a notch) step one; trackpads' small deltas add up.
        if (e.deltaMode === 1 || e.deltaMode === 2) this.scroll(e.deltaY < 0 ? 1 : -1);
        else if (Math.abs(e.deltaY) >= 50)
          this.scroll((e.deltaY < 0 ? 1 : -1) * Math.max(1, Math.round(Math.abs(e.deltaY) / 100)));
        else {
          acc += e.deltaY;
          if (Math.abs(acc) >= 50) {
            this.scroll(acc < 0 ? 1 : -1);
            acc = 0;
          }
        }
      },
      { passive: false },
    );
    this.canvas.addEventListener('keydown', (e) => {
      const steps = {
        ArrowUp: 1,
        ArrowRight: 1,
        ArrowDown: -1,
        ArrowLeft: -1,
        PageUp: 10,
        PageDown: -10,
      }[e.key];
      if (steps !== undefined) this.scroll(steps);
      else if (e.key === 'Home') this.scroll(-this.state.index);
      else if (e.key === 'End') this.scroll(this.state.count - 1 - this.state.index);
      else return;
      e.preventDefault();
    });
    let drag = null;
    this.canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      this.canvas.focus();
      this.canvas.setPointerCapture(e.pointerId);
      const [w0, l0] =
        this.state.window !== undefined
          ? [this.state.window, this.state.level]
          : (this.defaultWl ?? this.app.defaultWindowLevel());
      drag = { x: e.clientX, y: e.clientY, w0, l0, moved: false };
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      drag.moved = true;
      const window = Math.max(1, drag.w0 * Math.exp(dx / 150));
      const level = drag.l0 - (dy * Math.max(drag.w0, 10)) / 300;
      this.setWindowLevel(window, level, true);
    });
    const end = (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      if (d.moved) this.app.shareWindowLevel(this, this.state.window, this.state.level);
      else if (e.type === 'pointerup' && this.app.placing) this.#place(e);
    };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
  }

  /** Click → RAS (from the server's view geometry) → new fiducial point. */
  async #place(e) {
    const f = imageFraction(this.img, e);
    if (!f || !this.img.getAttribute('src')) return;
    if (!api.has('GET', '/slicer/view')) {
      this.app.fiducialMessage(
        'Placing points needs GET /slicer/view (the view geometry), which this server does not have.',
      );
      return;
    }
    // The geometry must be that of the image on screen: wait until nothing is in flight.
    await this.scheduler.whenIdle();
    try {
      // The geometry at the size the image was rendered at (a request's size is not stored).
      const [w, h] = this.state.size;
      const view = await api.get('slicer/view', { view: this.key, size: `${w}x${h}` });
      const ras = pixelToRas(view, f[0], f[1], 1, 1);
      await this.app.placeFiducial(ras);
    } catch (err) {
      this.app.fiducialError(err);
    }
  }
}

export class ThreeDView extends BaseView {
  constructor(app) {
    super('threeD', app);
    this.state = {
      mode: 'composite',
      orbitX: 0,
      orbitY: 0,
      zoom: 1,
      camera: false,
      reset: false,
      size: null,
    };
    this.header.append(this.info);
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', '3D view: drag or arrow keys rotate, wheel zooms');
    this.#bind();
  }

  enabled() {
    return this.app.volume() !== null && api.has('GET', '/slicer/threeD');
  }

  buildUrl(s, draft) {
    const q = new URLSearchParams({ mode: s.mode });
    const vol = this.app.volume();
    if (vol) q.set('volume', vol.id);
    if (s.reset) q.set('lookFromAxis', 'anterior');
    if (s.camera) {
      q.set('orbitX', fmt(s.orbitX, 1));
      q.set('orbitY', fmt(s.orbitY, 1));
      q.set('zoom', fmt(s.zoom, 3));
    }
    const size = draft ? scaled(s.size, DRAFT_SCALE) : s.size;
    q.set('size', `${size[0]}x${size[1]}`);
    q.set('format', 'jpeg');
    q.set('quality', draft ? '70' : '90');
    return `slicer/threeD?${q}`;
  }

  /** On the first load, continue from the server's camera and mode (`GET /slicer/view?view=threeD`). */
  async volumeChanged(info) {
    if (info && !this.loaded && api.has('GET', '/slicer/view')) {
      this.loaded = true;
      try {
        const v = await api.get('slicer/view', { view: 'threeD' });
        if (v?.camera)
          Object.assign(this.state, {
            orbitX: v.camera.orbitX ?? 0,
            orbitY: v.camera.orbitY ?? 0,
            zoom: v.camera.zoom ?? 1,
            camera: true,
          });
        if (['composite', 'mip', 'minip'].includes(v?.mode)) this.state.mode = v.mode;
        this.app.modeChanged?.(this.state.mode);
      } catch {
        /* the server's current camera is used as is */
      }
    }
    this.scheduler.invalidate();
    this.render();
  }

  setMode(mode) {
    this.state.mode = mode;
    this.render();
  }

  reset() {
    Object.assign(this.state, { orbitX: 0, orbitY: 0, zoom: 1, camera: true, reset: true });
    this.render();
  }

  shown() {
    const s = this.state;
    this.info.textContent = `${{ composite: 'volume rendering', mip: 'MIP', minip: 'MinIP' }[s.mode] ?? s.mode}${s.camera ? ` · ${Math.round(s.orbitX)}°, ${Math.round(s.orbitY)}° · ×${fmt(s.zoom, 2)}` : ''}`;
  }

  #orbit(dx, dy, base, interactive = true) {
    this.state.camera = true;
    this.state.orbitX = base[0] - dx * 0.5;
    this.state.orbitY = Math.max(-89, Math.min(89, base[1] + dy * 0.5));
    this.render(interactive);
  }

  #bind() {
    let drag = null;
    this.canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      this.canvas.focus();
      this.canvas.setPointerCapture(e.pointerId);
      drag = { x: e.clientX, y: e.clientY, base: [this.state.orbitX, this.state.orbitY] };
      this.canvas.style.cursor = 'grabbing';
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (drag) this.#orbit(e.clientX - drag.x, e.clientY - drag.y, drag.base);
    });
    const end = () => {
      drag = null;
      this.canvas.style.cursor = '';
    };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
    this.canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        this.state.camera = true;
        this.state.zoom = Math.max(0.2, Math.min(20, this.state.zoom * Math.exp(-e.deltaY / 600)));
        this.render(true);
      },
      { passive: false },
    );
    this.canvas.addEventListener('keydown', (e) => {
      const d = { ArrowLeft: [-20, 0], ArrowRight: [20, 0], ArrowUp: [0, -20], ArrowDown: [0, 20] }[
        e.key
      ];
      if (d) this.#orbit(d[0], d[1], [this.state.orbitX, this.state.orbitY]);
      else if (e.key === '+' || e.key === '=') {
        this.state.camera = true;
        this.state.zoom = Math.min(20, this.state.zoom * 1.2);
        this.render(true);
      } else if (e.key === '-') {
        this.state.camera = true;
        this.state.zoom = Math.max(0.2, this.state.zoom / 1.2);
        this.render(true);
      } else return;
      e.preventDefault();
    });
  }

  render(interactive = false) {
    super.render(interactive);
    // lookFromAxis only once: later requests carry absolute angles.
    this.state.reset = false;
  }
}

export { LABELS };
