"""The pure parts of the fault-injection harness: phases from log lines,
kill planning, the summary and its verdict, the report."""
import random

import pytest

from benchmarks import fault_injection as fi

STAMP = '2026/12/07 06:45:13 - mmengine - INFO - '

# A fresh run's log (2 epochs, cap 2), as MMEngine and mmtricks write it;
# each line paired with the phase that follows it.
FRESH = [
    ('Config:', 'startup'),
    ('Data decision: classes: 10 from the bundled digits set', 'startup'),
    ('ZeroInitLastBN: zeroed 6 BN weights.', 'startup'),
    ('Training split: 1079 images (0 106, 1 110): balanced enough',
     'lr_test'),
    ("LR range test: lr=0.09103 by rule 'midpoint' (config lr 0.1); 44 "
     'steps in 4.5 s', 'lr_test'),
    ('Checkpoints will be saved to /w.', 'train'),
    ('Epoch(train) [1][10/16]  base_lr: 3.2888e-02 loss: 2.2930', 'train'),
    ('Exp name: auto_mbv3_20261207_064513', 'precise_bn'),
    ('BN statistics recomputed from 4 batches (0.14 s).', 'checkpoint'),
    ('Saving checkpoint at 1 epochs', 'checkpoint'),
    ('Epoch(val) [1][6/6]    accuracy/top1: 57.3816  macro/f1-score: 55.2',
     'val'),
    ('The best checkpoint with 57.3816 accuracy/top1 at 1 epoch is saved to '
     'best_accuracy_top1_epoch_1.pth.', 'train'),
    ('Epoch(train) [2][10/16]  base_lr: 7.5173e-02 loss: 1.9102', 'train'),
    ('Epoch(train) [2][16/16]  base_lr: 7.5173e-02 loss: 1.8', 'precise_bn'),
    ('Exp name: auto_mbv3_20261207_064513', 'precise_bn'),
    ('BN statistics recomputed from 4 batches (0.14 s).', 'checkpoint'),
    ('Saving checkpoint at 2 epochs', 'checkpoint'),
    ('Epoch(val) [2][6/6]    accuracy/top1: 76.8802', 'val'),
    ('The previous best checkpoint /w/best_accuracy_top1_epoch_1.pth is '
     'removed', 'checkpoint'),
    ('The best checkpoint with 76.8802 accuracy/top1 at 2 epoch is saved to '
     'best_accuracy_top1_epoch_2.pth.', 'end'),
    ('Confusion matrix (validation after epoch 2) saved as /w/cm.png.',
     'end'),
    ('AutoEpochs: final weights are the best validated ones '
     '(accuracy/top1=76.88, best_accuracy_top1_epoch_2.pth), linked as '
     'best_auto_epochs.pth.', 'end'),
]

RESUMED = [
    ('Auto resumed from the latest checkpoint /w/epoch_1.pth.', 'startup'),
    ('resumed epoch: 1, iter: 16', 'startup'),
    ('Training split: 1079 images (0 106, 1 110): balanced enough',
     'startup'),  # no LR range test after a resume
    ('LR range test already done: lr=0.09103 (from the checkpoint).',
     'startup'),
    ('Checkpoints will be saved to /w.', 'train'),
    ('AutoEpochs: validating resumed epoch 1, which the checkpoint was saved '
     'before.', 'val'),
    ('Epoch(val) [1][6/6]    accuracy/top1: 57.3816', 'val'),
    ('Epoch(train) [2][10/16]  base_lr: 7.5173e-02 loss: 1.9247', 'train'),
]


def log_text(lines):
    """A log file: event lines, plus continuation lines of a message."""
    text = [STAMP + 'Config:', "model = dict(type='ImageClassifier')",
            '    backbone=dict()']
    text += [STAMP + line for line, _ in lines[1:]]
    return '\n'.join(text) + '\n'


def test_event_lines_drop_continuations_and_keep_messages():
    lines = fi.event_lines(log_text(FRESH))
    assert lines == [line for line, _ in FRESH]
    assert fi.event_lines('not a log\n') == []


@pytest.mark.parametrize('log', [FRESH, RESUMED], ids=['fresh', 'resumed'])
def test_each_line_names_the_phase_that_follows_it(log):
    lines = [line for line, _ in log]
    for i, (line, phase) in enumerate(log):
        # saved: a 'Saving checkpoint' line's file is not written yet
        assert fi.classify_phase(lines[:i + 1], last_epoch=2) == phase, line
    assert fi.classify_phase([]) == 'startup'


def test_a_saved_epoch_checkpoint_means_validation_and_a_partial_file_a_write():
    lines = [line for line, _ in FRESH[:10]]  # ... 'Saving checkpoint at 1'
    assert fi.classify_phase(lines) == 'checkpoint'  # serialising
    assert fi.classify_phase(lines, saved=True) == 'val'
    # a .partial file beats every line: a best checkpoint, a rewrite
    assert fi.classify_phase(lines[:7], writing_checkpoint=True) == \
        'checkpoint'


