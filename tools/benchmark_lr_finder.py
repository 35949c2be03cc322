"""Benchmark the LR finder against a grid of fixed LRs on the bundled sets.

    python tools/benchmark_lr_finder.py [--datasets digits mnist lfw_faces] \
        [--epochs 10] [--seeds 3] [--curve-seeds 6] [--out docs/benchmarks] \
        [--work-dir DIR] [--cache FILE]

Writes lr_finder.json and lr_finder.md into --out.
"""
import argparse
import shlex
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['digits', 'mnist', 'lfw_faces'])
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--curve-seeds', type=int, default=6,
                        help='range tests (no training) per dataset that '
                        'compare the suggestion rules')
    parser.add_argument('--cache', default='work_dirs/benchmark_cache.jsonl',
                        help='finished runs, shared with the other '
                        'benchmarks; "" to train everything afresh')
    parser.add_argument('--out', default='docs/benchmarks')
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    import mmtricks  # noqa: F401
    from mmtricks.benchmarks.lr_finder import run_benchmark
    from mmtricks.benchmarks.run_cache import RunCache

    work = args.work_dir or tempfile.mkdtemp(prefix='bench_lr_finder_')
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    summaries = run_benchmark(args.datasets, args.epochs, args.seeds,
                              args.out, work, command,
                              progress=lambda m: print(m, flush=True),
                              cache=RunCache(args.cache or None),
                              curve_seeds=args.curve_seeds)
    for s in summaries:
        print(f'{s["dataset"]}: finder {s["finder_top1_mean"]:.2f} vs best '
              f'grid {s["best_grid_top1"]:.2f} (gap {s["gap_to_best"]:+.2f}), '
              f'LR spread x{s["finder_lr_spread"]:.2f}, finder time '
              f'{100 * s["finder_time_share"]:.1f}% of training')


if __name__ == '__main__':
    main()
