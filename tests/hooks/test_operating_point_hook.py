"""OperatingPointHook: the setting checked before training, the point
chosen on val scores after it, and written into the shipped checkpoint
(and the best checkpoint it is a hard link of)."""
import os
import types

import numpy as np
import pytest
import torch

from mmtricks.compat.checkpoint_loading import load_checkpoint_file
from mmtricks.hooks.operating_point_hook import (OperatingPointHook,
                                                 store_in_checkpoint)
from mmtricks.models.operating_point import OperatingPointError


def test_store_in_checkpoint_writes_both_names_of_the_shipped_file(tmp_path):
    best = tmp_path / 'best_macro_f1-score_epoch_3.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)), meta=dict(epoch=3)),
               best)
    shipped = tmp_path / 'best_auto_epochs.pth'
    os.link(best, shipped)
    store_in_checkpoint(str(shipped), dict(threshold=0.25), [1.0, 0.25])
    for path in (shipped, best):
        saved = load_checkpoint_file(str(path), map_location='cpu')
        assert saved['state_dict']['operating_point'].tolist() == [1.0, 0.25]
        assert saved['meta']['operating_point'] == dict(threshold=0.25)
        assert saved['meta']['epoch'] == 3
    assert os.stat(best).st_ino == os.stat(shipped).st_ino


class FakeDataset:
    def __init__(self, classes, labels):
        self.metainfo = dict(classes=classes)
        self.labels = labels

    def get_gt_labels(self):
        return np.asarray(self.labels)


class FakeHub:
    def __init__(self, info=None):
        self.info = info or {}

    def get_info(self, key, default=None):
        return self.info.get(key, default)


class Lines:
    def __init__(self):
        self.lines = []

    def info(self, line):
        self.lines.append(line)

    warning = info


def fake_runner(setting, classes=('functional', 'defective'),
                train_labels=(0,) * 30 + (1,) * 10):
    return types.SimpleNamespace(
        cfg=dict(operating_point=setting), logger=Lines(),
        val_loop=object(),
        message_hub=FakeHub(),
        val_dataloader=types.SimpleNamespace(
            dataset=FakeDataset(list(classes), [])),
        train_dataloader=types.SimpleNamespace(
            dataset=FakeDataset(list(classes), list(train_labels))))


def test_the_setting_is_checked_before_training():
    runner = fake_runner(dict(cls='cracked', min_recall=0.9))
    with pytest.raises(OperatingPointError, match="'functional', "
                       "'defective'"):
        OperatingPointHook().before_train(runner)
    runner = fake_runner('auto', classes=('a', 'b', 'c'),
                         train_labels=[0, 1, 2])
    hook = OperatingPointHook()
    hook.before_train(runner)
    assert hook.rule is None
    assert runner.logger.lines == [
        "operating_point='auto' applies to 2 classes; this data has 3: "
        'argmax.']
    runner = fake_runner('auto')  # 10 of 40 defective: imbalanced
    hook.before_train(runner)
    assert hook.rule.class_name == 'defective'


def write_two_class_folder(root, counts=dict(train=(18, 6), val=(9, 4),
                                             test=(9, 4))):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, (ok, bad) in counts.items():
        for name, n in (('ok', ok), ('bad', bad)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (32, 32, 3), np.uint8)
                if name == 'bad':
                    pixels[8:24, 8:24] = 255
                Image.fromarray(pixels).save(folder / f'{i}.png')


@pytest.mark.slow
def test_a_run_chooses_the_point_and_test_reports_it(make_fast_config,
                                                     tmp_path):
    """One epoch on 2 imbalanced classes: the point is chosen on val at the
    end, held by the model, and the test evaluator reports it next to
    argmax."""
    from conftest import train
    write_two_class_folder(tmp_path / 'data')
    cfg = make_fast_config()
    cfg.data_root = str(tmp_path / 'data')
    cfg.operating_point = dict(cls='bad')
    runner = train(cfg)
    index, threshold = runner.model.operating_threshold
    classes = runner.val_dataloader.dataset.metainfo['classes']
    assert classes[index] == 'bad' and 0.0 < threshold < 1.0
    metrics = runner.test()
    assert metrics['operating_point/threshold'] == pytest.approx(threshold)
    assert 'operating_point/argmax_recall' in metrics
