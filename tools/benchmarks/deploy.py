"""The model ``tools/deploy.py`` recommends, against the other ways to run it.

For MobileNetV3-small and -large at 224 px, trained on the bundled digits
set (``--train-epochs`` at ``--train-size`` px, then ``--finetune-epochs``
at 224 px: training at 224 px from the start is too slow on a small CPU),
and for any ``--checkpoint CONFIG CKPT`` pair (e.g. what ``mim train``
writes), ``tools/deploy.py``'s code (:func:`mmtricks.deploy.deploy_checkpoint`)
makes the FP32 / BF16 / INT8 candidates, checks them against PyTorch and
recommends one by its rule. Then, in interleaved rounds (load from other
jobs on a shared CPU hits every row alike), this times:

- the recommended IR at the precision it records, the FP32 IR (and the
  INT8 IR when it is not the one recommended);
- ONNX Runtime on the same ONNX export;
- PyTorch eager, with as many threads as the CPU has cores (what OpenVINO
  and ONNX Runtime use).

Latency: batch 1, one request (OpenVINO's LATENCY hint). Throughput: the
best of batch 1 and ``throughput_batch`` images per request (OpenVINO: the
THROUGHPUT hint with two asynchronous requests per stream in an
``AsyncInferQueue``; ONNX Runtime and PyTorch: one call after another).

Accuracy of each IR against PyTorch (top-1, share of flipped top-1
decisions) comes from the deployment's parity check, on the test split when
the config has one (the choice itself is made on val).

The goals (:data:`GOALS`, checked by :func:`goal_checks`): the recommended
model at least x1.4 the FP32 IR at no more than 1 point of top-1 lost, and
OpenVINO (the recommended model) at least x1.3 ONNX Runtime and x5 PyTorch,
at batch 1 and at the best throughput setting.
"""
import dataclasses
import os
import shutil
import os.path as osp
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import AUTO_MBV3, shipped_config
from .report import write_report

NAME = 'deploy'
DEPLOY_CFG = shipped_config('deploy', 'classification_openvino_static.py')
DYNAMIC_CFG = shipped_config('deploy',
                             'classification_openvino_dynamic-batch.py')
IN_CHANNELS = dict(small=576, large=960)

#: The issue's goals: speed-ups of the recommended model (what ships).
GOALS = dict(recommended_vs_fp32=1.4, max_top1_drop=1.0,
             vs_onnxruntime=1.3, vs_pytorch=5.0)

ROW_RECOMMENDED = 'recommended'
ROW_FP32 = 'FP32 IR'
ROW_INT8 = 'INT8 IR'
ROW_ORT = 'ONNX Runtime'
ROW_TORCH = 'PyTorch eager'


def model_config(arch: str, image_size: int, work_dir: str):
    """configs/auto_mbv3.py with MobileNetV3-``arch`` at ``image_size``."""
    from mmengine.config import Config
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.work_dir = work_dir
    cfg.model.backbone = dict(type='MobileNetV3', arch=arch)
    cfg.model.head.in_channels = IN_CHANNELS[arch]
    # The recipe's one size setting: the runner's data decisions (training)
    # and tools/deploy.py's fill every 'image_size' placeholder from it.
    cfg.image_size = image_size
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    return cfg


def _save_weights(model, path: str) -> None:
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(
                        classes=[str(i) for i in range(10)]))), path)


def _training_config(arch: str, size: int, epochs: int, lr: float,
                     folder: str, warmup: bool):
    """The benchmark's training run of MobileNetV3-``arch`` on digits at
    ``size`` px for ``epochs`` (``runs.bundled_config``: quiet, offline,
    fixed budget; a cosine LR, after a warmup when ``warmup``)."""
    from .runs import bundled_config
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, 'config.py')
    model_config(arch, size, folder).dump(path)
    cfg = bundled_config('digits', max(2, epochs), 0, folder, lr=lr,
                         finder=False, path=path)
    # BN momentum 0.1, not MMPretrain's 0.01 for MobileNetV3: with 0.01 the
    # running statistics of a short stage (one epoch at 224 px after 32 px)
    # stay those of the previous size and eval-mode top-1 collapses (seen:
    # 19% test top-1 after the 224 px epoch; the project's STACK notes).
    cfg.model.backbone.norm_cfg = dict(type='BN', eps=0.001, momentum=0.1)
    cfg.train_cfg.max_epochs = epochs
    if not warmup:
        cfg.param_scheduler = [dict(
            type='CosineAnnealingLR', by_epoch=True, begin=0, end=epochs,
            eta_min_ratio=1e-4, convert_to_iter_based=True)]
    return cfg


