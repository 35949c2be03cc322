"""Is the IR that ``tools/deploy.py`` writes the fastest way to run it on CPU?

For each MobileNetV3 size at 224 px, one set of weights goes through
``tools/deploy.py`` (opset 17, FP32 and NNCF INT8) and through the other
ways to get it onto OpenVINO (MMDeploy's usual opsets 11 and 13,
``ov.convert_model`` on the PyTorch module), then ONNX Runtime runs the same
ONNX and PyTorch runs the module. Every OpenVINO model is compiled at f32;
one row runs the same IR at bf16, the CPU plugin's default on CPUs that have
it. Latency: batch 1, LATENCY hint. Throughput: OpenVINO's THROUGHPUT
hint and its optimal number of requests, each request of batch 1 or of
``throughput_batch`` images, whichever is faster; ONNX Runtime and PyTorch
get one batch of ``throughput_batch`` images (their best case).
"""
import copy
import os
import os.path as osp
import platform
import time
from typing import Callable, Dict, List

import numpy as np
import torch

from . import AUTO_MBV3, shipped_config
from .report import write_report

NAME = 'deploy'
DEPLOY_CFG = shipped_config('deploy', 'classification_openvino_static.py')
DYNAMIC_CFG = shipped_config('deploy',
                             'classification_openvino_dynamic-batch.py')
IN_CHANNELS = dict(small=576, large=960)


def model_config(arch: str, image_size: int, work_dir: str):
    """configs/auto_mbv3.py with MobileNetV3-``arch`` at ``image_size``."""
    from mmengine.config import Config
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.work_dir = work_dir
    cfg.model.backbone = dict(type='MobileNetV3', arch=arch)
    cfg.model.head.in_channels = IN_CHANNELS[arch]
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline,
                     cfg.train_dataloader.dataset.pipeline,
                     cfg.val_dataloader.dataset.pipeline,
                     cfg.test_dataloader.dataset.pipeline):
        for step in pipeline:
            if step['type'] == 'Resize':
                step['scale'] = (image_size, image_size)
            if step['type'] == 'RandomCrop':
                step['crop_size'] = image_size
                step['padding'] = image_size // 8
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.image_size = image_size
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    return cfg


def initialised_checkpoint(cfg, path: str, seed: int = 0) -> str:
    """Initialised (not trained) weights: speed does not depend on them."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(
                        classes=[str(i) for i in range(10)]))), path)
    return path


def export_with_opset(cfg, checkpoint: str, opset: int, folder: str,
                      deploy_config: str = DEPLOY_CFG) -> str:
    from mmdeploy.apis import torch2onnx
    from mmengine.config import Config
    deploy_cfg = Config.fromfile(deploy_config)
    deploy_cfg.onnx_config.opset_version = opset
    os.makedirs(folder, exist_ok=True)
    torch2onnx(np.zeros((256, 256, 3), np.uint8), folder, 'end2end.onnx',
               deploy_cfg, cfg, checkpoint, 'cpu')
    return osp.join(folder, 'end2end.onnx')


class SoftmaxScores(torch.nn.Module):
    """The classifier as ``tools/deploy.py`` exports it: softmax scores.

    Args:
        model: An MMPretrain classifier.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return torch.softmax(self.model(x, mode='tensor'), dim=1)


def time_openvino(core, ov_model, shape, seconds, batch: int = 8,
                  precision: str = 'f32') -> Dict:
    """Latency at batch 1; throughput at the better of batch 1 and ``batch``
    per request (both with the THROUGHPUT hint's optimal requests)."""
    from mmtricks.deploy.latency import openvino_latency, openvino_throughput
    properties = {'INFERENCE_PRECISION_HINT': precision}
    throughput = [openvino_throughput(core, ov_model, batch_shape, seconds,
                                      properties=properties)
                  for batch_shape in (shape, (batch, ) + tuple(shape[1:]))]
    return dict(latency=openvino_latency(core, ov_model, shape, seconds,
                                         properties=properties),
                throughput=max(throughput, key=lambda t: t['fps']))


