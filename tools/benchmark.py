"""The headline benchmark: mmtricks' automatic recipe against MMPretrain's
stock recipe and a tuned oracle (a grid of LRs x epoch budgets).

    python tools/benchmark.py [--data NAME_OR_FOLDER ...] [--recipes ...] \
        [--seeds N] [--quick] [--oracle-budgets E ...] [--work-dir DIR] \
        [--out DIR] [--cache FILE] [--cached-only] [--no-overhead]

--data takes bundled names (digits, mnist, lfw_faces) or folders of your
own images (one sub-folder per class, or train/ and val/ holding them).
--quick runs one dataset (lfw_faces unless --data says), one seed and a
smaller oracle, in under 10 minutes on 2 cores. Writes benchmark.json,
benchmark.md and benchmark.png into --out; the last line printed is a
one-line summary.
"""
import argparse
import os.path as osp
import shlex
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', nargs='+', default=None,
                        help='bundled names or folders (default: all three '
                        'bundled sets; lfw_faces with --quick)')
    parser.add_argument('--recipes', nargs='+', default=None,
                        help='auto, stock, oracle, auto_effnet_lite0 '
                        '(default: all; auto, stock and oracle with --quick)')
    parser.add_argument('--seeds', type=int, default=None,
                        help='seeds of the automatic recipes (default 3, '
                        '1 with --quick)')
    parser.add_argument('--quick', action='store_true',
                        help='one dataset, one seed, oracle budgets 5/10/20')
    parser.add_argument('--oracle-budgets', nargs='+', type=int, default=None,
                        help='epoch budgets of the oracle grid (default '
                        '10 20 40; 5 10 20 with --quick)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument('--out', default=None,
                        help='where the table goes (default docs/benchmarks, '
                        'or the work dir with --quick)')
    parser.add_argument('--cache', default='work_dirs/benchmark_cache.jsonl',
                        help='finished runs, shared with the other '
                        'benchmarks; "" to train everything afresh')
    parser.add_argument('--cached-only', action='store_true',
                        help='train nothing: the table from the runs the '
                        'cache holds (missing ones reported as not run)')
    parser.add_argument('--no-overhead', action='store_true',
                        help='skip timing the per-iteration cost')
    return parser.parse_args()


def main():
    args = parse_args()
    import mmtricks  # noqa: F401  (registers our parts, applies the fixes)
    from tqdm import tqdm

    from mmtricks.benchmarks import headline
    from mmtricks.benchmarks.common import machine_description
    from mmtricks.benchmarks.run_cache import RunCache

    quick = args.quick
    datasets = args.data or (['lfw_faces'] if quick else
                             ['lfw_faces', 'digits', 'mnist'])
    recipes = args.recipes or (['auto', 'stock', 'oracle'] if quick else
                               list(headline.RECIPES))
    seeds = args.seeds or (1 if quick else 3)
    budgets = tuple(args.oracle_budgets or (
        headline.QUICK_ORACLE_BUDGETS if quick else headline.ORACLE_BUDGETS))
    out = args.out or (args.work_dir if quick else 'docs/benchmarks')
    cache = RunCache(args.cache or None)
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    machine = machine_description()

    total = len(datasets) * sum(
        r['epochs'] for r in headline.planned_runs(recipes, seeds, budgets))
    bar = tqdm(total=total, unit='epoch', desc='benchmark',
               dynamic_ncols=True)

    def progress(epochs, message):
        bar.update(epochs)
        bar.set_postfix_str(message)
        tqdm.write(message)

    summaries = headline.run_benchmark(
        datasets, recipes, seeds, budgets, out, args.work_dir, command,
        machine, cache, progress=progress, cached_only=args.cached_only)
    bar.close()
    overhead = None
    if not args.no_overhead:
        auto = summaries[0]['recipes'].get('auto', {})
        overhead = headline.measure_overhead(
            datasets[0], osp.join(args.work_dir, 'overhead'),
            repeats=1 if quick else 3,
            lr_test_seconds=auto.get('finder_seconds', float('nan')))
        headline.write(summaries, overhead, out, command, machine, budgets,
                       seeds)
    print(open(osp.join(out, 'benchmark.md')).read())
    print(headline.one_line(summaries))


if __name__ == '__main__':
    main()
