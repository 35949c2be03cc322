"""MMDeploy's openvino backend: upstream is dead on today's OpenVINO, ours works."""
import numpy as np
import onnxruntime as ort
import pytest
import torch
from mmengine.config import Config
from torch import nn

import mmtricks.deploy  # noqa: F401 - applies the fix
from mmtricks.deploy import mmdeploy_openvino

DEPLOY_CFG = Config(dict(backend_config=dict(type='openvino')))


@pytest.fixture(scope='module')
def onnx_file(tmp_path_factory):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Hardswish(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 4), nn.Softmax(dim=1)).eval()
    path = str(tmp_path_factory.mktemp('onnx') / 'end2end.onnx')
    # dynamo=False: torch's TorchScript exporter, as MMDeploy's export gets
    # it (mmtricks.deploy.mmdeploy_onnx_export); torch's default needs
    # onnxscript
    torch.onnx.export(model, torch.randn(1, 3, 16, 16), path,
                      opset_version=17, input_names=['input'],
                      output_names=['output'], dynamo=False)
    return path


def test_upstream_manager_cannot_convert(onnx_file, tmp_path):
    # A complete OpenVINO deploy config (as mmdeploy's own
    # configs/mmpretrain/classification_openvino_static-224x224.py has it),
    # so that the call gets as far as the converter: it shells out to `mo`
    # (Model Optimizer), removed in OpenVINO 2025.0.
    deploy_cfg = Config(dict(
        onnx_config=dict(type='onnx', input_shape=None, input_names=['input'],
                         output_names=['output']),
        backend_config=dict(type='openvino', model_inputs=[
            dict(opt_shapes=dict(input=[1, 3, 16, 16]))])))
    with pytest.raises(RuntimeError,
                       match='OpenVINO Model Optimizer is not found'):
        mmdeploy_openvino._original_manager.to_backend(
            [onnx_file], str(tmp_path), deploy_cfg)
    assert not list(tmp_path.glob('*.xml'))


def test_upstream_wrapper_cannot_load():
    # IECore's module, removed in OpenVINO 2024.0
    with pytest.raises(ModuleNotFoundError,
                       match="No module named 'openvino.inference_engine'"):
        mmdeploy_openvino._original_wrapper('model.xml')


def test_registered_backend_converts_and_runs_any_batch(onnx_file, tmp_path):
    from mmdeploy.backend.base import get_backend_manager
    manager = get_backend_manager('openvino')
    assert manager is mmdeploy_openvino.OpenVINOManager
    xml = manager.to_backend([onnx_file], str(tmp_path), DEPLOY_CFG)[0]
    assert xml == str(tmp_path / 'end2end.xml')
    wrapper = manager.build_wrapper([xml], 'cpu', output_names=['output'])
    session = ort.InferenceSession(onnx_file)
    for batch in (1, 5):  # the IR is static batch 1; the wrapper reshapes
        x = np.random.default_rng(batch).standard_normal(
            (batch, 3, 16, 16)).astype(np.float32)
        out = wrapper({'input': torch.from_numpy(x)})['output'].numpy()
        expected = np.concatenate([session.run(None, {'input': x[i:i + 1]})[0]
                                   for i in range(batch)])
        np.testing.assert_allclose(out, expected, atol=1e-5)


def test_cuda_device_is_refused_clearly():
    with pytest.raises(ValueError, match='runs on CPU'):
        mmdeploy_openvino.OpenVINOManager.build_wrapper(['m.xml'], 'cuda:0')
