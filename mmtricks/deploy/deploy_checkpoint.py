"""Checkpoint to verified OpenVINO IR: export, convert, quantize, check, time.

The steps are MMDeploy's (``torch2onnx`` with its rewriters and the
``mmpretrain`` task processor, then the ``openvino`` backend manager, which
:mod:`mmtricks.compat.mmdeploy_openvino` makes work on today's OpenVINO),
plus what MMDeploy never had: class names and preprocessing in the IR,
precision candidates (FP32, BF16 where the CPU has it, NNCF INT8 with
accuracy control when plain quantization loses too much), each checked
against PyTorch on the validation set and timed on the CPU, and the choice of
the fastest one within the accuracy tolerance (:mod:`.precision`).

Everything is written to a staging folder first and moved into ``work_dir``
only when the whole run succeeded, so a failed run leaves an existing model
where it was (the failed run's files go to ``work_dir/failed_deploy``). A
successful run then removes the candidates an earlier deploy left that it
did not make again (``end2end_int8.xml`` after ``--no-int8``), so that
every IR in ``work_dir`` comes from the checkpoint the report names (its
path and sha256, also recorded in each IR).
"""
import contextlib
import copy
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .inputs import (DeployInputError, check_checkpoint_fits,
                     check_work_dir, checkpoint_state_dict,
                     inference_pipeline, load_state_dict)
from .model_info import (DEPLOY_REPORT, SHORT_SHA256, build_model_info,
                         preprocessor_settings, resize_type_of,
                         set_inference_precision, write_model_info,
                         written_by_deploy)
from .parity import parity_failures, parity_report
from .precision import (PRECISIONS, RUNTIME_PRECISION, Candidate,
                        bf16_supported, choose_precision)

FP32_FILE = 'end2end.xml'
BF16_FILE = 'end2end_bf16.xml'
INT8_FILE = 'end2end_int8.xml'
FILES = dict(fp32=FP32_FILE, bf16=BF16_FILE, int8=INT8_FILE)
REPORT_FILE = DEPLOY_REPORT
# The split the candidates are chosen on; the reported accuracy comes from
# the test split when the config has one distinct from it.
CHOICE_SPLIT = 'val'
REPORT_SPLITS = ('auto', 'val', 'test')


class ParityError(RuntimeError):
    """The FP32 IR does not predict what the PyTorch model predicts."""


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def stale_candidates(work_dir: str, kept: List[str]) -> List[str]:
    """IR candidates an earlier deploy left in ``work_dir`` that this run
    did not write again (names in ``kept``): deploy's own file names, and
    only IRs holding the runtime info deploy writes, never anyone else's
    files."""
    stale = []
    for xml in FILES.values():
        path = osp.join(work_dir, xml)
        if xml not in kept and osp.isfile(path) and written_by_deploy(path):
            stale.append(path)
    return stale


def remove_ir(xml: str) -> None:
    for ext in ('.xml', '.bin'):
        with contextlib.suppress(FileNotFoundError):
            os.remove(osp.splitext(xml)[0] + ext)


def _default_log(message: str) -> None:
    print(message, flush=True)


def read_trained_facts(checkpoint: str):
    """What ``checkpoint`` says about its classes and training data
    (:class:`~mmtricks.engine.checkpoint_match.CheckpointFacts`)."""
    from ..engine.checkpoint_match import read_checkpoint_facts
    if not osp.isfile(osp.expanduser(str(checkpoint))):
        raise DeployInputError(
            f'Checkpoint {checkpoint!r} does not exist. Pass the .pth that '
            'training wrote (e.g. work_dirs/auto_mbv3/best_auto_epochs.pth).')
    try:
        return read_checkpoint_facts(checkpoint)
    except Exception as error:  # refused pickle, damaged file: it says why
        raise DeployInputError(str(error)) from error


def names_data(model_cfg, cfg_options: Optional[dict]) -> bool:
    """Whether the user chose the data: a ``data_root`` anywhere in the
    config, or a dataset's folder or bundled set in ``--cfg-options``."""
    from ..engine.checkpoint_match import names_data as config_names_data
    chosen = ('data_root', 'bundled', 'name')
    return config_names_data(model_cfg) or any(
        str(key).rsplit('.', 1)[-1] in chosen and 'dataset' in str(key)
        for key in (cfg_options or {}))


def data_classes(model_cfg) -> Tuple[str, ...]:
    """The classes of the data the deployment is checked on."""
    from ..datasets.facts import training_split_facts
    for split in ('train', CHOICE_SPLIT):
        loader = model_cfg.get(f'{split}_dataloader')
        if loader and isinstance(loader.get('dataset'), dict):
            return training_split_facts(loader['dataset']).classes
    return ()


