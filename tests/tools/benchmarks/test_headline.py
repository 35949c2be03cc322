import pytest

from benchmarks import AUTO_MBV3, headline
from benchmarks.lr_finder import GRID
from benchmarks.train import score_result

CELL = (GRID[3], 20)  # the oracle's best cell by val in fake_results


def scored(test, val, seconds, epochs, lr, finite_loss=True, **extra):
    """A result as train_once scores it (val majority share 50%)."""
    result = score_result(val, test, [0, 1], [1.0, 0.5 if finite_loss
                                              else float('nan')],
                          [(epochs, val)], seconds, epochs, lr)
    result.update(extra)
    return result


def fake_results(seeds=2, budgets=(10, 20), diverged_lr=None):
    """Planned runs with fake results, in run_benchmark's order: the
    oracle's search first; its best val cell is CELL, while another cell
    has a better test top-1 but a worse val (a selection by test would pick
    it); then the chosen cell on the other seeds."""
    def result_of(run):
        if run['recipe'] == 'oracle':
            key = (run['lr'], run['epochs'])
            val, test = 90.0, 90.0
            if key == CELL:
                val, test = 99.0, 98.0 + run['seed']
            elif key == (GRID[2], 20):
                val, test = 98.0, 99.9  # best on test, not chosen
            diverged = run['lr'] == diverged_lr
            return scored(test, 50.0 if diverged else val,
                          run['epochs'] * 1.0, run['epochs'], run['lr'])
        if run['recipe'] == 'auto':
            return scored(97.5 + run['seed'], 99.9, 10.0, 8, 0.05,
                          finder_seconds=2.0)
        return scored(95.0 + run['seed'], 99.0, 200.0, 200, 0.05)

    runs = headline.planned_runs(['auto', 'stock', 'oracle'], seeds, budgets)
    results = [(run, result_of(run)) for run in runs
               if run.get('role') != 'seed']
    cell = headline.choose_cell([dict(r, seed=run['seed'], lr=run['lr'],
                                      budget=run['epochs'])
                                 for run, r in results
                                 if run.get('role') == 'search'])
    seed_runs = headline.chosen_cell_runs(
        [run for run in runs if run.get('role') == 'seed'], cell)
    return results + [(run, result_of(run)) for run in seed_runs]


def test_plan_covers_the_oracle_grid_and_the_seeds():
    runs = headline.planned_runs(['auto', 'stock', 'oracle'], 3,
                                 (10, 20, 40))
    assert [r['seed'] for r in runs if r['recipe'] == 'auto'] == [0, 1, 2]
    oracle = {(r['lr'], r['epochs']) for r in runs
              if r.get('role') == 'search'}
    assert len(oracle) == 6 * 3 and len(GRID) == 6
    with pytest.raises(ValueError, match='recipe'):
        headline.planned_runs(['tuned'], 1, (10, ))


def test_stock_and_the_oracle_cell_run_on_the_seeds_of_auto():
    runs = headline.planned_runs(['auto', 'stock', 'oracle'], 3, (10, 20))
    seeds = {recipe: sorted(r['seed'] for r in runs if r['recipe'] == recipe
                            and r.get('role') != 'search')
             for recipe in ('auto', 'stock')}
    assert seeds == dict(auto=[0, 1, 2], stock=[0, 1, 2])
    # the oracle's cell: seed 0 is its search run, 1 and 2 follow it
    assert sorted(r['seed'] for r in runs if r.get('role') == 'seed') == [1, 2]
    summary = headline.summarise('digits', fake_results(seeds=3))
    for recipe in ('auto', 'stock', 'oracle'):
        assert summary['recipes'][recipe]['seeds'] == [0, 1, 2], recipe
    assert summary['oracle_best']['per_seed_test_top1'] == [98.0, 99.0,
                                                            100.0]
    with pytest.raises(ValueError, match='chosen cell'):
        headline.planned_config('digits', next(
            r for r in runs if r.get('role') == 'seed'), 'w')


