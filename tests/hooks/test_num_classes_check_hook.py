from pathlib import Path

import pytest

from mmtricks.engine import build_runner
from mmtricks.hooks import num_classes_mismatch


def test_matching_or_unknown_is_fine():
    assert num_classes_mismatch(('a', 'b'), 2) is None
    assert num_classes_mismatch(None, 10) is None
    assert num_classes_mismatch(('a', 'b'), None) is None


@pytest.mark.parametrize('num_classes', [1, 3, 10])
def test_mismatch_names_the_fix(num_classes):
    message = num_classes_mismatch(('a', 'b'), num_classes)
    assert 'model.head.num_classes=2' in message
    assert f'num_classes={num_classes}' in message


def test_runner_refuses_wrong_head_before_training(make_fast_config):
    cfg = make_fast_config(bundled='lfw_faces')  # 2 classes
    cfg.model.head.num_classes = 10  # set by hand, past the recipe's check
    runner = build_runner(cfg)
    with pytest.raises(ValueError, match='dataset has 2 classes'):
        runner.train()
    assert not list(Path(cfg.work_dir).glob('epoch_*.pth'))


def test_recipe_refuses_a_wrong_num_classes_before_building(
        make_fast_config):
    cfg = make_fast_config(bundled='lfw_faces')  # 2 classes
    cfg.num_classes = 10
    with pytest.raises(ValueError, match='num_classes=10 but the bundled '
                                         'lfw_faces set has 2 classes'):
        build_runner(cfg)
    assert not Path(cfg.work_dir).exists()