def prepare_configs(model_config: str, deploy_config: str,
                    cfg_options: Optional[dict] = None,
                    checkpoint: Optional[str] = None,
                    log: Callable[[str], None] = _default_log):
    """The model config made concrete and the deploy config.

    Without a folder or bundled set chosen by the user, the data is the one
    ``checkpoint`` was trained on (refused, naming the setting, when that
    folder is not here); the data decisions are those ``checkpoint``
    stored (the size it was trained at); and the checkpoint's classes must
    be the data's (count, names and order).
    """
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings

    from ..engine.checkpoint_match import (check_checkpoint_classes,
                                           config_data, use_checkpoint_data)
    from ..engine.recipe_config import (RecipeConfigError,
                                        apply_data_decisions)
    for path, what in ((model_config, 'model config'),
                       (deploy_config, 'deploy config')):
        if not osp.isfile(path):
            raise DeployInputError(f'The {what} {path!r} does not exist.')
    model_cfg = Config.fromfile(model_config)
    if cfg_options:
        model_cfg.merge_from_dict(cfg_options)
    if model_cfg.get('custom_imports'):
        import_modules_from_strings(**model_cfg.custom_imports)
    trained = read_trained_facts(checkpoint) if checkpoint else None
    try:
        if trained is not None and not names_data(model_cfg, cfg_options):
            log(use_checkpoint_data(model_cfg, trained))
        decisions = apply_data_decisions(model_cfg, checkpoint=checkpoint,
                                         from_checkpoint=True)
        if trained is not None:
            check_checkpoint_classes(trained, data_classes(model_cfg),
                                     config_data(model_cfg))
    except RecipeConfigError as error:
        raise DeployInputError(str(error)) from error
    for reason in decisions.reasons:
        log(f'Data decision: {reason}')
    model_cfg.test_pipeline = inference_pipeline(model_cfg)
    deploy_cfg = Config.fromfile(deploy_config)
    return model_cfg, deploy_cfg


def build_checked_model(task_processor, checkpoint: str):
    """The PyTorch model with the checkpoint's weights, checked strictly.

    MMDeploy loads checkpoints non-strictly: a checkpoint for another number
    of classes would silently deploy a random head. Check first.
    """
    saved = load_state_dict(checkpoint)
    model = task_processor.build_pytorch_model(None)
    check_checkpoint_fits(model, saved, checkpoint)
    model.load_state_dict(checkpoint_state_dict(saved), strict=False)
    return model.eval(), saved


def _dataset_cfg(model_cfg, split: str):
    loader = model_cfg.get(f'{split}_dataloader')
    if not loader:
        raise DeployInputError(
            f'The config has no {split}_dataloader; the deployment needs it '
            f'for {"the parity check" if split != "train" else "INT8 calibration"}.')
    if 'dataset' not in loader or 'type' not in loader['dataset']:
        raise DeployInputError(
            f'{split}_dataloader has no dataset with a type; the deployment '
            'builds it with the test pipeline.')
    dataset = copy.deepcopy(loader['dataset'])
    dataset['pipeline'] = copy.deepcopy(model_cfg.test_pipeline)
    return dataset


def preprocessed_batches(model_cfg, split: str, data_preprocessor,
                         limit: int, batch_size: int = 32,
                         seed: Optional[int] = None):
    """``(inputs, labels)`` batches of ``split`` through the test pipeline."""
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS
    dataset = DATASETS.build(_dataset_cfg(model_cfg, split))
    indices = np.arange(len(dataset))
    if seed is not None:
        indices = np.random.default_rng(seed).permutation(indices)
    indices = indices[:limit]
    batches = []
    for start in range(0, len(indices), batch_size):
        samples = [dataset[int(i)] for i in indices[start:start + batch_size]]
        data = data_preprocessor(pseudo_collate(samples), False)
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        batches.append((data['inputs'], labels))
    return batches, dataset.metainfo.get('classes')


def resolve_report_split(model_cfg, requested: str = 'auto') -> str:
    """The split whose accuracy is reported.

    ``'auto'``: the test split when ``test_dataloader`` holds another
    dataset than ``val_dataloader`` (the choice is made on val, so val's
    accuracy is biased by it), else val.
    """
    if requested not in REPORT_SPLITS:
        raise DeployInputError(
            f'report split must be one of {REPORT_SPLITS}, got {requested!r}.')
    if requested == CHOICE_SPLIT:
        return CHOICE_SPLIT
    test = (model_cfg.get('test_dataloader') or {}).get('dataset')
    val = (model_cfg.get(f'{CHOICE_SPLIT}_dataloader') or {}).get('dataset')
    distinct = bool(test) and test != val
    if requested == 'test' and not distinct:
        raise DeployInputError(
            'The config\'s test_dataloader is missing or is the validation '
            'set, so there is no independent test split to report. Give '
            'test_dataloader its own dataset (e.g. split=\'test\') or pass '
            '--report-split val.')
    return 'test' if distinct else CHOICE_SPLIT