def test_oracle_budgets_reach_the_cap_of_auto():
    assert max(headline.ORACLE_BUDGETS) >= headline.config_cap(AUTO_MBV3)


def test_the_oracle_chooses_by_val_and_is_scored_on_test():
    summary = headline.summarise('digits', fake_results())
    best = summary['oracle_best']
    assert (best['lr'], best['epochs'], best['chosen_by']) == (
        *CELL, 'val_top1')  # not GRID[2], the best cell on test
    oracle = summary['recipes']['oracle']
    assert oracle['test_top1'] == pytest.approx(98.5)  # seeds 0 and 1
    assert oracle['val_top1'] == pytest.approx(99.0)
    search = (10.0 + 20.0) * len(GRID)  # seconds = epochs
    assert oracle['seconds'] == search and oracle['compute_vs_oracle'] == 1
    auto = summary['recipes']['auto']
    assert auto['test_top1'] == pytest.approx(98.0)  # mean of 97.5, 98.5
    assert auto['val_top1'] == pytest.approx(99.9)
    assert auto['test_top1_sd'] == pytest.approx(0.7071, abs=1e-4)
    assert auto['finder_seconds'] == 2.0
    assert auto['compute_vs_oracle'] == pytest.approx(10.0 / search)
    assert headline.goals(summary) == {
        'auto within 1.0 of the oracle (test)': True,
        'auto ahead of stock (test)': True,
        'auto at most 1/10 of the oracle compute (diverged cells counted)':
            True,
        'the same, diverged cells left out': True}
    line = headline.one_line([summary])
    assert line.startswith('summary over 1 dataset(s): test top-1 auto '
                           '98.00, stock 95.50, oracle 98.50; auto compute '
                           '= 5.6%')


def test_goals_are_computed_on_test_not_val():
    # auto is 1.5 behind the oracle on test but ahead on val: missed
    results = [(run, dict(r, test_top1=97.0, top1=97.0)
                if run['recipe'] == 'auto' else r)
               for run, r in fake_results()]
    summary = headline.summarise('digits', results)
    assert summary['recipes']['auto']['val_top1'] > \
        summary['recipes']['oracle']['val_top1']
    assert headline.goals(summary)[
        'auto within 1.0 of the oracle (test)'] is False


def test_a_tie_at_100_is_a_tie():
    assert headline.ahead_of(100.0, 100.0) == headline.TIE
    assert headline.ahead_of(99.5, 99.5) is False
    assert headline.ahead_of(100.0, 99.5) is True
    results = [(run, dict(r, test_top1=100.0, top1=100.0)
                if run['recipe'] in ('auto', 'stock') else r)
               for run, r in fake_results()]
    summary = headline.summarise('lfw_faces', results)
    assert headline.goals(summary)['auto ahead of stock (test)'] == 'tie'
    assert '| lfw_faces | yes | tie (both 100%) |' in headline.markdown(
        [summary], None, 'cmd', 'machine')


def test_diverged_cells_are_counted_apart():
    summary = headline.summarise('digits', fake_results(
        diverged_lr=GRID[-1]))
    grid = {(g['lr'], g['epochs']): g for g in summary['oracle_grid']}
    assert grid[(GRID[-1], 10)]['diverged'] and grid[(GRID[-1], 20)][
        'diverged']
    assert sum(g['diverged'] for g in grid.values()) == 2
    cost = summary['oracle_search']
    assert (cost['runs'], cost['diverged_runs']) == (12, 2)
    assert cost['seconds'] == 180.0 and cost['seconds_without_diverged'] \
        == 150.0
    auto = summary['recipes']['auto']
    assert auto['compute_vs_oracle'] == pytest.approx(10.0 / 180.0)
    assert auto['compute_vs_oracle_without_diverged'] == pytest.approx(
        10.0 / 150.0)
    text = headline.markdown([summary], None, 'cmd', 'machine')
    assert 'search 12 runs, 2 diverged' in text
    assert '90.00 (50.00) diverged' in text
    # a non-finite loss is divergence too, whatever val says
    results = fake_results()
    run, result = next((run, r) for run, r in results
                       if run.get('role') == 'search')
    result.update(scored(90.0, 90.0, 10.0, 10, run['lr'],
                         finite_loss=False))
    summary = headline.summarise('digits', results)
    assert summary['oracle_search']['diverged_runs'] == 1


