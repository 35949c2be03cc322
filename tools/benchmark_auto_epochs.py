"""Benchmark automatic epoch selection against fixed cosine budgets.

    python tools/benchmark_auto_epochs.py [--datasets digits mnist lfw_faces] \
        [--budgets 10 30 60] [--out docs/benchmarks] [--work-dir DIR]

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
    parser.add_argument('--out', default='docs/benchmarks')
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    import mmtricks  # noqa: F401
    from mmtricks.benchmarks.auto_epochs import run_benchmark

    work = args.work_dir or tempfile.mkdtemp(prefix='bench_auto_epochs_')
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    budgets = sorted(args.budgets)
    summaries = run_benchmark(args.datasets, budgets, budgets[-1], args.out,
                              work, command,
                              progress=lambda m: print(m, flush=True))
    for s in summaries:
        print(f'{s["dataset"]}: auto {s["auto"]["top1"]:.2f} in '
              f'{s["auto"]["epochs"]} epochs vs best fixed '
              f'{s["fixed"][str(s["best_budget"])]["top1"]:.2f} in '
              f'{s["best_budget"]} (gap {s["gap_to_best"]:+.2f})')


if __name__ == '__main__':
    main()
