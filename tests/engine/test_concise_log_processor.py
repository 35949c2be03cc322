"""One console line per validation and test (top-1, the monitor, the class
recalled worst), whatever the number of classes; every value still
recorded."""
import json
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import LogProcessor

from conftest import train
from mmtricks.engine.concise_log_processor import (ConciseLogProcessor,
                                                   concise_line, epoch_header,
                                                   weakest_class)

VALUES = {'accuracy/top1': 70.0, 'macro/f1-score': 61.25,
          'class/recall/functional': 90.0, 'class/recall/defective': 40.0,
          'class/precision/functional': 80.0, 'time': 0.02}


def test_line_holds_top1_monitor_and_weakest_class_only():
    line = concise_line('Epoch(val) [3][6/6]', VALUES,
                        ('accuracy/top1', 'macro/f1-score'))
    assert line == ('Epoch(val) [3][6/6]  accuracy/top1: 70.0000  '
                    'macro/f1-score: 61.2500  '
                    'weakest class: defective (class/recall 40.0000)')


def test_line_shows_a_key_once_and_skips_what_is_missing():
    line = concise_line('Epoch(test) [6/6]', VALUES,
                        ('accuracy/top1', 'accuracy/top1', 'absent'),
                        weakest_of=None, num_digits=2)
    assert line == 'Epoch(test) [6/6]  accuracy/top1: 70.00'


def test_weakest_class():
    assert weakest_class(VALUES, 'class/recall') == ('defective', 40.0)
    assert weakest_class(VALUES, 'class/recall/') == ('defective', 40.0)
    assert weakest_class({'class/recall/a': 5.0, 'class/recall/b': 5.0},
                         'class/recall') == ('a', 5.0)
    assert weakest_class({'accuracy/top1': 1.0}, 'class/recall') is None


def test_header_of_mmengines_line():
    assert epoch_header('Epoch(val) [2][6/6]    accuracy/top1: 1.0') == \
        'Epoch(val) [2][6/6]'
    assert epoch_header('Epoch(test) [6/6]    a: 1') == 'Epoch(test) [6/6]'


def test_monitor_auto_prints_top1_only():
    assert ConciseLogProcessor().printed_keys == ('accuracy/top1', )
    assert ConciseLogProcessor(monitor='macro/f1-score').printed_keys == \
        ('accuracy/top1', 'macro/f1-score')


def _test_run(name, num_classes):
    """A runner as MMEngine's LogProcessor sees it after a test epoch."""
    hub = MessageHub.get_instance(name)
    hub.update_scalar('test/accuracy/top1', 70.0)
    hub.update_scalar('test/macro/f1-score', 61.25)
    for c in range(num_classes):
        hub.update_scalar(f'test/class/recall/c{c}', 50.0 + c)
    hub.update_scalar('test/class/recall/c7', 12.5)
    hub.update_info('test/confusion_matrix/result',
                    torch.eye(num_classes, dtype=torch.long))
    hub.update_scalar('test/time', 0.02)
    return SimpleNamespace(message_hub=hub,
                           test_loop=SimpleNamespace(dataloader=range(6)))


def test_one_line_whatever_the_classes_and_the_tag_keeps_everything():
    runner = _test_run('test_concise_log_processor', num_classes=40)
    processor = ConciseLogProcessor(monitor='macro/f1-score')
    tag, line = processor.get_log_after_epoch(runner, 6, 'test',
                                              with_non_scalar=True)
    assert line == ('Epoch(test) [6/6]  accuracy/top1: 70.0000  '
                    'macro/f1-score: 61.2500  '
                    'weakest class: c7 (class/recall 12.5000)')
    # MMEngine's own tag: every value for the visualizer and the test JSON
    upstream_tag, upstream_line = LogProcessor().get_log_after_epoch(
        runner, 6, 'test', with_non_scalar=True)
    assert tag.keys() == upstream_tag.keys()
    assert len(tag) == 2 + 40 + 1 + 1
    assert torch.equal(tag['confusion_matrix/result'], torch.eye(40).long())
    # what the line replaces: 120 values and a tensor over several lines
    assert 'tensor(' in upstream_line and upstream_line.count('\n') > 5


def test_hierarchical_keys_are_read_too():
    runner = _test_run('test_concise_log_processor_hierarchy', num_classes=3)
    processor = ConciseLogProcessor(log_with_hierarchy=True)
    tag, line = processor.get_log_after_epoch(runner, 6, 'test')
    assert 'test/accuracy/top1' in tag
    assert line == ('Epoch(test) [6/6]  accuracy/top1: 70.0000  '
                    'weakest class: c7 (class/recall 12.5000)')


def epochs_of(log_lines):
    """The log's lines grouped by training epoch: from an epoch's first
    ``Epoch(train)`` line to the line before the next epoch's."""
    epochs, current = {}, None
    for line in log_lines:
        m = re.search(r'Epoch\(train\)\s*\[(\d+)\]', line)
        if m:
            current = int(m.group(1))
        if current is not None:
            epochs.setdefault(current, []).append(line)
    return epochs


@pytest.mark.slow
def test_main_job_console_is_one_val_line_and_at_most_6_lines_an_epoch(
        make_fast_config):
    # The shipped recipe's logging: LoggerHook every 10 iterations, best
    # checkpoint on the monitor, BN recomputed before each validation, per-
    # class metrics; monitor macro-F1 so that the line holds three values.
    cfg = make_fast_config(max_epochs=3)
    cfg.default_hooks.logger.interval = 10
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2,
        save_best='auto', rule='greater')
    cfg.monitor = 'macro/f1-score'
    runner = train(cfg)
    runner.test()
    name = osp.basename(runner.log_dir)
    with open(osp.join(runner.log_dir, f'{name}.log')) as f:
        log = f.read().splitlines()
    val = [line for line in log if 'Epoch(val)' in line]
    assert len(val) == 3
    for epoch, line in enumerate(val, 1):
        assert re.search(
            rf'Epoch\(val\) \[{epoch}\]\[\d+/\d+\]  accuracy/top1: [\d.]+  '
            r'macro/f1-score: [\d.]+  weakest class: \d \(class/recall '
            r'[\d.]+\)$', line), line
    test = [line for line in log if 'Epoch(test)' in line]
    assert len(test) == 1 and 'weakest class: ' in test[0]
    # no per-class value nor confusion-matrix row on the console
    assert not any('class/precision' in line or 'tensor(' in line or
                   line.lstrip().startswith('[') for line in log)
    epochs = epochs_of(log)
    # epoch 2 beats epoch 1: the most lines MMEngine logs (a new best)
    assert any('The best checkpoint with' in line for line in epochs[2])
    for epoch in (1, 2):  # the last one runs on into the end of training
        assert len(epochs[epoch]) <= 6, epochs[epoch]
    # every value still recorded: per class in scalars.json, the test's
    # confusion matrix in the JSON MMEngine writes after a test
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        rows = [json.loads(line) for line in f if 'accuracy/top1' in line]
    assert len(rows) == 3
    for digit in range(10):
        assert isinstance(rows[-1][f'class/recall/{digit}'], float)
    with open(osp.join(runner.log_dir, f'{name}.json')) as f:
        tested = json.load(f)
    assert len(tested['confusion_matrix/result']) == 10
    assert 'class/f1-score/9' in tested
    assert runner.log_processor.monitor == 'macro/f1-score'
