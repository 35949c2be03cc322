"""The tricks ablation: stock recipe, each trick alone, combinations.

    python tools/benchmark_tricks.py [--datasets digits mnist lfw_faces] \
        [--rows ...] [--epochs digits=15 mnist=6 lfw_faces=15] [--seeds 0] \
        [--lr 0.1] [--out docs/benchmarks] [--work-dir DIR]

Writes tricks.json and tricks.md into --out after every run.
"""
import argparse
import shlex
import sys
import tempfile

DEFAULT_EPOCHS = dict(digits=15, mnist=6, lfw_faces=15)


def main():
    import mmtricks  # noqa: F401
    from mmtricks.benchmarks.tricks import ROWS, run_ablation

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['digits', 'lfw_faces', 'mnist'])
    parser.add_argument('--rows', nargs='+', default=list(ROWS),
                        choices=list(ROWS), metavar='ROW')
    parser.add_argument('--epochs', nargs='+', default=[],
                        help='NAME=EPOCHS per dataset (default: '
                        + ' '.join(f'{k}={v}' for k, v in
                                   DEFAULT_EPOCHS.items()) + ')')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--lr', type=float, default=0.1)
    parser.add_argument('--out', default='docs/benchmarks')
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    epochs = dict(DEFAULT_EPOCHS)
    for item in args.epochs:
        name, value = item.split('=')
        epochs[name] = int(value)
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_tricks_')
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    run_ablation(args.rows, args.datasets, epochs, args.seeds, args.lr,
                 args.out, work, command,
                 progress=lambda m: print(m, flush=True))


if __name__ == '__main__':
    main()