def time_onnxruntime(onnx_path: str, dynamic_onnx: str, shape, batch: int,
                     seconds: float) -> Dict:
    from mmtricks.deploy.latency import (onnxruntime_latency,
                                         onnxruntime_session, random_input,
                                         time_calls)
    latency = onnxruntime_latency(onnxruntime_session(onnx_path), shape,
                                  seconds)
    session = onnxruntime_session(dynamic_onnx)
    name = session.get_inputs()[0].name
    x = random_input((batch, ) + tuple(shape[1:]))
    times = time_calls(lambda: session.run(None, {name: x}), seconds,
                       warmup=2, min_runs=3)
    return dict(latency=latency,
                throughput=dict(fps=1e3 * batch / float(np.median(times)),
                                batch=batch))


def benchmark_arch(arch: str, image_size: int, seconds: float,
                   throughput_batch: int, work_dir: str,
                   progress: Callable[[str], None]) -> Dict:
    import openvino as ov
    from mmdeploy.apis import build_task_processor
    from mmengine.config import Config

    from mmtricks.deploy import DeployOptions, deploy_checkpoint
    from mmtricks.deploy.deploy_checkpoint import build_checked_model
    from mmtricks.deploy.latency import torch_latency, torch_throughput

    folder = osp.join(work_dir, f'mobilenet_v3_{arch}_{image_size}')
    os.makedirs(folder, exist_ok=True)
    cfg = model_config(arch, image_size, folder)
    config = osp.join(folder, 'config.py')
    cfg.dump(config)
    checkpoint = initialised_checkpoint(cfg, osp.join(folder, 'init.pth'))
    shape = (1, 3, image_size, image_size)

    progress(f'{arch}: tools/deploy.py (FP32 + INT8) ...')
    report = deploy_checkpoint(
        config, checkpoint, osp.join(folder, 'deployed'), DEPLOY_CFG,
        DeployOptions(int8=True, benchmark_seconds=0, parity_images=359),
        log=lambda m: None)
    core = ov.Core()
    rows = {}
    fp32 = core.read_model(report['files']['fp32'])
    rows['tools/deploy.py FP32 (opset 17)'] = time_openvino(
        core, fp32, shape, seconds, throughput_batch)
    rows['tools/deploy.py INT8 (NNCF)'] = time_openvino(
        core, core.read_model(report['files']['int8']), shape, seconds,
        throughput_batch)
    # What the same IR does at the CPU plugin's default precision (bf16 on
    # CPUs that have it): not what tools/deploy.py verifies and ships.
    rows['tools/deploy.py FP32 IR run at bf16'] = time_openvino(
        core, fp32, shape, seconds, throughput_batch, precision='bf16')

    cfg = Config.fromfile(config)
    for opset in (11, 13):
        progress(f'{arch}: MMDeploy export at opset {opset} ...')
        onnx_path = export_with_opset(cfg, checkpoint, opset,
                                      osp.join(folder, f'opset{opset}'))
        rows[f'OpenVINO FP32 from opset {opset}'] = time_openvino(
            core, ov.convert_model(onnx_path), shape, seconds,
            throughput_batch)

    progress(f'{arch}: ov.convert_model(torch module), ONNX Runtime, '
             'PyTorch ...')
    task_processor = build_task_processor(cfg, Config.fromfile(DEPLOY_CFG),
                                          'cpu')
    torch_model, _ = build_checked_model(task_processor, checkpoint)
    module = SoftmaxScores(torch_model).eval()
    direct = ov.convert_model(module, example_input=torch.zeros(shape))
    rows['OpenVINO FP32 via ov.convert_model(torch)'] = time_openvino(
        core, direct, shape, seconds, throughput_batch)
    dynamic_onnx = export_with_opset(
        Config.fromfile(config), checkpoint, 17, osp.join(folder, 'dynamic'),
        DYNAMIC_CFG)
    rows['ONNX Runtime (same ONNX)'] = time_onnxruntime(
        report['files']['onnx'], dynamic_onnx, shape, throughput_batch,
        seconds)
    rows['PyTorch eager'] = dict(
        latency=torch_latency(module, shape, seconds),
        throughput=torch_throughput(module, shape, throughput_batch, seconds))
    return dict(arch=arch, image_size=image_size, rows=rows,
                int8_parity=report['parity'].get('int8'),
                fp32_parity=report['parity']['fp32'])


