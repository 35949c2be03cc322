"""MMDeploy's ``openvino`` backend on today's OpenVINO.

Upstream: mmdeploy 1.3.1 converts ONNX to IR by shelling out to ``mo``
(mmdeploy/backend/openvino/onnx2openvino.py), the Model Optimizer removed in
OpenVINO 2025.0 together with ``openvino-dev``, and its wrapper imports
``openvino.inference_engine.IECore`` (mmdeploy/backend/openvino/wrapper.py),
removed in OpenVINO 2024.0. So ``to_backend`` fails with ``mo`` not found and
any backend model fails on import. The wrapper also only accepts batch 1.

The fix replaces the backend manager and the wrapper registered under
``'openvino'`` (MMDeploy's registries keep the last registration), so
MMDeploy's own task processors and ``End2EndModel`` work unchanged: the
conversion is ``ov.convert_model`` + ``ov.save_model``, inference is
``ov.Core().compile_model`` with a reshape when the batch size changes.

Applied on ``import mmtricks.deploy`` (training does not need mmdeploy).
"""
import logging
import os.path as osp
from typing import Any, Dict, Optional, Sequence

import torch
from mmdeploy.backend.base import BaseBackendManager, BaseWrapper

from .model_info import compile_properties

_original_manager = None
_original_wrapper = None


def ir_path_for(onnx_path: str, work_dir: str) -> str:
    """``work_dir/<onnx stem>.xml``, the name mmdeploy's tools expect."""
    stem = osp.splitext(osp.basename(onnx_path))[0]
    return osp.join(work_dir, stem + '.xml')


def onnx_to_ir(onnx_path: str, xml_path: str,
               compress_to_fp16: bool = False) -> str:
    """Convert an ONNX file to OpenVINO IR (``.xml`` + ``.bin``).

    FP32 weights by default: the parity check compares against PyTorch, and
    on CPU OpenVINO runs FP16-compressed weights in FP32 anyway.
    """
    import openvino as ov
    model = ov.convert_model(onnx_path)
    ov.save_model(model, xml_path, compress_to_fp16=compress_to_fp16)
    return xml_path


class OpenVINOWrapper(BaseWrapper):
    """Runs an OpenVINO IR for MMDeploy's backend models.

    Args:
        ir_model_file (str): The ``.xml`` file.
        output_names (Sequence[str], optional): Output names in order; read
            from the model when not given.
        device (str): OpenVINO device name. Defaults to ``'CPU'``.
        config (dict, optional): ``compile_model`` properties. Defaults to the
            LATENCY performance hint and the inference precision the IR
            records (``mmtricks/inference_precision``, the one
            ``tools/deploy.py`` checked it at), else f32: the CPU plugin's
            default is bf16 on CPUs that have it. A warning when the device
            runs another precision than the recorded one.
    """

    def __init__(self,
                 ir_model_file: str,
                 output_names: Optional[Sequence[str]] = None,
                 device: str = 'CPU',
                 config: Optional[Dict[str, Any]] = None):
        from .openvino_core import shared_core
        core = shared_core()
        model = core.read_model(ir_model_file)
        if output_names is None:
            output_names = [out.get_any_name() for out in model.outputs]
        super().__init__(list(output_names))
        self.core = core
        self.model = model
        self.device = device
        self.user_config = dict(config or {})
        self.config = config or dict(
            {'INFERENCE_PRECISION_HINT': 'f32'}, **compile_properties(model))
        self._compiled = {}

    def _compiled_for(self, inputs: Dict[str, torch.Tensor]):
        shapes = tuple((name, tuple(t.shape)) for name, t in inputs.items())
        if shapes not in self._compiled:
            model = self.model
            static = all(not p.get_partial_shape().is_dynamic
                         for p in model.inputs)
            if static and any(
                    tuple(model.input(name).get_shape()) != shape
                    for name, shape in shapes):
                model = model.clone()
                model.reshape({name: list(shape) for name, shape in shapes})
            from mmtricks.deploy.model_info import warn_if_precision_differs
            compiled = self.core.compile_model(model, self.device,
                                               self.config)
            if 'INFERENCE_PRECISION_HINT' not in self.user_config:
                warn_if_precision_differs(compiled, model)
            self._compiled[shapes] = compiled
        return self._compiled[shapes]

    def forward(self, inputs: Dict[str, torch.Tensor]) -> Dict[str,
                                                              torch.Tensor]:
        compiled = self._compiled_for(inputs)
        feed = {name: t.detach().cpu().contiguous().numpy()
                for name, t in inputs.items()}
        results = compiled(feed)
        by_name = {out.get_any_name(): results[out]
                   for out in compiled.outputs}
        return {name: torch.from_numpy(by_name[name].copy())
                for name in self.output_names}


class OpenVINOManager(BaseBackendManager):
    """MMDeploy backend manager for ``'openvino'`` on OpenVINO >= 2024."""

    @classmethod
    def build_wrapper(cls,
                      backend_files: Sequence[str],
                      device: str = 'cpu',
                      input_names: Optional[Sequence[str]] = None,
                      output_names: Optional[Sequence[str]] = None,
                      deploy_cfg: Optional[Any] = None,
                      **kwargs) -> OpenVINOWrapper:
        if str(device).lower().startswith('cuda'):
            raise ValueError(
                f'The OpenVINO backend runs on CPU; got device={device!r}. '
                'Pass --device cpu.')
        return OpenVINOWrapper(backend_files[0], output_names=output_names)

    @classmethod
    def is_available(cls, with_custom_ops: bool = False) -> bool:
        import importlib.util
        return importlib.util.find_spec('openvino') is not None

    @classmethod
    def get_version(cls) -> str:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version('openvino')
        except PackageNotFoundError:
            return 'None'

    @classmethod
    def to_backend(cls,
                   ir_files: Sequence[str],
                   work_dir: str,
                   deploy_cfg: Any,
                   log_level: int = logging.INFO,
                   device: str = 'cpu',
                   **kwargs) -> Sequence[str]:
        compress = bool(deploy_cfg.get('backend_config', {}).get(
            'compress_to_fp16', False))
        return [onnx_to_ir(path, ir_path_for(path, work_dir), compress)
                for path in ir_files]


def _registered():
    from mmdeploy.backend.base import BACKEND_MANAGERS
    return BACKEND_MANAGERS.find('openvino')


def apply() -> None:
    global _original_manager, _original_wrapper
    # Importing upstream's module first makes its registration happen now,
    # so ours is the last one and stays.
    import mmdeploy.backend.openvino as upstream
    from mmdeploy.backend.base import BACKEND_MANAGERS, BACKEND_WRAPPER
    if _registered() is OpenVINOManager:
        return
    _original_manager = upstream.OpenVINOManager
    _original_wrapper = getattr(upstream, 'OpenVINOWrapper', None)
    BACKEND_MANAGERS.register('openvino')(OpenVINOManager)
    BACKEND_WRAPPER.register_module('openvino', module=OpenVINOWrapper,
                                    force=True)
    upstream.is_available = OpenVINOManager.is_available
    upstream.build_wrapper = OpenVINOManager.build_wrapper
