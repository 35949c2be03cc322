import numpy as np
import openvino as ov
import pytest

from mmtricks.deploy.model_info import (build_model_info, compile_properties,
                                        read_model_info, resize_type_of,
                                        write_model_info)


def tiny_ov_model(size=(24, 20)):
    param = ov.opset13.parameter([1, 3, *size], ov.Type.f32, name='input')
    pooled = ov.opset13.reduce_mean(param, [2, 3], keep_dims=False)
    return ov.Model([ov.opset13.softmax(pooled, 1)], [param], 'tiny')


def test_info_round_trips_through_a_saved_ir(tmp_path):
    names = ['golden retriever', 'cat', 'dog']
    model = tiny_ov_model()
    info = build_model_info(names, [1, 2, 3], [4, 5, 6.5], True, 'standard')
    write_model_info(model, info, names, dict(checkpoint='best.pth'))
    ov.save_model(model, str(tmp_path / 'm.xml'))
    loaded = ov.Core().read_model(str(tmp_path / 'm.xml'))
    read = read_model_info(loaded)
    assert read['class_names'] == names  # exact, spaces kept
    assert loaded.get_rt_info(['model_info', 'labels']).astype(str) == \
        'golden_retriever cat dog'  # Model API splits on spaces
    assert read['mean'] == [1, 2, 3] and read['std'] == [4, 5, 6.5]
    assert read['to_rgb'] is True
    assert read['input_size'] == (24, 20)
    assert compile_properties(loaded, 'THROUGHPUT') == {
        'PERFORMANCE_HINT': 'THROUGHPUT', 'INFERENCE_PRECISION_HINT': 'f32'}


def test_ir_without_info_is_a_clear_error():
    with pytest.raises(ValueError, match='no class names'):
        read_model_info(tiny_ov_model())


@pytest.mark.parametrize('pipeline, expected', [
    ([dict(type='Resize', scale=32)], 'standard'),
    ([dict(type='ResizeEdge', scale=256), dict(type='CenterCrop',
                                               crop_size=224)], 'crop'),
])
def test_resize_type_follows_the_pipeline(pipeline, expected):
    assert resize_type_of(pipeline) == expected


def test_crop_resize_keeps_aspect_and_centres():
    from mmtricks.deploy.classifier import resize_for_network
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 30:50] = 255  # a centred white band
    out = resize_for_network(image, (20, 20), 'crop')
    assert out.shape == (20, 20, 3)
    assert out[:, 5:15].min() == 255 and out[:, :3].max() == 0
