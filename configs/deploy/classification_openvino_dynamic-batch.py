# As classification_openvino_static.py, with a dynamic batch dimension (for
# servers that batch requests; batch-1 latency is best with the static one).
_base_ = ['./classification_openvino_static.py']
onnx_config = dict(
    dynamic_axes=dict(input=dict({0: 'batch'}), output=dict({0: 'batch'})))
