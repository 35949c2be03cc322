"""Checkpoint to ONNX to OpenVINO IR, and the IR files a deployment writes.

The steps are MMDeploy's (``torch2onnx`` with its rewriters and the
``mmpretrain`` task processor, then the ``openvino`` backend manager, which
:mod:`mmtricks.deploy.mmdeploy_openvino` makes work on today's OpenVINO).
Every IR written here carries the class names, the preprocessing and the
checkpoint (path and sha256) in its runtime info, and the precision it was
checked at.
"""
import contextlib
import os
import os.path as osp
import shutil
import warnings
from typing import Callable, Dict, List, Sequence

import numpy as np

from .model_info import (build_model_info, preprocessor_settings,
                         resize_type_of, set_inference_precision,
                         write_model_info, written_by_deploy)
from .precision import RUNTIME_PRECISION

FP32_FILE = 'end2end.xml'
BF16_FILE = 'end2end_bf16.xml'
INT8_FILE = 'end2end_int8.xml'
FILES = dict(fp32=FP32_FILE, bf16=BF16_FILE, int8=INT8_FILE)


def export_onnx(model_cfg, deploy_cfg, checkpoint: str, device: str,
                folder: str, log: Callable[[str], None]) -> str:
    """MMDeploy's ONNX export of ``checkpoint`` into ``folder``; returns
    the file's name."""
    from mmdeploy.apis import torch2onnx
    log('Exporting ONNX with MMDeploy ...')
    onnx_file = deploy_cfg.onnx_config.get('save_file', 'end2end.onnx')
    # Any image: the test pipeline resizes it to the network input.
    dummy = np.zeros((256, 256, 3), dtype=np.uint8)
    torch2onnx(dummy, folder, onnx_file, deploy_cfg, model_cfg, checkpoint,
               device)
    return onnx_file


def export_explained_onnx(torch_model, shape, deploy_cfg, folder: str,
                          log: Callable[[str], None]) -> str:
    """The ONNX file of the model wrapped by
    :class:`~mmtricks.models.explain.ExplainedClassifier`: outputs
    ``output`` (the softmax MMDeploy's export gives) and
    :data:`~.model_info.SALIENCY_OUTPUT` (Recipro-CAM maps), at batch 1 and
    ``shape`` (C, H, W). torch's exporter directly, not MMDeploy's: MMDeploy
    rewrites the classifier's forward to return the softmax alone, and a
    second output would need a rewriter of that forward replacing its own
    for every export in the process (docs/deploy.md)."""
    import torch

    from ..models.explain import ExplainedClassifier
    from .model_info import SALIENCY_OUTPUT
    log('Exporting ONNX with the saliency output (Recipro-CAM) ...')
    onnx_cfg = deploy_cfg.onnx_config
    onnx_file = onnx_cfg.get('save_file', 'end2end.onnx')
    wrapped = ExplainedClassifier(torch_model).eval()
    with torch.no_grad(), warnings.catch_warnings():
        # The masks' size is read from the traced feature map on purpose:
        # the IR's input shape is static, so they are a constant.
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        torch.onnx.export(
            wrapped, torch.zeros((1, ) + tuple(shape)),
            osp.join(folder, onnx_file),
            input_names=list(onnx_cfg.get('input_names', ['input'])),
            output_names=[onnx_cfg.get('output_names', ['output'])[0],
                          SALIENCY_OUTPUT],
            opset_version=onnx_cfg.get('opset_version', 17), dynamo=False)
    return onnx_file


def ir_info(model_cfg, class_names: Sequence[str], shape, checkpoint: str,
            checkpoint_sha256: str) -> Dict:
    """What every IR records: class names, preprocessing, input shape and
    the checkpoint it was made from."""
    settings = preprocessor_settings(model_cfg)
    return dict(
        info=build_model_info(class_names, settings['mean'], settings['std'],
                              settings['to_rgb'],
                              resize_type_of(model_cfg.test_pipeline)),
        class_names=class_names,
        extra=dict(checkpoint=osp.abspath(checkpoint),
                   checkpoint_sha256=checkpoint_sha256,
                   input_shape=' '.join(map(str, shape))))


def convert_to_ir(core, onnx_path: str, folder: str, deploy_cfg, info: Dict,
                  log: Callable[[str], None]) -> str:
    """The FP32 IR of the ONNX file, through MMDeploy's ``openvino``
    backend, with ``info`` written in; returns its path."""
    import openvino as ov
    from mmdeploy.backend.base import get_backend_manager
    log('Converting to OpenVINO IR ...')
    raw_dir = osp.join(folder, 'raw')
    os.makedirs(raw_dir)
    raw_xml = get_backend_manager('openvino').to_backend(
        [onnx_path], raw_dir, deploy_cfg)[0]
    model = core.read_model(raw_xml)
    write_model_info(model, info['info'], info['class_names'], info['extra'])
    xml = osp.join(folder, FP32_FILE)
    ov.save_model(model, xml, compress_to_fp16=False)
    del model
    shutil.rmtree(raw_dir)
    return xml


def save_at_precision(core, fp32_xml: str, folder: str, name: str) -> str:
    """The FP32 IR, recording that it runs (and was checked) at ``name``'s
    runtime precision."""
    import openvino as ov
    model = core.read_model(fp32_xml)
    set_inference_precision(model, RUNTIME_PRECISION[name])
    xml = osp.join(folder, FILES[name])
    ov.save_model(model, xml, compress_to_fp16=False)
    return xml


def save_int8(model, xml: str, info: Dict, quantization: str) -> None:
    """A quantized model as an IR, recording how it was quantized."""
    import openvino as ov
    write_model_info(model, info['info'], info['class_names'],
                     dict(info['extra'], quantization=quantization),
                     inference_precision=RUNTIME_PRECISION['int8'])
    ov.save_model(model, xml, compress_to_fp16=False)


def replace_ir(source_xml: str, target_xml: str) -> None:
    """Move an IR (``.xml`` and ``.bin``) over another."""
    for ext in ('.xml', '.bin'):
        os.replace(osp.splitext(source_xml)[0] + ext,
                   osp.splitext(target_xml)[0] + ext)


def remove_ir(xml: str) -> None:
    for ext in ('.xml', '.bin'):
        with contextlib.suppress(FileNotFoundError):
            os.remove(osp.splitext(xml)[0] + ext)


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