def test_report_files(tmp_path):
    summary = headline.summarise('digits', fake_results())
    headline.write([summary], None, str(tmp_path), 'python tools/benchmark.py',
                   'test machine', (10, 20), 2)
    text = (tmp_path / 'benchmark.md').read_text()
    assert '| digits | auto | 98.00 ± 0.71 | 99.90 ± 0.00 | 2 | 8 |' in text
    assert 'test top-1' in text and 'Scored on val' not in text
    assert (tmp_path / 'benchmark.png').stat().st_size > 1000


def test_stock_recipe_changes_only_what_must_change(tmp_path):
    cfg = headline.stock_config('lfw_faces', 0, str(tmp_path))
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.1 * 64 / 128)
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.param_scheduler.milestones == [120, 170]
    assert cfg.model.head.num_classes == 2
    assert cfg.model.head.type == 'StackedLinearClsHead'
    assert cfg.train_dataloader.dataset.bundled == 'lfw_faces'
    assert [p['type'] for p in cfg.train_dataloader.dataset.pipeline] == [
        'LoadImageIfPath', 'Resize', 'RandomCrop', 'RandomFlip', 'PackInputs']
    assert 'custom_hooks' not in cfg or not cfg.custom_hooks
    assert [cfg[f'{s}_dataloader'].dataset.split
            for s in ('train', 'val', 'test')] == ['train', 'val', 'test']


def test_a_folder_is_a_dataset(tmp_path):
    from benchmarks.runs import bundled_config
    from mmtricks.datasets import export_bundled
    export_bundled('lfw_faces', str(tmp_path / 'faces'))
    cfg = bundled_config(str(tmp_path / 'faces'), 5, 0, str(tmp_path / 'w'))
    assert cfg.model.head.num_classes == 2
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'faces')
    assert cfg.test_dataloader.dataset.split == 'test'
    with pytest.raises(ValueError, match='neither a folder'):
        bundled_config('no_such_set', 5, 0, str(tmp_path / 'w'))


def test_a_pre_split_folder_without_test_is_refused_before_training(
        tmp_path):
    from benchmarks.runs import bundled_config
    for split in ('train', 'val'):
        for cls in ('a', 'b'):
            (tmp_path / 'data' / split / cls).mkdir(parents=True)
    with pytest.raises(ValueError, match='has no test/'):
        bundled_config(str(tmp_path / 'data'), 5, 0, str(tmp_path / 'w'))


def test_a_partial_oracle_is_no_oracle(tmp_path):
    results = [(run, None if run.get('role') == 'search' and
                run['epochs'] == 20 else result)
               for run, result in fake_results()]
    summary = headline.summarise('mnist', results)
    oracle = summary['recipes']['oracle']
    assert (oracle['runs'], oracle['planned_runs']) == (7, 13)
    assert 'compute_vs_oracle' not in summary['recipes']['auto']
    assert headline.goals(summary)[
        'auto within 1.0 of the oracle (test)'] is None
    assert 'oracle' not in headline.one_line([summary])
    headline.write([summary], None, str(tmp_path), 'cmd', 'machine',
                   (10, 20), 2)
    assert 'PARTIAL: 7 of 13 runs' in (tmp_path / 'benchmark.md').read_text()


class _Hook:
    def before_train_iter(self, runner, batch_idx, data_batch=None):
        return batch_idx

    def after_train_iter(self, runner, **kwargs):
        pass

    before_train_epoch = after_train_epoch = after_train_iter


