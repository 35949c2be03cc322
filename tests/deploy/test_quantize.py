"""The INT8 candidate: NNCF post-training quantization (retried without bias
correction only where that crashes) and accuracy control where it loses."""
import numpy as np
import openvino as ov
import pytest
import torch
from torch import nn

from mmtricks.deploy.quantize import (
    count_fake_quantize, not_lost_validation_fn, quantize_int8,
    quantize_int8_with_accuracy_control, tuning_target)


class Compiled:
    def output(self, index):
        return 0

    def __call__(self, x):
        return {0: x.reshape(1, -1)}


def test_validation_fn_counts_the_images_lost_against_pytorch():
    # (scores, label, PyTorch right): right; lost; wrong where PyTorch was
    # wrong too (not lost).
    items = [(np.array([[0.1, 0.9]]), 1, True),
             (np.array([[0.8, 0.2]]), 1, True),
             (np.array([[0.8, 0.2]]), 1, False)]
    assert not_lost_validation_fn(Compiled(), items) == (
        pytest.approx(2 / 3), [1.0, 0.0, 1.0])


def test_tuning_aims_at_what_the_judging_images_can_accept():
    # 500 tuning images: 1 lost image is still shown within 1 point at 95%
    # (bound 0.95), 2 are not (1.25).
    assert tuning_target(1.0, 500, 0.95) == 1
    assert tuning_target(1.0, 1000, 0.95) == 4
    # 180 images cannot show 1 point even with none lost.
    assert tuning_target(1.0, 180, 0.95) is None


@pytest.mark.slow
def test_accuracy_control_recovers_what_plain_quantization_loses():
    """An untrained net's close scores: plain INT8 flips some of its own
    decisions; accuracy control reverts layers to FP32 until at most the
    allowed drop is left, keeping others INT8."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)).eval()
    model = ov.convert_model(net, example_input=torch.zeros(1, 3, 16, 16))
    g = torch.Generator().manual_seed(1)

    def image():
        # A per-image offset of each channel: without it the untrained
        # net's top-1 is its biases' (one class for every image), which no
        # quantization error flips (so it was on a CPU with VNNI).
        return (torch.randn(1, 3, 16, 16, generator=g)
                + 3 * torch.randn(1, 3, 1, 1, generator=g))

    calibration = [image() for _ in range(32)]
    images = [image() for _ in range(200)]
    with torch.no_grad():  # labels = the FP32 model's own top-1
        validation = [(x.numpy(), int(net(x).argmax()), True)
                      for x in images]
    assert len({label for _, label, _ in validation}) > 1
    core = ov.Core()

    def kept(m):
        compiled = core.compile_model(m, 'CPU',
                                      {'INFERENCE_PRECISION_HINT': 'f32'})
        return 100 * not_lost_validation_fn(compiled, validation)[0]

    plain, _, params = quantize_int8(model, calibration, print)
    assert kept(plain) < 98.0  # the loss the accuracy control must fix
    controlled = quantize_int8_with_accuracy_control(
        model, calibration, validation, max_drop_points=2.0,
        advanced_parameters=params)
    assert kept(controlled) >= 98.0
    # It kept some layers INT8 (not simply the FP32 model back).
    assert 0 < count_fake_quantize(controlled) < count_fake_quantize(plain)


def test_accuracy_control_rounds_are_bounded(monkeypatch):
    """Each round re-validates and may re-rank every group left, so an
    unbounded search can run for hours: the bound reaches NNCF's restorer,
    and no bound leaves NNCF's own default."""
    import nncf
    seen = []

    def spy(model, calibration, validation, fn, **kwargs):
        seen.append(kwargs['advanced_accuracy_restorer_parameters'])
        return model

    monkeypatch.setattr(nncf, 'quantize_with_accuracy_control', spy)
    calibration = [torch.zeros(1, 3, 4, 4)]
    validation = [(np.zeros((1, 3, 4, 4), np.float32), 0, True)]
    quantize_int8_with_accuracy_control('model', calibration, validation,
                                        1.0, max_iterations=3)
    quantize_int8_with_accuracy_control('model', calibration, validation,
                                        1.0)
    assert seen[0].max_num_iterations == 3
    assert seen[1] is None
    with pytest.raises(ValueError, match='at least 1'):
        quantize_int8_with_accuracy_control('model', calibration,
                                            validation, 1.0, max_iterations=0)


def _spy_quantize(monkeypatch, first_error):
    """nncf.quantize raising ``first_error`` on its first call, returning
    'quantized' on the next; the calls' advanced parameters are listed."""
    import nncf
    calls = []

    def quantize(model, dataset, subset_size, advanced_parameters=None):
        calls.append(advanced_parameters)
        if len(calls) == 1:
            raise first_error()
        return 'quantized'

    monkeypatch.setattr(nncf, 'quantize', quantize)
    return calls


