"""Where does the OpenVINO IR lose time? A short A/B profile on this CPU.

    OMP_NUM_THREADS=1 python tools/profile_openvino.py --arch small large

For MobileNetV3 at 224 px (initialised weights: speed does not depend on
them) it exports the classifier as ``tools/deploy.py`` does (softmax scores,
ONNX opset 17, ``ov.convert_model``), quantizes it with NNCF (random
calibration inputs: only speed is measured here) and times, in interleaved
rounds so that load from other jobs on a shared CPU hits every variant alike:

- batch-1 latency: the IR at FP32 / INT8 (and BF16 where the CPU has it) with
  the LATENCY hint, ONNX Runtime on the same ONNX, PyTorch eager;
- throughput: OpenVINO's THROUGHPUT hint with its optimal number of requests
  (what ``mmtricks.deploy.latency`` does), twice as many requests, and batch
  8 per request; ONNX Runtime and PyTorch at batch 8;
- OpenVINO's per-layer performance counters (``PERF_COUNT``) of the FP32 IR at
  batch 1, summed by layer type, and the runtime precision of each type.

PyTorch runs with the threads ``torch.get_num_threads()`` gives (set
``OMP_NUM_THREADS``); OpenVINO and ONNX Runtime use their defaults (all
cores). Prints a markdown table; ``--out FILE`` also writes JSON.
"""
import argparse
import collections
import json
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
from benchmarks.deploy import SoftmaxScores

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
HEAD_CHANNELS = dict(small=576, large=960)


def build_module(arch: str):
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from mmengine.logging import MMLogger

    import mmtricks  # noqa: F401 - registers the config's parts
    # The current logger: init_weights reports every parameter at INFO.
    MMLogger.get_instance('profile_openvino', log_level='WARNING')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'auto_mbv3.py'))
    cfg.model.backbone = dict(type='MobileNetV3', arch=arch)
    cfg.model.head.in_channels = HEAD_CHANNELS[arch]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return SoftmaxScores(model).eval()


def export_onnx(module, size: int, path: str) -> str:
    import torch
    torch.onnx.export(module, torch.zeros(1, 3, size, size), path,
                      opset_version=17, input_names=['input'],
                      output_names=['output'], dynamo=False,
                      dynamic_axes={'input': {0: 'batch'},
                                    'output': {0: 'batch'}})
    return path


def timed_ms(call, seconds: float):
    for _ in range(3):
        call()
    times, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        call()
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def interleaved_medians(calls, rounds: int, seconds: float, batch: int):
    """``{name: {unit, median, runs}}`` of ``calls`` (``name -> (kind,
    call)``; kind ``'ms'`` timed per call, ``'fps'`` returning its own
    images/s, ``'batch'`` timed and turned into images/s of ``batch``),
    interleaved: every call once per round, so a shared CPU's drift hits
    them alike."""
    samples = collections.defaultdict(list)
    for _ in range(rounds):
        for name, (kind, call) in calls.items():
            if kind == 'fps':
                samples[name].append(call())
            elif kind == 'ms':
                samples[name].append(timed_ms(call, seconds))
            else:
                samples[name].append(1e3 * batch / timed_ms(call, seconds))
    return {name: dict(unit='ms' if calls[name][0] == 'ms' else 'img/s',
                       median=statistics.median(v), runs=v)
            for name, v in samples.items()}


def ov_throughput(compiled, batch_input, requests: int, seconds: float):
    import openvino as ov
    queue = ov.AsyncInferQueue(compiled, requests)
    for _ in range(2 * requests):
        queue.start_async([batch_input], share_inputs=True)
    queue.wait_all()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done < 4 * requests:
        queue.start_async([batch_input], share_inputs=True)
        done += 1
    queue.wait_all()
    return done * batch_input.shape[0] / (time.perf_counter() - start)


def perf_counters(compiled, x, runs: int = 50):
    """Microseconds per inference by layer type, and each type's precision."""
    request = compiled.create_infer_request()
    for _ in range(5):
        request.infer([x])
    totals = collections.Counter()
    precisions = collections.defaultdict(set)
    for _ in range(runs):
        request.infer([x])
        for info in request.profiling_info:
            if info.status.name != 'EXECUTED':
                continue
            totals[info.node_type] += info.real_time.total_seconds() * 1e6
            precisions[info.node_type].add(info.exec_type)
    return {k: dict(us=v / runs, exec=sorted(precisions[k]))
            for k, v in totals.most_common()}


