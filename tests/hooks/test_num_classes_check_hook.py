from pathlib import Path

import pytest

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
    from mmengine.runner import Runner
    cfg = make_fast_config(bundled='lfw_faces')  # 2 classes, head has 10
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='dataset has 2 classes'):
        runner.train()
    assert not list(Path(cfg.work_dir).glob('epoch_*.pth'))
