"""Checkpoint to verified OpenVINO IR: export, convert, quantize, check, time.

The steps are MMDeploy's (``torch2onnx`` with its rewriters and the
``mmpretrain`` task processor, then the ``openvino`` backend manager, which
:mod:`mmtricks.compat.mmdeploy_openvino` makes work on today's OpenVINO),
plus what MMDeploy never had: class names and preprocessing in the IR,
NNCF INT8, a parity check on the validation set and a CPU benchmark.

Everything is written to a staging folder first and moved into ``work_dir``
only when the whole run succeeded, so a failed run leaves an existing model
where it was (the failed run's files go to ``work_dir/failed_deploy``).
"""
import copy
import json
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
from .model_info import (VERIFIED_PRECISION, build_model_info,
                         compile_properties, preprocessor_settings,
                         resize_type_of, write_model_info)
from .parity import parity_failures, parity_report

FP32_FILE = 'end2end.xml'
INT8_FILE = 'end2end_int8.xml'
REPORT_FILE = 'deploy_report'


class ParityError(RuntimeError):
    """The FP32 IR does not predict what the PyTorch model predicts."""


def _default_log(message: str) -> None:
    print(message, flush=True)


def prepare_configs(model_config: str, deploy_config: str,
                    cfg_options: Optional[dict] = None):
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    for path, what in ((model_config, 'model config'),
                       (deploy_config, 'deploy config')):
        if not osp.isfile(path):
            raise DeployInputError(f'The {what} {path!r} does not exist.')
    model_cfg = Config.fromfile(model_config)
    if cfg_options:
        model_cfg.merge_from_dict(cfg_options)
    if model_cfg.get('custom_imports'):
        import_modules_from_strings(**model_cfg.custom_imports)
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


def predicted_scores(model, batches) -> Tuple[np.ndarray, np.ndarray]:
    scores, labels = [], []
    with torch.no_grad():
        for inputs, batch_labels in batches:
            samples = model(inputs, mode='predict')
            scores.append(torch.stack([s.pred_score for s in samples]))
            labels.append(batch_labels)
    return torch.cat(scores).numpy(), torch.cat(labels).numpy()


def quantize_int8(ov_model, calibration: List[torch.Tensor], log: Callable):
    """NNCF post-training INT8 with the calibration inputs (NCHW, batch 1).

    NNCF's bias correction crashes on some graphs (MobileNetV3's, see the
    project's STACK notes); then it is retried without it.
    """
    import nncf
    from nncf.quantization.advanced_parameters import \
        AdvancedQuantizationParameters
    dataset = nncf.Dataset(calibration, lambda x: x.numpy())
    try:
        return nncf.quantize(ov_model, dataset,
                             subset_size=len(calibration)), 'default'
    except Exception as error:  # noqa: BLE001 - NNCF raises many kinds
        log(f'NNCF default quantization failed ({type(error).__name__}: '
            f'{error}); retrying with bias correction disabled.')
        params = AdvancedQuantizationParameters(disable_bias_correction=True)
        return nncf.quantize(ov_model, dataset, subset_size=len(calibration),
                             advanced_parameters=params), \
            'bias correction disabled'


def device_default_precision(core, device: str = 'CPU') -> str:
    value = core.get_property(device, 'INFERENCE_PRECISION_HINT')
    return value.get_type_name() if hasattr(value, 'get_type_name') \
        else str(value)


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


def benchmark_models(torch_model, ov_models: Dict[str, Tuple[object, Dict]],
                     shape, seconds: float) -> Dict[str, Dict]:
    """PyTorch eager and each ``name: (ov_model, properties)`` on CPU."""
    import openvino as ov

    from .latency import (openvino_latency, openvino_throughput,
                          torch_latency, torch_throughput)
    core = ov.Core()
    results = {}
    for name, (ov_model, properties) in ov_models.items():
        results[name] = dict(
            latency=openvino_latency(core, ov_model, shape, seconds,
                                     properties=properties),
            throughput=openvino_throughput(core, ov_model, shape, seconds,
                                           properties=properties))
    requests = max(r['throughput']['requests'] for r in results.values())

    def tensor_forward(x):
        return torch_model(x, mode='tensor')

    return dict(
        pytorch=dict(
            latency=torch_latency(tensor_forward, shape, seconds),
            throughput=torch_throughput(tensor_forward, shape, requests,
                                        seconds)),
        **results)


