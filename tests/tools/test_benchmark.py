"""tools/benchmark.py: one front for every benchmark."""
import subprocess
import sys

import pytest

import benchmark
from benchmarks import headline
from benchmarks.console import Console
from benchmarks.run_cache import RunCache
from benchmarks.runs import run_cache_key
from conftest import REPO


def test_headline_is_the_default_and_old_flags_still_parse():
    args = benchmark.parse_args(['--quick', '--cache', ''])
    assert (args.benchmark, args.quick, args.cache) == ('headline', True, '')
    assert benchmark.parse_args([]).benchmark == 'headline'
    args = benchmark.parse_args(['lr-finder', '--datasets', 'digits',
                                 '--curve-seeds', '2'])
    assert (args.data, args.curve_seeds, args.seeds) == (['digits'], 2, 3)
    args = benchmark.parse_args(['bag-of-tricks', '--dataset', 'mnist'])
    assert args.data == ['mnist'] and args.seeds == [0]
    assert benchmark.parse_args(['epochs']).budgets == [10, 30, 60]


def test_a_mistyped_benchmark_names_the_choices(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(['lr_finder'])
    assert "invalid choice: 'lr_finder'" in capsys.readouterr().err


def test_tricks_budgets_are_name_equals_epochs():
    assert benchmark.tricks_epochs(['digits=3'])['digits'] == 3
    with pytest.raises(SystemExit, match='NAME=EPOCHS'):
        benchmark.tricks_epochs(['digits:3'])


def test_run_logs_go_to_the_work_dir_and_the_terminal_keeps_the_bar(
        tmp_path, capsys):
    from mmengine.logging import MMLogger
    log = tmp_path / 'work' / 'console.log'
    with Console(str(log), total=1) as console:
        print('a line a run prints')
        print('an upstream notice', file=sys.stderr)
        # MMEngine's logger writes to the stdout it finds when made
        MMLogger.get_instance('console_test', log_level='WARNING').warning(
            'a run log line')
        console.progress('digits auto: top-1 99.00')
    print('after the benchmark')
    out, err = capsys.readouterr()
    logged = log.read_text()
    for line in ('a line a run prints', 'an upstream notice',
                 'a run log line'):
        assert line in logged and line not in out + err
    assert 'digits auto: top-1 99.00' in out and 'after the benchmark' in out
    assert '1/1' in err  # the bar, on the terminal's stderr


def fake_result(run):
    from benchmarks.train import score_result
    top1 = 96.0 if run['recipe'] == 'auto' else 90.0 + 10 * run['lr']
    result = score_result(top1 + 1.0, top1, [0, 1], [1.0],
                          [(run['epochs'], top1 + 1.0)],
                          float(run['epochs']), run['epochs'],
                          run.get('lr', 0.1))
    result['finder_seconds'] = 1.0
    return result


@pytest.mark.slow  # builds 16 configs (no training): about a minute
def test_cached_only_renders_the_stored_runs_and_trains_nothing(
        tmp_path, capsys):
    import mmtricks  # noqa: F401
    plan = headline.planned_runs(['auto', 'stock', 'oracle'], 1, (5, ))
    cache = RunCache(str(tmp_path / 'cache.jsonl'))
    stored = [run for run in plan if run['recipe'] != 'stock']
    for run in stored:
        cfg, labels = headline.planned_config('digits', run, 'anywhere')
        cache.get_or_run(run_cache_key(cfg, **labels),
                         lambda run=run: fake_result(run))
    out = tmp_path / 'out'
    benchmark.main(['--data', 'digits', '--recipes', 'auto', 'stock',
                    'oracle', '--seeds', '1', '--oracle-budgets', '5',
                    '--cached-only', '--no-overhead', '--out', str(out),
                    '--work-dir', str(tmp_path / 'work'),
                    '--cache', str(tmp_path / 'cache.jsonl')])
    table = (out / 'benchmark.md').read_text()
    assert '| digits | auto | 96.00 | 97.00 | 1 | 60 | 60 s | 200.0% ' \
        '(200.0%) | 200.0% (200.0%) |' in table
    assert '| digits | oracle (cell by val: lr 0.66, 5 ep; search 6 runs, ' \
        '0 diverged) | 96.56 | 97.56 | 1 | 30 | 30 s |' in table
    assert '| stock' not in table  # not in the cache: not run, not trained
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith(
        'summary over 1 dataset(s): test top-1 auto 96.00, oracle 96.56; '
        'auto compute = 200.0% of the oracle search (200.0% without its '
        'diverged cells)')


@pytest.mark.slow
def test_the_front_runs_as_a_script():
    done = subprocess.run([sys.executable, 'tools/benchmark.py', '--help'],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in benchmark.NAMES:
        assert name in done.stdout


def test_cached_only_with_no_stored_run_says_why(tmp_path):
    import mmtricks  # noqa: F401
    with pytest.raises(LookupError, match='holds none of the runs planned '
                       'for digits'):
        benchmark.main(['--data', 'digits', '--recipes', 'stock',
                        '--cached-only', '--no-overhead',
                        '--out', str(tmp_path / 'out'),
                        '--work-dir', str(tmp_path / 'work'),
                        '--cache', str(tmp_path / 'empty.jsonl')])
    assert not (tmp_path / 'out' / 'benchmark.md').exists()


def test_compile_seeds_and_arms_reach_the_benchmark(tmp_path, monkeypatch):
    from benchmarks import speed_compile
    calls = []

    def run_benchmark(cases, cap, out, *args, **kwargs):
        calls.append((cases, kwargs['seeds'], kwargs['arms']))
        (tmp_path / f'{speed_compile.NAME}.md').write_text('report')
    monkeypatch.setattr(speed_compile, 'run_benchmark', run_benchmark)
    args = benchmark.parse_args(
        ['speed', '--compile', '--cases', 'digits_32', '--seeds', '2',
         '--arms', 'auto', '--out', str(tmp_path), '--work-dir',
         str(tmp_path / 'runs'), '--cache', ''])
    args.main(args, 'command')
    assert calls == [(dict(digits_32=3), [2], ['auto'])]
    args.arms = ['jit']
    with pytest.raises(SystemExit, match='Unknown arms'):
        args.main(args, 'command')
