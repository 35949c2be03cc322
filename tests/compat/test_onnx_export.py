import importlib.util

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


@pytest.mark.skipif(importlib.util.find_spec('onnxscript') is not None,
                    reason='the upstream default only fails without onnxscript')
def test_upstream_default_fails_here(tmp_path):
    with pytest.raises(Exception):
        onnx_export._original_export(tiny_model(), torch.randn(1, 3, 8, 8),
                                     str(tmp_path / 'm.onnx'))


def test_explicit_dynamo_choice_is_passed_through(monkeypatch):
    seen = {}
    monkeypatch.setattr(onnx_export, '_original_export',
                        lambda *a, **k: seen.update(k))
    onnx_export.export_with_torchscript_default(None, None, 'x', dynamo=True)
    assert seen['dynamo'] is True
    onnx_export.export_with_torchscript_default(None, None, 'x')
    assert seen['dynamo'] is False
