"""Route ``torch.onnx.export`` to the TorchScript exporter by default.

Upstream: since torch 2.9, ``torch.onnx.export`` defaults to ``dynamo=True``
(torch 2.9 release notes), which needs ``onnxscript`` and bypasses the
symbolic functions and function rewriters that mmdeploy 1.3.1 installs around
its call (mmdeploy/apis/onnx/export.py calls ``torch.onnx.export`` without
``dynamo``). Passing ``dynamo=False`` restores the exporter mmdeploy was
written for. A caller that passes ``dynamo`` explicitly is left alone.
"""
import functools
import inspect

import torch

_original_export = torch.onnx.export


def _takes_dynamo_flag() -> bool:
    try:
        return 'dynamo' in inspect.signature(_original_export).parameters
    except (TypeError, ValueError):
        return False


@functools.wraps(_original_export)
def export_with_torchscript_default(*args, **kwargs):
    kwargs.setdefault('dynamo', False)
    return _original_export(*args, **kwargs)


def apply() -> None:
    if _takes_dynamo_flag() and \
            torch.onnx.export is not export_with_torchscript_default:
        torch.onnx.export = export_with_torchscript_default
