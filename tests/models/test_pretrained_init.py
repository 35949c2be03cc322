import logging

import pytest
import torch
from mmpretrain.registry import MODELS

import mmtricks  # noqa: F401
from mmtricks.models.pretrained_init import PretrainedIfAvailable


def small_backbone(init_cfg=None):
    return MODELS.build(dict(type='MobileNetV3', arch='small',
                             init_cfg=init_cfg))


def save_classifier_checkpoint(path):
    """A checkpoint in MMPretrain's model-zoo form: keys under 'backbone.'."""
    torch.manual_seed(123)
    source = small_backbone()
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(3, 3)
    torch.save({'state_dict': state, 'meta': {}}, path)
    return source.state_dict()


def assert_same_state(module, expected):
    for key, value in module.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_local_file_loads_backbone(tmp_path):
    path = tmp_path / 'mbv3.pth'
    expected = save_classifier_checkpoint(path)
    model = small_backbone(dict(type='PretrainedIfAvailable',
                                checkpoint=str(path), prefix='backbone'))
    model.init_weights()
    assert_same_state(model, expected)


def test_url_download_path_with_local_file_url(tmp_path):
    """The real download code, fed from a file:// URL into a fresh cache."""
    path = tmp_path / 'mbv3.pth'
    expected = save_classifier_checkpoint(path)
    cache = tmp_path / 'cache'
    model = small_backbone(dict(type='PretrainedIfAvailable',
                                checkpoint=path.as_uri(), prefix='backbone',
                                model_dir=str(cache)))
    model.init_weights()
    assert_same_state(model, expected)
    assert (cache / 'mbv3.pth').is_file()


def test_unreachable_url_warns_once_and_keeps_random_init(tmp_path,
                                                           monkeypatch):
    from mmtricks.models import pretrained_init
    logged = []
    monkeypatch.setattr(pretrained_init, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    torch.manual_seed(0)
    model = small_backbone(dict(type='PretrainedIfAvailable',
                                checkpoint='http://127.0.0.1:9/mbv3.pth',
                                prefix='backbone',
                                model_dir=str(tmp_path)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()
    warnings = [msg for msg, kw in logged
                if kw.get('level') == logging.WARNING]
    assert len(warnings) == 1
    assert 'Pretrained weights not available' in warnings[0]
    assert 'init_cfg.checkpoint' in warnings[0]
    # init_weights still ran the backbone's own initialisation
    assert any(not torch.equal(before[k], v)
               for k, v in model.state_dict().items())


def test_missing_local_file_is_an_error(tmp_path):
    init = PretrainedIfAvailable(checkpoint=str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init(small_backbone())
