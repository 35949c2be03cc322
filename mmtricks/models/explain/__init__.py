"""Gradient-free saliency maps of a classifier, computed by the model itself
(so they export to ONNX and OpenVINO with it)."""
from .recipro_cam import (ExplainedClassifier, classifier_head_fn,
                          min_max_normalise, recipro_cam, spatial_masks)

__all__ = ['ExplainedClassifier', 'classifier_head_fn', 'min_max_normalise',
           'recipro_cam', 'spatial_masks']
