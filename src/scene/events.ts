/**
 * The scene event log behind `GET /slicer/events`: every scene change becomes `node-added`,
 * `node-modified`, `node-removed`, `scene-cleared` or `active-volume` events (with id, class,
 * name and what changed), and other layers publish their own (`job-*`). Each event gets the next
 * integer id; the last `capacity` events are kept so a client reconnecting with `Last-Event-ID`
 * gets exactly what it missed, or a `reset` when it missed more than is kept.
 */
import type { Scene, SceneChange } from './scene.js';

export interface LoggedEvent {
  /** Increasing from 1 within this server process. */
  id: number;
  type: string;
  data: Record<string, unknown>;
}

export interface Replay {
  /** Events after the given id, oldest first. */
  events: LoggedEvent[];
  /** True when events after the given id were already dropped (or the id is from another run). */
  gap: boolean;
}

export class SceneEventLog {
  #events: LoggedEvent[] = [];
  #nextId = 1;
  #listeners = new Set<(e: LoggedEvent) => void>();
  /** id → {className, name} of nodes seen, so removal events can still name them. */
  #known = new Map<string, { className: string; name: string }>();
  readonly capacity: number;
  /** Distinguishes this server run's event ids from an earlier run's (ids restart at 1). */
  readonly epoch = Date.now().toString(36);

  constructor(scene: Scene, capacity = 5000) {
    this.capacity = capacity;
    for (const n of scene.nodes()) this.#known.set(n.id, { className: n.className, name: n.name });
    scene.onChange((c) => this.#onScene(scene, c));
  }

  /** The id of the newest event (0 when none yet). */
  get lastId(): number {
    return this.#nextId - 1;
  }

  publish(type: string, data: Record<string, unknown>): LoggedEvent {
    const e: LoggedEvent = { id: this.#nextId++, type, data };
    this.#events.push(e);
    if (this.#events.length > this.capacity)
      this.#events.splice(0, this.#events.length - this.capacity);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        /* one listener must not break the others */
      }
    }
    return e;
  }

  /** The wire form of an event id: `<epoch>-<n>`. */
  wireId(id: number): string {
    return `${this.epoch}-${id}`;
  }

  /**
   * A Last-Event-ID → the event number in this run, or -1 for an id of another run (or a bare
   * number); undefined when it is not an event id at all.
   */
  parseWireId(raw: string): number | undefined {
    const m = /^(?:([0-9a-z]+)-)?(\d{1,15})$/.exec(raw.trim());
    if (!m) return undefined;
    return m[1] === this.epoch ? Number(m[2]) : -1;
  }

  /** Events after `lastId` (−1: an id from another run, always a gap). */
  since(lastId: number): Replay {
    if (!Number.isInteger(lastId) || lastId < 0 || lastId > this.lastId)
      return { events: [], gap: true };
    const first = this.#events[0]?.id ?? this.#nextId;
    const events = this.#events.filter((e) => e.id > lastId);
    return { events, gap: lastId + 1 < first };
  }

  subscribe(listener: (e: LoggedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #onScene(scene: Scene, c: SceneChange): void {
    const base = { version: c.version };
    if (c.type === 'clear') {
      this.#known.clear();
      this.publish('scene-cleared', base);
      return;
    }
    if (c.type === 'update' && c.ids.length === 0 && c.fields?.includes('activeVolumeId')) {
      this.publish('active-volume', { ...base, activeVolumeId: c.activeVolumeId ?? null });
      return;
    }
    for (const id of c.ids) {
      const node = scene.byId(id);
      if (c.type === 'add' && node) {
        this.#known.set(id, { className: node.className, name: node.name });
        this.publish('node-added', { ...base, id, className: node.className, name: node.name });
      } else if (node) {
        // An update, or a child moved to its grandparent by a removal.
        this.#known.set(id, { className: node.className, name: node.name });
        const changed = c.type === 'remove' ? ['parentTransformID'] : (c.fields ?? []);
        this.publish('node-modified', {
          ...base,
          id,
          className: node.className,
          name: node.name,
          changed: changed.length ? changed : ['content'],
        });
      } else {
        const was = this.#known.get(id);
        this.#known.delete(id);
        this.publish('node-removed', { ...base, id, ...(was ?? {}) });
      }
    }
  }
}
