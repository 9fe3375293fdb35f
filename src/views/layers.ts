/**
 * Which volumes a view shows: the default background (the active volume, else the last active
 * non-label volume, else the first scalar volume), the default label layer (an active label
 * map), layer lookup by id/name/glob, and `followActiveVolume`, which propagates a new active
 * volume to the slice views as Slicer does.
 */
import { isVolumeNode, type Scene, type VolumeNode } from '../scene/scene.js';
import { notFound } from '../errors.js';
import { SLICE_VIEWS, type SliceViewState, type ThreeDViewState, type Views } from './views.js';

const isLabelMap = (n: VolumeNode): boolean => n.className === 'vtkMRMLLabelMapVolumeNode';

/**
 * A volume node by id/name/glob (the first volume that matches), or undefined; '' and undefined
 * name none. (Compare `scene/volumes.ts` `findVolume`, which throws and defaults to the active
 * volume: that is the `/slicer/volume` contract.)
 */
export function matchVolume(scene: Scene, pattern: string | undefined): VolumeNode | undefined {
  if (pattern === undefined || pattern === '') return undefined;
  return scene.findNodes(pattern).find(isVolumeNode);
}

/** The volume shown when a view names no background (see the module comment). */
export function defaultVolume(scene: Scene, views: Views): VolumeNode | undefined {
  // An active label map goes to the label layer (as Slicer's ActiveLabelVolumeID), not the background.
  for (const id of [scene.activeVolumeId, views.activeBackground]) {
    const n = id ? scene.byId(id) : undefined;
    if (isVolumeNode(n) && !isLabelMap(n)) return n;
  }
  const vols = scene.nodes().filter(isVolumeNode);
  return (
    vols.find((v) => v.className === 'vtkMRMLScalarVolumeNode') ??
    vols.find((v) => v.className === 'vtkMRMLVectorVolumeNode')
  );
}

/** The label layer shown when a view names none (`label` unset): the active volume if it is a label map. */
export function defaultLabel(scene: Scene): VolumeNode | undefined {
  const n = scene.activeVolumeId ? scene.byId(scene.activeVolumeId) : undefined;
  return isVolumeNode(n) && isLabelMap(n) ? n : undefined;
}

export interface SliceLayers {
  background?: VolumeNode;
  foreground?: VolumeNode;
  label?: VolumeNode;
}

/** The view's layers, with the default background when none is set (a lone label map goes to the label layer). */
export function sliceLayers(scene: Scene, views: Views, view: SliceViewState): SliceLayers {
  const out: SliceLayers = {
    background:
      view.background !== undefined
        ? matchVolume(scene, view.background)
        : defaultVolume(scene, views),
    foreground: matchVolume(scene, view.foreground),
    label: view.label !== undefined ? matchVolume(scene, view.label) : defaultLabel(scene),
  };
  if (!out.background && !out.label && view.background === undefined) {
    out.label = scene.nodes().filter(isVolumeNode).find(isLabelMap);
  }
  return out;
}

/** The layer the view's geometry follows: background, else foreground, else label. */
export function referenceLayer(layers: SliceLayers): VolumeNode | undefined {
  return layers.background ?? layers.foreground ?? layers.label;
}

/** The volume the 3D view shows; throws not_found when there is none. */
export function threeDVolume(scene: Scene, views: Views, view: ThreeDViewState): VolumeNode {
  const node =
    view.volume !== undefined
      ? matchVolume(scene, view.volume)
      : (defaultVolume(scene, views) ?? scene.nodes().find(isVolumeNode));
  if (!node)
    throw notFound(
      view.volume !== undefined
        ? `no volume node matches "${view.volume}"`
        : 'no volume to render: the scene has no volume',
    );
  return node;
}

/**
 * Slicer propagates a new active volume (POST /slicer/volume, /volumeSelection) to every slice
 * view's background: views with an explicit background go back to following the active volume
 * (an active label map goes to the label layer instead). Also keeps `views.activeBackground`, and
 * forgets it when its node goes away (ids are reused after a clear). Returns the unsubscribe.
 */
export function followActiveVolume(scene: Scene, views: Views): () => void {
  const note = (id: string | undefined) => {
    const n = id ? scene.byId(id) : undefined;
    if (id && isVolumeNode(n) && !isLabelMap(n)) views.activeBackground = id;
  };
  note(scene.activeVolumeId);
  return scene.onChange((change) => {
    const remembered = views.activeBackground;
    if (
      remembered &&
      (change.type === 'clear' || (change.type === 'remove' && change.ids.includes(remembered)))
    )
      views.activeBackground = undefined;
    if (!change.fields?.includes('activeVolumeId') || !change.activeVolumeId) return;
    note(change.activeVolumeId);
    const active = scene.byId(change.activeVolumeId);
    const layer = active?.className === 'vtkMRMLLabelMapVolumeNode' ? 'label' : 'background';
    for (const name of SLICE_VIEWS) {
      const v = views.slice(name);
      if (v[layer] === undefined) continue;
      const next = structuredClone(v) as SliceViewState;
      delete next[layer];
      views.setSlice(name, next);
    }
  });
}