def predicted_scores(model, batches) -> Tuple[np.ndarray, np.ndarray]:
    scores, labels = [], []
    with torch.no_grad():
        for inputs, batch_labels in batches:
            samples = model(inputs, mode='predict')
            scores.append(torch.stack([s.pred_score for s in samples]))
            labels.append(batch_labels)
    return torch.cat(scores).numpy(), torch.cat(labels).numpy()


@contextlib.contextmanager
def quiet_nncf():
    """NNCF's INFO lines (one per step and per reverted layer) only at
    WARNING and above; the tool logs what it did."""
    from nncf.common.logging import nncf_logger
    level = nncf_logger.level
    nncf_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        nncf_logger.setLevel(level)


def quantize_int8(ov_model, calibration: List[torch.Tensor], log: Callable):
    """NNCF post-training INT8 with the calibration inputs (NCHW, batch 1).

    NNCF's bias correction crashes on some graphs (MobileNetV3's, see the
    project's STACK notes); then it is retried without it.

    Returns:
        (model, mode, advanced parameters that worked or None)
    """
    import nncf
    from nncf.quantization.advanced_parameters import \
        AdvancedQuantizationParameters
    dataset = nncf.Dataset(calibration, lambda x: x.numpy())
    try:
        return nncf.quantize(ov_model, dataset,
                             subset_size=len(calibration)), 'default', None
    except Exception as error:  # noqa: BLE001 - NNCF raises many kinds
        log(f'NNCF default quantization failed ({type(error).__name__}: '
            f'{error}); retrying with bias correction disabled.')
        params = AdvancedQuantizationParameters(disable_bias_correction=True)
        return nncf.quantize(ov_model, dataset, subset_size=len(calibration),
                             advanced_parameters=params), \
            'bias correction disabled', params


def top1_validation_fn(compiled_model, items) -> Tuple[float, List[float]]:
    """NNCF's validation function: top-1 (0..1) and per-image correctness
    of ``(input NCHW batch 1, label)`` items."""
    correct = []
    output = compiled_model.output(0)
    for inputs, label in items:
        scores = compiled_model(inputs)[output]
        correct.append(float(int(np.argmax(scores[0])) == int(label)))
    return float(np.mean(correct)), correct


def quantize_int8_with_accuracy_control(ov_model,
                                        calibration: List[torch.Tensor],
                                        validation: List[Tuple[np.ndarray,
                                                               int]],
                                        max_drop_points: float,
                                        advanced_parameters=None,
                                        max_iterations: Optional[int] = None):
    """NNCF INT8 that keeps top-1 on ``validation`` within
    ``max_drop_points`` of ``ov_model``'s: NNCF ranks the quantized layers by
    their effect on the metric and puts the worst back to floating point
    until the drop is small enough (or none is left to revert).

    Args:
        ov_model: The FP32 ``openvino.Model``.
        calibration: Inputs (NCHW, batch 1) for the statistics.
        validation: ``(input, label)`` items through the test pipeline.
        max_drop_points (float): Points of top-1 the INT8 model may lose.
        advanced_parameters: NNCF ``AdvancedQuantizationParameters``
            (e.g. bias correction disabled where it crashes).
        max_iterations (int, optional): Most groups of layers NNCF may put
            back to floating point. Each costs a pass over ``validation``
            and, when it does not help, a re-ranking of every group left, so
            this bounds the time; None: no bound (NNCF's default).
    """
    import nncf
    from nncf.quantization.advanced_parameters import \
        AdvancedAccuracyRestorerParameters
    restorer = None
    if max_iterations is not None:
        if max_iterations < 1:
            raise ValueError('max_iterations must be at least 1, got '
                             f'{max_iterations}.')
        restorer = AdvancedAccuracyRestorerParameters(
            max_num_iterations=int(max_iterations))
    return nncf.quantize_with_accuracy_control(
        ov_model, nncf.Dataset(calibration, lambda x: x.numpy()),
        nncf.Dataset(validation), top1_validation_fn,
        max_drop=max(0.0, max_drop_points) / 100.0,
        drop_type=nncf.DropType.ABSOLUTE, subset_size=len(calibration),
        advanced_quantization_parameters=advanced_parameters,
        advanced_accuracy_restorer_parameters=restorer)


def count_fake_quantize(ov_model) -> int:
    return sum(op.get_type_name() in ('FakeQuantize', 'FakeConvert')
               for op in ov_model.get_ops())


