"""MMPretrain's inference APIs with a shipped recipe config: a clear error
naming the config to use; with the work dir's config (or the checkpoint's
decisions applied) they work."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import AUTO_MBV3, REPO
from mmtricks.models import DataAwareClassifier, DataDecisionsMissingError

EFFNET = osp.join(REPO, 'configs', 'auto_effnet_lite0.py')
PAPER = osp.join(REPO, 'configs', 'paper_mbv3.py')


@pytest.mark.parametrize('config', [AUTO_MBV3, EFFNET, PAPER])
def test_shipped_configs_name_the_work_dir_config(config):
    """ImageClassificationInferencer(model=shipped config, pretrained=...)
    failed with TypeError: '<=' not supported between 'NoneType' and 'int'
    from the head; the model is built before the checkpoint is read."""
    from mmpretrain import ImageClassificationInferencer, get_model
    with pytest.raises(DataDecisionsMissingError,
                       match=r'num_classes is None.*work_dirs/NAME/NAME\.py'):
        ImageClassificationInferencer(model=config,
                                      pretrained='never_read.pth')
    with pytest.raises(DataDecisionsMissingError, match='apply_data_'):
        get_model(config, pretrained='never_read.pth')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The config a run dumps (decisions filled) and a checkpoint as
    DataAwareRunner writes one (weights, the decisions in meta)."""
    from mmpretrain.registry import MODELS

    from mmtricks.engine import apply_data_decisions
    from mmtricks.engine.recipe_config import META_KEY
    folder = tmp_path_factory.mktemp('run')
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.model.backbone.init_cfg = None
    decisions = apply_data_decisions(cfg)
    dumped = str(folder / 'auto_mbv3.py')
    cfg.dump(dumped)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model) is DataAwareClassifier
    model.init_weights()
    checkpoint = str(folder / 'best_auto_epochs.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={
        META_KEY: decisions.to_meta(),
        'dataset_meta': dict(classes=list(decisions.classes))}), checkpoint)
    return dumped, checkpoint, model.eval()


def test_the_work_dir_config_and_the_checkpoint_decisions_work(trained):
    from mmpretrain import (ImageClassificationInferencer, get_model,
                            init_model)

    from mmtricks.engine import apply_data_decisions
    dumped, checkpoint, reference = trained
    image = np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8)
    shipped = Config.fromfile(AUTO_MBV3)
    apply_data_decisions(shipped, checkpoint=checkpoint, from_checkpoint=True)
    scores = []
    for config in (dumped, shipped):
        for model in (get_model(config, pretrained=checkpoint),
                      init_model(config, checkpoint)):
            assert torch.equal(model.head.layers[-1].fc.weight,
                               reference.head.layers[-1].fc.weight)
        result = ImageClassificationInferencer(
            model=config, pretrained=checkpoint)(image)[0]
        # The class names come from the checkpoint.
        assert result['pred_class'] in [str(i) for i in range(10)]
        scores.append(result['pred_scores'])
    # The same decisions (32 px): the same scores.
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)


@pytest.fixture(scope='module')
def two_class_model():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.model.backbone.init_cfg = None
    cfg.model.head.num_classes = 2
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def test_predict_applies_the_operating_point(two_class_model):
    """Without the point predict is argmax; with it pred_label follows the
    threshold while pred_score (what MMPretrain's metrics read) stays."""
    model = two_class_model
    inputs = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        before = model.predict(inputs)
    assert model.operating_threshold == (None, None)
    scores = torch.stack([s.pred_score for s in before])
    assert [int(s.pred_label) for s in before] == \
        scores.argmax(1).tolist()
    low = float(scores[:, 1].min()) - 1e-6
    model.set_operating_point(1, low)
    try:
        with torch.no_grad():
            after = model.predict(inputs)
    finally:
        model.set_operating_point(None, None)
    assert [int(s.pred_label) for s in after] == [1] * 6
    assert torch.equal(torch.stack([s.pred_score for s in after]), scores)
    assert after[0].operating_point == (1, pytest.approx(low))


def test_the_operating_point_survives_a_checkpoint(two_class_model):
    from mmpretrain.registry import MODELS
    model = two_class_model
    model.set_operating_point(0, 0.3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.set_operating_point(None, None)
    fresh = MODELS.build(dict(type='DataAwareClassifier',
                              backbone=dict(type='MobileNetV3',
                                            arch='small'),
                              neck=dict(type='GlobalAveragePooling'),
                              head=model_head_cfg()))
    fresh.load_state_dict(state, strict=True)
    assert fresh.operating_threshold == (0, pytest.approx(0.3))
    # A checkpoint from before the point (or ImageClassifier's) loads
    # strictly, as argmax.
    old = {k: v for k, v in state.items() if k != 'operating_point'}
    fresh.load_state_dict(old, strict=True)
    assert fresh.operating_threshold == (None, None)


def model_head_cfg():
    cfg = Config.fromfile(AUTO_MBV3)
    head = cfg.model.head.to_dict()
    head['num_classes'] = 2
    return head