def test_after_the_last_validation_comes_the_end_not_another_epoch():
    lines = [line for line, _ in FRESH[:12]]  # best checkpoint of epoch 1
    assert fi.classify_phase(lines, last_epoch=2) == 'train'
    assert fi.classify_phase(lines, last_epoch=1) == 'end'
    assert fi.classify_phase(lines) == 'train'  # cap unknown


def test_epochs_resume_and_training_progress_from_the_lines():
    fresh = [line for line, _ in FRESH]
    resumed = [line for line, _ in RESUMED]
    assert fi.resumed_epoch(fresh) is None and fi.resumed_epoch(resumed) == 1
    assert [fi.current_epoch(fresh[:n]) for n in (5, 7, 10, 12, 13)] == [
        0, 1, 1, 1, 2]
    assert fi.current_epoch(resumed[:2]) == 1
    # a training phase that has logged nothing yet is the next epoch's
    assert fi.phase_epoch(fresh[:12], 'train') == 2
    assert fi.phase_epoch(fresh[:6], 'train') == 1
    assert fi.phase_epoch(fresh[:13], 'train') == 2
    assert fi.phase_epoch(fresh[:8], 'precise_bn') == 1
    assert not fi.trains(resumed[:6]) and fi.trains(resumed)
    assert fi.shipped_claim(fresh) == pytest.approx(76.88)
    assert fi.shipped_claim(resumed) is None
    assert fi.saving_epoch('Saving checkpoint at 12 epochs') == 12


def test_partial_files_are_the_runners():
    from mmtricks.engine.data_aware_runner import partial_name
    assert fi.is_partial(partial_name('epoch_1.pth'))
    assert not fi.is_partial('epoch_1.pth') and not fi.is_partial('.lock')


def test_traceback_tail_keeps_the_error():
    output = '\n'.join(['training ...'] * 50 + [
        'Traceback (most recent call last):',
        '  File "train.py", line 1, in <module>'] + [
        f'  frame {i}' for i in range(20)] + [
        "AttributeError: 'CheckpointHook' object has no attribute "
        "'file_backend'"])
    tail = fi.traceback_tail(output, lines=8).splitlines()
    assert tail[0] == 'Traceback (most recent call last):'
    assert tail[-1].startswith('AttributeError') and len(tail) == 8
    assert fi.traceback_tail('a\nb\n') == 'a\nb'


def test_kills_aim_at_the_phase_hit_least():
    rng = random.Random(0)
    hits = dict(lr_test=1, train=2, precise_bn=0, checkpoint=0, val=3)
    targets = {fi.choose_target(hits, True, 0.0, rng) for _ in range(50)}
    assert targets == {'precise_bn', 'checkpoint'}
    # no LR range test after a checkpoint exists
    assert fi.choose_target(dict(train=1, precise_bn=1, checkpoint=1,
                                 val=1), False, 0.0, rng) != 'lr_test'
    assert fi.choose_target({}, True, 1.0, rng) == fi.UNIFORM


def test_phase_durations_leave_out_the_moments_between_steps():
    spans = [('val', 0.0, 0.2), ('checkpoint', 0.2, 0.201),
             ('val', 0.201, 0.202), ('val', 1.0, 1.3),
             ('checkpoint', 2.0, 2.1)]
    seconds = fi.phase_seconds(spans, default=9.0)
    assert seconds['val'] == pytest.approx(0.25)
    assert seconds['checkpoint'] == pytest.approx(0.1)
    assert seconds['lr_test'] == 9.0


def kill(phase, resumed=True):
    return dict(kill=1, run=1, seed=0, target=phase, phase=phase,
                epoch=2, run_seconds=10.0, attempt_seconds=5.0,
                checkpoint_after='epoch_1.pth loads', resumed=resumed,
                attempts=1, last_line='Saving checkpoint at 2 epochs')


BASELINE = [dict(seed=s, val_top1=v) for s, v in
            ((0, 96.0), (1, 97.0), (2, 98.0))]