def openvino_scores(core, ov_model, batches, properties: Dict) -> np.ndarray:
    from .latency import static_input_model
    compiled = {}
    scores = []
    for inputs, _ in batches:
        shape = tuple(inputs.shape)
        if shape not in compiled:
            compiled[shape] = core.compile_model(
                static_input_model(ov_model, shape), 'CPU', properties)
        result = compiled[shape](inputs.numpy())
        scores.append(result[compiled[shape].output(0)])
    return np.concatenate(scores)


TIMING_ROUNDS = 3


def benchmark_models(torch_model, ov_models: Dict[str, Tuple[object, Dict]],
                     shape, seconds: float,
                     rounds: int = TIMING_ROUNDS) -> Dict[str, Dict]:
    """PyTorch eager and each ``name: (ov_model, properties)`` on CPU
    (properties None or without a precision: the one the IR records).

    The models take turns in ``rounds`` rounds of ``seconds / rounds`` each
    and the median round counts, so that load from other jobs on a shared
    CPU hits every candidate alike instead of whichever ran during it.
    """
    import statistics

    import openvino as ov

    from .latency import (openvino_latency, openvino_throughput,
                          torch_latency, torch_throughput)
    core = ov.Core()
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


def candidates_of(report: Dict) -> List[Candidate]:
    """The checked precisions, from the report's parity and benchmark."""
    bench = report.get('benchmark') or {}
    result = []
    for name, parity in report['parity'].items():
        timing = bench.get(name)
        result.append(Candidate(
            name, parity['reference_top1'] - parity['candidate_top1'],
            parity['top1_disagreement'],
            timing['latency']['median_ms'] if timing else None,
            timing['throughput']['fps'] if timing else None))
    return result


def _parity_cells(r: Optional[Dict]) -> str:
    if not r:
        return '- | - | -'
    return (f'{r["candidate_top1"]:.2f} | {r["top1_disagreement"]:.2f} | '
            f'{r["max_abs_score_diff"]:.1e}')


def report_markdown(report: Dict) -> str:
    choice, shown = report['choice_split'], report['report_split']
    sha = report.get('checkpoint_sha256') or ''
    lines = [f'# Deployment of `{report["checkpoint"]}`'
             + (f' (sha256 {sha[:SHORT_SHA256]})' if sha else ''), '',
             'Every IR listed here was made from this checkpoint (each '
             'records its path and sha256 under `mmtricks/checkpoint`).'
             + (f' Removed, left by an earlier deploy: '
                f'{", ".join(report["removed_stale"])}.'
                if report.get('removed_stale') else ''), '',
             f'Input {report["input_shape"]}. Candidates checked on '
             f'{report["images"]} {choice} images'
             + (f', accuracy also reported on {report["report_images"]} '
                f'{shown} images' if shown != choice else '')
             + f'; recommended: **{report["recommended"]}** '
             f'(`{osp.basename(report["files"][report["recommended"]])}`).',
             '', f'Why: {report["recommendation"]}', '']
    lines += [f'WARNING: {w}' for w in report.get('warnings', [])]
    lines += [f'Not a candidate: {name}: {why}'
              for name, why in report.get('skipped', {}).items()]
    if report.get('int8_quantization'):
        lines.append(f'INT8: {report["int8_quantization"]["summary"]}')
    lines.append('')
    split_cols = [choice] + ([shown] if shown != choice else [])
    head = ' | '.join(f'top-1 {s} (%) | flipped vs PyTorch {s} (%) | '
                      f'max abs score diff {s}' for s in split_cols)
    lines += [f'| model | runs at | {head} | latency b1 (ms) | '
              'throughput (img/s) | speed-up vs FP32 |',
              '| --- | --- | ' + '--- | ' * (3 * len(split_cols)) +
              '--- | --- | --- |']
    bench = report.get('benchmark') or {}
    tables = [report['parity']] + (
        [report['reported_parity']] if shown != choice else [])
    first = [next(iter(t.values())) for t in tables]
    pytorch = ' | '.join(f'{f["reference_top1"]:.2f} | 0.00 | 0' for f in first)
    speedups = report.get('speedups', {})
    for name in ['pytorch'] + list(report['parity']):
        b = bench.get(name)
        lat = f'{b["latency"]["median_ms"]:.3f}' if b else '-'
        fps = f'{b["throughput"]["fps"]:.0f}' if b else '-'
        cells = pytorch if name == 'pytorch' else ' | '.join(
            _parity_cells(t.get(name)) for t in tables)
        runs_at = 'torch fp32' if name == 'pytorch' else \
            RUNTIME_PRECISION[name]
        speed = f'x{speedups[name]["overall"]:.2f}' if name in speedups \
            else '-'
        lines.append(f'| {name} | {runs_at} | {cells} | {lat} | {fps} | '
                     f'{speed} |')
    return '\n'.join(lines) + '\n'


