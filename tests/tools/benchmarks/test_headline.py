import pytest

from benchmarks import headline
from benchmarks.lr_finder import GRID


def fake_results():
    runs = headline.planned_runs(['auto', 'stock', 'oracle'], 2, (10, 20))
    results = []
    for run in runs:
        if run['recipe'] == 'oracle':
            top1 = 99.0 if (run['lr'], run['epochs']) == (GRID[3], 20) else 90.0
            result = dict(top1=top1, seconds=run['epochs'] * 1.0,
                          epochs=run['epochs'], lr=run['lr'])
        elif run['recipe'] == 'auto':
            result = dict(top1=98.5 + run['seed'], seconds=10.0, epochs=8,
                          lr=0.05, finder_seconds=2.0)
        else:
            result = dict(top1=95.0, seconds=200.0, epochs=200, lr=0.05)
        results.append((run, result))
    return results


def test_plan_covers_the_oracle_grid_and_the_seeds():
    runs = headline.planned_runs(['auto', 'oracle'], 3, (10, 20, 40))
    assert [r['seed'] for r in runs if r['recipe'] == 'auto'] == [0, 1, 2]
    oracle = {(r['lr'], r['epochs']) for r in runs if r['recipe'] == 'oracle'}
    assert len(oracle) == 6 * 3 and len(GRID) == 6
    with pytest.raises(ValueError, match='recipe'):
        headline.planned_runs(['tuned'], 1, (10, ))


def test_summary_picks_the_oracle_cell_and_prices_the_search():
    summary = headline.summarise('digits', fake_results())
    oracle = summary['recipes']['oracle']
    assert summary['oracle_best'] == dict(lr=GRID[3], epochs=20, top1=99.0)
    search = (10.0 + 20.0) * len(GRID)  # seconds = epochs
    assert oracle['seconds'] == search and oracle['compute_vs_oracle'] == 1
    auto = summary['recipes']['auto']
    assert auto['top1'] == pytest.approx(99.0)  # mean of 98.5 and 99.5
    assert auto['top1_sd'] == pytest.approx(0.7071, abs=1e-4)
    assert auto['runs'] == 2 and auto['finder_seconds'] == 2.0
    assert auto['compute_vs_oracle'] == pytest.approx(10.0 / search)
    assert headline.goals(summary) == {
        'auto within 1.0 of the oracle': True,
        'auto ahead of stock': True,
        'auto at most 1/10 of the oracle compute': True}
    line = headline.one_line([summary])
    assert line.startswith('summary over 1 dataset(s): top-1 auto 99.00, '
                           'stock 95.00, oracle 99.00; auto compute = 5.6%')


def test_report_files(tmp_path):
    summary = headline.summarise('digits', fake_results())
    headline.write([summary], None, str(tmp_path), 'python tools/benchmark.py',
                   'test machine', (10, 20), 2)
    text = (tmp_path / 'benchmark.md').read_text()
    assert '| digits | auto | 99.00 ± 0.71 | 2 |' in text
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


def test_a_folder_is_a_dataset(tmp_path):
    from benchmarks.runs import bundled_config
    from mmtricks.datasets import export_bundled
    export_bundled('lfw_faces', str(tmp_path / 'faces'))
    cfg = bundled_config(str(tmp_path / 'faces'), 5, 0, str(tmp_path / 'w'))
    assert cfg.model.head.num_classes == 2
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'faces')
    with pytest.raises(ValueError, match='neither a folder'):
        bundled_config('no_such_set', 5, 0, str(tmp_path / 'w'))


def test_a_partial_oracle_is_no_oracle(tmp_path):
    results = [(run, None if run['recipe'] == 'oracle' and run['epochs'] == 20
                else result) for run, result in fake_results()]
    summary = headline.summarise('mnist', results)
    oracle = summary['recipes']['oracle']
    assert (oracle['runs'], oracle['planned_runs']) == (6, 12)
    assert 'compute_vs_oracle' not in summary['recipes']['auto']
    assert headline.goals(summary)['auto within 1.0 of the oracle'] is None
    assert 'oracle' not in headline.one_line([summary])
    headline.write([summary], None, str(tmp_path), 'cmd', 'machine',
                   (10, 20), 2)
    assert 'PARTIAL: 6 of 12 runs' in (tmp_path / 'benchmark.md').read_text()


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