def trained_checkpoint(arch: str, image_size: int, train_size: int,
                       epochs: int, finetune_epochs: int, folder: str,
                       progress: Callable[[str], None]) -> Tuple[str, Dict]:
    """Weights of MobileNetV3-``arch`` trained on digits: ``epochs`` at
    ``train_size`` px (LR 0.1), then ``finetune_epochs`` at ``image_size``
    px (LR 0.01), so that the model is accurate at the size it is deployed
    at. Reused when already trained with the same settings in ``folder``.

    Returns:
        (checkpoint path, training summary with PyTorch's val/test top-1)
    """
    import json

    from .train import train_and_score
    tag = f'{train_size}px{epochs}e_{image_size}px{finetune_epochs}e'
    path = osp.join(folder, f'trained_{tag}.pth')
    summary_path = path + '.json'
    if osp.isfile(path) and osp.isfile(summary_path):
        progress(f'{arch}: reusing {path}')
        with open(summary_path) as f:
            return path, json.load(f)
    stages = [(train_size, epochs, 0.1, True),
              (image_size, finetune_epochs, 0.01, False)]
    stages = [s for s in stages if s[1] > 0]
    if not stages:
        raise ValueError('--train-epochs and --finetune-epochs are both 0: '
                         'nothing trains the model whose accuracy is '
                         'reported.')
    previous, summary = None, dict(stages=[])
    for size, stage_epochs, lr, warmup in stages:
        stage = osp.join(folder, f'stage_{size}px_{stage_epochs}e.pth')
        if previous is None and osp.isfile(stage) and \
                osp.isfile(stage + '.json'):
            progress(f'{arch}: reusing {stage}')
            with open(stage + '.json') as f:
                summary['stages'].append(json.load(f))
            previous = stage
            continue
        progress(f'{arch}: training {stage_epochs} epoch(s) at {size} px '
                 '...')
        cfg = _training_config(arch, size, stage_epochs, lr,
                               osp.join(folder, f'train_{size}px'), warmup)
        if previous is not None:
            cfg.load_from = previous
        result, runner = train_and_score(cfg)
        _save_weights(runner.model, stage)
        summary['stages'].append(dict(
            image_size=size, epochs=stage_epochs, lr=lr,
            val_top1=result['val_top1'], test_top1=result['test_top1'],
            seconds=result['seconds']))
        with open(stage + '.json', 'w') as f:
            json.dump(summary['stages'][-1], f, indent=2)
        previous = stage
        del runner
    shutil.copyfile(previous, path)
    with open(summary_path, 'w') as f:
        json.dump(summary, f, indent=2)
    return path, summary


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


