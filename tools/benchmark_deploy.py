"""Benchmark the IR tools/deploy.py writes against every other CPU path.

    python tools/benchmark_deploy.py [--archs small large] [--image-size 224] \
        [--seconds 5] [--out docs/benchmarks] [--work-dir DIR]

Writes deploy.json and deploy.md into --out.
"""
import argparse
import shlex
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--archs', nargs='+', default=['small', 'large'],
                        choices=['small', 'large'])
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--seconds', type=float, default=5.0,
                        help='time per model and mode')
    parser.add_argument('--throughput-batch', type=int, default=8,
                        help='batch for ONNX Runtime and PyTorch throughput')
    parser.add_argument('--out', default='docs/benchmarks')
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    import mmtricks.deploy  # noqa: F401
    from mmtricks.benchmarks.deploy import run_benchmark

    work = args.work_dir or tempfile.mkdtemp(prefix='bench_deploy_')
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    results = run_benchmark(args.archs, args.image_size, args.seconds,
                            args.throughput_batch, args.out, work, command,
                            progress=lambda m: print(m, flush=True))
    for r in results:
        g = r['goals']
        print(f'mobilenet_v3_{r["arch"]}: vs best other OpenVINO '
              f'x{g["vs_best_other_openvino_latency"]:.2f} latency, '
              f'vs ONNX Runtime x{g["vs_onnxruntime_latency"]:.2f}, '
              f'vs PyTorch x{g["vs_pytorch_latency"]:.2f}; INT8 vs FP32 '
              f'x{g["int8_vs_fp32_latency"]:.2f}')


if __name__ == '__main__':
    main()