def test_time_inside_hooks_is_summed_by_hook_and_calls_pass_through():
    clock = iter(range(0, 1000, 2)).__next__  # a fake clock: +2 a reading
    hook = _Hook()
    spent = headline.time_hook_events([hook], clock=clock)
    results = [hook.before_train_iter(None, i, data_batch=None)
               for i in range(5)]
    hook.after_train_iter(None, batch_idx=0)
    assert results == list(range(5))
    # 6 timed calls, each reads the clock twice, 2 apart
    assert spent == {'_Hook': 6 * 2}


def test_overhead_table_reports_the_time_inside_hooks():
    overhead = dict(dataset='digits', iters=60, repeats=3,
                    seconds_per_iter=dict(plain=0.2, auto=0.19, stock=0.18),
                    hook_seconds_per_iter=dict(AutoEpochsHook=0.0004,
                                               PreciseBNStatsHook=0.0001),
                    lr_test_seconds=12.0, precise_bn_seconds=0.1)
    text = headline.overhead_markdown(overhead)
    assert '0.500 ms per iteration, 0.25% of the iteration' in text
    assert text.index('AutoEpochsHook 0.400 ms') < text.index(
        'PreciseBNStatsHook 0.100 ms')


def test_an_oracle_shorter_than_the_cap_of_auto_says_so():
    summary = headline.summarise('digits', fake_results())
    summary.update(oracle_budgets=[10, 20], auto_cap=60)
    text = headline.markdown([summary], None, 'cmd', 'machine')
    assert 'Its longest budget (20 epochs) is shorter than auto\'s cap (60)' \
        in text
    summary['auto_cap'] = 20
    assert 'shorter than' not in headline.markdown([summary], None, 'c', 'm')


def _image_folder(root, classes=('red', 'green'), per_class=40):
    """A folder of one sub-folder per class of small coloured PNGs."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (16, 16, 3), dtype=np.uint8)
            pixels[..., c] += 150
            Image.fromarray(pixels).save(root / name / f'{i}.png')
    return root


@pytest.mark.slow  # a few timed iterations of three tiny runs: 5-10 s
def test_the_readme_command_on_a_folder_times_the_overhead_and_exits_0(
        tmp_path, monkeypatch, capsys):
    """``python tools/benchmark.py --data DIR``: training faked, the
    overhead timing real (auto with and without hooks, and stock, whose
    MMPretrain config has no custom_hooks) on the user's folder."""
    import functools
    import json

    import benchmark
    import mmtricks  # noqa: F401
    from benchmarks.headline import plan, timing
    trained = []

    def fake_train(cache, cfg, cached_only=False, **labels):
        trained.append(labels.get('recipe', 'oracle'))
        top1 = 96.0 if labels.get('recipe') == 'auto' else 90.0
        return scored(top1, top1 + 1, 10.0, 5, 0.1, finder_seconds=1.0)

    monkeypatch.setattr(plan, 'cached_train', fake_train)
    monkeypatch.setattr(headline, 'measure_overhead', functools.partial(
        timing.measure_overhead, iters=7))  # a few iterations, not 60
    data = _image_folder(tmp_path / 'my_images')
    out = tmp_path / 'out'
    benchmark.main(['--data', str(data), '--quick', '--recipes', 'auto',
                    'stock', '--out', str(out),
                    '--work-dir', str(tmp_path / 'work'), '--cache', ''])
    assert trained == ['auto', 'stock']
    table = (out / 'benchmark.md').read_text()
    assert '| my_images | auto | 96.00 |' in table
    overhead = json.loads((out / f'{headline.NAME}.json').read_text())[
        'overhead']
    assert overhead['dataset'] == 'my_images'
    assert set(overhead['seconds_per_iter']) == {'plain', 'auto', 'stock'}
    # 16 px images: milliseconds, not the 2 s MMEngine's iteration loop
    # sleeps where a finite sampler restarts (here every iteration: the
    # training split is under one batch)
    assert all(0 < s < 1.0 for s in overhead['seconds_per_iter'].values())
    assert 'summary over 1 dataset(s)' in capsys.readouterr().out