@dataclass
class DeployOptions:
    """How ``tools/deploy.py`` deploys.

    Args:
        precision (str): ``'auto'`` ships the fastest candidate within
            ``accuracy_tolerance``; ``'fp32'``, ``'bf16'`` or ``'int8'``
            ships that one (still checked and reported; a warning when it
            breaks the tolerance). Defaults to ``'auto'``.
        int8 (bool): Make the INT8 candidate (NNCF). Defaults to True.
        accuracy_control (bool): When plain INT8 loses more than the
            tolerance, retry with NNCF's accuracy control. Defaults to True.
        accuracy_control_iterations (int): Most groups of layers accuracy
            control may put back to floating point; each round re-validates
            (and may re-rank every group left), so this bounds its time.
            Defaults to 10.
        device (str): Device for the PyTorch side. Defaults to ``'cpu'``.
        parity_images (int): Validation (and test) images checked.
        calibration_images (int): Training images for INT8 calibration.
        benchmark_seconds (float): Time per timed model and mode; 0 skips
            the benchmark (then FP32 is kept: nothing is known faster).
        accuracy_tolerance (float): Points of top-1 a candidate may lose
            against PyTorch.
        min_speedup (float): Speed-up over FP32 a candidate must reach.
        report_split (str): ``'auto'`` (test when the config has a test
            split distinct from val, else val), ``'val'`` or ``'test'``.
        max_top1_drop (float): Points of top-1 the FP32 IR may lose.
        max_disagreement (float): Per cent of images whose top-1 class may
            differ between PyTorch and the FP32 IR.
        max_score_diff (float): Largest absolute softmax score difference
            of the FP32 IR.
    """

    precision: str = 'auto'
    int8: bool = True
    accuracy_control: bool = True
    accuracy_control_iterations: int = 10
    device: str = 'cpu'
    parity_images: int = 2000
    calibration_images: int = 300
    benchmark_seconds: float = 2.0
    accuracy_tolerance: float = 1.0
    min_speedup: float = 1.05
    report_split: str = 'auto'
    max_top1_drop: float = 0.5
    max_disagreement: float = 0.5
    max_score_diff: float = 1e-3

    def tolerances(self) -> Dict[str, float]:
        """The FP32 IR's parity tolerances (a conversion check)."""
        return dict(max_top1_drop=self.max_top1_drop,
                    max_disagreement=self.max_disagreement,
                    max_score_diff=self.max_score_diff)


def available_candidates(options: DeployOptions, core) -> Tuple[List[str],
                                                                Dict]:
    """The precisions to check and, for each left out, why; bad requests
    (a forced precision that cannot be checked) are refused up front."""
    if options.precision not in ('auto', ) + PRECISIONS:
        raise DeployInputError(
            f'--precision must be one of auto, {", ".join(PRECISIONS)}; got '
            f'{options.precision!r}.')
    if options.accuracy_tolerance < 0:
        raise DeployInputError('--accuracy-tolerance must be >= 0 points.')
    if options.accuracy_control and options.accuracy_control_iterations < 1:
        raise DeployInputError(
            '--accuracy-control-iterations must be at least 1 (groups of '
            'layers NNCF may revert); pass --no-accuracy-control to skip '
            'accuracy control.')
    if options.min_speedup <= 0:
        raise DeployInputError(
            '--min-speedup must be > 0 (1.05: a candidate must be 5% faster '
            'than FP32).')
    names, skipped = ['fp32'], {}
    if bf16_supported(core):
        names.append('bf16')
    else:
        skipped['bf16'] = (
            'this CPU has no BF16 (OpenVINO OPTIMIZATION_CAPABILITIES: '
            f'{", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))})')
        if options.precision == 'bf16':
            raise DeployInputError(
                f'--precision bf16: {skipped["bf16"]}, so OpenVINO would run '
                'it at f32. Deploy on a CPU with BF16 (AVX512_BF16 or AMX) or '
                'pass --precision auto.')
    if options.int8:
        names.append('int8')
    else:
        skipped['int8'] = 'not requested (--no-int8)'
        if options.precision == 'int8':
            raise DeployInputError(
                '--precision int8 with --no-int8: drop one of them.')
    return names, skipped


