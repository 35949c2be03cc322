"""MMDeploy's ONNX export on today's torch: the TorchScript exporter.

Upstream: since torch 2.9, ``torch.onnx.export`` defaults to ``dynamo=True``
(torch 2.9 release notes), which needs ``onnxscript`` and bypasses the
symbolic functions and function rewriters that mmdeploy 1.3.1 installs around
its call (mmdeploy/apis/onnx/export.py calls ``torch.onnx.export`` without
``dynamo``). Passing ``dynamo=False`` restores the exporter mmdeploy was
written for. A caller that passes ``dynamo`` explicitly is left alone.

The fix is one of MMDeploy's own function rewriters, of
``torch.onnx.export``: MMDeploy swaps it in when it enters its
``RewriterContext`` (around its export) and puts torch's back when it
leaves. Everywhere else ``torch.onnx.export`` is torch's, with torch's
default. Registered on ``import mmtricks.deploy``.
"""
import inspect

import torch
from mmdeploy.core import FUNCTION_REWRITER

EXPORT = 'torch.onnx.export'
_registered = False


def takes_dynamo_flag(export=None) -> bool:
    """Whether ``torch.onnx.export`` has the ``dynamo`` argument (torch >=
    2.5); before, it is the TorchScript exporter anyway."""
    try:
        return 'dynamo' in inspect.signature(
            export or torch.onnx.export).parameters
    except (TypeError, ValueError):
        return False


def export_with_torchscript_default(*args, **kwargs):
    """``torch.onnx.export`` inside MMDeploy's export: ``dynamo=False``
    unless the caller chose."""
    kwargs.setdefault('dynamo', False)
    return FUNCTION_REWRITER.get_context().origin_func(*args, **kwargs)


def apply() -> None:
    global _registered
    if _registered or not takes_dynamo_flag():
        return
    FUNCTION_REWRITER.register_rewriter(EXPORT)(
        export_with_torchscript_default)
    _registered = True
