# MMDeploy deploy config: MMPretrain classifier -> ONNX -> OpenVINO IR,
# static input shape (batch 1, the model config's test-pipeline size).
#
# opset 17, not MMDeploy's usual 11: from opset 14 on nn.Hardswish exports as
# the native HardSwish op, which OpenVINO runs about 2x faster on
# MobileNetV3 than the decomposition older opsets get (see README).
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=17,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    # None: the size the model config's test pipeline produces.
    input_shape=None,
    optimize=False,
)
codebase_config = dict(type='mmpretrain', task='Classification')
backend_config = dict(type='openvino', compress_to_fp16=False)
