"""CPU latency and throughput of PyTorch, ONNX Runtime and OpenVINO models.

Latency: one image at a time, synchronous, OpenVINO's LATENCY hint; the
median over repeated calls. Throughput: OpenVINO's THROUGHPUT hint with
twice as many asynchronous requests as the compiled model calls optimal (one
per stream), images per second; PyTorch and ONNX Runtime get the same number
of images as one batch, which is their best case.

Why twice: requests are submitted from a Python loop, and with one request
per stream a stream idles while Python collects a finished request and
submits the next; a second request queued per stream hides that gap (on
MobileNetV3-small it won every interleaved A/B round, see docs/deploy.md;
on -large it made no difference). Inputs are shared, not copied, per call.
"""
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .openvino_core import shared_core

# Asynchronous requests per OpenVINO stream when measuring throughput.
REQUESTS_PER_STREAM = 2
# Rounds the models of benchmark_models take turns in: the medians are
# reported, and a candidate counts as faster only beyond the rounds' spread
# (a rank test at 5%: with 5 rounds a round slowed by another job on a
# shared CPU into the reference's range does not hide a real speed-up, as
# it did with 3).
TIMING_ROUNDS = 5


def time_calls(call: Callable[[], object], seconds: float,
               warmup: int = 5, min_runs: int = 10) -> List[float]:
    """Milliseconds per call of ``call``, after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        call()
        times.append(1e3 * (time.perf_counter() - start))
    return times


def latency_summary(times_ms: List[float]) -> Dict[str, float]:
    ordered = sorted(times_ms)
    return dict(median_ms=statistics.median(ordered),
                p90_ms=ordered[min(len(ordered) - 1,
                                   int(0.9 * len(ordered)))],
                runs=len(ordered))


def random_input(shape) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def torch_latency(model, shape, seconds: float) -> Dict[str, float]:
    import torch
    x = torch.from_numpy(random_input(shape))
    with torch.inference_mode():
        return latency_summary(time_calls(lambda: model(x), seconds))


def torch_throughput(model, shape, batch: int,
                     seconds: float) -> Dict[str, float]:
    import torch
    x = torch.from_numpy(random_input((batch, ) + tuple(shape[1:])))
    with torch.inference_mode():
        times = time_calls(lambda: model(x), seconds, warmup=2, min_runs=3)
    return dict(fps=1e3 * batch / statistics.median(times), batch=batch)


def onnxruntime_session(onnx_path: str):
    import onnxruntime as ort
    return ort.InferenceSession(onnx_path,
                                providers=['CPUExecutionProvider'])


def static_input_model(ov_model, shape):
    """``ov_model`` reshaped to ``shape`` when it was exported for another."""
    partial = ov_model.input(0).get_partial_shape()
    if partial.is_static and tuple(partial.to_shape()) == tuple(shape):
        return ov_model
    model = ov_model.clone()
    model.reshape({model.input(0).get_any_name(): list(shape)})
    return model


def _compile(core, ov_model, shape, device: str,
             properties: Optional[Dict], hint: str):
    """At the precision the IR records unless ``properties`` say otherwise:
    the model is timed as it ships."""
    from .model_info import compile_recorded
    return compile_recorded(core, static_input_model(ov_model, shape),
                            device, hint, properties)


def openvino_latency(core, ov_model, shape, seconds: float,
                     device: str = 'CPU',
                     properties: Optional[Dict] = None) -> Dict[str, float]:
    compiled = _compile(core, ov_model, shape, device, properties, 'LATENCY')
    request = compiled.create_infer_request()
    x = random_input(shape)
    result = latency_summary(time_calls(lambda: request.infer([x]), seconds))
    result['runtime_ops'] = len(compiled.get_runtime_model().get_ops())
    return result


def openvino_throughput(core, ov_model, shape, seconds: float,
                        device: str = 'CPU',
                        properties: Optional[Dict] = None) -> Dict[str, float]:
    import openvino as ov
    compiled = _compile(core, ov_model, shape, device, properties,
                        'THROUGHPUT')
    # OpenVINO's optimal number is one request per stream.
    optimal = compiled.get_property('OPTIMAL_NUMBER_OF_INFER_REQUESTS')
    requests = REQUESTS_PER_STREAM * optimal
    queue = ov.AsyncInferQueue(compiled, requests)
    x = random_input(shape)
    for _ in range(2 * requests):
        queue.start_async([x], share_inputs=True)
    queue.wait_all()
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or done < 4 * requests:
        queue.start_async([x], share_inputs=True)
        done += 1
    queue.wait_all()
    elapsed = time.perf_counter() - start
    return dict(fps=done * shape[0] / elapsed, requests=int(requests),
                optimal_requests=int(optimal), batch=int(shape[0]))


def timing_rounds(timing: Optional[Dict]) -> Tuple[List[float],
                                                  List[float]]:
    """A model's per-round batch-1 latencies (ms, the median of each round)
    and throughputs (img/s) from its :func:`benchmark_models` entry; empty
    when it was not timed."""
    if not timing:
        return [], []
    return (list(timing['latency']['round_medians_ms']),
            list(timing['throughput']['round_fps']))


def benchmark_models(torch_model, ov_models: Dict[str, Tuple[object, Dict]],
                     shape, seconds: float,
                     rounds: int = TIMING_ROUNDS) -> Dict[str, Dict]:
    """PyTorch eager and each ``name: (ov_model, properties)`` on CPU
    (properties None or without a precision: the one the IR records).

    The models take turns in ``rounds`` rounds of ``seconds / rounds`` each,
    so that load from other jobs on a shared CPU hits every candidate alike
    instead of whichever ran during it. Each model's latency and throughput
    are the median rounds; every round is kept too
    (``latency.round_medians_ms``, ``throughput.round_fps``; read them with
    :func:`timing_rounds`).
    """
    core = shared_core()
    share = seconds / rounds
    runs = {name: [] for name in ov_models}
    for _ in range(rounds):
        for name, (ov_model, properties) in ov_models.items():
            runs[name].append(dict(
                latency=openvino_latency(core, ov_model, shape, share,
                                         properties=properties),
                throughput=openvino_throughput(core, ov_model, shape, share,
                                               properties=properties)))
    results = {}
    for name, timings in runs.items():
        latency = dict(
            timings[-1]['latency'], median_ms=statistics.median(
                t['latency']['median_ms'] for t in timings),
            p90_ms=statistics.median(t['latency']['p90_ms']
                                     for t in timings),
            runs=sum(t['latency']['runs'] for t in timings),
            round_medians_ms=[t['latency']['median_ms'] for t in timings])
        throughput = dict(timings[-1]['throughput'], fps=statistics.median(
            t['throughput']['fps'] for t in timings),
            round_fps=[t['throughput']['fps'] for t in timings])
        results[name] = dict(latency=latency, throughput=throughput)
    requests = max(r['throughput']['requests'] for r in results.values())

    def tensor_forward(x):
        return torch_model(x, mode='tensor')

    return dict(
        pytorch=dict(
            latency=torch_latency(tensor_forward, shape, seconds),
            throughput=torch_throughput(tensor_forward, shape, requests,
                                        seconds)),
        **results)