def static(model, shape):
    model = model.clone()
    model.reshape({model.input(0).get_any_name(): list(shape)})
    return model


def profile(arch: str, size: int, seconds: float, rounds: int,
            batch: int) -> dict:
    import nncf
    import onnxruntime as ort
    import openvino as ov
    import torch
    from nncf.quantization.advanced_parameters import \
        AdvancedQuantizationParameters

    from mmtricks.deploy.precision import bf16_supported
    core = ov.Core()
    module = build_module(arch)
    folder = tempfile.mkdtemp(prefix=f'profile_{arch}_')
    onnx_path = export_onnx(module, size, osp.join(folder, 'model.onnx'))
    fp32 = ov.convert_model(onnx_path)
    rng = np.random.default_rng(0)
    calibration = [rng.standard_normal((1, 3, size, size)).astype(np.float32)
                   for _ in range(32)]
    int8 = nncf.quantize(
        static(fp32, (1, 3, size, size)), nncf.Dataset(calibration),
        subset_size=len(calibration),
        advanced_parameters=AdvancedQuantizationParameters(
            disable_bias_correction=True))
    irs = {'IR FP32': (fp32, 'f32'), 'IR INT8': (int8, 'f32')}
    if bf16_supported(core):
        irs['IR BF16'] = (fp32, 'bf16')

    x1 = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    xb = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    calls = {}
    for name, (model, precision) in irs.items():
        lat = core.compile_model(static(model, x1.shape), 'CPU', {
            'PERFORMANCE_HINT': 'LATENCY',
            'INFERENCE_PRECISION_HINT': precision})
        request = lat.create_infer_request()
        calls[f'{name} latency b1'] = ('ms', lambda r=request: r.infer([x1]))
        for shape, tag in ((x1, 'b1'), (xb, f'b{batch}')):
            thr = core.compile_model(static(model, shape.shape), 'CPU', {
                'PERFORMANCE_HINT': 'THROUGHPUT',
                'INFERENCE_PRECISION_HINT': precision})
            optimal = thr.get_property('OPTIMAL_NUMBER_OF_INFER_REQUESTS')
            streams = thr.get_property('NUM_STREAMS')
            for requests in ((optimal, 2 * optimal) if tag == 'b1'
                             else (optimal, )):
                calls[f'{name} throughput {tag}, {streams} streams, '
                      f'{requests} requests'] = (
                    'fps', lambda c=thr, s=shape, n=requests:
                    ov_throughput(c, s, n, seconds))
    session = ort.InferenceSession(onnx_path,
                                   providers=['CPUExecutionProvider'])
    calls['ONNX Runtime latency b1'] = (
        'ms', lambda: session.run(None, {'input': x1}))
    calls[f'ONNX Runtime throughput b{batch}'] = (
        'batch', lambda: session.run(None, {'input': xb}))
    t1, tb = torch.from_numpy(x1), torch.from_numpy(xb)

    def torch_call(t):
        with torch.inference_mode():
            module(t)
    calls['PyTorch latency b1'] = ('ms', lambda: torch_call(t1))
    calls[f'PyTorch throughput b{batch}'] = ('batch', lambda: torch_call(tb))

    results = interleaved_medians(calls, rounds, seconds, batch)
    counters = perf_counters(core.compile_model(
        static(fp32, x1.shape), 'CPU', {
            'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': 'f32',
            'PERF_COUNT': True}), x1)
    return dict(arch=arch, size=size, results=results,
                fp32_layer_types=counters,
                runtime_ops=len(core.compile_model(
                    static(fp32, x1.shape), 'CPU',
                    {'INFERENCE_PRECISION_HINT': 'f32'}
                ).get_runtime_model().get_ops()))