def recommend(report: Dict) -> Tuple[str, str]:
    """INT8 only when it keeps top-1 within 1 point and is faster."""
    if 'int8' not in report['parity']:
        return 'fp32', 'INT8 was not requested (--int8).'
    fp32, int8 = report['parity']['fp32'], report['parity']['int8']
    drop = fp32['candidate_top1'] - int8['candidate_top1']
    if drop > 1.0:
        return 'fp32', (f'INT8 loses {drop:.2f} points of top-1 (more than '
                        '1), so FP32 is recommended.')
    speed = report.get('benchmark')
    if not speed:
        return 'fp32', 'No benchmark was run, so FP32 stays recommended.'
    lat = speed['fp32']['latency']['median_ms'] / \
        speed['int8']['latency']['median_ms']
    thr = speed['int8']['throughput']['fps'] / \
        speed['fp32']['throughput']['fps']
    if lat <= 1.0 and thr <= 1.0:
        return 'fp32', (f'INT8 is not faster than FP32 on this CPU '
                        f'(latency x{lat:.2f}, throughput x{thr:.2f}), so '
                        'FP32 is recommended.')
    return 'int8', (f'INT8 keeps top-1 within {max(drop, 0):.2f} points and '
                    f'is faster (latency x{lat:.2f}, throughput x{thr:.2f}).')


def report_markdown(report: Dict) -> str:
    lines = [f'# Deployment of `{report["checkpoint"]}`', '',
             f'Input {report["input_shape"]}, {report["images"]} validation '
             f'images; recommended: **{report["recommended"]}** '
             f'({report["recommendation"]})', '',
             '| model | top-1 (%) | top-1 differs from PyTorch (%) | '
             'max abs score diff | latency b1 (ms) | throughput (img/s) |',
             '| --- | --- | --- | --- | --- | --- |']
    bench = report.get('benchmark') or {}
    first = next(iter(report['parity'].values()))
    rows = [('pytorch', first['reference_top1'], 0.0, 0.0)] + [
        (name, r['candidate_top1'], r['top1_disagreement'],
         r['max_abs_score_diff']) for name, r in report['parity'].items()]
    for name, top1, differs, diff in rows:
        b = bench.get(name)
        lat = f'{b["latency"]["median_ms"]:.3f}' if b else '-'
        fps = f'{b["throughput"]["fps"]:.0f}' if b else '-'
        lines.append(f'| {name} | {top1:.2f} | {differs:.2f} | {diff:.1e} | '
                     f'{lat} | {fps} |')
    return '\n'.join(lines) + '\n'


@dataclass
class DeployOptions:
    """How ``tools/deploy.py`` deploys.

    Args:
        int8 (bool): Also write an NNCF INT8 IR. Defaults to False.
        device (str): Device for the PyTorch side. Defaults to ``'cpu'``.
        parity_images (int): Validation images for the parity check.
        calibration_images (int): Training images for INT8 calibration.
        benchmark_seconds (float): Time per timed model and mode; 0 skips
            the benchmark.
        max_top1_drop (float): Points of top-1 the FP32 IR may lose.
        max_disagreement (float): Per cent of images whose top-1 class may
            differ between PyTorch and the FP32 IR.
        max_score_diff (float): Largest absolute softmax score difference.
    """

    int8: bool = False
    device: str = 'cpu'
    parity_images: int = 2000
    calibration_images: int = 300
    benchmark_seconds: float = 2.0
    max_top1_drop: float = 0.5
    max_disagreement: float = 0.5
    max_score_diff: float = 1e-3

    def tolerances(self) -> Dict[str, float]:
        return dict(max_top1_drop=self.max_top1_drop,
                    max_disagreement=self.max_disagreement,
                    max_score_diff=self.max_score_diff)


