import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmtricks.models.heads import (AMSoftmaxClsHead, auto_scale,
                                   targets_of_stacked_views)
from mmtricks.models.losses import jensen_shannon_divergence

K, C = 5, 8


def make_head(**kwargs):
    kwargs.setdefault('num_classes', K)
    kwargs.setdefault('in_channels', C)
    return MODELS.build(dict(type='AMSoftmaxClsHead', **kwargs))


def samples(labels):
    return [DataSample().set_gt_label(int(label)) for label in labels]


def expected_cosine(head, features):
    f = features / features.norm(dim=1, keepdim=True)
    w = head.weight / head.weight.norm(dim=1, keepdim=True)
    return f @ w.T


def test_training_loss_uses_scaled_cosine_minus_margin_on_the_target():
    torch.manual_seed(0)
    head = make_head(margin=0.3, scale=7.0)
    features = torch.randn(4, C)
    labels = torch.tensor([0, 3, 3, 1])
    loss = head.loss((features, ), samples(labels))['loss']
    cos = expected_cosine(head, features)
    logits = 7.0 * (cos - 0.3 * F.one_hot(labels, K))
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))
    # the margin matters: without it the loss is smaller
    assert loss > F.cross_entropy(7.0 * cos, labels) + 1e-3


def test_soft_targets_take_the_margin_in_proportion():
    torch.manual_seed(0)
    head = make_head(margin=0.2, scale=5.0)
    features = torch.randn(2, C)
    scores = torch.tensor([[0.7, 0.3, 0, 0, 0], [0, 0, 0, 0.5, 0.5]])
    data = [DataSample().set_gt_score(s) for s in scores]
    loss = head.loss((features, ), data)['loss']
    logits = 5.0 * (expected_cosine(head, features) - 0.2 * scores)
    expected = -(scores * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(loss, expected)


def test_inference_returns_scaled_cosine_without_margin():
    torch.manual_seed(0)
    head = make_head(margin=0.35, scale=10.0).eval()
    features = torch.randn(3, C)
    cos = expected_cosine(head, features)
    torch.testing.assert_close(head((features, )), 10.0 * cos)
    predictions = head.predict((features, ))
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in predictions]),
        (10.0 * cos).softmax(1))
    assert [int(p.pred_label) for p in predictions] == \
        cos.argmax(1).tolist()


def test_auto_scale_is_adacos_fixed_scale():
    head = make_head()
    assert isinstance(head, AMSoftmaxClsHead)
    assert head.scale == pytest.approx(math.sqrt(2) * math.log(K - 1))
    assert auto_scale(1000) == pytest.approx(math.sqrt(2) * math.log(999))
    assert auto_scale(2) == auto_scale(3) > 0


def test_hidden_layers_as_in_the_mobilenet_v3_head():
    head = make_head(mid_channels=[16], act_cfg=dict(type='HSwish'),
                     dropout_rate=0.2)
    assert head.weight.shape == (K, 16)
    assert head((torch.randn(2, C), )).shape == (2, K)


@pytest.mark.parametrize('bad', [
    dict(margin=-0.1), dict(margin=1.0), dict(scale=0), dict(scale=-1.0),
    dict(scale='big'), dict(num_classes=1),
])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        make_head(**bad)


def test_a_margin_that_caps_the_target_probability_warns():
    # m=0.9 at the auto scale: the target can never pass probability 1/2
    with pytest.warns(UserWarning, match='log 2'):
        make_head(margin=0.9)
    with pytest.warns(UserWarning, match='log 2'):
        make_head(num_classes=1000, margin=0.5)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        make_head(num_classes=10, margin=0.35)  # the paper config's head


def test_onnx_export_matches_inference(tmp_path):
    onnx = pytest.importorskip('onnx')
    ov = pytest.importorskip('openvino')
    torch.manual_seed(0)
    head = make_head(mid_channels=[16], act_cfg=dict(type='HSwish'))

    class HeadOnly(torch.nn.Module):  # a backbone-less classifier
        def __init__(self):
            super().__init__()
            self.head = head

        def forward(self, x):
            return self.head((x, ))

    model = HeadOnly().eval()
    path = str(tmp_path / 'head.onnx')
    torch.onnx.export(model, (torch.randn(2, C), ), path, dynamo=False,
                      opset_version=14, input_names=['x'],
                      output_names=['logits'], dynamic_axes={'x': {0: 'n'}})
    onnx.checker.check_model(onnx.load(path))
    # f32: OpenVINO defaults to bf16 on CPUs that have it
    compiled = ov.Core().compile_model(ov.convert_model(path), 'CPU',
                                       {'INFERENCE_PRECISION_HINT': 'f32'})
    x = torch.randn(3, C)
    exported = torch.from_numpy(compiled(x.numpy())[0])
    with torch.no_grad():
        expected = head.scale * expected_cosine(head, head.pre_logits((x, )))
    torch.testing.assert_close(exported, expected, atol=1e-5, rtol=1e-5)


# AugMix's JSD data path: [clean; view 1; view 2], 3N rows for N labels ----

def test_stacked_views_repeat_the_targets_view_after_view():
    labels = torch.tensor([2, 0])
    torch.testing.assert_close(targets_of_stacked_views(labels, 2), labels)
    torch.testing.assert_close(targets_of_stacked_views(labels, 6),
                               torch.tensor([2, 0, 2, 0, 2, 0]))
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    torch.testing.assert_close(targets_of_stacked_views(scores, 4),
                               torch.cat([scores, scores]))
    with pytest.raises(ValueError, match='view after view'):
        targets_of_stacked_views(labels, 5)


def test_augmix_jsd_loss_sees_the_margin_on_every_views_target():
    torch.manual_seed(0)
    margin, scale, lam = 0.3, 6.0, 12.0
    head = make_head(margin=margin, scale=scale,
                     loss=dict(type='AugMixJSDLoss', jsd_weight=lam))
    labels = torch.tensor([0, 3, 1, 1])
    features = torch.randn(3 * len(labels), C)  # [clean; view 1; view 2]
    loss = head.loss((features, ), samples(labels))['loss']
    cos = expected_cosine(head, features)
    onehot = F.one_hot(labels, K)
    clean, view1, view2 = (scale * (c - margin * onehot)
                           for c in cos.chunk(3))
    expected = F.cross_entropy(clean, labels) + lam * \
        jensen_shannon_divergence([v.softmax(1)
                                   for v in (clean, view1, view2)])
    torch.testing.assert_close(loss, expected)
    # the margin really is on the views' targets: without it on the views
    # (the labels not repeated), the JSD term differs
    unmargined_views = jensen_shannon_divergence(
        [clean.softmax(1)] + [(scale * c).softmax(1)
                              for c in cos.chunk(3)[1:]])
    assert not torch.allclose(
        loss, F.cross_entropy(clean, labels) + lam * unmargined_views)


def test_rows_that_are_not_whole_views_are_a_clear_error():
    head = make_head()
    with pytest.raises(ValueError, match='3N rows for N labels'):
        head.loss((torch.randn(5, C), ), samples([0, 1]))
