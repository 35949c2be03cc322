"""The small-data benchmark's folders, plan and verdicts, without training."""
import os

import pytest

from benchmarks import small_data
from benchmarks.small_data import (batch_rule, folder_name, goal, plan,
                                   render, select_images, summarise,
                                   val_per_class)

# 10 classes of 180 images each, interleaved as in a real set.
LABELS = [i % 10 for i in range(1800)]


def test_val_is_a_fifth_of_a_60_20_20_split_and_at_least_5():
    assert [val_per_class(n) for n in (10, 20, 50, 100)] == [5, 7, 17, 33]


def test_selection_counts_per_class_and_keeps_test_apart():
    sizes = (10, 20, 50, 100)
    chosen = select_images(LABELS, sizes, test_per_class=40, seed=0)
    test = set(chosen['test'])
    assert len(chosen['test']) == len(test) == 400
    for n in sizes:
        train, val = chosen['folders'][n]['train'], chosen['folders'][n]['val']
        for cls in range(10):
            assert sum(LABELS[i] == cls for i in train) == n
            assert sum(LABELS[i] == cls for i in val) == val_per_class(n)
            assert sum(LABELS[i] == cls for i in test) == 40
        assert len(set(train)) == len(train) and len(set(val)) == len(val)
        assert not set(train) & set(val)
        assert not (set(train) | set(val)) & test
    # the test set does not depend on the sizes asked for: every N (and a
    # run of fewer sizes) is scored on the same images
    assert select_images(LABELS, (10, ), 40, 0)['test'] == chosen['test']
    # a larger N's training images hold a smaller N's
    assert set(chosen['folders'][10]['train']) <= set(
        chosen['folders'][100]['train'])


def test_selection_is_the_same_on_every_call_and_depends_on_the_seed():
    assert select_images(LABELS, (10, 20), 40, 0) == \
        select_images(LABELS, (10, 20), 40, 0)
    assert select_images(LABELS, (10, ), 40, 1)['test'] != \
        select_images(LABELS, (10, ), 40, 0)['test']


def test_a_class_too_small_is_an_error_naming_it_and_the_fix():
    labels = LABELS + [10] * 50
    with pytest.raises(ValueError, match=r'Class 10 has 50 images, but 40 '
                       r'test \+ 100 train \+ 33 val need 173: lower'):
        select_images(labels, (10, 100), 40, 0)
    with pytest.raises(ValueError, match='at least 1'):
        select_images(LABELS, (0, 10), 40, 0)


def test_a_folder_name_changes_with_what_it_holds():
    parts = dict(train=[1, 2], val=[3], test=[4])
    name = folder_name('digits', 2, parts, 32)
    assert name.startswith('digits_n2_')
    assert name == folder_name('digits', 2, dict(parts), 32)
    assert name != folder_name('digits', 2, dict(parts, test=[5]), 32)
    assert name != folder_name('digits', 2, parts, 64)


def test_folders_are_written_once_with_the_counts_per_class(tmp_path):
    folders = small_data.write_folders('digits', str(tmp_path), (2, 3),
                                       test_per_class=1, seed=0,
                                       image_size=8)
    for n, info in folders.items():
        assert (info['train'], info['val'], info['test']) == (n, 5, 1)
        for split, count in (('train', n), ('val', 5), ('test', 1)):
            classes = sorted(os.listdir(os.path.join(info['folder'], split)))
            assert len(classes) == 10
            assert all(len(os.listdir(os.path.join(info['folder'], split,
                                                   c))) == count
                       for c in classes)
    tests = [sorted(os.listdir(os.path.join(f['folder'], 'test', '0')))
             for f in folders.values()]
    assert tests[0] == tests[1]
    stamp = os.path.getmtime(folders[2]['folder'])
    assert small_data.write_folders('digits', str(tmp_path), (2, 3), 1, 0,
                                    8) == folders
    assert os.path.getmtime(folders[2]['folder']) == stamp  # reused
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.partial')]
    with pytest.raises(ValueError, match='not a bundled set'):
        small_data.write_folders('cifar', str(tmp_path), (2, ))