def deploy_checkpoint(model_config: str,
                      checkpoint: str,
                      work_dir: str,
                      deploy_config: str,
                      options: Optional[DeployOptions] = None,
                      cfg_options: Optional[dict] = None,
                      log: Callable[[str], None] = _default_log) -> Dict:
    """Deploy ``checkpoint``; return the report also written to work_dir.

    Raises:
        DeployInputError: bad config, checkpoint, options or work dir
            (nothing done).
        ParityError: the FP32 IR disagrees with PyTorch beyond the
            tolerances of ``options``.
    """
    import openvino as ov
    from mmdeploy.apis import build_task_processor
    options = options or DeployOptions()
    model_cfg, deploy_cfg = prepare_configs(model_config, deploy_config,
                                            cfg_options, checkpoint, log)
    candidates, skipped = available_candidates(options, ov.Core())
    report_split = resolve_report_split(model_cfg, options.report_split)
    check_work_dir(work_dir)
    task_processor = build_task_processor(model_cfg, deploy_cfg,
                                          options.device)
    torch_model, saved = build_checked_model(task_processor, checkpoint)
    export = ExportJob(model_cfg, deploy_cfg, task_processor, torch_model,
                       saved, checkpoint, options, log, candidates, skipped,
                       report_split, file_sha256(checkpoint))

    staging = tempfile.mkdtemp(prefix='.staging-', dir=work_dir)
    try:
        report = export.run(staging)
    except BaseException:
        failed = osp.join(work_dir, 'failed_deploy')
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(staging, failed)
        log(f'Deployment failed; its files are in {failed}. Nothing in '
            f'{work_dir} was replaced.')
        raise
    written = sorted(os.listdir(staging))
    report['removed_stale'] = []
    for stale in stale_candidates(work_dir, written):
        remove_ir(stale)
        report['removed_stale'].append(osp.basename(stale))
        log(f'Removed {osp.basename(stale)} (and its .bin): an earlier '
            'deploy\'s candidate this one did not make again, which its '
            'report would not cover.')
    for name in written:
        os.replace(osp.join(staging, name), osp.join(work_dir, name))
    os.rmdir(staging)
    report['files'] = {k: osp.join(work_dir, v)
                       for k, v in report['files'].items()}
    _write_report(work_dir, report)
    for warning in report['warnings']:
        log(f'WARNING: {warning}')
    log(f'Recommended model: {report["files"][report["recommended"]]} '
        f'({report["recommendation"]})')
    return report


