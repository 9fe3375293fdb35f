/**
 * Thin client for voxelgate's HTTP API: JSON errors (`{success:false,message}`) become ApiError,
 * the bearer token (if the user gave one) goes with every request, and `has()` tells whether an
 * endpoint exists on this server (from `/slicer/system/status`), so the page hides features
 * instead of probing them with requests that would answer 404.
 */

export class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status;
    this.path = path;
  }
}

const TOKEN_KEY = 'voxelgate.token';

export const api = {
  /** Parsed `/slicer/system/status`, or null when that endpoint is missing. */
  status: null,
  /** Set of `METHOD /slicer/path` strings the server has. */
  endpoints: new Set(),

  get token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) ?? '';
    } catch {
      return '';
    }
  },
  set token(v) {
    try {
      if (v) sessionStorage.setItem(TOKEN_KEY, v);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage disabled */
    }
  },

  headers(extra = {}) {
    const h = { ...extra };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  },

  /**
   * Whether `METHOD /slicer/path` exists. Before the status is known (or on a server without the
   * status endpoint) everything is assumed present and a 404 is handled where it happens.
   */
  has(method, path) {
    if (!this.status || !Array.isArray(this.status.endpoints)) return true;
    return this.endpoints.has(`${method} ${path}`);
  },

  async request(method, path, { body, headers, query } = {}) {
    const url = query ? `${path}?${new URLSearchParams(query)}` : path;
    let res;
    try {
      res = await fetch(url, { method, body, headers: this.headers(headers) });
    } catch (e) {
      throw new ApiError(
        0,
        `the server is not reachable (${e && e.message ? e.message : e})`,
        path,
      );
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const j = await res.json();
        if (j && typeof j.message === 'string') message = j.message;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, message, path);
    }
    return res;
  },

  async json(method, path, opts) {
    const res = await this.request(method, path, opts);
    const type = res.headers.get('content-type') ?? '';
    return type.includes('json') ? res.json() : res.text();
  },

  get(path, query) {
    return this.json('GET', path, { query });
  },

  async loadStatus() {
    try {
      this.status = await this.get('slicer/system/status');
      this.endpoints = new Set(
        (this.status.endpoints ?? []).map((e) => e.replace(/^(\w+) \//, '$1 /')),
      );
    } catch (e) {
      this.status = null;
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
    return this.status;
  },
};

/** A short, human sentence for an error shown next to a feature. */
export function explain(e, what) {
  if (e instanceof ApiError) {
    if (e.status === 404) return `${what}: not available on this server (${e.path} answered 404).`;
    if (e.status === 401)
      return `${what}: this server needs a token for that (enter it at the top).`;
    if (e.status === 403) return `${what}: refused — ${e.message}`;
    if (e.status === 0) return `${what}: ${e.message}`;
    return `${what}: ${e.message}`;
  }
  return `${what}: ${e && e.message ? e.message : String(e)}`;
}

/** Sets a panel message (or hides it with an empty text). */
export function say(el, text, kind = 'info') {
  if (!el) return;
  el.hidden = !text;
  el.textContent = text ?? '';
  el.classList.toggle('error', kind === 'error');
}

/** Creates an element: h('td', { class: 'num' }, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** The ✕ button of a list row that deletes `item` (a scene node: `name`, `id`). */
export function deleteButton(kind, item, onclick) {
  return h(
    'button',
    {
      type: 'button',
      title: `Delete ${item.name} (${item.id})`,
      'aria-label': `Delete ${kind} ${item.name}`,
      onclick,
    },
    '✕',
  );
}

/**
 * A file drop zone: a click or Enter/Space opens the file `input`, and a file chosen there or
 * dropped on the zone goes to `onFile` (the zone shows `over` while a file is dragged over it).
 */
export function bindDropZone(zone, input, onFile) {
  zone.addEventListener('click', () => input.click());
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener('change', () => {
    if (input.files?.[0]) onFile(input.files[0]);
    input.value = '';
  });
  for (const ev of ['dragenter', 'dragover'])
    zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  for (const ev of ['dragleave', 'drop'])
    zone.addEventListener(ev, () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
}