def test_only_the_bias_correction_crash_is_retried(monkeypatch):
    """NNCF's bias correction crash (the reshape ValueError raised while it
    writes a bias) is retried without bias correction; a bug of any other
    kind is raised, not retried."""
    def _apply_bias_correction_transformations():
        raise ValueError('cannot reshape array of size 16 into shape '
                         '(1,1,1,1)')

    calls = _spy_quantize(monkeypatch,
                          _apply_bias_correction_transformations)
    said = []
    model, mode, params = quantize_int8('model', [torch.zeros(1, 3, 4, 4)],
                                        said.append)
    assert (model, mode) == ('quantized', 'bias correction disabled')
    assert calls[1] is params and params.disable_bias_correction
    assert 'bias correction' in said[0]

    def a_bug():
        raise TypeError("unsupported operand type(s) for +: 'int' and "
                        "'str'")

    calls = _spy_quantize(monkeypatch, a_bug)
    with pytest.raises(TypeError, match='unsupported operand'):
        quantize_int8('model', [torch.zeros(1, 3, 4, 4)], said.append)
    assert len(calls) == 1

    def another_reshape():  # the same message outside bias correction
        raise ValueError('cannot reshape array of size 3 into shape (2,)')

    calls = _spy_quantize(monkeypatch, another_reshape)
    with pytest.raises(ValueError, match='size 3'):
        quantize_int8('model', [torch.zeros(1, 3, 4, 4)], said.append)
    assert len(calls) == 1


# ----------------------------------------- int8_candidate's choices, no NNCF
class FakeCore:
    def read_model(self, xml):
        return 'fp32 model'


def fake_int8(monkeypatch, tuning_lost, judging_lost=0):
    """int8_candidate with NNCF and IR files faked: the PTQ model and the
    accuracy-controlled one lose ``tuning_lost[model]`` of 500 tuning
    images and ``judging_lost`` of 500 judging images; returns the calls
    accuracy control got."""
    import mmtricks.deploy.quantize as quantize
    calls, saved = [], {}
    monkeypatch.setattr(quantize, 'quantize_int8',
                        lambda model, calibration, log: ('ptq', 'default',
                                                         None))

    def controlled(model, calibration, validation, max_drop, params,
                   max_iterations=None):
        calls.append(dict(validation=validation, max_drop=max_drop))
        return 'controlled'

    monkeypatch.setattr(quantize, 'quantize_int8_with_accuracy_control',
                        controlled)
    monkeypatch.setattr(quantize, 'save_int8',
                        lambda model, xml, info, how: saved.update(
                            {xml: model}))
    monkeypatch.setattr(quantize, 'replace_ir',
                        lambda src, dst: saved.update({dst: saved[src]}))
    monkeypatch.setattr(quantize, 'remove_ir', lambda xml: None)
    monkeypatch.setattr(quantize, 'count_fake_quantize', lambda m: 10)

    def evaluate(xml):
        lost = tuning_lost[saved[xml]]
        return dict(tuning=dict(images=500, lost=lost),
                    judging=dict(images=500, lost=judging_lost))

    return quantize, calls, evaluate


def run_int8(quantize, evaluate, judging_images=500, **options):
    from mmtricks.deploy.options import DeployOptions
    from mmtricks.deploy.precision import Candidate
    return quantize.int8_candidate(
        FakeCore(), 'fp32.xml', 'out', {}, [], ['tuning items'], evaluate,
        Candidate('int8', 0, 0, judging_images), DeployOptions(**options),
        lambda line: None)


def test_plain_int8_the_tuning_images_accept_is_kept(monkeypatch):
    # 1 of 500 tuning images lost: within what 1 point allows. The judging
    # images (here losing many) never take part in the choice.
    quantize, calls, evaluate = fake_int8(monkeypatch, dict(ptq=1),
                                          judging_lost=40)
    _, result = run_int8(quantize, evaluate)
    assert result['mode'] == 'ptq' and calls == []
    assert result['checks']['judging']['lost'] == 40


def test_accuracy_control_searches_on_the_tuning_images_only(monkeypatch):
    quantize, calls, evaluate = fake_int8(
        monkeypatch, dict(ptq=6, controlled=1))
    _, result = run_int8(quantize, evaluate)
    assert result['mode'] == 'accuracy control'
    assert calls[0]['validation'] == ['tuning items']
    # At most 1 lost image of 500 (plus half an image against rounding).
    assert calls[0]['max_drop'] == pytest.approx(100 * 1.5 / 500)
    assert 'loses 6 of 500 tuning images' in result['summary']


def test_accuracy_control_that_loses_more_is_not_kept(monkeypatch):
    quantize, calls, evaluate = fake_int8(
        monkeypatch, dict(ptq=6, controlled=7))
    _, result = run_int8(quantize, evaluate)
    assert result['mode'] == 'ptq'
    assert 'More than 1 lost' in result['summary']


def test_no_accuracy_control_where_the_judging_images_cannot_show(
        monkeypatch):
    # 180 judging images cannot show 1 point: minutes of search for a
    # candidate that cannot be recommended are skipped.
    quantize, calls, evaluate = fake_int8(monkeypatch, dict(ptq=6))
    _, result = run_int8(quantize, evaluate, judging_images=180)
    assert calls == [] and result['mode'] == 'ptq'
    assert 'the 180 judging images cannot show' in result['summary']
