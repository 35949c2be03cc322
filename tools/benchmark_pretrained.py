"""Benchmark EfficientNet-Lite0 from the packaged ImageNet weights vs scratch.

    python tools/benchmark_pretrained.py [--datasets digits mnist lfw_faces] \
        [--cap 60] [--out docs/benchmarks] [--work-dir DIR]

Both runs follow configs/auto_effnet_lite0.py (LR finder, automatic epochs
within --cap). Writes effnet_lite0.json and effnet_lite0.md into --out.
"""
import argparse
import shlex
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['digits', 'mnist', 'lfw_faces'])
    parser.add_argument('--cap', type=int, default=60,
                        help='epoch budget cap of both runs')
    parser.add_argument('--out', default='docs/benchmarks')
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    import mmtricks  # noqa: F401
    from mmtricks.benchmarks.pretrained import run_benchmark

    work = args.work_dir or tempfile.mkdtemp(prefix='bench_pretrained_')
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    summaries = run_benchmark(args.datasets, args.cap, args.out, work,
                              command, progress=lambda m: print(m, flush=True))
    for s in summaries:
        print(f'{s["dataset"]}: pretrained {s["pretrained"]["top1"]:.2f} vs '
              f'scratch {s["scratch"]["top1"]:.2f} '
              f'(gain {s["top1_gain"]:+.2f})')


if __name__ == '__main__':
    main()