def test_plan_runs_auto_batch64_as_auto_and_the_oracle_where_asked():
    runs = plan((10, 50), ['auto', 'auto_batch64', 'stock', 'oracle'], 3,
                (5, 10), oracle_sizes=(10, ))
    by = {}
    for run in runs:
        by.setdefault((run['n'], run['recipe']), []).append(run)
    assert [r['seed'] for r in by[(50, 'auto_batch64')]] == [0, 1, 2]
    assert by[(50, 'auto_batch64')][0]['epochs'] == by[(50, 'auto')][0][
        'epochs']
    assert (50, 'oracle') not in by
    assert len(by[(10, 'oracle')]) == 6 * 2 + 2  # grid, then 2 seeds
    with pytest.raises(ValueError, match='Unknown recipe'):
        plan((10, ), ['tuned'], 1, (5, ))


def test_auto_batch64_is_auto_at_batch_64_keeping_the_last_batch(tmp_path):
    import cv2
    import numpy as np
    for split in ('train', 'val', 'test'):
        for cls in ('a', 'b'):
            os.makedirs(tmp_path / 'data' / split / cls)
            cv2.imwrite(str(tmp_path / 'data' / split / cls / '0.png'),
                        np.zeros((8, 8), np.uint8))
    folder = str(tmp_path / 'data')
    run = dict(recipe='auto_batch64', seed=1, epochs=60, n=10)
    cfg, labels = small_data.run_config(folder, run, str(tmp_path / 'w'))
    auto, auto_labels = small_data.run_config(
        folder, dict(run, recipe='auto'), str(tmp_path / 'w'))
    assert (cfg.batch_size, cfg.train_dataloader.drop_last) == (64, False)
    assert (auto.batch_size, auto.train_dataloader.drop_last) == ('auto',
                                                                   True)
    assert labels == dict(auto_labels, recipe='auto_batch64')
    assert cfg.work_dir != auto.work_dir


def record(n, recipe, seed, test, val=None, diverged=False, role=None,
           lr=0.1, budget=None, finder=None, batch=None, seconds=100.0):
    return dict(n=n, recipe=recipe, seed=seed, role=role, budget=budget,
                lr=lr, test_top1=test,
                val_top1=test if val is None else val, epochs=20,
                seconds=seconds, diverged=diverged, finder_seconds=finder,
                finder_share=None if finder is None else finder / seconds,
                batch_size=batch)


def fake_records(auto_10=(90.0, 92.0, 94.0), batch64_10=(80.0, 82.0, 84.0),
                 stock_10=(85.0, 86.0, 87.0), auto_diverged=False):
    rows = []
    for seed in range(3):
        rows += [
            record(10, 'auto', seed, auto_10[seed], finder=10.0, batch=8,
                   diverged=auto_diverged and seed == 0),
            record(10, 'auto_batch64', seed, batch64_10[seed], finder=5.0,
                   batch=64),
            record(10, 'stock', seed, stock_10[seed], batch=64),
            record(20, 'auto', seed, 95.0 + seed, finder=10.0, batch=16),
            record(20, 'auto_batch64', seed, 95.5 + seed, batch=64),
            record(20, 'stock', seed, 90.0, batch=64)]
    # the oracle's search on seed 0: the best val cell (lr 0.03, 10 ep) has
    # a worse test top-1 than another cell; then that cell on seeds 1, 2
    rows += [record(10, 'oracle', 0, 70.0, val=99.0, role='search',
                    lr=0.03, budget=10),
             record(10, 'oracle', 0, 99.0, val=90.0, role='search',
                    lr=0.3, budget=10),
             record(10, 'oracle', 0, 10.0, val=10.0, role='search',
                    lr=0.9, budget=10, diverged=True),
             record(10, 'oracle', 1, 72.0, role='seed', lr=0.03, budget=10),
             record(10, 'oracle', 2, 74.0, role='seed', lr=0.03, budget=10)]
    return rows