def test_the_verdict_needs_every_phase_every_resume_and_the_seed_noise():
    kills = [kill(p) for p in fi.PHASES] * 6
    runs = [dict(run=1, seed=0, completed=True, val_top1=97.5, kills=[1]),
            dict(run=2, seed=1, completed=True, val_top1=95.1, kills=[2]),
            # no planned kill reached it: not compared
            dict(run=3, seed=2, completed=True, val_top1=90.0, kills=[])]
    summary = fi.summarise(kills, runs, BASELINE, 30)
    assert summary['baseline']['mean'] == pytest.approx(97.0)
    assert summary['baseline']['sd'] == pytest.approx(1.0)
    assert [c['within'] for c in summary['compared']] == [True, True]
    assert [c['run'] for c in summary['compared']] == [1, 2]
    assert all(summary['goals'].values()), summary['goals']
    assert summary['by_phase']['val'] == dict(kills=6, resumed=6)

    # 94.9 is 2.1 sd below the mean: outside the seed noise
    runs[1]['val_top1'] = 94.9
    goals = fi.summarise(kills, runs, BASELINE, 30)['goals']
    assert goals['shipped val top-1 within 2 sd of the uninterrupted runs'] \
        is False
    # a kill not resumed, a phase never hit, too few kills
    goals = fi.summarise(kills[:-1] + [kill('val', resumed=False)], runs,
                         BASELINE, 30)['goals']
    assert goals['every kill resumed'] is False
    goals = fi.summarise([k for k in kills if k['phase'] != 'precise_bn'],
                         runs, BASELINE, 30)['goals']
    assert goals['every phase killed at least once'] is False
    assert goals['at least 30 kills'] is False
    # a killed run that never shipped its model
    runs.append(dict(run=4, seed=2, completed=False, val_top1=None,
                     kills=[3]))
    summary = fi.summarise(kills, runs, BASELINE, 30)
    assert summary['goals'][
        'every run completed and shipped its model'] is False
    assert summary['compared'][-1]['within'] is None


def test_no_seed_noise_without_two_uninterrupted_runs():
    assert fi.within_noise(97.0, fi.mean_sd([97.0])) is None
    assert fi.within_noise(None, fi.mean_sd([96.0, 98.0])) is None
    assert fi.within_noise(97.0, fi.mean_sd([96.0, 98.0])) is True


def test_the_report_renders_the_kills_and_the_comparison(tmp_path):
    kills = [dict(kill(p), kill=i + 1, writing_checkpoint=p == 'checkpoint')
             for i, p in enumerate(fi.PHASES)]
    runs = [dict(run=1, seed=0, completed=True, val_top1=97.5,
                 logged_val_top1=97.5, kills=[1, 2, 3], launches=4,
                 epochs=15, leftover_partials=['.epoch_3.pth.partial'],
                 failed_launches=[dict(
                     launch=3, what='exited with code 1', after_kill=2,
                     error="ImportError: Failed to import mmtricks")])]
    payload = dict(
        command='python tools/fault_injection.py', machine='test CPU',
        code='commit abc', baseline=BASELINE, runs=runs, kills=kills,
        settings=dict(config='configs/auto_mbv3.py', data='digits',
                      seeds=[0, 1, 2], max_epochs=15, threads=1),
        failures=[dict(run=2, seed=1, kill=7, phase='checkpoint',
                       what='3 launch(es) in a row exited with code 1',
                       kept='/work/notes/fault_1',
                       traceback='AttributeError: no file_backend')])
    payload['summary'] = fi.summarise(kills, runs, BASELINE, 5)
    text = fi.render(payload)
    assert '| 4 | 1 (0) | checkpoint | checkpoint | 2 | 10.0 | 5.0 | ' \
        'epoch_1.pth loads | yes | 1 | Saving checkpoint at 2 epochs |' in text
    assert '97.00 ± 1.00 (n=3' in text
    assert '| 1 | 0 | 3 | 4 | 15 | 97.50 | +0.50 | yes |' in text
    assert '/work/notes/fault_1' in text and 'no file_backend' in text
    assert '- every kill resumed: yes' in text
    assert '| 1 | 3 | 2 | exited with code 1 | ImportError: Failed to ' \
        'import mmtricks |' in text
    assert '1 kill(s) struck while a checkpoint file was being written' in \
        text and '`.epoch_3.pth.partial`' in text


def test_data_goes_to_the_config_as_a_folder_or_a_bundled_name(tmp_path):
    assert fi.data_options(str(tmp_path)) == [f'data_root={tmp_path}']
    assert 'train_dataloader.dataset.bundled=mnist' in fi.data_options(
        'mnist')


def test_code_that_does_not_import_stops_the_campaign_before_any_run(
        tmp_path):
    broken = tmp_path / 'code' / 'mmtricks'
    broken.mkdir(parents=True)
    (broken / '__init__.py').write_text(
        'from .optim import Missing  # a tree caught mid-edit\n')
    campaign = fi.Campaign(
        'configs/auto_mbv3.py', 'digits', [0, 1], 2, 1, 1,
        str(tmp_path / 'work'), str(tmp_path / 'failures'),
        str(tmp_path / 'out'), 'cmd', 'machine', 'code', random.Random(0),
        code_dir=str(tmp_path / 'code'), progress=lambda line: None)
    with pytest.raises(RuntimeError, match='cannot import mmtricks'):
        campaign.run()
    assert not (tmp_path / 'work').exists()
