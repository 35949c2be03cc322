"""A tiny IR for the classifier's tests: 3 classes (a, b, c) of an 8x8
input, the mean colour's softmax, with the runtime info tools/deploy.py
writes (no saliency output)."""
import openvino as ov

from mmtricks.deploy.model_info import build_model_info, write_model_info


def write_tiny_ir(xml: str, **info_kwargs) -> str:
    param = ov.opset13.parameter([1, 3, 8, 8], ov.Type.f32, name='input')
    pooled = ov.opset13.reduce_mean(param, [2, 3], keep_dims=False)
    model = ov.Model([ov.opset13.softmax(pooled, 1)], [param], 'tiny')
    write_model_info(model, build_model_info(['a', 'b', 'c'], [0] * 3,
                                             [1] * 3, False, 'standard'),
                     ['a', 'b', 'c'], **info_kwargs)
    ov.save_model(model, xml)
    return xml
