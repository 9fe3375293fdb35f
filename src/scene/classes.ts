/**
 * MRML class names and their ancestors, so that a class filter such as `vtkMRMLVolumeNode`,
 * `vtkMRMLTransformNode` or `vtkMRMLNode` matches subclasses as Slicer's `GetNodesByClass` does.
 */
import type { NodeClass } from './scene.js';

export const CLASS_ANCESTORS: Record<NodeClass, readonly string[]> = {
  vtkMRMLScalarVolumeNode: [
    'vtkMRMLScalarVolumeNode',
    'vtkMRMLVolumeNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLLabelMapVolumeNode: [
    'vtkMRMLLabelMapVolumeNode',
    'vtkMRMLScalarVolumeNode',
    'vtkMRMLVolumeNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLVectorVolumeNode: [
    'vtkMRMLVectorVolumeNode',
    'vtkMRMLTensorVolumeNode',
    'vtkMRMLDiffusionImageVolumeNode',
    'vtkMRMLScalarVolumeNode',
    'vtkMRMLVolumeNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLLinearTransformNode: [
    'vtkMRMLLinearTransformNode',
    'vtkMRMLTransformNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLGridTransformNode: [
    'vtkMRMLGridTransformNode',
    'vtkMRMLTransformNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLMarkupsFiducialNode: [
    'vtkMRMLMarkupsFiducialNode',
    'vtkMRMLMarkupsNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLSegmentationNode: [
    'vtkMRMLSegmentationNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLModelNode: [
    'vtkMRMLModelNode',
    'vtkMRMLDisplayableNode',
    'vtkMRMLTransformableNode',
    'vtkMRMLStorableNode',
    'vtkMRMLNode',
  ],
  vtkMRMLTableNode: ['vtkMRMLTableNode', 'vtkMRMLStorableNode', 'vtkMRMLNode'],
};

/** True when a node of class `cls` is an instance of `wanted` (itself or a subclass). */
export const isA = (cls: NodeClass, wanted: string): boolean =>
  CLASS_ANCESTORS[cls].includes(wanted);
