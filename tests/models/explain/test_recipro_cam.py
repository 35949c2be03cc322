"""Recipro-CAM (mmtricks.models.explain.recipro_cam) on tiny models."""
import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmtricks.models.explain import (ExplainedClassifier, min_max_normalise,
                                     recipro_cam, spatial_masks)


def gap_linear_head(channels, classes):
    linear = nn.Linear(channels, classes)
    return lambda x: linear(x.mean(dim=(2, 3)))


def test_masks_hold_the_window_around_each_location_cut_at_the_border():
    masks = spatial_masks(3, 4)
    assert masks.shape == (12, 1, 3, 4)
    centre = masks[1 * 4 + 1, 0]
    assert centre[1, 1] == 0.25 and centre[0, 1] == 0.125
    assert centre[0, 0] == 0.0625 and centre[2, 3] == 0
    assert torch.isclose(centre.sum(), torch.tensor(1.0))
    corner = masks[0, 0]  # (0, 0): only its 2x2 quarter of the window
    assert torch.isclose(corner.sum(), torch.tensor(0.25 + 0.25 + 0.0625))


def test_maps_have_one_per_class_and_location_scaled_to_0_1():
    torch.manual_seed(0)
    features = torch.randn(2, 8, 5, 6)
    maps = recipro_cam(features, gap_linear_head(8, 3))
    assert maps.shape == (2, 3, 5, 6)
    flat = maps.flatten(2)
    assert torch.allclose(flat.min(2)[0], torch.zeros(2, 3))
    assert torch.allclose(flat.max(2)[0], torch.ones(2, 3))


def test_a_flat_map_normalises_to_zeros_not_noise():
    maps = torch.full((1, 2, 3, 3), 0.5)
    maps[0, 1, 1, 1] = 0.5 + 1e-14
    assert torch.equal(min_max_normalise(maps), torch.zeros(1, 2, 3, 3))


@pytest.mark.parametrize('where', [(0, 0), (2, 3), (4, 5)])
def test_the_map_peaks_where_the_class_evidence_is(where):
    # Channel k is the evidence for class k; class 1's evidence sits at
    # `where` on a background of weak evidence for the others.
    torch.manual_seed(0)
    features = torch.rand(1, 3, 5, 6) * 0.1
    features[0, 1][where] = 5.0
    head = nn.Linear(3, 3, bias=False)
    head.weight.data = torch.eye(3) * 4
    maps = recipro_cam(features, lambda x: head(x.mean(dim=(2, 3))))
    peak = divmod(int(maps[0, 1].argmax()), 6)
    assert peak == where


def tiny_classifier(config, size, classes=3):
    from mmpretrain.registry import MODELS

    import mmtricks  # noqa: F401  (registers the backbones)
    cfg = Config.fromfile(config).model
    cfg.type = 'ImageClassifier'
    cfg.backbone.init_cfg = None
    cfg.head.num_classes = classes
    cfg.head.pop('loss', None)
    model = MODELS.build(cfg).eval()
    return model, torch.randn(2, 3, size, size)


@pytest.mark.parametrize('config', ['configs/auto_mbv3.py',
                                    'configs/auto_effnet_lite0.py'])
def test_wrapper_returns_the_classifiers_scores_and_a_map_per_class(config):
    model, inputs = tiny_classifier(config, 64)
    explained = ExplainedClassifier(model).eval()
    with torch.no_grad():
        scores, saliency = explained(inputs)
        logits = model.head(model.neck(model.backbone(inputs)))
    assert torch.allclose(scores, logits.softmax(dim=1), atol=1e-6)
    assert saliency.shape == (2, 3, 2, 2)  # stride 32
    assert 0 <= float(saliency.min()) and float(saliency.max()) <= 1
    # One head pass on pooled rows: the numbers of masking the feature map.
    assert explained.pools_globally
    with torch.no_grad():
        last = model.backbone(inputs)[-1]
        masked = recipro_cam(last, explained.head_fn)
        explained.pools_globally = False
        generic_scores, generic = explained(inputs)
    assert torch.allclose(saliency, masked, atol=1e-5)
    assert torch.allclose(saliency, generic, atol=1e-5)
    assert torch.allclose(scores, generic_scores, atol=1e-6)


def test_wrapper_exports_to_onnx_with_two_outputs(tmp_path):
    onnx = pytest.importorskip('onnx')
    model, inputs = tiny_classifier('configs/auto_mbv3.py', 64)
    path = str(tmp_path / 'explained.onnx')
    torch.onnx.export(ExplainedClassifier(model).eval(), inputs[:1], path,
                      input_names=['input'],
                      output_names=['output', 'saliency'], opset_version=17,
                      dynamo=False)
    graph = onnx.load(path).graph
    shapes = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim]
              for o in graph.output}
    assert shapes == {'output': [1, 3], 'saliency': [1, 3, 2, 2]}
