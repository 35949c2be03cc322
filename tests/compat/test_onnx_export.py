import inspect
import sys

import onnx
import pytest
import torch
from torch import nn

import mmtricks  # noqa: F401
from mmtricks.compat import onnx_export


def tiny_model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2)).eval()


def test_export_without_dynamo_argument_uses_torchscript(tmp_path):
    path = tmp_path / 'm.onnx'
    torch.onnx.export(tiny_model(), torch.randn(1, 3, 8, 8), str(path),
                      opset_version=14, input_names=['input'])
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 14
    # The TorchScript exporter emits the native op for nn.Hardswish at >= 14.
    assert 'HardSwish' in {node.op_type for node in model.graph.node}
    assert torch.onnx.export is onnx_export.export_with_torchscript_default


def without_onnxscript(monkeypatch):
    """Make ``import onnxscript`` fail, whether it is installed or not (the
    test extras do not install it; other packages may), and drop torch's
    exporter modules that import it, should an earlier export have cached
    them; monkeypatch puts everything back."""
    monkeypatch.setitem(sys.modules, 'onnxscript', None)
    cached = [name for name in sys.modules
              if name.startswith('onnxscript.') or name in (
                  'torch.onnx._internal.exporter._core',
                  'torch.onnx._internal.exporter._compat')]
    for name in cached:
        monkeypatch.delitem(sys.modules, name)


def test_upstream_default_is_the_dynamo_exporter(tmp_path, monkeypatch):
    # what mmtricks.compat.onnx_export undoes: torch's default since 2.9
    assert inspect.signature(
        onnx_export._original_export).parameters['dynamo'].default is True
    # the dynamo exporter needs onnxscript (and never sees mmdeploy's
    # rewriters); without it, mmdeploy's plain call fails on import
    without_onnxscript(monkeypatch)
    with pytest.raises(ModuleNotFoundError, match='onnxscript'):
        onnx_export._original_export(tiny_model(), torch.randn(1, 3, 8, 8),
                                     str(tmp_path / 'm.onnx'))
    # while the fixed export does not touch onnxscript at all
    torch.onnx.export(tiny_model(), torch.randn(1, 3, 8, 8),
                      str(tmp_path / 'fixed.onnx'), opset_version=14)
    onnx.checker.check_model(onnx.load(str(tmp_path / 'fixed.onnx')))


def test_explicit_dynamo_choice_is_passed_through(monkeypatch):
    seen = {}
    monkeypatch.setattr(onnx_export, '_original_export',
                        lambda *a, **k: seen.update(k))
    onnx_export.export_with_torchscript_default(None, None, 'x', dynamo=True)
    assert seen['dynamo'] is True
    onnx_export.export_with_torchscript_default(None, None, 'x')
    assert seen['dynamo'] is False