def deploy_checkpoint(model_config: str,
                      checkpoint: str,
                      work_dir: str,
                      deploy_config: str,
                      options: Optional[DeployOptions] = None,
                      cfg_options: Optional[dict] = None,
                      log: Callable[[str], None] = _default_log) -> Dict:
    """Deploy ``checkpoint``; return the report also written to work_dir.

    Raises:
        DeployInputError: bad config, checkpoint or work dir (nothing done).
        ParityError: the FP32 IR disagrees with PyTorch beyond the
            tolerances of ``options``.
    """
    from mmdeploy.apis import build_task_processor
    options = options or DeployOptions()
    model_cfg, deploy_cfg = prepare_configs(model_config, deploy_config,
                                            cfg_options)
    check_work_dir(work_dir)
    task_processor = build_task_processor(model_cfg, deploy_cfg,
                                          options.device)
    torch_model, saved = build_checked_model(task_processor, checkpoint)
    export = ExportJob(model_cfg, deploy_cfg, task_processor, torch_model,
                       saved, checkpoint, options, log)

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
    for name in sorted(os.listdir(staging)):
        os.replace(osp.join(staging, name), osp.join(work_dir, name))
    os.rmdir(staging)
    report['files'] = {k: osp.join(work_dir, v)
                       for k, v in report['files'].items()}
    _write_report(work_dir, report)
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

    def run(self, folder: str) -> Dict:
        import openvino as ov
        core = ov.Core()
        onnx_file = self.export_onnx(folder)
        batches, dataset_classes = preprocessed_batches(
            self.model_cfg, 'val', self.torch_model.data_preprocessor,
            self.options.parity_images)
        class_names = (self.saved.get('meta', {}).get('dataset_meta', {})
                       .get('classes') or dataset_classes)
        shape = tuple(batches[0][0].shape[1:])
        info = self.model_info(class_names, shape)
        models = {'fp32': self.convert(core, osp.join(folder, onnx_file),
                                       folder, info)}
        if self.options.int8:
            models['int8'] = self.quantize(core, models['fp32'], folder,
                                           info)

        self.log(f'Parity check on {sum(len(b[1]) for b in batches)} '
                 'validation images ...')
        reference, labels = predicted_scores(self.torch_model, batches)
        report = dict(checkpoint=self.checkpoint,
                      model_config=osp.basename(self.model_cfg.filename
                                                or ''),
                      input_shape=[1, *shape], images=int(len(labels)),
                      class_names=list(class_names), parity={},
                      tolerances=self.options.tolerances())
        for name, xml in models.items():
            # MMDeploy's own backend model, on the replaced openvino backend.
            backend_model = self.task_processor.build_backend_model([xml])
            scores, _ = predicted_scores(backend_model, batches)
            report['parity'][name] = parity_report(reference, scores, labels)
        failures = parity_failures(report['parity']['fp32'],
                                   **self.options.tolerances())
        if failures:
            _write_report(folder, report)
            raise ParityError('The FP32 IR does not match PyTorch: '
                              + '; '.join(failures) + '.')

        timed = {}
        for name, xml in models.items():
            model = core.read_model(xml)
            timed[name] = (model, compile_properties(model))
        default = device_default_precision(core)
        if default != VERIFIED_PRECISION:
            # What a consumer gets without the precision hint: reported,
            # not shipped.
            name = f'fp32@{default}'
            report['parity'][name] = parity_report(
                reference, openvino_scores(core, timed['fp32'][0], batches,
                                           {}), labels)
            timed[name] = (timed['fp32'][0], {})
        if self.options.benchmark_seconds > 0:
            self.log('Timing PyTorch and OpenVINO on CPU ...')
            report['benchmark'] = benchmark_models(
                self.torch_model, timed, (1, ) + shape,
                self.options.benchmark_seconds)
        report['recommended'], report['recommendation'] = recommend(report)
        report['files'] = dict(onnx=onnx_file, **{
            k: osp.basename(v) for k, v in models.items()})
        _write_report(folder, report)
        return report

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
            extra=dict(checkpoint=osp.basename(self.checkpoint),
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

    def quantize(self, core, fp32_xml: str, folder: str, info: Dict) -> str:
        import openvino as ov
        count = self.options.calibration_images
        self.log(f'Quantizing to INT8 with NNCF on {count} training '
                 'images ...')
        calibration, _ = preprocessed_batches(
            self.model_cfg, 'train', self.torch_model.data_preprocessor,
            count, seed=0)
        singles = [x[None] for inputs, _ in calibration for x in inputs]
        model, mode = quantize_int8(core.read_model(fp32_xml), singles,
                                    self.log)
        write_model_info(model, info['info'], info['class_names'],
                         dict(info['extra'],
                              quantization=f'nncf int8 ({mode})'))
        xml = osp.join(folder, INT8_FILE)
        ov.save_model(model, xml, compress_to_fp16=False)
        return xml


def _write_report(folder: str, report: Dict) -> None:
    with open(osp.join(folder, REPORT_FILE + '.json'), 'w') as f:
        json.dump(report, f, indent=2)
    if 'recommended' in report:
        with open(osp.join(folder, REPORT_FILE + '.md'), 'w') as f:
            f.write(report_markdown(report))
