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


def save_ir(folder, name, sha=None, info=True):
    """A tiny IR as tools/deploy.py writes it (from checkpoint ``sha``)."""
    model = tiny_ov_model()
    if info:
        extra = dict(checkpoint=f'/ckpt/{sha}.pth', checkpoint_sha256=sha) \
            if sha else {}
        write_model_info(model, build_model_info(['a', 'b', 'c'], [0] * 3,
                                                 [1] * 3, False, 'standard'),
                         ['a', 'b', 'c'], extra)
    path = str(folder / name)
    ov.save_model(model, path)
    return path


def write_report(folder, sha, files):
    import json
    (folder / 'deploy_report.json').write_text(json.dumps(dict(
        checkpoint=f'/ckpt/{sha}.pth', checkpoint_sha256=sha,
        files={k: str(folder / v) for k, v in files.items()})))


def test_an_ir_from_another_checkpoint_than_the_report_is_named(tmp_path):
    from mmtricks.deploy.model_info import stale_ir_problem, warn_if_stale
    fp32 = save_ir(tmp_path, 'end2end.xml', 'b' * 64)
    int8 = save_ir(tmp_path, 'end2end_int8.xml', 'a' * 64)
    core = ov.Core()
    # no report beside them: nothing to compare with
    assert stale_ir_problem(int8, core.read_model(int8)) is None
    write_report(tmp_path, 'b' * 64, dict(fp32='end2end.xml'))
    assert stale_ir_problem(fp32, core.read_model(fp32)) is None
    problem = stale_ir_problem(int8, core.read_model(int8))
    assert problem.startswith(f'end2end_int8.xml was made from /ckpt/'
                              f'{"a" * 64}.pth (sha256 {"a" * 12}), but the '
                              'deploy report beside it')
    assert f'is for /ckpt/{"b" * 64}.pth (sha256 {"b" * 12})' in problem
    assert 'another checkpoint' in problem
    with pytest.warns(UserWarning, match='left from an earlier deploy'):
        warn_if_stale(int8, core.read_model(int8))


def test_an_ir_without_a_recorded_checkpoint_must_be_listed(tmp_path):
    """IRs written before the checkpoint was recorded: the report's list."""
    from mmtricks.deploy.model_info import stale_ir_problem
    old = save_ir(tmp_path, 'end2end_int8.xml')
    write_report(tmp_path, 'b' * 64, dict(fp32='end2end.xml'))
    problem = stale_ir_problem(old, ov.Core().read_model(old))
    assert 'an unrecorded checkpoint' in problem
    assert 'not among the files it lists' in problem
    write_report(tmp_path, 'b' * 64, dict(int8='end2end_int8.xml'))
    assert stale_ir_problem(old, ov.Core().read_model(old)) is None


def test_written_by_deploy_reads_the_xml_alone(tmp_path):
    from mmtricks.deploy.model_info import written_by_deploy
    ours = save_ir(tmp_path, 'ours.xml', 'a' * 64)
    theirs = save_ir(tmp_path, 'theirs.xml', info=False)
    (tmp_path / 'ours.bin').unlink()  # the weights are not needed
    (tmp_path / 'text.xml').write_text('not xml <')
    assert written_by_deploy(ours)
    assert not written_by_deploy(theirs)
    assert not written_by_deploy(str(tmp_path / 'text.xml'))
    assert not written_by_deploy(str(tmp_path / 'missing.xml'))


def test_the_operating_point_round_trips_through_a_saved_ir(tmp_path):
    from mmtricks.deploy.model_info import operating_point_extra
    model = tiny_ov_model()
    names = ['functional', 'defective']
    write_model_info(model, build_model_info(names, [0] * 3, [1] * 3, False,
                                             'standard'), names,
                     operating_point_extra(1, 0.123456789012))
    ov.save_model(model, str(tmp_path / 'm.xml'))
    read = read_model_info(ov.Core().read_model(str(tmp_path / 'm.xml')))
    assert read['operating_point'] == (1, 0.123456789012)  # exact
    # argmax: nothing recorded, read as (None, None)
    assert operating_point_extra(None, None) == {}
    plain = tiny_ov_model()
    write_model_info(plain, build_model_info(names, [0] * 3, [1] * 3, False,
                                             'standard'), names)
    assert read_model_info(plain)['operating_point'] == (None, None)