@dataclass
class ExportJob:
    """One deployment's inputs; :meth:`run` writes everything to a folder."""

    model_cfg: object
    deploy_cfg: object
    task_processor: object
    torch_model: torch.nn.Module
    saved: dict
    checkpoint: str
    options: DeployOptions
    log: Callable[[str], None]
    candidates: List[str]
    skipped: Dict[str, str]
    report_split: str = CHOICE_SPLIT
    #: sha256 of the checkpoint file: the report and every IR name it.
    checkpoint_sha256: str = ''

    def scores_of(self, xml: str, batches) -> np.ndarray:
        """Scores of the IR through MMDeploy's own backend model (on the
        replaced openvino backend, at the precision the IR records): the
        same parity code for every candidate."""
        backend_model = self.task_processor.build_backend_model([xml])
        return predicted_scores(backend_model, batches)[0]

    def run(self, folder: str) -> Dict:
        import openvino as ov
        core = ov.Core()
        onnx_file = self.export_onnx(folder)
        pre = self.torch_model.data_preprocessor
        batches, dataset_classes = preprocessed_batches(
            self.model_cfg, CHOICE_SPLIT, pre, self.options.parity_images)
        shown = {CHOICE_SPLIT: batches}
        if self.report_split != CHOICE_SPLIT:
            shown[self.report_split] = preprocessed_batches(
                self.model_cfg, self.report_split, pre,
                self.options.parity_images)[0]
        class_names = (self.saved.get('meta', {}).get('dataset_meta', {})
                       .get('classes') or dataset_classes)
        shape = tuple(batches[0][0].shape[1:])
        info = self.model_info(class_names, shape)
        files = dict(onnx=onnx_file)
        files['fp32'] = self.convert(core, osp.join(folder, onnx_file),
                                     folder, info)

        self.log(f'Parity check on {sum(len(b[1]) for b in batches)} '
                 f'{CHOICE_SPLIT} images ...')
        references = {split: predicted_scores(self.torch_model, b)
                      for split, b in shown.items()}
        reference, labels = references[CHOICE_SPLIT]
        report = dict(checkpoint=self.checkpoint,
                      checkpoint_sha256=self.checkpoint_sha256,
                      model_config=osp.basename(self.model_cfg.filename
                                                or ''),
                      input_shape=[1, *shape], images=int(len(labels)),
                      choice_split=CHOICE_SPLIT,
                      report_split=self.report_split,
                      class_names=list(class_names), parity={},
                      skipped=dict(self.skipped), warnings=[],
                      tolerances=self.options.tolerances(),
                      accuracy_tolerance=self.options.accuracy_tolerance,
                      min_speedup=self.options.min_speedup)
        report['parity']['fp32'] = parity_report(
            reference, self.scores_of(files['fp32'], batches), labels)
        failures = parity_failures(report['parity']['fp32'],
                                   **self.options.tolerances())
        if failures:
            _write_report(folder, report)
            raise ParityError('The FP32 IR does not match PyTorch: '
                              + '; '.join(failures) + '.')

        if 'bf16' in self.candidates:
            files['bf16'] = self.save_at_precision(core, files['fp32'],
                                                   folder, 'bf16')
            report['parity']['bf16'] = parity_report(
                reference, self.scores_of(files['bf16'], batches), labels)
        if 'int8' in self.candidates:
            files['int8'], report['int8_quantization'] = self.quantize(
                core, files['fp32'], folder, info, batches, reference,
                labels, report_drop(report['parity']['fp32']))
            report['parity']['int8'] = \
                report['int8_quantization'].pop('parity')

        if self.report_split != CHOICE_SPLIT:
            test_batches = shown[self.report_split]
            test_reference, test_labels = references[self.report_split]
            report['report_images'] = int(len(test_labels))
            report['reported_parity'] = {
                name: parity_report(test_reference,
                                    self.scores_of(files[name],
                                                   test_batches),
                                    test_labels)
                for name in report['parity']}

        if self.options.benchmark_seconds > 0:
            self.log('Timing PyTorch and OpenVINO on CPU ...')
            report['benchmark'] = benchmark_models(
                self.torch_model,
                {name: (core.read_model(files[name]), None)
                 for name in report['parity']}, (1, ) + shape,
                self.options.benchmark_seconds)
        forced = None if self.options.precision == 'auto' \
            else self.options.precision
        decision = choose_precision(candidates_of(report),
                                    self.options.accuracy_tolerance,
                                    self.options.min_speedup, forced)
        report['recommended'] = decision.name
        report['recommendation'] = decision.reason
        report['warnings'] += decision.warnings
        report['speedups'] = decision.speedups
        report['files'] = {k: osp.basename(v) for k, v in files.items()}
        _write_report(folder, report)
        return report

    def save_at_precision(self, core, fp32_xml: str, folder: str,
                          name: str) -> str:
        """The FP32 IR, recording that it runs (and was checked) at
        ``name``'s runtime precision."""
        import openvino as ov
        model = core.read_model(fp32_xml)
        set_inference_precision(model, RUNTIME_PRECISION[name])
        xml = osp.join(folder, FILES[name])
        ov.save_model(model, xml, compress_to_fp16=False)
        return xml

    def export_onnx(self, folder: str) -> str:
        from mmdeploy.apis import torch2onnx
        self.log('Exporting ONNX with MMDeploy ...')
        onnx_file = self.deploy_cfg.onnx_config.get('save_file',
                                                    'end2end.onnx')
        # Any image: the test pipeline resizes it to the network input.
        dummy = np.zeros((256, 256, 3), dtype=np.uint8)
        torch2onnx(dummy, folder, onnx_file, self.deploy_cfg, self.model_cfg,
                   self.checkpoint, self.options.device)
        return onnx_file

    def model_info(self, class_names, shape) -> Dict:
        settings = preprocessor_settings(self.model_cfg)
        return dict(
            info=build_model_info(class_names, settings['mean'],
                                  settings['std'], settings['to_rgb'],
                                  resize_type_of(self.model_cfg.test_pipeline)),
            class_names=class_names,
            extra=dict(checkpoint=osp.abspath(self.checkpoint),
                       checkpoint_sha256=self.checkpoint_sha256,
                       input_shape=' '.join(map(str, shape))))

    def convert(self, core, onnx_path: str, folder: str, info: Dict) -> str:
        import openvino as ov
        from mmdeploy.backend.base import get_backend_manager
        self.log('Converting to OpenVINO IR ...')
        raw_dir = osp.join(folder, 'raw')
        os.makedirs(raw_dir)
        raw_xml = get_backend_manager('openvino').to_backend(
            [onnx_path], raw_dir, self.deploy_cfg)[0]
        model = core.read_model(raw_xml)
        write_model_info(model, info['info'], info['class_names'],
                         info['extra'])
        xml = osp.join(folder, FP32_FILE)
        ov.save_model(model, xml, compress_to_fp16=False)
        del model
        shutil.rmtree(raw_dir)
        return xml

    def quantize(self, core, fp32_xml: str, folder: str, info: Dict,
                 batches, reference: np.ndarray, labels: np.ndarray,
                 fp32_drop: float) -> Tuple[str, Dict]:
        """The INT8 candidate: NNCF post-training quantization, and NNCF's
        accuracy control when that loses more than the tolerance. Returns
        the IR written and what was tried (with the kept one's parity)."""
        count = self.options.calibration_images
        self.log(f'Quantizing to INT8 with NNCF on {count} training '
                 'images ...')
        # Calibration from the training split only: the choice is made on
        # val, and the reported accuracy may come from test.
        calibration, _ = preprocessed_batches(
            self.model_cfg, 'train', self.torch_model.data_preprocessor,
            count, seed=0)
        singles = [x[None] for inputs, _ in calibration for x in inputs]
        fp32_model = core.read_model(fp32_xml)
        with quiet_nncf():
            model, mode, params = quantize_int8(fp32_model, singles,
                                                self.log)
        xml = osp.join(folder, INT8_FILE)
        self.save_int8(model, xml, info, f'nncf ptq ({mode})')
        parity = parity_report(reference, self.scores_of(xml, batches),
                               labels)
        tolerance = self.options.accuracy_tolerance
        drop = report_drop(parity)
        result = dict(mode='ptq', ptq_parity=parity,
                      summary=f'NNCF post-training quantization ({mode}): '
                      f'top-1 {0.0 - drop:+.2f} points vs PyTorch.')
        if drop <= tolerance or not self.options.accuracy_control:
            if drop > tolerance:
                result['summary'] += (' Beyond the tolerance; accuracy '
                                      'control not tried (disabled).')
            return xml, dict(result, parity=parity)

        self.log(f'INT8 loses {drop:.2f} points of top-1 (tolerance '
                 f'{tolerance:g}); retrying with NNCF accuracy control on '
                 f'{len(labels)} {CHOICE_SPLIT} images ...')
        # NNCF measures the drop against the FP32 IR, ours is against
        # PyTorch.
        fp32_drop = max(0.0, fp32_drop)
        validation = [(x[None].numpy(), int(y)) for inputs, ys in batches
                      for x, y in zip(inputs, ys)]
        try:
            with quiet_nncf():
                controlled = quantize_int8_with_accuracy_control(
                    fp32_model, singles, validation, tolerance - fp32_drop,
                    params,
                    max_iterations=self.options.accuracy_control_iterations)
        except Exception as error:  # noqa: BLE001 - NNCF raises many kinds
            result['summary'] += (
                f' NNCF accuracy control failed ({type(error).__name__}: '
                f'{error}); the plain INT8 model is kept as the candidate.')
            self.log(result['summary'])
            return xml, dict(result, parity=parity)
        controlled_xml = osp.join(folder, 'end2end_int8_controlled.xml')
        self.save_int8(controlled, controlled_xml, info,
                       'nncf accuracy control')
        controlled_parity = parity_report(
            reference, self.scores_of(controlled_xml, batches), labels)
        controlled_drop = report_drop(controlled_parity)
        kept = count_fake_quantize(controlled)
        result.update(
            accuracy_control_parity=controlled_parity,
            fake_quantize=dict(ptq=count_fake_quantize(model),
                               accuracy_control=kept))
        result['summary'] += (
            f' NNCF accuracy control ({kept} of '
            f'{count_fake_quantize(model)} quantizers kept): top-1 '
            f'{0.0 - controlled_drop:+.2f} points.')
        if controlled_drop < drop:
            result['mode'] = 'accuracy control'
            for ext in ('.xml', '.bin'):
                os.replace(osp.splitext(controlled_xml)[0] + ext,
                           osp.splitext(xml)[0] + ext)
            parity = controlled_parity
        else:
            for ext in ('.xml', '.bin'):
                os.remove(osp.splitext(controlled_xml)[0] + ext)
        if report_drop(parity) > tolerance:
            result['summary'] += (
                ' Both lose more than the tolerance: INT8 is not a '
                'candidate that keeps the accuracy; the best of the others '
                'is recommended. Accuracy control may revert at most '
                f'{self.options.accuracy_control_iterations} groups of '
                'layers (--accuracy-control-iterations raises the bound, '
                'at the cost of time).')
        self.log(result['summary'])
        return xml, dict(result, parity=parity)

    def save_int8(self, model, xml: str, info: Dict, quantization: str):
        import openvino as ov
        write_model_info(model, info['info'], info['class_names'],
                         dict(info['extra'], quantization=quantization),
                         inference_precision=RUNTIME_PRECISION['int8'])
        ov.save_model(model, xml, compress_to_fp16=False)


def report_drop(parity: Dict) -> float:
    """Points of top-1 lost against PyTorch."""
    return parity['reference_top1'] - parity['candidate_top1']


def _write_report(folder: str, report: Dict) -> None:
    with open(osp.join(folder, REPORT_FILE + '.json'), 'w') as f:
        json.dump(report, f, indent=2)
    if 'recommended' in report:
        with open(osp.join(folder, REPORT_FILE + '.md'), 'w') as f:
            f.write(report_markdown(report))
