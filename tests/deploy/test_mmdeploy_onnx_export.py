import inspect
import sys

import onnx
import pytest
import torch
from mmdeploy.apis.onnx import export as mmdeploy_export
from mmdeploy.core import RewriterContext
from torch import nn

import mmtricks.deploy  # noqa: F401  (registers the rewriter)

TORCH_EXPORT = torch.onnx.export


def tiny_model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2)).eval()


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


def test_mmdeploy_export_uses_torchscript(tmp_path, monkeypatch):
    without_onnxscript(monkeypatch)
    mmdeploy_export(tiny_model(), torch.randn(1, 3, 8, 8),
                    str(tmp_path / 'm'), opset_version=14,
                    input_names=['input'])
    model = onnx.load(str(tmp_path / 'm.onnx'))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 14
    # The TorchScript exporter emits the native op for nn.Hardswish at >= 14.
    assert 'HardSwish' in {node.op_type for node in model.graph.node}
    # and torch's own is back after MMDeploy's export
    assert torch.onnx.export is TORCH_EXPORT


def test_torch_export_outside_mmdeploy_is_torchs(tmp_path, monkeypatch):
    # what the rewriter undoes, inside MMDeploy's export only: torch's
    # default since 2.9 is the dynamo exporter
    assert torch.onnx.export.__module__.startswith('torch.onnx')
    assert inspect.signature(
        torch.onnx.export).parameters['dynamo'].default is True
    # which needs onnxscript (and never sees mmdeploy's rewriters); without
    # it, mmdeploy's plain call would fail on import
    without_onnxscript(monkeypatch)
    with pytest.raises(ModuleNotFoundError, match='onnxscript'):
        torch.onnx.export(tiny_model(), torch.randn(1, 3, 8, 8),
                          str(tmp_path / 'm.onnx'))


def test_explicit_dynamo_choice_is_passed_through(monkeypatch):
    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(torch.onnx, 'export', spy)
    with RewriterContext(cfg={}, backend='default'):
        assert torch.onnx.export is not spy
        torch.onnx.export(None, None, 'x', dynamo=True)
        assert seen['dynamo'] is True
        torch.onnx.export(None, None, 'x')
        assert seen['dynamo'] is False
    assert torch.onnx.export is spy