def goals(result: Dict) -> Dict[str, float]:
    """Speed-ups of the tools/deploy.py FP32 IR over each alternative."""
    rows = result['rows']
    ours = rows['tools/deploy.py FP32 (opset 17)']
    other_ov = [name for name in rows if name.startswith('OpenVINO FP32')]
    # (the bf16 row is another precision, not another conversion)

    def lat(name):
        return rows[name]['latency']['median_ms']

    def fps(name):
        return rows[name]['throughput']['fps']

    best_lat = min(other_ov, key=lat)
    best_fps = max(other_ov, key=fps)
    ours_lat, ours_fps = ours['latency']['median_ms'], ours['throughput'][
        'fps']
    return {
        'vs_best_other_openvino_latency': lat(best_lat) / ours_lat,
        'vs_best_other_openvino_throughput': ours_fps / fps(best_fps),
        'vs_onnxruntime_latency': lat('ONNX Runtime (same ONNX)') / ours_lat,
        'vs_onnxruntime_throughput':
        ours_fps / fps('ONNX Runtime (same ONNX)'),
        'vs_pytorch_latency': lat('PyTorch eager') / ours_lat,
        'vs_pytorch_throughput': ours_fps / fps('PyTorch eager'),
        'int8_vs_fp32_latency':
        ours_lat / lat('tools/deploy.py INT8 (NNCF)'),
        'int8_vs_fp32_throughput':
        fps('tools/deploy.py INT8 (NNCF)') / ours_fps,
    }


def render(payload: Dict) -> str:
    """The markdown of a ``deploy.json`` payload.

    Args:
        payload: What :func:`run_benchmark` stores as JSON.
    """
    return markdown(payload['results'], payload['command'],
                    payload['machine'])


def markdown(results: List[Dict], command: str, machine: str) -> str:
    lines = [f'Command: `{command}`', '', f'Machine: {machine}', '']
    for result in results:
        lines += [f'### MobileNetV3-{result["arch"]}, '
                  f'{result["image_size"]} px', '',
                  '| path | latency b1 (ms) | throughput (img/s) |',
                  '| --- | --- | --- |']
        for name, row in result['rows'].items():
            tp = row['throughput']
            how = (f'{tp["requests"]} requests x batch {tp["batch"]}'
                   if 'requests' in tp else f'batch {tp["batch"]}')
            lines.append(f'| {name} | {row["latency"]["median_ms"]:.2f} | '
                         f'{tp["fps"]:.0f} ({how}) |')
        g = result['goals']
        lines += ['', 'tools/deploy.py FP32 speed-up (latency / throughput): '
                  f'vs best other OpenVINO conversion '
                  f'x{g["vs_best_other_openvino_latency"]:.2f} / '
                  f'x{g["vs_best_other_openvino_throughput"]:.2f}; '
                  f'vs ONNX Runtime x{g["vs_onnxruntime_latency"]:.2f} / '
                  f'x{g["vs_onnxruntime_throughput"]:.2f}; '
                  f'vs PyTorch x{g["vs_pytorch_latency"]:.2f} / '
                  f'x{g["vs_pytorch_throughput"]:.2f}. INT8 vs FP32: '
                  f'x{g["int8_vs_fp32_latency"]:.2f} / '
                  f'x{g["int8_vs_fp32_throughput"]:.2f}.', '']
    return '\n'.join(lines)


def inference_machine_description() -> str:
    """CPU, OpenVINO and torch versions, and the CPU plugin's precision:
    what inference latencies depend on."""
    import openvino as ov
    core = ov.Core()
    return (f'{core.get_property("CPU", "FULL_DEVICE_NAME")}, '
            f'{os.cpu_count()} cores, {platform.system()}, OpenVINO '
            f'{ov.get_version().split("-")[0]}, torch {torch.__version__}, '
            f'CPU default inference precision '
            f'{core.get_property("CPU", "INFERENCE_PRECISION_HINT")}')


def run_benchmark(archs, image_size: int, seconds: float,
                  throughput_batch: int, out_dir: str, work_dir: str,
                  command: str, progress: Callable[[str], None]) -> List[Dict]:
    results = []
    for arch in archs:
        start = time.perf_counter()
        result = benchmark_arch(arch, image_size, seconds, throughput_batch,
                                work_dir, progress)
        result['goals'] = goals(result)
        result['seconds'] = time.perf_counter() - start
        results.append(result)
    machine = inference_machine_description()
    write_report(out_dir, NAME, dict(command=command, machine=machine,
                                     results=results), render)
    return results