def interleaved(calls: Dict[str, Callable[[], Dict]], rounds: int
                ) -> Dict[str, Dict]:
    """Each call once per round, in turn, for ``rounds`` rounds; per call
    the round whose main number is the median.

    Each call returns a dict with ``'value'`` (the number that ranks rounds)
    and anything else worth keeping; the result keeps the median round's
    dict plus ``'rounds'``, the values of every round.
    """
    if rounds < 1:
        raise ValueError(f'rounds must be >= 1, got {rounds}.')
    runs = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            runs[name].append(call())
    result = {}
    for name, measured in runs.items():
        ordered = sorted(measured, key=lambda m: m['value'])
        median = ordered[(len(ordered) - 1) // 2]
        result[name] = dict(median, value=statistics.median(
            m['value'] for m in measured),
            rounds=[m['value'] for m in measured])
    return result


def openvino_calls(core, ov_model, shape, seconds: float,
                   batch: int) -> Dict[str, Callable[[], Dict]]:
    """Latency (ms) and throughput at batch 1 and ``batch`` (img/s) of an
    IR compiled at the precision it records."""
    from mmtricks.deploy.latency import openvino_latency, openvino_throughput

    def latency():
        r = openvino_latency(core, ov_model, shape, seconds)
        return dict(value=r['median_ms'], runtime_ops=r['runtime_ops'])

    def throughput(b):
        def call():
            r = openvino_throughput(core, ov_model,
                                    (b, ) + tuple(shape[1:]), seconds)
            return dict(value=r['fps'], batch=b, requests=r['requests'])
        return call

    return {'latency': latency, 'throughput b1': throughput(1),
            f'throughput b{batch}': throughput(batch)}


def onnxruntime_calls(onnx_path: str, dynamic_onnx: str, shape,
                      seconds: float, batch: int
                      ) -> Dict[str, Callable[[], Dict]]:
    from mmtricks.deploy.latency import (onnxruntime_session, random_input,
                                         time_calls)
    static, dynamic = onnxruntime_session(onnx_path), \
        onnxruntime_session(dynamic_onnx)

    def ms(session, x):
        name = session.get_inputs()[0].name
        return float(np.median(time_calls(
            lambda: session.run(None, {name: x}), seconds, warmup=2,
            min_runs=3)))

    x1 = random_input(shape)
    xb = random_input((batch, ) + tuple(shape[1:]))
    return {'latency': lambda: dict(value=ms(static, x1)),
            'throughput b1': lambda: dict(value=1e3 / ms(static, x1),
                                          batch=1),
            f'throughput b{batch}': lambda: dict(
                value=1e3 * batch / ms(dynamic, xb), batch=batch)}


def torch_calls(module, shape, seconds: float, batch: int
                ) -> Dict[str, Callable[[], Dict]]:
    from mmtricks.deploy.latency import random_input, time_calls

    def ms(x):
        with torch.inference_mode():
            return float(np.median(time_calls(lambda: module(x), seconds,
                                              warmup=2, min_runs=3)))

    x1 = torch.from_numpy(random_input(shape))
    xb = torch.from_numpy(random_input((batch, ) + tuple(shape[1:])))
    return {'latency': lambda: dict(value=ms(x1)),
            'throughput b1': lambda: dict(value=1e3 / ms(x1), batch=1),
            f'throughput b{batch}': lambda: dict(value=1e3 * batch / ms(xb),
                                                 batch=batch)}


def summarise_row(measured: Dict[str, Dict]) -> Dict:
    """One row's latency and best throughput from its interleaved modes
    (``'latency'`` and ``'throughput bN'`` keys)."""
    best = max((k for k in measured if k.startswith('throughput')),
               key=lambda k: measured[k]['value'])
    return dict(latency_ms=measured['latency']['value'],
                latency_rounds=measured['latency']['rounds'],
                throughput_fps=measured[best]['value'],
                throughput_setting={k: v for k, v in measured[best].items()
                                    if k in ('batch', 'requests')},
                throughput_all={k: v['value'] for k, v in measured.items()
                                if k.startswith('throughput')})


def time_rows(rows: Dict[str, Dict[str, Callable[[], Dict]]], rounds: int
              ) -> Dict[str, Dict]:
    """Every mode of every row, interleaved (see :func:`interleaved`)."""
    flat = {(row, mode): call for row, modes in rows.items()
            for mode, call in modes.items()}
    measured = interleaved({f'{r}\x00{m}': c for (r, m), c in flat.items()},
                           rounds)
    result = {}
    for row in rows:
        result[row] = summarise_row({
            m: measured[f'{row}\x00{m}'] for m in rows[row]})
    return result


def accuracy_of(report: Dict) -> Dict:
    """Top-1 and flipped decisions of each checked IR against PyTorch, on
    the split the deployment reports (test when the config has one)."""
    from mmtricks.deploy.parity import top1_drop
    split = report['report_split']
    parity = report['reported_parity'] if split != report['choice_split'] \
        else report['parity']
    first = next(iter(parity.values()))
    rows = {name: dict(top1=p['candidate_top1'], top1_drop=top1_drop(p),
                       flipped=p['top1_disagreement'])
            for name, p in parity.items()}
    return dict(split=split, images=report.get('report_images',
                                               report['images']),
                pytorch_top1=first['reference_top1'], candidates=rows)


def ratios(timings: Dict[str, Dict]) -> Dict[str, Dict[str, float]]:
    """Speed-ups of the recommended model (and of the FP32 IR) over each
    other row, at batch-1 latency and at best throughput."""
    out = {}
    for ours in (ROW_RECOMMENDED, ROW_FP32):
        for other in (ROW_FP32, ROW_ORT, ROW_TORCH):
            if ours == other or ours not in timings or other not in timings:
                continue
            a, b = timings[ours], timings[other]
            out[f'{ours} vs {other}'] = dict(
                latency=b['latency_ms'] / a['latency_ms'],
                throughput=a['throughput_fps'] / b['throughput_fps'])
    return out


def goal_checks(speedups: Dict[str, Dict[str, float]], top1_drop: float,
                goals: Optional[Dict[str, float]] = None) -> List[Dict]:
    """Each goal of :data:`GOALS`: what it asks, the measured value, met.

    Args:
        speedups: :func:`ratios`' result.
        top1_drop: Points of top-1 the recommended model loses against
            PyTorch (on the reported split).
        goals: Defaults to :data:`GOALS`.
    """
    goals = goals or GOALS
    checks = []
    targets = ((ROW_FP32, goals['recommended_vs_fp32']),
               (ROW_ORT, goals['vs_onnxruntime']),
               (ROW_TORCH, goals['vs_pytorch']))
    for other, target in targets:
        pair = speedups[f'{ROW_RECOMMENDED} vs {other}']
        for mode in ('latency', 'throughput'):
            checks.append(dict(
                goal=f'recommended vs {other}, {mode}', target=target,
                value=pair[mode], met=pair[mode] >= target,
                unit='x'))
    checks.append(dict(goal='recommended: top-1 lost vs PyTorch (points)',
                       target=goals['max_top1_drop'], value=top1_drop,
                       met=top1_drop <= goals['max_top1_drop'],
                       unit='<='))
    return checks


def measure_deployment(label: str, config: str, checkpoint: str,
                       folder: str, seconds: float, rounds: int,
                       throughput_batch: int, options,
                       progress: Callable[[str], None]) -> Dict:
    """Deploy ``checkpoint`` with ``tools/deploy.py``'s code (and
    ``options``, a :class:`~mmtricks.deploy.DeployOptions`), then time the
    recommended IR against the FP32 IR, ONNX Runtime and PyTorch."""
    import openvino as ov
    from mmdeploy.apis import build_task_processor

    from mmtricks.deploy import deploy_checkpoint
    from mmtricks.deploy.inputs import build_checked_model
    from mmtricks.deploy.prepare import prepare_configs

    progress(f'{label}: tools/deploy.py (candidates, parity, rule) ...')
    report = deploy_checkpoint(
        config, checkpoint, osp.join(folder, 'deployed'), DEPLOY_CFG,
        dataclasses.replace(options, benchmark_seconds=seconds * 3),
        log=lambda m: None)
    files = report['files']
    shape = tuple(report['input_shape'])
    core = ov.Core()
    recommended = report['recommended']

    progress(f'{label}: ONNX with a dynamic batch for ONNX Runtime ...')
    model_cfg, _ = prepare_configs(config, DEPLOY_CFG)
    dynamic_onnx = export_with_opset(model_cfg, checkpoint, 17,
                                     osp.join(folder, 'dynamic'),
                                     DYNAMIC_CFG)
    task_processor = build_task_processor(
        model_cfg, prepare_configs(config, DEPLOY_CFG)[1], 'cpu')
    module = SoftmaxScores(build_checked_model(task_processor,
                                               checkpoint)[0]).eval()

    rows = {ROW_RECOMMENDED: openvino_calls(
        core, core.read_model(files[recommended]), shape, seconds,
        throughput_batch)}
    if recommended != 'fp32':
        rows[ROW_FP32] = openvino_calls(core, core.read_model(files['fp32']),
                                        shape, seconds, throughput_batch)
    if 'int8' in files and recommended != 'int8':
        rows[ROW_INT8] = openvino_calls(core, core.read_model(files['int8']),
                                        shape, seconds, throughput_batch)
    rows[ROW_ORT] = onnxruntime_calls(files['onnx'], dynamic_onnx, shape,
                                      seconds, throughput_batch)
    rows[ROW_TORCH] = torch_calls(module, shape, seconds, throughput_batch)
    progress(f'{label}: timing {len(rows)} rows in {rounds} interleaved '
             'rounds ...')
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        timings = time_rows(rows, rounds)
    finally:
        torch.set_num_threads(threads)
    if recommended == 'fp32':
        timings[ROW_FP32] = timings[ROW_RECOMMENDED]
    accuracy = accuracy_of(report)
    speedups = ratios(timings)
    return dict(
        label=label, config=config, checkpoint=checkpoint,
        input_shape=list(shape), recommended=recommended,
        recommendation=report['recommendation'],
        skipped=report.get('skipped', {}),
        int8_quantization=(report.get('int8_quantization') or {}).get(
            'summary'),
        tool_benchmark={k: dict(latency_ms=v['latency']['median_ms'],
                                throughput_fps=v['throughput']['fps'])
                        for k, v in (report.get('benchmark') or {}).items()},
        accuracy=accuracy, timings=timings, speedups=speedups,
        goals=goal_checks(
            speedups, accuracy['candidates'][recommended]['top1_drop']),
        torch_threads=os.cpu_count() or 1)


def _fmt_row(name: str, result: Dict) -> str:
    t = result['timings'][name]
    setting = t['throughput_setting']
    how = f'batch {setting["batch"]}' + (
        f', {setting["requests"]} requests' if 'requests' in setting else '')
    acc = result['accuracy']
    key = dict({ROW_RECOMMENDED: result['recommended'], ROW_FP32: 'fp32',
                ROW_INT8: 'int8'}).get(name)
    if name == ROW_TORCH:
        cells = f'{acc["pytorch_top1"]:.2f} | 0.00'
    elif key in acc['candidates']:
        c = acc['candidates'][key]
        cells = f'{c["top1"]:.2f} | {c["flipped"]:.2f}'
    else:  # ONNX Runtime: same export as the FP32 IR, not checked here
        cells = '- | -'
    shown = f'{name} ({result["recommended"].upper()})' \
        if name == ROW_RECOMMENDED else name
    return (f'| {shown} | {t["latency_ms"]:.2f} | '
            f'{t["throughput_fps"]:.0f} ({how}) | {cells} |')


def render(payload: Dict) -> str:
    """The markdown of a ``deploy.json`` payload.

    Args:
        payload: What :func:`run_benchmark` stores as JSON.
    """
    lines = [f'Command: `{payload["command"]}`', '',
             f'Machine: {payload["machine"]}', '']
    lines += [payload['note'], ''] if payload.get('note') else []
    for result in payload['results']:
        acc = result['accuracy']
        lines += [f'### {result["label"]}, input '
                  f'{"x".join(map(str, result["input_shape"][2:]))} px', '']
        if result.get('training'):
            lines.append('Trained: ' + '; '.join(
                f'{s["epochs"]} epoch(s) at {s["image_size"]} px (PyTorch '
                f'test top-1 {s["test_top1"]:.2f})'
                for s in result['training']['stages']) + '.')
            lines.append('')
        lines += [f'Recommended by tools/deploy.py: **{result["recommended"]}'
                  f'**. Why: {result["recommendation"]}', '']
        lines += [f'Not a candidate: {k}: {v}.'
                  for k, v in result['skipped'].items()]
        if result.get('int8_quantization'):
            lines.append(f'INT8: {result["int8_quantization"]}')
        lines += ['', f'Accuracy on {acc["images"]} {acc["split"]} images.',
                  '', '| path | latency b1 (ms) | best throughput (img/s) | '
                  f'top-1 {acc["split"]} (%) | flipped vs PyTorch (%) |',
                  '| --- | --- | --- | --- | --- |']
        order = [ROW_RECOMMENDED, ROW_FP32, ROW_INT8, ROW_ORT, ROW_TORCH]
        for name in order:
            if name in result['timings'] and not (
                    name == ROW_FP32 and result['recommended'] == 'fp32'):
                lines.append(_fmt_row(name, result))
        lines += ['', '| goal | target | measured | met |',
                  '| --- | --- | --- | --- |']
        for g in result['goals']:
            target = (f'>= x{g["target"]:g}' if g['unit'] == 'x'
                      else f'<= {g["target"]:g}')
            value = (f'x{g["value"]:.2f}' if g['unit'] == 'x'
                     else f'{g["value"]:.2f}')
            lines.append(f'| {g["goal"]} | {target} | {value} | '
                         f'{"yes" if g["met"] else "**no**"} |')
        fp32 = result['speedups'].get(f'{ROW_FP32} vs {ROW_ORT}')
        if fp32 and result['recommended'] != 'fp32':
            torch_fp32 = result['speedups'][f'{ROW_FP32} vs {ROW_TORCH}']
            lines += ['', f'FP32 IR alone: x{fp32["latency"]:.2f} / '
                      f'x{fp32["throughput"]:.2f} ONNX Runtime, '
                      f'x{torch_fp32["latency"]:.2f} / '
                      f'x{torch_fp32["throughput"]:.2f} PyTorch (latency / '
                      'throughput).']
        lines.append('')
    return '\n'.join(lines)


def inference_machine_description() -> str:
    """CPU, OpenVINO and torch versions, and the CPU plugin's precision:
    what inference latencies depend on."""
    import openvino as ov
    core = ov.Core()
    return (f'{core.get_property("CPU", "FULL_DEVICE_NAME")}, '
            f'{os.cpu_count()} cores, {platform.system()}, OpenVINO '
            f'{ov.get_version().split("-")[0]}, torch {torch.__version__}, '
            f'CPU capabilities '
            f'{", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))}')


def parse_checkpoints(pairs: Optional[Sequence[Sequence[str]]]
                      ) -> List[Tuple[str, str]]:
    """``--checkpoint CONFIG CKPT`` pairs, checked to exist (before hours
    of work)."""
    result = []
    for pair in pairs or []:
        if len(pair) != 2:
            raise ValueError('--checkpoint takes two paths: CONFIG CKPT '
                             f'(got {list(pair)}).')
        config, checkpoint = pair
        for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
            if not osp.isfile(path):
                raise ValueError(
                    f'--checkpoint: the {what} {path!r} does not exist '
                    '(give the config and checkpoint mim train wrote, e.g. '
                    'work_dirs/NAME/NAME.py work_dirs/NAME/epoch_N.pth).')
        result.append((config, checkpoint))
    return result


def run_benchmark(archs, image_size: int, seconds: float,
                  throughput_batch: int, out_dir: str, work_dir: str,
                  command: str, progress: Callable[[str], None],
                  rounds: int = 3, train_size: int = 32,
                  train_epochs: int = 6, finetune_epochs: int = 1,
                  checkpoints: Sequence[Tuple[str, str]] = (),
                  options=None, note: str = '') -> List[Dict]:
    """Train, deploy and time each of ``archs``, then deploy and time each
    of ``checkpoints``, deploying with ``options`` (a
    :class:`~mmtricks.deploy.DeployOptions`; its ``benchmark_seconds`` is
    set from ``seconds``); write the report."""
    from mmtricks.deploy import DeployOptions
    options = options or DeployOptions()
    results = []
    for arch in archs:
        start = time.perf_counter()
        folder = osp.join(work_dir, f'mobilenet_v3_{arch}_{image_size}')
        os.makedirs(folder, exist_ok=True)
        config = osp.join(folder, 'config.py')
        model_config(arch, image_size, folder).dump(config)
        checkpoint, training = trained_checkpoint(
            arch, image_size, train_size, train_epochs, finetune_epochs,
            folder, progress)
        result = measure_deployment(
            f'MobileNetV3-{arch} (digits)', config, checkpoint, folder,
            seconds, rounds, throughput_batch, options, progress)
        result.update(training=training,
                      seconds=time.perf_counter() - start)
        results.append(result)
    for i, (config, checkpoint) in enumerate(checkpoints):
        start = time.perf_counter()
        label = osp.splitext(osp.basename(config))[0]
        result = measure_deployment(
            f'{label} ({osp.basename(checkpoint)})', config, checkpoint,
            osp.join(work_dir, f'checkpoint_{i}_{label}'), seconds, rounds,
            throughput_batch, options, progress)
        result['seconds'] = time.perf_counter() - start
        results.append(result)
    payload = dict(command=command, machine=inference_machine_description(),
                   note=note, goals=GOALS,
                   accuracy_control=options.accuracy_control,
                   results=results)
    write_report(out_dir, NAME, payload, render)
    return results
