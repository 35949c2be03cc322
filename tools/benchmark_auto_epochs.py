"""Benchmark automatic epoch selection against fixed cosine budgets.

    python tools/benchmark_auto_epochs.py [--datasets digits mnist lfw_faces] \
        [--budgets 10 30 60] [--policies step anneal] [--out docs/benchmarks] \
        [--work-dir DIR] [--cache FILE]

The automatic run's cap is the largest budget. Writes auto_epochs.json and
auto_epochs.md into --out.
"""
import argparse
import shlex
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['digits', 'mnist', 'lfw_faces'])
    parser.add_argument('--budgets', nargs='+', type=int, default=[10, 30, 60])
    parser.add_argument('--policies', nargs='+', default=None,
                        help='names in mmtricks.benchmarks.auto_epochs.POLICIES')
    parser.add_argument('--cache', default='work_dirs/benchmark_cache.jsonl',
                        help='finished runs, shared with the other '
                        'benchmarks; "" to train everything afresh')
    parser.add_argument('--out', default='docs/benchmarks')
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    import mmtricks  # noqa: F401
    from mmtricks.benchmarks.auto_epochs import POLICIES, run_benchmark
    from mmtricks.benchmarks.run_cache import RunCache

    work = args.work_dir or tempfile.mkdtemp(prefix='bench_auto_epochs_')
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    budgets = sorted(args.budgets)
    policies = {name: POLICIES[name] for name in args.policies or POLICIES}
    summaries = run_benchmark(args.datasets, budgets, budgets[-1], args.out,
                              work, command,
                              progress=lambda m: print(m, flush=True),
                              policies=policies,
                              cache=RunCache(args.cache or None))
    for s in summaries:
        best = s['fixed'][str(s['best_budget'])]['top1']
        for name, auto in s['auto'].items():
            print(f'{s["dataset"]}: auto ({name}) {auto["top1"]:.2f} in '
                  f'{auto["epochs"]} epochs vs best fixed {best:.2f} in '
                  f'{s["best_budget"]} (gap {auto["gap_to_best"]:+.2f})')


if __name__ == '__main__':
    main()