def test_summary_means_over_seeds_and_the_oracle_ships_its_val_cell():
    cells = summarise(fake_records())['cells']
    auto = cells['10']['auto']
    assert auto['test_top1']['mean'] == pytest.approx(92.0)
    assert auto['test_top1']['sd'] == pytest.approx(2.0)
    assert auto['seeds'] == [0, 1, 2] and auto['batch_sizes'] == [8]
    assert auto['finder_share'] == pytest.approx(0.1)
    assert cells['10']['stock']['finder_share'] is None
    oracle = cells['10']['oracle']
    assert (oracle['lr'], oracle['budget']) == (0.03, 10)
    assert oracle['test_top1']['mean'] == pytest.approx(72.0)
    assert oracle['seeds'] == [0, 1, 2]
    assert (oracle['search_runs'], oracle['search_diverged']) == (3, 1)
    assert oracle['search_seconds'] == pytest.approx(300.0)
    assert oracle['diverged'] == 0  # the shipped cell did not diverge
    assert 'oracle' not in cells['20']


def test_goal_is_met_only_with_auto_nowhere_below_stock_and_no_divergence():
    met = summarise(fake_records())['goal']
    assert met['met'] is True
    assert met['per_size']['10']['gap_to_stock'] == pytest.approx(6.0)
    below = summarise(fake_records(auto_10=(84.0, 86.0, 87.9)))['goal']
    assert below['met'] is False and below['per_size']['10']['below_stock']
    assert below['per_size']['20']['met'] is True
    diverged = summarise(fake_records(auto_diverged=True))['goal']
    assert diverged['met'] is False
    assert diverged['per_size']['10']['auto_diverged'] == 1
    assert not diverged['per_size']['10']['below_stock']
    no_stock = [r for r in fake_records()
                if (r['n'], r['recipe']) != (20, 'stock')]
    assert summarise(no_stock)['goal']['met'] is None
    assert goal({})['met'] is None


def test_batch_rule_gap_is_auto_minus_batch64_with_its_standard_error():
    rule = summarise(fake_records())['batch_rule']
    ten, twenty = rule['per_size']['10'], rule['per_size']['20']
    assert ten['gap'] == pytest.approx(10.0)
    assert ten['se'] == pytest.approx((4 / 3 + 4 / 3) ** 0.5)
    assert ten['verdict'] == 'auto ahead'
    assert ten['auto_batch_sizes'] == [8]
    assert twenty['gap'] == pytest.approx(-0.5)
    assert twenty['verdict'] == 'within noise'
    assert rule['holds'] is True
    behind = summarise(fake_records(auto_10=(70.0, 71.0, 72.0)))
    assert behind['batch_rule']['per_size']['10']['verdict'] == 'auto behind'
    assert behind['batch_rule']['holds'] is False
    assert batch_rule({'10': {'auto': {}}}) == dict(per_size={}, holds=None)


def test_render_states_the_table_the_goal_and_the_batch_rule():
    records = fake_records(auto_diverged=True)
    payload = dict(
        dataset='digits', sizes=[10, 20], seeds=3,
        recipes=list(small_data.RECIPES), oracle_budgets=[5, 10, 20],
        oracle_sizes=[10], command='python tools/benchmark.py small-data',
        machine='Some CPU, 2 cores, 1 threads', note='CPU shared.',
        selection=dict(seed=0, test_per_class=40, image_size=32, folders={
            '10': dict(classes=10, train=10, val=5, test=40),
            '20': dict(classes=10, train=20, val=7, test=40)}),
        runs=records, summary=summarise(records))
    text = render(payload)
    assert '| 10 | 100 / 50 / 400 | 92.00 ± 2.00 (92.00) **1 diverged**' \
        in text
    assert '**missed**' in text
    assert 'Not run at N = 20' in text
    assert '| 10 | 8 | +10.00 |' in text
    assert 'Some CPU, 2 cores, 1 threads. CPU shared.' in text
    assert 'python tools/benchmark.py small-data' in text
