/**
 * Per-node revision counters: bumped on every scene event that names the node. Voxels can be
 * edited in place (the exec API publishes such edits with `scene.update(id, {})`, same array), so
 * render keys and caches that identify a volume by its voxel array also carry the revision.
 */
import type { Scene } from '../scene/scene.js';

const registry = new WeakMap<Scene, Map<string, number>>();

export function revisionOf(scene: Scene, id: string): number {
  let m = registry.get(scene);
  if (!m) {
    const map = new Map<string, number>();
    registry.set(scene, map);
    scene.onChange((c) => {
      for (const i of c.ids) map.set(i, (map.get(i) ?? 0) + 1);
    });
    m = map;
  }
  return m.get(id) ?? 0;
}