def sweep(arch: str, size: int, seconds: float, rounds: int,
          batch: int) -> dict:
    """``benchmark_app``-style settings of the FP32 IR against ONNX Runtime's
    thread settings, interleaved: threads per inference, streams, requests,
    batch. On a CPU shared with other jobs, an inference that needs all
    cores waits for the slowest of them."""
    import onnxruntime as ort
    import openvino as ov
    core = ov.Core()
    module = build_module(arch)
    folder = tempfile.mkdtemp(prefix=f'sweep_{arch}_')
    onnx_path = export_onnx(module, size, osp.join(folder, 'model.onnx'))
    fp32 = ov.convert_model(onnx_path)
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    xb = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    calls = {}
    for threads in (None, 1):
        props = {'PERFORMANCE_HINT': 'LATENCY',
                 'INFERENCE_PRECISION_HINT': 'f32'}
        if threads:
            props['INFERENCE_NUM_THREADS'] = threads
        request = core.compile_model(static(fp32, x1.shape), 'CPU',
                                     props).create_infer_request()
        calls[f'OpenVINO latency b1, LATENCY hint, '
              f'{threads or "default"} threads'] = (
            'ms', lambda r=request: r.infer([x1]))
    for hint, streams, shape in (('THROUGHPUT', None, x1),
                                 ('THROUGHPUT', None, xb),
                                 ('THROUGHPUT', 1, x1),
                                 ('LATENCY', None, xb)):
        props = {'PERFORMANCE_HINT': hint, 'INFERENCE_PRECISION_HINT': 'f32'}
        if streams:
            props['NUM_STREAMS'] = streams
        compiled = core.compile_model(static(fp32, shape.shape), 'CPU', props)
        optimal = compiled.get_property('OPTIMAL_NUMBER_OF_INFER_REQUESTS')
        got = compiled.get_property('NUM_STREAMS')
        for requests in sorted({optimal, 2 * optimal}):
            calls[f'OpenVINO throughput b{shape.shape[0]}, {hint} hint, '
                  f'{got} streams, {requests} requests'] = (
                'fps', lambda c=compiled, s=shape, n=requests:
                ov_throughput(c, s, n, seconds))
    for threads in (0, 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(onnx_path, options,
                                       providers=['CPUExecutionProvider'])
        tag = threads or 'default'
        calls[f'ONNX Runtime latency b1, {tag} threads'] = (
            'ms', lambda s=session: s.run(None, {'input': x1}))
        calls[f'ONNX Runtime throughput b{batch}, {tag} threads'] = (
            'batch', lambda s=session: s.run(None, {'input': xb}))
    results = interleaved_medians(calls, rounds, seconds, batch)
    counters = perf_counters(core.compile_model(
        static(fp32, x1.shape), 'CPU', {
            'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': 'f32',
            'PERF_COUNT': True}), x1)
    return dict(arch=arch, size=size, results=results,
                fp32_layer_types=counters, runtime_ops=len(
                    fp32.get_ops()))


def markdown(result: dict) -> str:
    lines = [f'#### MobileNetV3-{result["arch"]}, {result["size"]} px', '',
             '| what | median | runs |', '| --- | --- | --- |']
    for name, r in result['results'].items():
        runs = ', '.join(f'{v:.2f}' if r['unit'] == 'ms' else f'{v:.0f}'
                         for v in r['runs'])
        value = f'{r["median"]:.2f} ms' if r['unit'] == 'ms' else \
            f'{r["median"]:.0f} img/s'
        lines.append(f'| {name} | {value} | {runs} |')
    total = sum(v['us'] for v in result['fp32_layer_types'].values())
    lines += ['', f'FP32 IR at batch 1, per-layer counters '
              f'({result["runtime_ops"]} runtime ops, {total / 1e3:.2f} ms '
              'summed):', '', '| layer type | us | share | runs as |',
              '| --- | --- | --- | --- |']
    for name, v in list(result['fp32_layer_types'].items())[:10]:
        lines.append(f'| {name} | {v["us"]:.0f} | {100 * v["us"] / total:.0f}'
                     f'% | {", ".join(v["exec"])} |')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', nargs='+', default=['small', 'large'],
                        choices=sorted(HEAD_CHANNELS))
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--seconds', type=float, default=1.0,
                        help='per variant and round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--sweep', action='store_true',
                        help='instead: benchmark_app-style settings of the '
                        'FP32 IR (threads, streams, requests, batch) and '
                        'ONNX Runtime\'s threads')
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    import openvino as ov
    import torch
    print(f'{platform.processor() or platform.machine()}, '
          f'{ov.Core().get_property("CPU", "FULL_DEVICE_NAME")}, OpenVINO '
          f'{ov.__version__}, torch threads {torch.get_num_threads()}; '
          f'command: {" ".join(sys.argv)}\n')
    results = []
    for arch in args.arch:
        results.append((sweep if args.sweep else profile)(
            arch, args.size, args.seconds, args.rounds, args.batch))
        print(markdown(results[-1]), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
